/* JSON <-> Lua for events, handler answers and lark.json. Private to src/lua/.
 * Decoding: objects and arrays become tables, null becomes nil (the key is absent; in an
 * array the index is a hole). Encoding: a table whose keys are exactly 1..n (n > 0) is an
 * array, any other table an object (an empty table encodes as {}); lark.json.null
 * (a light userdata) encodes as null; functions, other userdata, NaN and infinities, and
 * nesting deeper than JSON_MAX_DEPTH (a cycle) are errors. */
#ifndef LARKGW_LUA_JSON_H
#define LARKGW_LUA_JSON_H

#include <lua.h>
#include <stddef.h>

struct cJSON;

#define JSON_MAX_DEPTH 128

/* Pushes v as a Lua value, built straight from the tree (no text in between).
 * Raises on memory errors. */
void json_push(lua_State *L, const struct cJSON *v);

/* Encodes the value at idx. Returns a buffer allocated with L's allocator (free it with
 * json_buffer_free) and its length, or NULL with a message pushed on L. Never raises. */
char *json_encode(lua_State *L, int idx, size_t *len);
void json_buffer_free(lua_State *L, char *buf);

/* The lark.json.null sentinel. */
#define json_push_null(L) lua_pushlightuserdata((L), NULL)

#endif
