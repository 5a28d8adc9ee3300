/* lark.vars: a proxy whose reads go to a hidden table of the configured values and whose
 * writes raise, so one handler cannot change what the next one (or another script)
 * reads. Values are never logged: they hold keys and URLs with credentials. */
#include "lua/bind.h"
#include "lua/bind_vars.h"
#include "lua/script.h"

#include <lauxlib.h>
#include <string.h>

static int vars_newindex(lua_State *L) {
    return luaL_error(L, "lark.vars is read-only (the operator sets it in the config)");
}

static int vars_len(lua_State *L) {
    lua_pushinteger(L, 0);
    return 1;
}

static int vars_next(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_next(L, 1)) return 2;
    lua_pushnil(L);
    return 1;
}

/* pairs(lark.vars) walks the hidden table. */
static int vars_pairs(lua_State *L) {
    lua_pushcfunction(L, vars_next);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushnil(L);
    return 3;
}

static void push_value(lua_State *L, const char *kind, const char *v) {
    if (kind[0] == 'b') lua_pushboolean(L, strcmp(v, "true") == 0);
    else if (kind[0] != 'n' || !lua_stringtonumber(L, v)) lua_pushstring(L, v);
}

void bind_vars_open(lua_State *L) {
    const struct bind_vars_options *o = script_of(L)->vars;
    size_t n = o ? o->nvars : 0;
    lua_newtable(L);                                  /* the proxy */
    lua_createtable(L, 0, 5);                         /* its metatable */
    lua_createtable(L, 0, (int)n);                    /* the values */
    for (size_t i = 0; i < n; i++) {
        push_value(L, o->vars[3 * i + 1], o->vars[3 * i + 2]);
        lua_setfield(L, -2, o->vars[3 * i]);
    }
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, vars_pairs, 1);
    lua_setfield(L, -3, "__pairs");
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, vars_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, vars_len);
    lua_setfield(L, -2, "__len");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
}
