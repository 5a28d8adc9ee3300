/* What lark.http's files share: the object behind it, a call's checked options, the
 * error and response helpers. Private to bind_http*.c. */
#ifndef LARKGW_LUA_BIND_HTTP_INT_H
#define LARKGW_LUA_BIND_HTTP_INT_H

#include <lua.h>
#include <stddef.h>

#include "net/http_client.h"

#define BIND_HTTP_ERR_META "lark.http.error"
#define BIND_HTTP_RES_META "lark.http.response"
#define BIND_HTTP_STREAM_META "lark.http.stream"
#define BIND_HTTP_MAX_HEADERS 64

/* The key (a light userdata) under which a streamed response keeps its stream. */
extern const char bind_http_stream_key;
#define BIND_HTTP_STREAM_KEY ((const void *)&bind_http_stream_key)

struct http_allow;

struct bind_http {
    struct http_client *client;
    struct http_allow *allow;
    size_t nallow;
    int timeout_s;
    size_t max_body;
    int max_in_flight, max_per_script;
    int in_flight;
    struct { const void *script; int n; } *per;   /* open calls by script */
    size_t nper;
};

/* A call's options, checked. The strings live on the Lua stack above the options
 * table, except json (the encoded body, freed by bind_http_req_done). */
struct bind_http_req {
    const char *method, *url;
    const char *headers[2 * BIND_HTTP_MAX_HEADERS + 4];   /* name, value, ..., NULL */
    const char *body;
    size_t body_len;
    char *json;
    int timeout_ms;
    size_t max_body;
    int stream;
};

/* Reads the options table at opts (method and url, when not NULL, come from the call:
 * lark.http.get(url, opts)). Raises on any mistake, before anything is allocated.
 * timeout_s and max_body are the configured defaults and ceilings. */
void bind_http_read_options(lua_State *L, int opts, const char *method, const char *url,
                            int timeout_s, size_t max_body, struct bind_http_req *q);
void bind_http_req_done(lua_State *L, struct bind_http_req *q);

int bind_http_raise(lua_State *L, const char *fmt, ...);
/* Pushes err = {code, msg} with its metatable. */
void bind_http_push_err(lua_State *L, const char *code, const char *msg);
const char *bind_http_code_name(enum http_client_error e);
/* Gives back the in-flight slot script s took. */
void bind_http_count_release(struct bind_http *h, const void *script);

/* Pushes a stream (a full userdata) that takes *call (then set to NULL) and script's
 * in-flight slot: both end when it is closed or collected. Raises on memory errors, then
 * taking nothing. */
void bind_http_stream_new(lua_State *L, struct bind_http *h, const void *script,
                          struct http_call **call);
/* Adds chunks, sse and close to the methods table on top of the stack. */
void bind_http_stream_methods(lua_State *L);
/* Registers the stream's metatable. */
void bind_http_stream_open(lua_State *L);

#endif
