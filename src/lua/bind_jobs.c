/* lark.every(seconds, fn [, opts]), lark.cron(spec, fn [, opts]), lark.after(seconds, fn
 * [, opts]): schedules (src/lua/jobs.c). Registered at a script's top level; lark.after
 * in a handler too. opts: name (default "script.lua:line"), tenant_key, tz (cron). A bad
 * argument raises, so at the top level the load (and `larkgw check`) fails with
 * file:line; in a handler lark.after answers nil, err for expected failures. */
#include "lua/bind.h"
#include "lua/jobs.h"
#include "lua/sched.h"
#include "lua/script.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

static const char *opt_string(lua_State *L, int opts, const char *fname, const char *key) {
    if (!opts || lua_getfield(L, opts, key) == LUA_TNIL) return NULL;
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "%s: option '%s': string expected, got %s", fname, key,
                   luaL_typename(L, -1));
    return lua_tostring(L, -1);  /* stays on the stack */
}

/* A typo ("timezone") is an error, not a silent default. */
static void check_opts(lua_State *L, int opts, const char *fname, int cron) {
    lua_pushnil(L);
    while (lua_next(L, opts)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
        if (strcmp(k, "name") && strcmp(k, "tenant_key") && (!cron || strcmp(k, "tz")))
            luaL_error(L, "%s: unknown option '%s' (expected name, tenant_key%s)", fname,
                       luaL_tolstring(L, -1, NULL), cron ? " or tz" : "");
    }
}

/* "echo.lua:12": the script and the line that registered the job. */
static void default_name(lua_State *L, struct script *s, char *out, size_t len) {
    lua_Debug ar;
    int line = lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar) ? ar.currentline : 0;
    snprintf(out, len, "%s:%d", s->name, line);
}

static int add(lua_State *L, enum jobs_kind kind, const char *fname) {
    struct script *s = script_of(L);
    struct jobs_def d = { .kind = kind, .s = s, .fn_ref = LUA_NOREF };
    if (kind == JOBS_CRON) d.spec = luaL_checkstring(L, 1);
    else d.seconds = luaL_checknumber(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    int opts = lua_isnoneornil(L, 3) ? 0 : 3;
    if (opts) luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    int in_handler = !s->loading && s->current;
    if (!s->loading && (kind != JOBS_AFTER || !in_handler))
        return luaL_error(L, "%s: only at a script's top level%s", fname,
                          kind == JOBS_AFTER ? " or in a handler" : "");
    if (!s->jobs) return luaL_error(L, "%s: schedules are not available here", fname);
    if (opts) check_opts(L, opts, fname, kind == JOBS_CRON);
    char name[300];
    d.name = opt_string(L, opts, fname, "name");
    if (!d.name) {
        default_name(L, s, name, sizeof name);
        d.name = name;
    }
    d.tenant_key = opt_string(L, opts, fname, "tenant_key");
    if (!d.tenant_key && in_handler) d.tenant_key = s->current->tenant_key;
    if (kind == JOBS_CRON) d.zone = opt_string(L, opts, fname, "tz");
    lua_pushvalue(L, 2);
    d.fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    char err[400];
    if (jobs_add(s->jobs, &d, in_handler, err, sizeof err) < 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, d.fn_ref);
        if (!in_handler) return luaL_error(L, "%s: %s", fname, err);
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", fname, err);
        return 2;
    }
    lua_pushstring(L, d.name);
    return 1;
}

int bind_every(lua_State *L) { return add(L, JOBS_EVERY, "lark.every"); }
int bind_cron(lua_State *L) { return add(L, JOBS_CRON, "lark.cron"); }
int bind_after(lua_State *L) { return add(L, JOBS_AFTER, "lark.after"); }
