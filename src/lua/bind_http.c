/* lark.http: a call checks its options and the allow-list (refusals answer at once,
 * before any connection), starts the request, parks the handler's coroutine
 * (sched_suspend) and the answer resumes it with res = {status, headers, body} or with
 * nil, err. err = {code, msg} whose tostring reads "lark.http <code>: <msg>"; the codes:
 *   not_allowed      the host is not in http.allow (or http.allow is empty)
 *   private_address  the host resolves to an internal address and is not listed exactly
 *   dns, connect, tls, timeout
 *   too_large        the body is over max_body, or the headers over their bound
 *   too_many         http.max_in_flight or http.max_per_script calls are open
 *   closed           the peer closed before the response was whole
 *   protocol         not HTTP/1.x as we read it, or a broken event stream
 * A 3xx is an answer like any status: redirects are not followed. With stream = true
 * the answer comes once the head is in; the body is read by res:chunks() or res:sse()
 * (bind_http_stream.c). Nothing here logs headers, bodies or query strings. */
#include "lua/bind_http.h"
#include "lua/bind_http_int.h"

#include "base/log.h"
#include "lua/bind.h"
#include "lua/json.h"
#include "lua/sched.h"
#include "lua/script.h"
#include "net/http_allow.h"
#include "net/http_client.h"
#include "net/net.h"

#include <ctype.h>
#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


/* One call between its start and the resume with its result. */
struct hreq {
    struct bind_http *h;
    const void *script;            /* the in-flight count's key */
    struct sched_task *t;
    struct http_call *call;
    int exact;                     /* the host is listed exactly: internal addresses too */
    int stream;
    int ref;                       /* the answer in the registry; LUA_NOREF: failed */
    const char *code;
    char msg[300];
    char what[300];                /* "GET host:port/path" for the log; no query */
};

struct bind_http *bind_http_new(struct event_base *base, const struct bind_http_options *o,
                                char *err, size_t errlen) {
    struct bind_http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->client = http_client_new(base, o->ca_file);
    if (!h->client || bind_http_configure(h, o, err, errlen)) {
        if (!h->client) snprintf(err, errlen, "lark.http: cannot set up TLS or the resolver");
        bind_http_free(h);
        return NULL;
    }
    return h;
}

int bind_http_configure(struct bind_http *h, const struct bind_http_options *o, char *err,
                        size_t errlen) {
    struct http_allow *allow = http_allow_new(o->allow, o->nallow, err, errlen);
    if (!allow) return -1;
    http_allow_free(h->allow);
    h->allow = allow;
    h->nallow = o->nallow;
    h->timeout_s = o->timeout_s > 0 ? o->timeout_s : 30;
    h->max_body = o->max_body ? o->max_body : 8u << 20;
    h->max_in_flight = o->max_in_flight > 0 ? o->max_in_flight : 256;
    h->max_per_script = o->max_per_script > 0 ? o->max_per_script : 64;
    /* pooled connections were checked under the old rules */
    http_client_close_idle(h->client);
    return 0;
}

void bind_http_free(struct bind_http *h) {
    if (!h) return;
    http_client_free(h->client);
    http_allow_free(h->allow);
    free(h->per);
    free(h);
}

/* Takes one in-flight slot for script s; -1 with why when a bound is reached. */
static int count_take(struct bind_http *h, const void *s, char *why, size_t len) {
    size_t i = 0;
    while (i < h->nper && h->per[i].script != s) i++;
    int mine = i < h->nper ? h->per[i].n : 0;
    if (h->in_flight >= h->max_in_flight || mine >= h->max_per_script) {
        snprintf(why, len, "%d calls are open (%s)", h->in_flight >= h->max_in_flight
                 ? h->in_flight : mine, h->in_flight >= h->max_in_flight
                 ? "http.max_in_flight" : "http.max_per_script, this script");
        return -1;
    }
    if (i == h->nper) {
        void *grown = realloc(h->per, (h->nper + 1) * sizeof *h->per);
        if (!grown) {
            snprintf(why, len, "out of memory");
            return -1;
        }
        h->per = grown;
        h->per[h->nper].script = s;
        h->per[h->nper++].n = 0;
    }
    h->per[i].n++;
    h->in_flight++;
    return 0;
}

void bind_http_count_release(struct bind_http *h, const void *s) {
    for (size_t i = 0; i < h->nper; i++)
        if (h->per[i].script == s) {
            h->in_flight--;
            if (--h->per[i].n == 0) h->per[i] = h->per[--h->nper];
            return;
        }
}

/* luaL_error with the script's position, also through the Lua half of lark. */
int bind_http_raise(lua_State *L, const char *fmt, ...) {
    char where[256];
    va_list ap;
    script_where(L, where, sizeof where);
    lua_pushfstring(L, "%s%slark.http: ", where, where[0] ? ": " : "");
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_concat(L, 2);
    return lua_error(L);
}

void bind_http_push_err(lua_State *L, const char *code, const char *msg) {
    lua_createtable(L, 0, 2);
    lua_pushstring(L, code);
    lua_setfield(L, -2, "code");
    lua_pushstring(L, msg);
    lua_setfield(L, -2, "msg");
    luaL_setmetatable(L, BIND_HTTP_ERR_META);
}

static int fail_now(lua_State *L, const char *code, const char *msg) {
    lua_pushnil(L);
    bind_http_push_err(L, code, msg);
    return 2;
}

const char *bind_http_code_name(enum http_client_error e) {
    switch (e) {
    case HTTP_CLIENT_E_ADDRESS: return "private_address";
    case HTTP_CLIENT_E_DNS: return "dns";
    case HTTP_CLIENT_E_CONNECT: return "connect";
    case HTTP_CLIENT_E_TLS: return "tls";
    case HTTP_CLIENT_E_TIMEOUT: return "timeout";
    case HTTP_CLIENT_E_TOO_LARGE: return "too_large";
    case HTTP_CLIENT_E_CLOSED: return "closed";
    default: return "protocol";
    }
}

static const char *raw_string(lua_State *L, int t, const char *key) {
    lua_pushstring(L, key);
    lua_rawget(L, t);
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    lua_pop(L, 1);                 /* the table keeps the string alive */
    return s;
}

int bind_http_error_text(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    if (!lua_istable(L, idx) || !lua_checkstack(L, 4) || !lua_getmetatable(L, idx)) return 0;
    luaL_getmetatable(L, BIND_HTTP_ERR_META);
    int ours = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (!ours) return 0;
    lua_pushfstring(L, "lark.http %s: %s", raw_string(L, idx, "code"), raw_string(L, idx, "msg"));
    return 1;
}

static int err_tostring(lua_State *L) {
    if (!bind_http_error_text(L, 1)) lua_pushliteral(L, "lark.http error");
    return 1;
}

static void hreq_free(struct hreq *r) {
    if (r->ref != LUA_NOREF) luaL_unref(r->t->script->L, LUA_REGISTRYINDEX, r->ref);
    free(r);
}

/* Runs inside the resumed coroutine (sched's push step). */
static int push_answer(lua_State *co, void *arg) {
    struct hreq *r = arg;
    int ref = r->ref;
    char code[32], msg[sizeof r->msg];
    snprintf(code, sizeof code, "%s", r->code ? r->code : "protocol");
    snprintf(msg, sizeof msg, "%s", r->msg);
    r->ref = LUA_NOREF;
    free(r);
    if (ref != LUA_NOREF) {
        lua_rawgeti(co, LUA_REGISTRYINDEX, ref);
        luaL_unref(co, LUA_REGISTRYINDEX, ref);
        return 1;
    }
    lua_pushnil(co);
    bind_http_push_err(co, code, msg);
    return 2;
}

static void cancel_answer(void *arg) {
    struct hreq *r = arg;
    http_call_cancel(r->call);
    bind_http_count_release(r->h, r->script);
    hreq_free(r);
}

static void add_header(void *arg, const char *name, const char *value) {
    lua_State *L = arg;
    char lower[256];
    size_t n = strlen(name);
    if (n >= sizeof lower) return;             /* no header name is that long in practice */
    for (size_t i = 0; i <= n; i++) lower[i] = (char)tolower((unsigned char)name[i]);
    if (lua_getfield(L, -1, lower) == LUA_TSTRING) {   /* a repeated header: one list */
        lua_pushliteral(L, ", ");
        lua_pushstring(L, value);
        lua_concat(L, 3);
    } else {
        lua_pop(L, 1);
        lua_pushstring(L, value);
    }
    lua_setfield(L, -2, lower);
}

struct build {
    const struct http_client_response *res;
    struct hreq *r;
};

/* On the script's main thread, under a pcall: the answer as a table, anchored. */
static int build_answer(lua_State *L) {
    const struct build *b = lua_touserdata(L, 1);
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, b->res->status);
    lua_setfield(L, -2, "status");
    lua_newtable(L);
    http_client_foreach_header(b->res, add_header, L);
    lua_setfield(L, -2, "headers");
    if (b->r->stream) {
        bind_http_stream_new(L, b->r->h, b->r->script, &b->r->call);
        lua_rawsetp(L, -2, BIND_HTTP_STREAM_KEY);
    } else {
        lua_pushlstring(L, b->res->body, b->res->body_len);
        lua_setfield(L, -2, "body");
    }
    luaL_setmetatable(L, BIND_HTTP_RES_META);
    lua_pushinteger(L, luaL_ref(L, LUA_REGISTRYINDEX));
    return 1;
}

static void log_failure(const struct hreq *r) {
    log_info("http", "%s failed: %s: %s", r->what, r->code, r->msg);
}

/* The answer, or the head of a streamed one. */
static void on_answer(void *arg, const struct http_client_response *res) {
    struct hreq *r = arg;
    if (res->status) {
        lua_State *L = r->t->script->L;
        int top = lua_gettop(L);
        struct build b = { res, r };
        lua_pushcfunction(L, build_answer);
        lua_pushlightuserdata(L, &b);
        if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
            r->ref = (int)lua_tointeger(L, -1);
        } else {
            r->code = "too_large";
            snprintf(r->msg, sizeof r->msg, "the answer does not fit in the script's memory "
                     "(limits.memory_mb)");
        }
        lua_settop(L, top);
    } else {
        r->code = bind_http_code_name(res->code);
        snprintf(r->msg, sizeof r->msg, "%s", res->error);
        log_failure(r);
    }
    /* unless a streamed response took them, the call and its slot end here */
    if (r->call) {
        if (r->stream && res->status) http_call_cancel(r->call);
        bind_http_count_release(r->h, r->script);
        r->call = NULL;
    }
    sched_wake(r->t);
}

static int check_addr(void *arg, const struct sockaddr *sa) {
    const struct hreq *r = arg;
    return r->exact || !http_allow_addr_internal(sa);
}

/* "GET host:port/path" of q for the log: no query string (it may carry keys). */
static void describe(const struct bind_http_req *q, const struct net_url *u, char *out,
                     size_t len) {
    char authority[300];
    net_url_authority(u, authority, sizeof authority);
    const char *qm = strchr(u->target, '?');
    int path_len = (int)(qm ? (size_t)(qm - u->target) : strlen(u->target));
    if (snprintf(out, len, "%s %s%.*s", q->method, authority, path_len, u->target) < 0)
        out[0] = '\0';
}

/* Starts the call described by q: its hreq, or NULL with *code and msg (a refusal before
 * any connection). Touches no Lua value, so it cannot raise. */
static struct hreq *http_begin(struct sched_task *t, const struct bind_http_req *q,
                               const char **code, char *msg, size_t len) {
    struct bind_http *h = sched_io(t->sched)->http;
    struct net_url u;
    char what[300];
    *code = "not_allowed";
    if (!h) {
        snprintf(msg, len, "lark.http is not set up in this process");
        return NULL;
    }
    *code = "protocol";
    if (net_url_parse(q->url, &u)) {              /* checked already: memory */
        snprintf(msg, len, "out of memory");
        return NULL;
    }
    describe(q, &u, what, sizeof what);
    enum http_allow_match m = http_allow_match(h->allow, u.host, u.port);
    if (m == HTTP_ALLOW_NO) {
        char authority[300];
        net_url_authority(&u, authority, sizeof authority);
        *code = "not_allowed";
        snprintf(msg, len, h->nallow ? "%s is not in http.allow"
                 : "%s: http.allow is empty, lark.http may reach no host", authority);
    }
    net_url_free(&u);
    struct hreq *r = m == HTTP_ALLOW_NO ? NULL : calloc(1, sizeof *r);
    if (m != HTTP_ALLOW_NO && !r) snprintf(msg, len, "out of memory");
    if (r && count_take(h, t->script, msg, len)) {
        *code = "too_many";
        free(r);
        r = NULL;
    }
    if (!r) {
        log_info("http", "%s refused: %s", what, *code);
        return NULL;
    }
    *r = (struct hreq){ .h = h, .script = t->script, .t = t, .exact = m == HTTP_ALLOW_EXACT,
                        .stream = q->stream, .ref = LUA_NOREF };
    snprintf(r->what, sizeof r->what, "%s", what);
    struct http_client_request req = {
        .method = q->method, .url = q->url, .headers = q->headers, .body = q->body,
        .body_len = q->body_len, .timeout_ms = q->timeout_ms, .max_response = q->max_body,
        .stream = q->stream, .check_addr = check_addr, .check_arg = r,
    };
    r->call = http_client_request(h->client, &req, on_answer, r);
    if (!r->call) {
        bind_http_count_release(h, t->script);
        free(r);
        snprintf(msg, len, "out of memory");
        return NULL;
    }
    return r;
}

/* The body is serialised when the request starts, so its buffer goes before anything
 * that may raise, and before the yield (which does not return here). */
static int http_call_lua(lua_State *L, struct sched_task *t, struct bind_http_req *q) {
    const char *code;
    char msg[400];
    struct hreq *r = http_begin(t, q, &code, msg, sizeof msg);
    bind_http_req_done(L, q);
    if (!r) return fail_now(L, code, msg);
    return sched_suspend(L, &(struct sched_wait){ push_answer, cancel_answer, r });
}

static struct sched_task *handler_task(lua_State *L) {
    struct sched_task *t = sched_current(L);
    if (!t) bind_http_raise(L, "only allowed in a handler (not at a script's top level, nor "
                            "in a coroutine the script created)");
    return t;
}

/* lark.http.request{method=, url=, ...} */
static int http_request(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    struct sched_task *t = handler_task(L);
    struct bind_http *h = sched_io(t->sched)->http;
    struct bind_http_req q;
    bind_http_read_options(L, 1, NULL, NULL, h ? h->timeout_s : 30, h ? h->max_body : 0, &q);
    return http_call_lua(L, t, &q);
}

/* lark.http.get/post/put/patch/delete(url, opts); the method is the upvalue. */
static int http_method(lua_State *L) {
    luaL_checkstring(L, 1);
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_isnil(L, 2)) {
        lua_newtable(L);
        lua_replace(L, 2);
    }
    struct sched_task *t = handler_task(L);
    struct bind_http *h = sched_io(t->sched)->http;
    struct bind_http_req q;
    bind_http_read_options(L, 2, lua_tostring(L, lua_upvalueindex(1)), lua_tostring(L, 1),
                           h ? h->timeout_s : 30, h ? h->max_body : 0, &q);
    return http_call_lua(L, t, &q);
}

/* res:json(): lark.json.decode(res.body). */
static int res_json(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_getfield(L, 1, "body") != LUA_TSTRING)
        return bind_http_raise(L, "res:json(): a streamed response has no body (read it "
                               "with res:chunks() or res:sse())");
    lua_rawgeti(L, LUA_REGISTRYINDEX, script_of(L)->lark_ref);
    lua_getfield(L, -1, "json");
    lua_getfield(L, -1, "decode");
    lua_pushvalue(L, 2);
    lua_call(L, 1, 1);
    return 1;
}

static void open_metatables(lua_State *L) {
    if (luaL_newmetatable(L, BIND_HTTP_ERR_META)) {
        lua_pushcfunction(L, err_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, BIND_HTTP_RES_META)) {
        lua_createtable(L, 0, 4);
        lua_pushcfunction(L, res_json);
        lua_setfield(L, -2, "json");
        bind_http_stream_methods(L);
        lua_setfield(L, -2, "__index");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    bind_http_stream_open(L);
}

void bind_http_open(lua_State *L) {
    static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD",
                                           NULL };
    open_metatables(L);
    lua_createtable(L, 0, 7);
    lua_pushcfunction(L, http_request);
    lua_setfield(L, -2, "request");
    bind_set_methods(L, methods, http_method);
}
