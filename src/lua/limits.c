#include "lua/limits.h"

#include "base/util.h"
#include "lua/runtime.h"
#include "lua/sched.h"
#include "lua/script.h"

#include <lauxlib.h>
#include <stdint.h>

static int deadline_passed(const struct script *s) {
    return s->deadline_ms && util_now_ms() >= s->deadline_ms;
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

void limits_check_time(lua_State *L) {
    if (deadline_passed(script_of(L))) limits_timeout(L, 1);
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
