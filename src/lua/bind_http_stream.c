/* A streamed lark.http response: res:chunks() and res:sse() are iterators for a generic
 * for; each step takes what has arrived, or parks the coroutine until more does (the
 * same sched_suspend as the call itself). Their fourth value is the stream, a
 * to-be-closed value: leaving the loop early, an error or the handler's end closes the
 * connection at once, not when the garbage collector gets to it. A body that breaks
 * off raises err (error codes as in bind_http.c). */
#include "lua/bind_http_int.h"

#include "lua/sched.h"
#include "net/sse.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#define CHUNK_MAX 16384

const char bind_http_stream_key = 0;

enum { MODE_CHUNKS, MODE_SSE };

struct hstream {
    struct bind_http *h;
    const void *script;            /* its in-flight slot, held until closed */
    struct http_call *call;        /* NULL once closed */
    struct sched_task *t;          /* parked in an iterator */
    int mode;
    struct sse sse;
    int sse_ended;                 /* the body is whole: sse_end was called */
};

void bind_http_stream_new(lua_State *L, struct bind_http *h, const void *script,
                          struct http_call **call) {
    struct hstream *st = lua_newuserdatauv(L, sizeof *st, 0);
    memset(st, 0, sizeof *st);
    st->h = h;
    st->script = script;
    st->call = *call;
    *call = NULL;
    sse_init(&st->sse, 0);
    luaL_setmetatable(L, BIND_HTTP_STREAM_META);
}

static void stream_close(struct hstream *st) {
    if (!st->call) return;
    http_call_cancel(st->call);    /* the connection goes unless the body was read whole */
    st->call = NULL;
    st->t = NULL;
    bind_http_count_release(st->h, st->script);
}

static int stream_gc(lua_State *L) {
    struct hstream *st = luaL_checkudata(L, 1, BIND_HTTP_STREAM_META);
    stream_close(st);
    sse_free(&st->sse);
    return 0;
}

static int stream_close_lua(lua_State *L) {
    stream_close(luaL_checkudata(L, 1, BIND_HTTP_STREAM_META));
    return 0;
}

/* Closes the stream and raises err {code, msg}. */
static int stream_fail(lua_State *L, struct hstream *st, const char *code, const char *msg) {
    char text[300];
    snprintf(text, sizeof text, "%s", msg);   /* msg may live in the call */
    stream_close(st);
    bind_http_push_err(L, code, text);
    return lua_error(L);
}

static void push_event(lua_State *L, const struct sse_event *ev) {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, ev->event);
    lua_setfield(L, -2, "event");
    lua_pushlstring(L, ev->data, ev->data_len);
    lua_setfield(L, -2, "data");
    lua_pushstring(L, ev->id);
    lua_setfield(L, -2, "id");
}

/* One iterator step: the count of results (0: the loop ends), or -1 to wait. */
static int stream_step(lua_State *L, struct hstream *st) {
    char buf[CHUNK_MAX];
    for (;;) {
        if (st->mode == MODE_SSE) {
            struct sse_event ev;
            int rc = sse_next(&st->sse, &ev);
            if (rc == SSE_EVENT) {
                push_event(L, &ev);
                return 1;
            }
            if (rc == SSE_ERROR) return stream_fail(L, st, "protocol", st->sse.error);
            if (st->sse_ended) return 0;
        }
        if (!st->call) return 0;
        size_t n;
        int rc = http_call_read(st->call, buf, sizeof buf, &n);
        if (rc == HTTP_CALL_DATA && st->mode == MODE_CHUNKS) {
            lua_pushlstring(L, buf, n);
            return 1;
        }
        if (rc == HTTP_CALL_DATA && sse_feed(&st->sse, buf, n) == SSE_ERROR)
            return stream_fail(L, st, "protocol", st->sse.error);
        if (rc == HTTP_CALL_END) {
            stream_close(st);          /* the connection went back to the pool */
            if (st->mode == MODE_CHUNKS) return 0;
            sse_end(&st->sse);
            st->sse_ended = 1;
        }
        if (rc == HTTP_CALL_FAILED) {
            enum http_client_error code;
            const char *msg = http_call_error(st->call, &code);
            return stream_fail(L, st, bind_http_code_name(code), msg);
        }
        if (rc == HTTP_CALL_WAIT) return -1;
    }
}

static void on_ready(void *arg) {
    struct hstream *st = arg;
    struct sched_task *t = st->t;
    st->t = NULL;
    if (t) sched_wake(t);
}

static void wait_cancel(void *arg) {
    struct hstream *st = arg;
    if (st->call) http_call_wait(st->call, NULL, NULL);
    stream_close(st);              /* a killed handler leaves no connection behind */
}

static int wait_push(lua_State *co, void *arg);

static int stream_wait(lua_State *L, struct hstream *st) {
    struct sched_task *t = sched_current(L);
    if (!t) return bind_http_raise(L, "a stream is read in the handler that made the call");
    if (st->t && st->t != t) return bind_http_raise(L, "another handler is reading this stream");
    st->t = t;
    http_call_wait(st->call, on_ready, st);
    return sched_suspend(L, &(struct sched_wait){ wait_push, wait_cancel, st });
}

/* Runs in the resumed coroutine; bytes that complete no event yet mean waiting again. */
static int wait_push(lua_State *co, void *arg) {
    struct hstream *st = arg;
    int n = stream_step(co, st);
    return n >= 0 ? n : stream_wait(co, st);
}

static int iter(lua_State *L) {
    struct hstream *st = lua_touserdata(L, lua_upvalueindex(1));
    int n = stream_step(L, st);
    return n >= 0 ? n : stream_wait(L, st);
}

/* res:chunks() / res:sse(): iterator, nil, nil, the stream (closed with the loop). */
static int start_iter(lua_State *L, int mode) {
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_rawgetp(L, 1, BIND_HTTP_STREAM_KEY) != LUA_TUSERDATA)
        return bind_http_raise(L, "res:%s(): the call was not made with stream = true",
                               mode == MODE_SSE ? "sse" : "chunks");
    struct hstream *st = luaL_checkudata(L, -1, BIND_HTTP_STREAM_META);
    st->mode = mode;
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, iter, 1);
    lua_pushnil(L);
    lua_pushnil(L);
    lua_pushvalue(L, -4);
    return 4;
}

static int res_chunks(lua_State *L) { return start_iter(L, MODE_CHUNKS); }
static int res_sse(lua_State *L) { return start_iter(L, MODE_SSE); }

/* res:close(): ends the stream now (a no-op for a whole answer). */
static int res_close(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_rawgetp(L, 1, BIND_HTTP_STREAM_KEY) == LUA_TUSERDATA)
        stream_close(luaL_checkudata(L, -1, BIND_HTTP_STREAM_META));
    return 0;
}

void bind_http_stream_methods(lua_State *L) {
    lua_pushcfunction(L, res_chunks);
    lua_setfield(L, -2, "chunks");
    lua_pushcfunction(L, res_sse);
    lua_setfield(L, -2, "sse");
    lua_pushcfunction(L, res_close);
    lua_setfield(L, -2, "close");
}

void bind_http_stream_open(lua_State *L) {
    if (luaL_newmetatable(L, BIND_HTTP_STREAM_META)) {
        lua_pushcfunction(L, stream_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, stream_close_lua);
        lua_setfield(L, -2, "__close");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
}
