/* Lua 5.4 string patterns with a time budget: find, match, gmatch and gsub.
 *
 * Stock string.find & co run in C, where count hooks never fire, and a pattern such as
 * ".-.-.-.-.-.-b" over a few thousand characters backtracks for hours. These functions
 * give the results and errors of Lua 5.4 (reference manual §6.4.1) but count their
 * work and ask the caller, every PATTERN_CHECK_STEPS steps, whether to go on.
 *
 * A step is one pass of the matcher's main loop, one character tried by a quantifier or
 * by %b, or a share of a long back-reference compare or replacement string, so the
 * time between two checks is bounded whatever the pattern. Recursion is bounded as in
 * Lua (200 nested calls, then "pattern too complex"), as are captures (32).
 *
 * Yields: gsub with a function replacement calls it with lua_call, so a yield inside
 * that function fails with "attempt to yield across a C-call boundary" (as in stock
 * Lua). The other functions never call Lua. */
#ifndef LARKGW_PATTERN_PATTERN_H
#define LARKGW_PATTERN_PATTERN_H

#include <lua.h>

#define PATTERN_CHECK_STEPS 1024

/* Asked every PATTERN_CHECK_STEPS steps. L is the thread running the string function
 * (a handler's coroutine, not necessarily the main state), so a sandbox can find its
 * per-event deadline through lua_getextraspace(L), or keep it in the struct behind ud.
 * Returns 0 to go on; nonzero to stop: the function then raises "pattern matching
 * exceeded the time budget". check may also raise an error of its own (luaL_error):
 * the matcher holds no resource outside the Lua stack, so unwinding leaks nothing.
 * A sandbox installs them over its string table (which is also the string metatable's
 * __index, so s:find(p) is covered): src/lua/limits_lib.c passes a check that finds the
 * script through lua_getextraspace(L) and raises the time-budget error once the
 * handler's deadline has passed (limits_check_time), so it never returns nonzero. */
typedef int (*pattern_check_fn)(lua_State *L, void *ud);

/* Sets find, match, gmatch and gsub into the table on top of the stack (the stack is
 * left as it was). check may be NULL: no budget, only the depth bound. ud is passed to
 * check as is and must outlive the functions (e.g. the sandbox's per-state struct).
 * Raises a Lua error on out of memory, like any Lua API call. */
void pattern_open(lua_State *L, pattern_check_fn check, void *ud);

#endif
