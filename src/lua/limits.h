/* Limits per state and per event, beyond the allocator's memory cap (script.c): the
 * time budget, the call depth and the coroutine count, and budgeted versions of the
 * library functions whose C loops the count hook never sees. Private to src/lua/.
 *
 * Every limit fails the code that hit it with one error naming the limit:
 *   "file:line: time budget spent (limits.handler_timeout_ms = N)"   (pcall cannot keep it)
 *   "file:line: recursion too deep (limits.max_recursion = N)"
 *   "file:line: too many coroutines (limits.max_coroutines = N)"
 *   "not enough memory (limits.memory_mb = N)"                        (the allocator)
 * and marks the state (s->limit_hit) so the scheduler collects its garbage at once. */
#ifndef LARKGW_LUA_LIMITS_H
#define LARKGW_LUA_LIMITS_H

#include <lua.h>
#include <stddef.h>

/* VM instructions between two checks of the deadline and the call depth. */
#define LIMITS_HOOK_COUNT 1000

struct script;

/* Arms the count hook on thread L; the script's budget is the one limits_budget_start
 * set. */
void limits_arm(lua_State *L);

/* Starts a run of s's code with budget_ms of CPU time. The budget is CPU time, not wall
 * time: a run that a loaded machine preempts is not billed for the wait. */
void limits_budget_start(struct script *s, long budget_ms);
/* The CPU time (ms) the current run has used, for billing it when the run ends. */
long limits_budget_used(struct script *s);

/* For C loops: raises the time-budget error once the budget is spent. */
void limits_check_time(lua_State *L);

/* A lua_CFunction for the coroutine wrappers: counts one coroutine against
 * limits.max_coroutines (per event; per load while a top level runs), raises past it. */
int limits_note_coroutine(lua_State *L);

/* Bytes the state may still allocate before its memory cap. */
size_t limits_headroom(lua_State *L);

/* Replaces, in the global string and table libraries of L (while the sandbox is being
 * built, before anything captured them), find, match, gmatch and gsub with the
 * budgeted matcher (src/pattern) and rep, concat, insert, remove and move with
 * versions that check the deadline in their loops. Raises on memory errors. */
void limits_open(lua_State *L);

#endif
