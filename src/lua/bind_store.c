/* lark.store: the gateway's key/value store (src/store), shared by every script and
 * worker and kept across reloads. Values are strings, numbers (integer or float, kept
 * as they are) and booleans; a full store is an expected failure: nil, err. */
#include "lua/bind.h"
#include "lua/script.h"
#include "store/store.h"

#include <lauxlib.h>
#include <stdlib.h>

static const char no_store[] = "lark.store is not available";

static int fail(lua_State *L, const char *why) {
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
}

static int push_copy(lua_State *L) {
    lua_pushlstring(L, lua_touserdata(L, 1), (size_t)lua_tointeger(L, 2));
    return 1;
}

/* The copy store_get made is freed even when pushing it runs out of memory. */
static int push_value(lua_State *L, struct store_value *v) {
    switch (v->type) {
    case STORE_STRING: {
        lua_pushcfunction(L, push_copy);
        lua_pushlightuserdata(L, (void *)v->u.s);
        lua_pushinteger(L, (lua_Integer)v->len);
        int rc = lua_pcall(L, 2, 1, 0);
        free((void *)v->u.s);
        return rc == LUA_OK ? 1 : lua_error(L);
    }
    case STORE_INTEGER: lua_pushinteger(L, (lua_Integer)v->u.i); return 1;
    case STORE_NUMBER: lua_pushnumber(L, (lua_Number)v->u.n); return 1;
    case STORE_BOOLEAN: lua_pushboolean(L, v->u.b); return 1;
    default: lua_pushnil(L); return 1;
    }
}

/* lark.store.get(key) -> value, or nil when absent or expired. */
static int get(lua_State *L) {
    size_t klen;
    const char *key = luaL_checklstring(L, 1, &klen);
    struct store *st = script_of(L)->store;
    if (!st) return fail(L, no_store);
    struct store_value v;
    store_get(st, key, klen, &v);
    return push_value(L, &v);
}

static void check_value(lua_State *L, int idx, struct store_value *v) {
    switch (lua_type(L, idx)) {
    case LUA_TNIL: case LUA_TNONE: v->type = STORE_NIL; break;
    case LUA_TSTRING: v->type = STORE_STRING; v->u.s = lua_tolstring(L, idx, &v->len); break;
    case LUA_TBOOLEAN: v->type = STORE_BOOLEAN; v->u.b = lua_toboolean(L, idx); break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            v->type = STORE_INTEGER;
            v->u.i = (int64_t)lua_tointeger(L, idx);
        } else {
            v->type = STORE_NUMBER;
            v->u.n = (double)lua_tonumber(L, idx);
        }
        break;
    default: luaL_typeerror(L, idx, "string, number, boolean or nil");
    }
}

/* lark.store.set(key, value [, ttl_s]) -> true, or nil, err. A nil value deletes;
 * ttl_s absent or 0: no expiry. */
static int set(lua_State *L) {
    size_t klen;
    const char *key = luaL_checklstring(L, 1, &klen);
    struct store_value v = { 0 };
    check_value(L, 2, &v);
    lua_Number ttl = luaL_optnumber(L, 3, 0);
    luaL_argcheck(L, ttl >= 0 && ttl <= 1e9, 3, "seconds from 0 to 1e9 expected");
    struct store *st = script_of(L)->store;
    if (!st) return fail(L, no_store);
    int rc = store_set(st, key, klen, &v, (double)ttl);
    if (rc != STORE_OK) return fail(L, store_strerror(rc));
    lua_pushboolean(L, 1);
    return 1;
}

/* lark.store.incr(key [, n]) -> the new integer, or nil, err. An absent key counts
 * from 0 (no expiry); n defaults to 1 and may be negative. */
static int incr(lua_State *L) {
    size_t klen;
    const char *key = luaL_checklstring(L, 1, &klen);
    lua_Integer n = luaL_optinteger(L, 2, 1);
    struct store *st = script_of(L)->store;
    if (!st) return fail(L, no_store);
    int64_t result;
    int rc = store_incr(st, key, klen, (int64_t)n, &result);
    if (rc != STORE_OK) return fail(L, store_strerror(rc));
    lua_pushinteger(L, (lua_Integer)result);
    return 1;
}

/* lark.store.delete(key) -> true when there was a value, else false. */
static int delete_(lua_State *L) {
    size_t klen;
    const char *key = luaL_checklstring(L, 1, &klen);
    struct store *st = script_of(L)->store;
    if (!st) return fail(L, no_store);
    lua_pushboolean(L, store_delete(st, key, klen));
    return 1;
}

void bind_store_open(lua_State *L) {
    static const luaL_Reg fns[] = {
        { "get", get }, { "set", set }, { "incr", incr }, { "delete", delete_ }, { NULL, NULL },
    };
    luaL_newlib(L, fns);
}
