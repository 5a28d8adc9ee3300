/* lark.api: OpenAPI calls from a handler without blocking the gateway. A call starts the
 * request, parks the handler's coroutine (sched_suspend) and the answer resumes it:
 * `res` is the whole decoded answer ({code = 0, msg = ..., data = {...}}), or nil and an
 * err table {code, msg, log_id, http_status} whose tostring (and error(err)) reads
 * "OpenAPI error <code>: <msg> (log_id ..., HTTP ...)". */
#include "lua/bind.h"
#include "lua/json.h"
#include "lua/sched.h"
#include "lua/script.h"
#include "openapi/openapi.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_META "lark.api.error"
#define QUERY_MAX_KEYS 64
#define QUERY_MAX 8192             /* what the OpenAPI client accepts */
#define TIMEOUT_MAX_S 3600

/* One call between its start and the resume with its result. */
struct api_wait {
    struct sched_task *t;
    struct openapi_call *call;
    int ref;                       /* the decoded answer in the registry; LUA_NOREF: failed */
    int code, http_status;
    char msg[512], log_id[128];
};

/* luaL_error with the position of the script's line, also when the call came through
 * the Lua half of lark (lark.im.reply...). */
static void push_error_text(lua_State *L, const char *fmt, va_list ap) {
    char where[256];
    script_where(L, where, sizeof where);
    lua_pushfstring(L, "%s%slark.api: ", where, where[0] ? ": " : "");
    lua_pushvfstring(L, fmt, ap);
    lua_concat(L, 2);
}

static int api_error(lua_State *L, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    push_error_text(L, fmt, ap);
    va_end(ap);
    return lua_error(L);
}

int bind_api_error(lua_State *L, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    push_error_text(L, fmt, ap);
    va_end(ap);
    return lua_error(L);
}

static void push_err(lua_State *L, int code, int http_status, const char *msg, const char *log_id) {
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, code);
    lua_setfield(L, -2, "code");
    lua_pushstring(L, msg);
    lua_setfield(L, -2, "msg");
    lua_pushstring(L, log_id);
    lua_setfield(L, -2, "log_id");
    lua_pushinteger(L, http_status);
    lua_setfield(L, -2, "http_status");
    luaL_setmetatable(L, ERR_META);
}

/* nil, err without yielding: the call could not start. */
static int fail_now(lua_State *L, int code, const char *msg) {
    lua_pushnil(L);
    push_err(L, code, 0, msg, "");
    return 2;
}

void bind_api_push_err(lua_State *L, int code, int http_status, const char *msg,
                       const char *log_id) {
    push_err(L, code, http_status, msg, log_id);
}

int bind_api_fail(lua_State *L, int code, const char *msg) { return fail_now(L, code, msg); }

static const char *raw_string(lua_State *L, int t, const char *key) {
    lua_pushstring(L, key);
    lua_rawget(L, t);
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    lua_pop(L, 1);  /* the table still anchors the string */
    return s;
}

static lua_Integer raw_int(lua_State *L, int t, const char *key) {
    lua_pushstring(L, key);
    lua_rawget(L, t);
    lua_Integer n = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
    lua_pop(L, 1);
    return n;
}

/* When the value at idx is an err table of lark.api (our metatable), pushes its text
 * and returns 1; else pushes nothing and returns 0. Raw reads only: no Lua code runs,
 * and the strings read stay anchored in the table. */
static int error_text(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    if (!lua_istable(L, idx) || !lua_checkstack(L, 4) || !lua_getmetatable(L, idx)) return 0;
    luaL_getmetatable(L, ERR_META);
    int ours = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (!ours) return 0;
    const char *log_id = raw_string(L, idx, "log_id");
    lua_pushfstring(L, "OpenAPI error %I: %s (%s%s%sHTTP %I)", raw_int(L, idx, "code"),
                    raw_string(L, idx, "msg"), *log_id ? "log_id " : "", log_id,
                    *log_id ? ", " : "", raw_int(L, idx, "http_status"));
    return 1;
}

static int err_tostring(lua_State *L) {
    if (!error_text(L, 1)) lua_pushliteral(L, "OpenAPI error");
    return 1;
}

int bind_error_handler(lua_State *L) {
    char where[256];
    script_where(L, where, sizeof where);
    if (!error_text(L, 1) && !bind_http_error_text(L, 1)) {   /* lark.api's or lark.http's */
        if (lua_isstring(L, 1)) lua_pushvalue(L, 1);
        else lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    const char *msg = lua_tostring(L, -1);
    if (where[0] && !strstr(msg, where)) lua_pushfstring(L, "%s: %s", where, msg);
    return 1;
}

/* Runs inside the resumed coroutine (sched's push step). */
static int push_answer(lua_State *co, void *arg) {
    struct api_wait w = *(struct api_wait *)arg;
    free(arg);
    if (w.ref != LUA_NOREF) {
        lua_rawgeti(co, LUA_REGISTRYINDEX, w.ref);
        luaL_unref(co, LUA_REGISTRYINDEX, w.ref);
        return 1;
    }
    lua_pushnil(co);
    push_err(co, w.code, w.http_status, w.msg, w.log_id);
    return 2;
}

static void cancel_answer(void *arg) {
    struct api_wait *w = arg;
    openapi_call_cancel(w->call);
    free(w);
}

static int answer_to_ref(lua_State *L) {
    json_push(L, lua_touserdata(L, 1));
    lua_pushinteger(L, luaL_ref(L, LUA_REGISTRYINDEX));
    return 1;
}

/* The answer becomes a Lua table here, on the script's main thread, so the push step
 * cannot fail halfway with the tree still to free. */
static void on_answer(void *arg, cJSON *res, const struct openapi_error *err) {
    struct api_wait *w = arg;
    w->call = NULL;
    if (res) {
        lua_State *L = w->t->script->L;
        int top = lua_gettop(L);
        lua_pushcfunction(L, answer_to_ref);
        lua_pushlightuserdata(L, res);
        if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
            w->ref = (int)lua_tointeger(L, -1);
        } else {
            w->code = OPENAPI_E_TOOBIG;
            snprintf(w->msg, sizeof w->msg, "the answer does not fit in the script's memory "
                     "(limits.memory_mb)");
        }
        lua_settop(L, top);
        cJSON_Delete(res);
    } else {
        w->code = err->code;
        w->http_status = err->http_status;
        snprintf(w->msg, sizeof w->msg, "%s", err->msg);
        snprintf(w->log_id, sizeof w->log_id, "%s", err->log_id);
    }
    sched_wake(w->t);
}

static int is_unreserved(unsigned char c) {
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* The encoded query, built in a fixed buffer: a raise (bad value, too long) leaks
 * nothing, and the stack stays free for the values being read. */
struct query_buf {
    char text[QUERY_MAX + 1];
    size_t n;
};

static void add_char(lua_State *L, struct query_buf *q, char c) {
    if (q->n >= QUERY_MAX) api_error(L, "query: longer than %d bytes encoded", QUERY_MAX);
    q->text[q->n++] = c;
}

static void add_encoded(lua_State *L, struct query_buf *q, const char *s, size_t len) {
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c)) {
            add_char(L, q, (char)c);
        } else {
            add_char(L, q, '%');
            add_char(L, q, hex[c >> 4]);
            add_char(L, q, hex[c & 15]);
        }
    }
}

static void add_pair(lua_State *L, struct query_buf *q, const char *k, const char *v, size_t vlen) {
    if (q->n) add_char(L, q, '&');
    add_encoded(L, q, k, strlen(k));
    add_char(L, q, '=');
    add_encoded(L, q, v, vlen);
}

/* A query value: string, number or boolean, as text (pushed). Numbers and booleans
 * have no metamethods a script can set, so no Lua code runs here. */
static const char *query_value(lua_State *L, int idx, const char *key, size_t *len) {
    int t = lua_type(L, idx);
    if (t != LUA_TSTRING && t != LUA_TNUMBER && t != LUA_TBOOLEAN)
        api_error(L, "query.%s: string, number, boolean or a list of them expected, got %s",
                  key, luaL_typename(L, idx));
    return luaL_tolstring(L, idx, len);
}

/* The length of the list at idx, read raw: a __len could run script code while we
 * hold pointers into the query. Raises when the list has other keys. */
static int query_list_len(lua_State *L, int idx, const char *key) {
    lua_Unsigned n = lua_rawlen(L, idx), count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        count++;
    }
    if (count != n || n > QUERY_MAX_KEYS)
        api_error(L, "query.%s: a list of at most %d values expected", key, QUERY_MAX_KEYS);
    return (int)n;
}

static int cmp_keys(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The table at idx as "k=v&k=v", keys sorted, a list value repeating its key. Every
 * read is raw, so no metamethod (no script code, no collection of a key removed behind
 * our back) runs while keys[] is in use; the keys are also copied onto the stack, which
 * anchors them whatever happens to the table. Leaves the result pushed. */
static void encode_query(lua_State *L, int idx) {
    const char *keys[QUERY_MAX_KEYS];
    size_t n = 0;
    luaL_checkstack(L, QUERY_MAX_KEYS + 8, "query: too many keys");
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) api_error(L, "query: keys must be strings");
        if (n == QUERY_MAX_KEYS) api_error(L, "query: more than %d keys", QUERY_MAX_KEYS);
        lua_pushvalue(L, -1);
        lua_insert(L, -2);          /* the copy stays below the iteration key */
        keys[n++] = lua_tostring(L, -2);
    }
    qsort(keys, n, sizeof *keys, cmp_keys);
    struct query_buf q;
    q.n = 0;
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, keys[i]);
        lua_rawget(L, idx);
        int list = lua_istable(L, -1);
        int count = list ? query_list_len(L, lua_gettop(L), keys[i]) : 1;
        for (int j = 1; j <= count; j++) {
            if (list) lua_rawgeti(L, -1, j);
            size_t len;
            const char *v = query_value(L, -1, keys[i], &len);
            add_pair(L, &q, keys[i], v, len);
            lua_pop(L, list ? 2 : 1);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, (int)n);
    lua_pushlstring(L, q.text, q.n);
}

static const char *const opt_names[] = {
    "method", "path", "query", "body", "tenant_key", "timeout", "token", NULL,
};

static int name_in(const char *name, const char *const *names) {
    for (int i = 0; names && names[i]; i++)
        if (strcmp(name, names[i]) == 0) return 1;
    return 0;
}

/* Refuses keys we do not know, so a typo ("tenantkey") is an error, not a silent default.
 * extra: the names a caller (upload, download) takes besides ours, or NULL. */
static void check_opt_names(lua_State *L, int opts, const char *const *extra) {
    lua_pushnil(L);
    while (lua_next(L, opts)) {
        lua_pop(L, 1);
        int known = lua_type(L, -1) == LUA_TSTRING
                    && (name_in(lua_tostring(L, -1), opt_names)
                        || name_in(lua_tostring(L, -1), extra));
        if (!known) api_error(L, "unknown option '%s' (expected method, path, query, body, "
                               "tenant_key, timeout or token%s)", luaL_tolstring(L, -1, NULL),
                               extra ? ", or this call's own" : "");
    }
}

static const char *opt_string(lua_State *L, int opts, const char *key) {
    if (!opts || lua_getfield(L, opts, key) == LUA_TNIL) return NULL;
    if (lua_type(L, -1) != LUA_TSTRING)
        api_error(L, "option '%s': string expected, got %s", key, luaL_typename(L, -1));
    return lua_tostring(L, -1);  /* stays on the stack */
}

static const char *method_upper(lua_State *L, const char *m) {
    static const char *const names[] = { "GET", "POST", "PUT", "PATCH", "DELETE" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n = strlen(names[i]), j = 0;
        while (j < n && m[j] && toupper((unsigned char)m[j]) == names[i][j]) j++;
        if (j == n && !m[j]) return names[i];
    }
    api_error(L, "option 'method': GET, POST, PUT, PATCH or DELETE expected, got '%s'", m);
    return NULL;
}

/* "im/v1/chats" is taken relative to /open-apis/. Leaves the path pushed. */
static const char *full_path(lua_State *L, const char *path) {
    if (path[0] == '/') lua_pushstring(L, path);
    else lua_pushfstring(L, "/open-apis/%s", path);
    return lua_tostring(L, -1);
}

static void read_options(lua_State *L, int opts, struct openapi_req *req,
                         const char *const *extra) {
    if (opts) check_opt_names(L, opts, extra);
    if (opts && lua_getfield(L, opts, "query") != LUA_TNIL) {
        if (lua_istable(L, -1)) encode_query(L, lua_gettop(L));
        else if (lua_type(L, -1) != LUA_TSTRING)
            api_error(L, "option 'query': table or string expected, got %s", luaL_typename(L, -1));
        req->query = lua_tostring(L, -1);
    }
    req->tenant_key = opt_string(L, opts, "tenant_key");
    const char *token = opt_string(L, opts, "token");
    if (token && strcmp(token, "app") == 0) req->token = OPENAPI_TOKEN_APP;
    else if (token && strcmp(token, "tenant") != 0)
        api_error(L, "option 'token': \"tenant\" or \"app\" expected, got '%s'", token);
    if (opts && lua_getfield(L, opts, "timeout") != LUA_TNIL) {
        lua_Number s = lua_tonumber(L, -1);
        if (!lua_isnumber(L, -1) || !(s > 0 && s <= TIMEOUT_MAX_S))
            api_error(L, "option 'timeout': seconds in (0, %d] expected", TIMEOUT_MAX_S);
        req->timeout_ms = s * 1000 < 1 ? 1 : (int)(s * 1000);
    }
}

struct sched_task *bind_api_begin(lua_State *L, const char *method, const char *path, int opts,
                                  const char *const *extra, struct openapi_req *req) {
    struct sched_task *t = sched_current(L);
    if (!t)
        api_error(L, "only allowed in a handler (not at a script's top "
                  "level, nor in a coroutine the script created)");
    *req = (struct openapi_req){ .method = method, .path = full_path(L, path),
                                 .token = OPENAPI_TOKEN_TENANT };
    read_options(L, opts, req, extra);
    if (!req->tenant_key) req->tenant_key = t->tenant_key;
    return t;
}

int bind_api_not_configured(lua_State *L) {
    return fail_now(L, OPENAPI_E_TRANSPORT, "the OpenAPI is not configured "
                    "(app_id, app_secret and domain are needed)");
}

int bind_api_start(lua_State *L, struct sched_task *t, const struct openapi_req *req) {
    struct api_wait *w = calloc(1, sizeof *w);
    if (!w) {
        if (req->body_owned) free((char *)req->body);
        return fail_now(L, OPENAPI_E_TRANSPORT, "out of memory");
    }
    w->t = t;
    w->ref = LUA_NOREF;
    w->call = openapi_request(sched_io(t->sched)->api, req, on_answer, w);
    if (!w->call) {
        free(w);
        return fail_now(L, OPENAPI_E_TRANSPORT, "out of memory");
    }
    return sched_suspend(L, &(struct sched_wait){ push_answer, cancel_answer, w });
}

/* Starts the call and parks the coroutine; opts is a table index or 0. */
static int api_call(lua_State *L, const char *method, const char *path, int opts) {
    struct openapi_req req;
    struct sched_task *t = bind_api_begin(L, method, path, opts, NULL, &req);
    if (!sched_io(t->sched)->api) return bind_api_not_configured(L);
    int body_type = opts ? lua_getfield(L, opts, "body") : LUA_TNIL;
    if (body_type == LUA_TSTRING) req.body = lua_tolstring(L, -1, &req.body_len);
    else if (body_type != LUA_TNIL && body_type != LUA_TTABLE)
        return api_error(L, "option 'body': table or string expected, got %s",
                          luaL_typename(L, -1));
    char *json = NULL;
    if (body_type == LUA_TTABLE && !(json = json_encode(L, -1, &req.body_len)))
        return api_error(L, "option 'body': %s", lua_tostring(L, -1));
    if (json) req.body = json;
    /* the body is copied before openapi_request returns; suspending keeps no C frame */
    struct api_wait *w = calloc(1, sizeof *w);
    if (!w) {
        if (json) json_buffer_free(L, json);
        return fail_now(L, OPENAPI_E_TRANSPORT, "out of memory");
    }
    w->t = t;
    w->ref = LUA_NOREF;
    w->call = openapi_request(sched_io(t->sched)->api, &req, on_answer, w);
    if (json) json_buffer_free(L, json);
    if (!w->call) {
        free(w);
        return fail_now(L, OPENAPI_E_TRANSPORT, "out of memory");
    }
    return sched_suspend(L, &(struct sched_wait){ push_answer, cancel_answer, w });
}

/* lark.api.request{method=, path=, query=, body=, tenant_key=, timeout=, token=} */
static int api_request(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    const char *m = opt_string(L, 1, "method");
    const char *path = opt_string(L, 1, "path");
    if (!path) return api_error(L, "option 'path' is required");
    return api_call(L, method_upper(L, m ? m : "GET"), path, 1);
}

/* lark.api.get/post/put/patch/delete(path, opts); the method is the upvalue. */
static int api_method(lua_State *L) {
    luaL_checkstring(L, 1);
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    int opts = lua_istable(L, 2) ? 2 : 0;
    if (opts) {
        lua_getfield(L, opts, "method");
        lua_getfield(L, opts, "path");
        if (!lua_isnil(L, -1) || !lua_isnil(L, -2))
            return api_error(L, "options 'method' and 'path' belong to lark.api.request");
        lua_pop(L, 2);
    }
    return api_call(L, lua_tostring(L, lua_upvalueindex(1)), lua_tostring(L, 1), opts);
}

void bind_api_open(lua_State *L) {
    static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE", NULL };
    if (luaL_newmetatable(L, ERR_META)) {
        lua_pushcfunction(L, err_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, 8);
    lua_pushcfunction(L, api_request);
    lua_setfield(L, -2, "request");
    bind_files_open(L);
    bind_set_methods(L, methods, api_method);
}
