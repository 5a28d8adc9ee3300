/* lark.http's options, checked before anything starts: a mistake is the script's bug and
 * raises ("bad option"), so only the network's answers come back as nil, err. The
 * strings handed to the request stay anchored on the Lua stack, never only in the
 * script's tables (which a __gc could empty while we hold their pointers). */
#include "lua/bind_http_int.h"

#include "lua/json.h"
#include "net/net.h"

#include <ctype.h>
#include <lauxlib.h>
#include <string.h>
#include <strings.h>

#define QUERY_MAX 8192
#define TIMEOUT_MAX_S 3600

static const char *const opt_names[] = {
    "method", "url", "headers", "body", "json", "query", "timeout", "max_body", "stream", NULL,
};

/* Header names we set ourselves: a script's copy would make the request ambiguous. */
static const char *const reserved_headers[] = {
    "host", "content-length", "transfer-encoding", "connection", "upgrade", "te", NULL,
};

static void check_opt_names(lua_State *L, int opts, int short_form) {
    lua_pushnil(L);
    while (lua_next(L, opts)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        int known = 0;
        for (int i = 0; k && opt_names[i] && !known; i++) known = strcmp(k, opt_names[i]) == 0;
        if (!known)
            bind_http_raise(L, "unknown option '%s' (expected method, url, headers, body, "
                            "json, query, timeout, max_body or stream)",
                            k ? k : luaL_typename(L, -1));
        if (short_form && (strcmp(k, "method") == 0 || strcmp(k, "url") == 0))
            bind_http_raise(L, "options 'method' and 'url' belong to lark.http.request");
    }
}

static const char *method_name(lua_State *L, const char *m) {
    static const char *const names[] = { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD",
                                         "OPTIONS", NULL };
    for (int i = 0; names[i]; i++)
        if (strcasecmp(m, names[i]) == 0) return names[i];
    bind_http_raise(L, "option 'method': GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS "
                    "expected, got '%s'", m);
    return NULL;
}

static int token_char(unsigned char c) {
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Collects headers = {name = value}; the pairs stay on the stack. Returns whether a
 * Content-Type was given. */
static int read_headers(lua_State *L, int idx, struct bind_http_req *q) {
    int n = 0, has_type = 0;
    luaL_checkstack(L, 2 * BIND_HTTP_MAX_HEADERS + 8, "headers");
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
            bind_http_raise(L, "option 'headers': string names and string values expected");
        size_t nlen, vlen;
        const char *name = lua_tolstring(L, -2, &nlen), *value = lua_tolstring(L, -1, &vlen);
        int ok = nlen > 0;
        for (size_t i = 0; i < nlen && ok; i++) ok = token_char((unsigned char)name[i]);
        if (!ok) bind_http_raise(L, "option 'headers': '%s' is not a header name", name);
        if (strlen(value) != vlen || strpbrk(value, "\r\n"))
            bind_http_raise(L, "option 'headers': the value of '%s' has a line break or a "
                            "NUL byte", name);
        for (int i = 0; reserved_headers[i]; i++)
            if (strcasecmp(name, reserved_headers[i]) == 0)
                bind_http_raise(L, "option 'headers': '%s' is set by lark.http", name);
        if (n == BIND_HTTP_MAX_HEADERS)
            bind_http_raise(L, "option 'headers': more than %d", BIND_HTTP_MAX_HEADERS);
        has_type |= strcasecmp(name, "content-type") == 0;
        q->headers[2 * n] = name;
        q->headers[2 * n + 1] = value;
        n++;
        lua_pushvalue(L, -2);          /* the key again for lua_next; the pair stays */
    }
    q->headers[2 * n] = NULL;
    return has_type;
}

struct query_buf {
    char text[QUERY_MAX + 1];
    size_t n;
};

static void add_raw(lua_State *L, struct query_buf *b, char c) {
    if (b->n + 1 > QUERY_MAX) bind_http_raise(L, "option 'query': over %d bytes", QUERY_MAX);
    b->text[b->n++] = c;
}

static void add_encoded(lua_State *L, struct query_buf *b, const char *s, size_t len) {
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int plain = isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
        if (b->n + 3 > QUERY_MAX) bind_http_raise(L, "option 'query': over %d bytes", QUERY_MAX);
        if (plain) {
            b->text[b->n++] = (char)c;
        } else {
            b->text[b->n++] = '%';
            b->text[b->n++] = hex[c >> 4];
            b->text[b->n++] = hex[c & 15];
        }
    }
}

/* url .. ("?" or "&") .. the query table encoded; leaves the new URL pushed. */
static const char *add_query(lua_State *L, int idx, const char *url) {
    struct query_buf b;
    b.n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int t = lua_type(L, -1);
        if (lua_type(L, -2) != LUA_TSTRING ||
            (t != LUA_TSTRING && t != LUA_TNUMBER && t != LUA_TBOOLEAN))
            bind_http_raise(L, "option 'query': string keys and string, number or boolean "
                            "values expected");
        size_t klen, vlen;
        const char *k = lua_tolstring(L, -2, &klen);
        if (t == LUA_TBOOLEAN) lua_pushstring(L, lua_toboolean(L, -1) ? "true" : "false");
        else lua_pushvalue(L, -1);
        const char *v = lua_tolstring(L, -1, &vlen);    /* a copy: the key stays a key */
        if (b.n) add_raw(L, &b, '&');
        add_encoded(L, &b, k, klen);
        add_raw(L, &b, '=');
        add_encoded(L, &b, v, vlen);
        lua_pop(L, 2);
    }
    b.text[b.n] = '\0';
    if (!b.n) {
        lua_pushstring(L, url);
        return lua_tostring(L, -1);
    }
    return lua_pushfstring(L, "%s%c%s", url, strchr(url, '?') ? '&' : '?', b.text);
}

static void check_url(lua_State *L, const char *url) {
    struct net_url u;
    if ((strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8)) ||
        net_url_parse(url, &u))
        bind_http_raise(L, "url: an http:// or https:// URL expected, got '%s'", url);
    net_url_free(&u);
}

static void read_limits(lua_State *L, int opts, int timeout_s, size_t max_body,
                        struct bind_http_req *q) {
    q->timeout_ms = timeout_s * 1000;
    if (lua_getfield(L, opts, "timeout") != LUA_TNIL) {
        lua_Number s = lua_tonumber(L, -1);
        if (!lua_isnumber(L, -1) || !(s > 0 && s <= TIMEOUT_MAX_S))
            bind_http_raise(L, "option 'timeout': seconds in (0, %d] expected", TIMEOUT_MAX_S);
        q->timeout_ms = s * 1000 < 1 ? 1 : (int)(s * 1000);
    }
    q->max_body = max_body;
    if (lua_getfield(L, opts, "max_body") != LUA_TNIL) {
        lua_Integer n = lua_tointeger(L, -1);
        if (!lua_isinteger(L, -1) || n < 1 || (size_t)n > max_body)
            bind_http_raise(L, "option 'max_body': bytes in [1, %d] (http.max_body) expected",
                            (int)max_body);
        q->max_body = (size_t)n;
    }
    lua_getfield(L, opts, "stream");
    q->stream = lua_toboolean(L, -1);
}

void bind_http_read_options(lua_State *L, int opts, const char *method, const char *url,
                            int timeout_s, size_t max_body, struct bind_http_req *q) {
    memset(q, 0, sizeof *q);
    check_opt_names(L, opts, method != NULL);
    if (!method) {
        int t = lua_getfield(L, opts, "method");
        if (t != LUA_TNIL && t != LUA_TSTRING)
            bind_http_raise(L, "option 'method': string expected");
        method = t == LUA_TNIL ? "GET" : lua_tostring(L, -1);
        if (lua_getfield(L, opts, "url") != LUA_TSTRING)
            bind_http_raise(L, "option 'url' (a string) is required");
        url = lua_tostring(L, -1);
    }
    q->method = method_name(L, method);
    if (lua_getfield(L, opts, "query") == LUA_TTABLE) url = add_query(L, lua_gettop(L), url);
    else if (!lua_isnil(L, -1)) bind_http_raise(L, "option 'query': table expected");
    check_url(L, url);
    q->url = url;
    int has_type = 0;
    if (lua_getfield(L, opts, "headers") == LUA_TTABLE)
        has_type = read_headers(L, lua_gettop(L), q);
    else if (!lua_isnil(L, -1)) bind_http_raise(L, "option 'headers': table expected");
    else q->headers[0] = NULL;
    read_limits(L, opts, timeout_s, max_body, q);
    int body = lua_getfield(L, opts, "body");
    if (body == LUA_TSTRING) q->body = lua_tolstring(L, -1, &q->body_len);
    else if (body != LUA_TNIL) bind_http_raise(L, "option 'body': string expected");
    if (lua_getfield(L, opts, "json") == LUA_TNIL) return;
    if (q->body) bind_http_raise(L, "options 'body' and 'json' exclude each other");
    size_t n = 0;
    while (q->headers[n]) n++;
    if (!has_type) {
        q->headers[n++] = "Content-Type";
        q->headers[n++] = "application/json";
        q->headers[n] = NULL;
    }
    q->json = json_encode(L, lua_gettop(L), &q->body_len);   /* last: nothing raises after */
    if (!q->json) bind_http_raise(L, "option 'json': %s", lua_tostring(L, -1));
    q->body = q->json;
}

void bind_http_req_done(lua_State *L, struct bind_http_req *q) {
    if (q->json) json_buffer_free(L, q->json);
    q->json = NULL;
}
