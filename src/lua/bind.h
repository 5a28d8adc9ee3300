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

/* Adds upload and download to the lark.api table on top of the stack (bind_files.c). */
void bind_files_open(lua_State *L);

/* The shared steps of lark.api's calls (bind_api.c), for bind_files.c. */
struct openapi_req;
struct sched_task;
/* luaL_error with the script's position and "lark.api: " in front. */
int bind_api_error(lua_State *L, const char *fmt, ...);
/* Pushes an err table {code, msg, log_id, http_status} (tostring reads well). */
void bind_api_push_err(lua_State *L, int code, int http_status, const char *msg,
                       const char *log_id);
/* Returns 2 (nil, err) for a call that could not start. */
int bind_api_fail(lua_State *L, int code, const char *msg);
/* nil, err: no OpenAPI client in this process. */
int bind_api_not_configured(lua_State *L);
/* The current handler's task, with req filled from path and the options table at opts
 * (0: none): query, tenant_key (default the event's), token, timeout; names in extra
 * (NULL-terminated, may be NULL) are left to the caller. Raises outside a handler and
 * on a bad option. Strings in req stay anchored on L's stack. */
struct sched_task *bind_api_begin(lua_State *L, const char *method, const char *path, int opts,
                                  const char *const *extra, struct openapi_req *req);
/* Starts req (a body_owned body is handed over on every path) and parks the coroutine
 * until the JSON answer: resumes with res, or nil, err. */
int bind_api_start(lua_State *L, struct sched_task *t, const struct openapi_req *req);

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
