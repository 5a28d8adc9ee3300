#include "lua/bind.h"
#include "lua/sched.h"
#include "lua/script.h"

#include <ctype.h>
#include <lauxlib.h>
#include <string.h>
#include <time.h>

/* lark.on(event_type, fn): fn handles that type in this script (any schema: "message",
 * "im.message.receive_v1"); a second call for the same type replaces the first. */
static int on(lua_State *L) {
    luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, script_of(L)->handlers_ref);
    lua_insert(L, 1);
    lua_rawset(L, 1);
    return 0;
}

/* Wall-clock seconds since the epoch, with milliseconds. */
static int now(lua_State *L) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)(ts.tv_nsec / 1000000) / 1000.0);
    return 1;
}

/* lark.event: the event of the handler that is running, nil outside handlers. */
static int lark_index(lua_State *L) {
    const struct sched_task *t = script_of(L)->current;
    if (t && lua_rawequal(L, 2, lua_upvalueindex(1))) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, t->event_ref);
        return 1;
    }
    return 0;
}

void bind_set_methods(lua_State *L, const char *const *methods, lua_CFunction fn) {
    for (int i = 0; methods[i]; i++) {
        char lower[16];
        size_t n = strlen(methods[i]);
        if (n >= sizeof lower) continue;
        for (size_t j = 0; j <= n; j++) lower[j] = (char)tolower((unsigned char)methods[i][j]);
        lua_pushstring(L, methods[i]);
        lua_pushcclosure(L, fn, 1);
        lua_setfield(L, -2, lower);
    }
}

void bind_lark_open(lua_State *L) {
    static const luaL_Reg fns[] = {
        { "on", on }, { "now", now }, { "sleep", bind_sleep },
        { "every", bind_every }, { "cron", bind_cron }, { "after", bind_after },
        { NULL, NULL },
    };
    luaL_newlib(L, fns);
    bind_api_open(L);
    lua_setfield(L, -2, "api");
    bind_http_open(L);
    lua_setfield(L, -2, "http");
    bind_vars_open(L);
    lua_setfield(L, -2, "vars");
    bind_log_open(L);
    lua_setfield(L, -2, "log");
    bind_json_open(L);
    lua_setfield(L, -2, "json");
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "event");
    lua_pushcclosure(L, lark_index, 1);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
}
