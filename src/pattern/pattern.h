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

#include <stddef.h>

#include <lua.h>

#define PATTERN_CHECK_STEPS 1024

/* Asked every PATTERN_CHECK_STEPS steps. L is the thread running the string function
 * (a handler's coroutine, not necessarily the main state), so a sandbox can find its
 * per-event deadline through lua_getextraspace(L), or keep it in the struct behind ud.
 * Returns 0 to go on; nonzero to stop: the function then raises "pattern matching
 * exceeded the time budget". check may also raise an error of its own (luaL_error):
 * the matcher holds no resource outside the Lua stack, so unwinding leaks nothing.
 * A sandbox would install them over its string table (which is also the string
 * metatable's __index, so s:find(p) is covered) with e.g.
 *     static int deadline_check(lua_State *L, void *ud) {
 *         const struct event_ctx *ctx = *(struct event_ctx **)lua_getextraspace(L);
 *         return ctx && now_ms() > ctx->deadline_ms;
 *     }
 *     lua_getglobal(L, "string"); pattern_open(L, deadline_check, NULL); lua_pop(L, 1); */
typedef int (*pattern_check_fn)(lua_State *L, void *ud);

/* Sets find, match, gmatch and gsub into the table on top of the stack (the stack is
 * left as it was). check may be NULL: no budget, only the depth bound. ud is passed to
 * check as is and must outlive the functions (e.g. the sandbox's per-state struct).
 * Raises a Lua error on out of memory, like any Lua API call. */
void pattern_open(lua_State *L, pattern_check_fn check, void *ud);

/* Internals shared by pattern_match.c (the matcher) and pattern_lib.c (the Lua
 * functions); no other module uses them. */

#define PATTERN_MAXCAPTURES 32
#define PATTERN_MAXDEPTH 200
#define PATTERN_CAP_UNFINISHED (-1)
#define PATTERN_CAP_POSITION (-2)

struct pattern_state {
    lua_State *L;
    const char *src_init, *src_end; /* subject; *src_end is its '\0' */
    const char *p_end;              /* end of pattern; *p_end is its '\0' */
    int depth;                      /* nested matcher calls left */
    int level;                      /* captures in use */
    long steps;                     /* steps left before the next check */
    pattern_check_fn check;
    void *ud;
    struct {
        const char *init;
        ptrdiff_t len; /* a length, or PATTERN_CAP_UNFINISHED / _POSITION */
    } capture[PATTERN_MAXCAPTURES];
};

/* s and p are Lua strings (NUL-terminated past ls and lp), alive while ms is used. */
void pattern_state_init(struct pattern_state *ms, lua_State *L, pattern_check_fn check,
                        void *ud, const char *s, size_t ls, const char *p, size_t lp);

/* Before each match attempt: forgets captures, restores the depth bound. */
void pattern_state_reset(struct pattern_state *ms);

/* Matches pattern p (up to ms->p_end, no leading '^' handling) at s. Returns the end
 * of the match, or NULL. Raises on malformed patterns, depth and budget. */
const char *pattern_match(struct pattern_state *ms, const char *s, const char *p);

/* Bills cost steps; runs the check (and may raise) when the allowance is spent. */
void pattern_charge(struct pattern_state *ms, long cost);

#endif
