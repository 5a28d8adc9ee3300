#include "lua/limits.h"

#include "base/util.h"
#include "lua/runtime.h"
#include "lua/sched.h"
#include "lua/script.h"

#include <lauxlib.h>
#include <stdint.h>

void limits_budget_start(struct script *s, long budget_ms) {
    s->budget_run_ms = budget_ms > 0 ? budget_ms : 0;
    s->budget_start_ms = util_now_ms();
    s->deadline_ms = s->budget_start_ms + (uint64_t)s->budget_run_ms;
    s->cpu_base_us = 0;
}

/* Reading the CPU clock is a system call, so a run takes its CPU baseline only once it
 * has lasted LIMITS_HOOK_COUNT instructions (the first count hook) or a chunk of a
 * budgeted C loop: most handlers end before that and are billed their wall time,
 * which is as short. */
static void take_cpu_base(struct script *s) {
    if (s->cpu_base_us || !s->deadline_ms) return;
    s->cpu_base_us = util_cpu_us();
    s->cpu_base_ms = util_now_ms();
}

long limits_budget_used(struct script *s) {
    uint64_t now = util_now_ms();
    if (!s->cpu_base_us) return (long)(now - s->budget_start_ms);
    return (long)(s->cpu_base_ms - s->budget_start_ms) +
           (long)((util_cpu_us() - s->cpu_base_us) / 1000);
}

/* The wall clock passing the deadline is the cheap signal; CPU time decides. A run
 * that was preempted gets its deadline moved by the time it did not run. */
static int deadline_passed(struct script *s) {
    if (!s->deadline_ms) return 0;
    uint64_t now = util_now_ms();
    if (now < s->deadline_ms) return 0;
    long used = limits_budget_used(s);
    if (used >= s->budget_run_ms) return 1;
    take_cpu_base(s);
    s->deadline_ms = now + (uint64_t)(s->budget_run_ms - used);
    return 0;
}

static void hook(lua_State *L, lua_Debug *ar);

static void arm_sticky(lua_State *L) {
    lua_sethook(L, hook, LUA_MASKCOUNT | LUA_MASKLINE, 1);
}

static int raise_at(lua_State *L, int level, const char *fmt, int limit) {
    script_of(L)->limit_hit = 1;
    luaL_where(L, level);
    lua_pushfstring(L, fmt, limit);
    lua_concat(L, 2);
    return lua_error(L);
}

/* Raises the time-budget error; from then on the hook fires on every line, so a
 * pcall that swallows the error dies at its next line. level as for luaL_where. */
static int limits_timeout(lua_State *L, int level) {
    struct script *s = script_of(L);
    s->timed_out = 1;
    /* Sticky on the handler's own thread too: an inner coroutine's error may be
     * swallowed by a pcall out there. */
    if (s->current && s->current->co != L) arm_sticky(s->current->co);
    if (s->current || s->loading) arm_sticky(L);
    return raise_at(L, level, "time budget spent (limits.handler_timeout_ms = %d)",
                    s->limits->handler_timeout_ms);
}

/* A thread that kept the every-line hook of an earlier timeout (a coroutine stored in
 * a global) goes back to the plain count hook once it runs on a fresh budget. */
static void hook(lua_State *L, lua_Debug *ar) {
    struct script *s = script_of(L);
    if (ar->event == LUA_HOOKCOUNT) take_cpu_base(s);
    if (deadline_passed(s)) {
        limits_timeout(L, 0);
        return;
    }
    if (ar->event == LUA_HOOKLINE) limits_arm(L);
    lua_Debug deep;
    int depth = s->limits->max_recursion;
    if (depth > 0 && lua_getstack(L, depth, &deep))
        raise_at(L, 0, "recursion too deep (limits.max_recursion = %d)", depth);
}

void limits_arm(lua_State *L) { lua_sethook(L, hook, LUA_MASKCOUNT, LIMITS_HOOK_COUNT); }

/* Called by C loops after each chunk of work: a run that got this far has lasted long
 * enough to be worth a CPU baseline. */
void limits_check_time(lua_State *L) {
    struct script *s = script_of(L);
    take_cpu_base(s);
    if (deadline_passed(s)) limits_timeout(L, 1);
}

/* Level 2: the script's call site, past the coroutine wrapper written in Lua. */
int limits_note_coroutine(lua_State *L) {
    struct script *s = script_of(L);
    int *n = s->current ? &s->current->coroutines : &s->load_coroutines;
    int max = s->limits->max_coroutines;
    if (max <= 0 || ++*n <= max) return 0;
    return raise_at(L, 2, "too many coroutines (limits.max_coroutines = %d)", max);
}

size_t limits_headroom(lua_State *L) {
    const struct script *s = script_of(L);
    if (!s->mem_limit) return SIZE_MAX;
    return s->mem_used < s->mem_limit ? s->mem_limit - s->mem_used : 0;
}
