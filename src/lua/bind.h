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

/* lark.every, lark.cron, lark.after (bind_jobs.c). */
int bind_every(lua_State *L);
int bind_cron(lua_State *L);
int bind_after(lua_State *L);

/* The message handler of a handler's base pcall (the scheduler's msgh): pushes
 * "file:line: message" whatever the error value was: lark.api's err table gives its
 * text ("OpenAPI error 99991663: msg (log_id ..., HTTP 400)"); Lua's own position is kept
 * when the message has one, else the innermost script frame's is added. Calls no Lua
 * code: Lua runs message handlers with hooks off. */
int bind_error_handler(lua_State *L);

/* The same for lark.http's err ("lark.http timeout: ..."). */
int bind_http_error_text(lua_State *L, int idx);

/* Into the table on top: for each HTTP method name ("GET", ...; NULL-terminated), a
 * field named in lower case holding fn as a closure over the method name
 * (lark.api.get, lark.http.post, ...). */
void bind_set_methods(lua_State *L, const char *const *methods, lua_CFunction fn);

/* print(...), routed to lark.log.info. */
int bind_print(lua_State *L);

#endif
