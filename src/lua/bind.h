/* The C half of the `lark` module, one bind_*.c per concern. Private to src/lua/. */
#ifndef LARKGW_LUA_BIND_H
#define LARKGW_LUA_BIND_H

#include <lua.h>

/* Each pushes one table. */
void bind_lark_open(lua_State *L);
void bind_log_open(lua_State *L);
void bind_json_open(lua_State *L);
void bind_store_open(lua_State *L);
void bind_api_open(lua_State *L);
void bind_http_open(lua_State *L);
/* lark.vars from script_of(L)->vars. */
void bind_vars_open(lua_State *L);

/* lark.sleep(seconds). */
int bind_sleep(lua_State *L);

/* When the value at idx is an err table of lark.api (our metatable), pushes its text
 * ("OpenAPI error 99991663: msg (log_id ..., HTTP 400)") and returns 1; else pushes
 * nothing and returns 0. Calls no Lua code, so message handlers may use it. */
int bind_api_error_text(lua_State *L, int idx);

/* The same for lark.http's err ("lark.http timeout: ..."). */
int bind_http_error_text(lua_State *L, int idx);

/* print(...), routed to lark.log.info. */
int bind_print(lua_State *L);

#endif
