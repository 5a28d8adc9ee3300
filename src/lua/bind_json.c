#include "lua/bind.h"

#include "base/json_arena.h"
#include "lua/json.h"
#include "lua/limits.h"

#include <cjson/cJSON.h>
#include <lauxlib.h>

static int push_buffer(lua_State *L) {
    lua_pushlstring(L, lua_touserdata(L, 1), (size_t)lua_tointeger(L, 2));
    return 1;
}

/* The buffer lives outside the GC: copy it into a string under pcall, then free it. */
static int encode(lua_State *L) {
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    size_t len;
    char *buf = json_encode(L, 1, &len);
    if (!buf) return lua_error(L);
    lua_pushcfunction(L, push_buffer);
    lua_pushlightuserdata(L, buf);
    lua_pushinteger(L, (lua_Integer)len);
    int rc = lua_pcall(L, 2, 1, 0);
    json_buffer_free(L, buf);
    if (rc != LUA_OK) return lua_error(L);
    return 1;
}

static int push_tree(lua_State *L) {
    json_push(L, lua_touserdata(L, 1));
    return 1;
}

/* nil, "reason" for text that is not JSON: a value, not a raise (the text comes from
 * outside); the tree is freed whether or not pushing it runs out of memory. cJSON's
 * tree lives outside the state's allocator, up to ~32 bytes per byte of text ("[1,1,"),
 * so the text must fit in what the memory cap has left at that ratio. */
static int decode(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    if (len > limits_headroom(L) / 32) {
        lua_pushnil(L);
        lua_pushliteral(L, "JSON text too large for limits.memory_mb");
        return 2;
    }
    struct json_arena *arena;
    cJSON *root = json_arena_parse(s, len, &arena);
    if (!root) {
        lua_pushnil(L);
        lua_pushliteral(L, "invalid JSON");
        return 2;
    }
    lua_pushcfunction(L, push_tree);
    lua_pushlightuserdata(L, root);
    int rc = lua_pcall(L, 1, 1, 0);
    json_arena_free(arena);
    if (rc != LUA_OK) return lua_error(L);
    return 1;
}

void bind_json_open(lua_State *L) {
    static const luaL_Reg fns[] = { { "encode", encode }, { "decode", decode }, { NULL, NULL } };
    luaL_newlib(L, fns);
    json_push_null(L);
    lua_setfield(L, -2, "null");
}
