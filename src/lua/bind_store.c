/* lark.store: the gateway's key/value store (src/store), shared by every script and
 * worker and kept across reloads. Values are strings, numbers (integer or float, kept
 * as they are) and booleans; a full store is an expected failure: nil, err. */
#include "lua/bind.h"
#include "lua/sched.h"
#include "lua/script.h"
#include "store/store.h"
#include "store/store_redis.h"

#include <lauxlib.h>
#include <stdlib.h>

static const char no_store[] = "lark.store is not available";

static int fail(lua_State *L, const char *why) {
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
}

static int push_copy(lua_State *L) {
    lua_pushlstring(L, lua_touserdata(L, 1), (size_t)lua_tointeger(L, 2));
    return 1;
}

/* The copy store_get made is freed even when pushing it runs out of memory. */
static int push_value(lua_State *L, struct store_value *v) {
    switch (v->type) {
    case STORE_STRING: {
        lua_pushcfunction(L, push_copy);
        lua_pushlightuserdata(L, (void *)v->u.s);
        lua_pushinteger(L, (lua_Integer)v->len);
        int rc = lua_pcall(L, 2, 1, 0);
        free((void *)v->u.s);
        return rc == LUA_OK ? 1 : lua_error(L);
    }
    case STORE_INTEGER: lua_pushinteger(L, (lua_Integer)v->u.i); return 1;
    case STORE_NUMBER: lua_pushnumber(L, (lua_Number)v->u.n); return 1;
    case STORE_BOOLEAN: lua_pushboolean(L, v->u.b); return 1;
    default: lua_pushnil(L); return 1;
    }
}

/* On Redis (store_shared), every operation yields the handler until Redis answers, as
 * lark.api does; the answers are the memory store's, plus nil, err while Redis is down. */
struct store_wait {
    struct sched_task *t;
    struct store_req *req;
    char op;                       /* g(et) s(et) i(ncr) d(elete) */
    struct store_result res;
};

static int push_result(lua_State *co, void *arg) {
    struct store_wait *w = arg;
    struct store_result res = w->res;
    char op = w->op;
    free(w);
    if (res.err) {
        if (res.value.type == STORE_STRING) free((void *)res.value.u.s);
        return fail(co, store_strerror(res.err));
    }
    switch (op) {
    case 'g': return push_value(co, &res.value);
    case 'i': lua_pushinteger(co, (lua_Integer)res.integer); return 1;
    case 'd': lua_pushboolean(co, res.integer > 0); return 1;
    default: lua_pushboolean(co, 1); return 1;
    }
}

static void cancel_wait(void *arg) {
    struct store_wait *w = arg;
    store_redis_cancel(w->req);
    free(w);
}

static void on_result(void *arg, struct store_result *res) {
    struct store_wait *w = arg;
    w->req = NULL;
    w->res = *res;
    sched_wake(w->t);
}

/* Starts op on Redis and yields; nil, err at once when it cannot start. */
static int shared_op(lua_State *L, struct store_redis *sr, char op, const char *key,
                     size_t klen, const struct store_value *v, double ttl, lua_Integer n) {
    struct sched_task *t = sched_current(L);
    if (!t) return fail(L, "lark.store on redis is only available inside a handler");
    struct store_wait *w = calloc(1, sizeof *w);
    if (!w) return fail(L, store_strerror(STORE_ENOMEM));
    int err = STORE_ENOMEM;
    w->t = t;
    w->op = op;
    switch (op) {
    case 'g': w->req = store_redis_get(sr, key, klen, on_result, w, &err); break;
    case 's': w->req = store_redis_set(sr, key, klen, v, ttl, on_result, w, &err); break;
    case 'i': w->req = store_redis_incr(sr, key, klen, (int64_t)n, on_result, w, &err); break;
    default: w->req = store_redis_delete(sr, key, klen, on_result, w, &err); break;
    }
    if (!w->req) {
        free(w);
        return fail(L, store_strerror(err));
    }
    return sched_suspend(L, &(struct sched_wait){ push_result, cancel_wait, w });
}

/* lark.store.get(key) -> value, or nil when absent or expired. */
static int get(lua_State *L) {
    size_t klen;
    const char *key = luaL_checklstring(L, 1, &klen);
    struct store *st = script_of(L)->store;
    if (!st) return fail(L, no_store);
    if (store_shared(st)) return shared_op(L, store_shared(st), 'g', key, klen, NULL, 0, 0);
    struct store_value v;
    store_get(st, key, klen, &v);
    return push_value(L, &v);
}

static void check_value(lua_State *L, int idx, struct store_value *v) {
    switch (lua_type(L, idx)) {
    case LUA_TNIL: case LUA_TNONE: v->type = STORE_NIL; break;
    case LUA_TSTRING: v->type = STORE_STRING; v->u.s = lua_tolstring(L, idx, &v->len); break;
    case LUA_TBOOLEAN: v->type = STORE_BOOLEAN; v->u.b = lua_toboolean(L, idx); break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            v->type = STORE_INTEGER;
            v->u.i = (int64_t)lua_tointeger(L, idx);
        } else {
            v->type = STORE_NUMBER;
            v->u.n = (double)lua_tonumber(L, idx);
        }
        break;
    default: luaL_typeerror(L, idx, "string, number, boolean or nil");
    }
}

/* lark.store.set(key, value [, ttl_s]) -> true, or nil, err. A nil value deletes;
 * ttl_s absent or 0: no expiry. */
static int set(lua_State *L) {
    size_t klen;
    const char *key = luaL_checklstring(L, 1, &klen);
    struct store_value v = { 0 };
    check_value(L, 2, &v);
    lua_Number ttl = luaL_optnumber(L, 3, 0);
    luaL_argcheck(L, ttl >= 0 && ttl <= 1e9, 3, "seconds from 0 to 1e9 expected");
    struct store *st = script_of(L)->store;
    if (!st) return fail(L, no_store);
    if (store_shared(st)) return shared_op(L, store_shared(st), 's', key, klen, &v, ttl, 0);
    int rc = store_set(st, key, klen, &v, (double)ttl);
    if (rc != STORE_OK) return fail(L, store_strerror(rc));
    lua_pushboolean(L, 1);
    return 1;
}

/* lark.store.incr(key [, n]) -> the new integer, or nil, err. An absent key counts
 * from 0 (no expiry); n defaults to 1 and may be negative. */
static int incr(lua_State *L) {
    size_t klen;
    const char *key = luaL_checklstring(L, 1, &klen);
    lua_Integer n = luaL_optinteger(L, 2, 1);
    struct store *st = script_of(L)->store;
    if (!st) return fail(L, no_store);
    if (store_shared(st)) return shared_op(L, store_shared(st), 'i', key, klen, NULL, 0, n);
    int64_t result;
    int rc = store_incr(st, key, klen, (int64_t)n, &result);
    if (rc != STORE_OK) return fail(L, store_strerror(rc));
    lua_pushinteger(L, (lua_Integer)result);
    return 1;
}

/* lark.store.delete(key) -> true when there was a value, else false. */
static int delete_(lua_State *L) {
    size_t klen;
    const char *key = luaL_checklstring(L, 1, &klen);
    struct store *st = script_of(L)->store;
    if (!st) return fail(L, no_store);
    if (store_shared(st)) return shared_op(L, store_shared(st), 'd', key, klen, NULL, 0, 0);
    lua_pushboolean(L, store_delete(st, key, klen));
    return 1;
}

void bind_store_open(lua_State *L) {
    static const luaL_Reg fns[] = {
        { "get", get }, { "set", set }, { "incr", incr }, { "delete", delete_ }, { NULL, NULL },
    };
    luaL_newlib(L, fns);
}
