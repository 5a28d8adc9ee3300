#include "store/store_redis.h"

#include "net/redis.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum store_op { STORE_OP_GET, STORE_OP_SET, STORE_OP_INCR, STORE_OP_DELETE };

struct store_redis {
    struct redis *r;
    size_t max_bytes;
};

struct store_req {
    enum store_op op;
    struct redis_call *call;
    store_redis_fn fn;
    void *arg;
};

struct store_redis *store_redis_new(struct redis *r, size_t max_bytes) {
    struct store_redis *sr = calloc(1, sizeof *sr);
    if (!sr) return NULL;
    sr->r = r;
    sr->max_bytes = max_bytes ? max_bytes : SIZE_MAX;
    return sr;
}

void store_redis_free(struct store_redis *sr) { free(sr); }

/* "<prefix>store:<key>" in a malloc'd buffer; the key may hold any byte. */
static char *full_key(const struct store_redis *sr, const char *key, size_t klen, size_t *len) {
    const char *prefix = redis_prefix(sr->r);
    size_t pl = strlen(prefix);
    char *k = malloc(pl + 6 + klen + 1);
    if (!k) return NULL;
    memcpy(k, prefix, pl);
    memcpy(k + pl, "store:", 6);
    memcpy(k + pl + 6, key, klen);
    *len = pl + 6 + klen;
    k[*len] = 0;
    return k;
}

static void decode_value(const redisReply *rep, struct store_result *res) {
    res->value.type = STORE_NIL;
    if (rep->type != REDIS_REPLY_STRING || rep->len == 0) return;
    const char *s = rep->str;
    char *end;
    switch (s[0]) {
    case 's':
        if (!(res->value.u.s = malloc(rep->len))) {
            res->err = STORE_ENOMEM;
            return;
        }
        memcpy((char *)res->value.u.s, s + 1, rep->len - 1);
        ((char *)res->value.u.s)[rep->len - 1] = 0;
        res->value.len = rep->len - 1;
        res->value.type = STORE_STRING;
        return;
    case 'n': res->value.type = STORE_NUMBER; res->value.u.n = strtod(s + 1, NULL); return;
    case 'b': res->value.type = STORE_BOOLEAN; res->value.u.b = s[1] == '1'; return;
    default:
        errno = 0;
        res->value.u.i = strtoll(s, &end, 10);
        if (!errno && *end == 0) res->value.type = STORE_INTEGER;
    }
}

static void on_reply(void *arg, const redisReply *rep) {
    struct store_req *q = arg;
    struct store_result res = { 0 };
    if (!rep) {
        res.err = STORE_EDOWN;
    } else if (rep->type == REDIS_REPLY_ERROR) {
        res.err = q->op == STORE_OP_INCR && strstr(rep->str, "not an integer") ? STORE_ETYPE
                                                                                 : STORE_EDOWN;
    } else if (q->op == STORE_OP_GET) {
        decode_value(rep, &res);
    } else if (rep->type == REDIS_REPLY_INTEGER) {
        res.integer = rep->integer;
    }
    store_redis_fn fn = q->fn;
    void *fa = q->arg;
    free(q);
    fn(fa, &res);
}

static struct store_req *send(struct store_redis *sr, enum store_op op, int argc,
                              const char **argv, const size_t *lens, store_redis_fn fn,
                              void *arg, int *err) {
    struct store_req *q = malloc(sizeof *q);
    if (!q) {
        *err = STORE_ENOMEM;
        return NULL;
    }
    *q = (struct store_req){ op, NULL, fn, arg };
    q->call = redis_command(sr->r, on_reply, q, argc, argv, lens);
    if (!q->call) {
        free(q);
        *err = STORE_EDOWN;
        return NULL;
    }
    return q;
}

/* Builds the key, sends argv with it as argv[1], frees the key. */
static struct store_req *keyed(struct store_redis *sr, enum store_op op, const char *key,
                               size_t klen, int argc, const char **argv, size_t *lens,
                               store_redis_fn fn, void *arg, int *err) {
    size_t kl;
    char *k = full_key(sr, key, klen, &kl);
    if (!k) {
        *err = STORE_ENOMEM;
        return NULL;
    }
    argv[1] = k;
    lens[1] = kl;
    struct store_req *q = send(sr, op, argc, argv, lens, fn, arg, err);
    free(k);
    return q;
}

struct store_req *store_redis_get(struct store_redis *sr, const char *key, size_t klen,
                                  store_redis_fn fn, void *arg, int *err) {
    const char *argv[2] = { "GET" };
    size_t lens[2] = { 3 };
    return keyed(sr, STORE_OP_GET, key, klen, 2, argv, lens, fn, arg, err);
}

struct store_req *store_redis_delete(struct store_redis *sr, const char *key, size_t klen,
                                     store_redis_fn fn, void *arg, int *err) {
    const char *argv[2] = { "DEL" };
    size_t lens[2] = { 3 };
    return keyed(sr, STORE_OP_DELETE, key, klen, 2, argv, lens, fn, arg, err);
}

struct store_req *store_redis_incr(struct store_redis *sr, const char *key, size_t klen,
                                   int64_t n, store_redis_fn fn, void *arg, int *err) {
    char num[32];
    const char *argv[3] = { "INCRBY", NULL, num };
    size_t lens[3] = { 6, 0, (size_t)snprintf(num, sizeof num, "%" PRId64, n) };
    return keyed(sr, STORE_OP_INCR, key, klen, 3, argv, lens, fn, arg, err);
}

/* The encoded value in buf (small types) or a malloc'd copy (strings, *owned). */
static const char *encode(const struct store_value *v, char *buf, size_t cap, size_t *len,
                          char **owned) {
    switch (v->type) {
    case STORE_INTEGER: *len = (size_t)snprintf(buf, cap, "%" PRId64, v->u.i); return buf;
    case STORE_NUMBER: *len = (size_t)snprintf(buf, cap, "n%.17g", v->u.n); return buf;
    case STORE_BOOLEAN: *len = 2; return v->u.b ? "b1" : "b0";
    default:
        if (!(*owned = malloc(v->len + 1))) return NULL;
        (*owned)[0] = 's';
        memcpy(*owned + 1, v->u.s, v->len);
        *len = v->len + 1;
        return *owned;
    }
}

struct store_req *store_redis_set(struct store_redis *sr, const char *key, size_t klen,
                                  const struct store_value *v, double ttl_s,
                                  store_redis_fn fn, void *arg, int *err) {
    if (v->type == STORE_NIL) return store_redis_delete(sr, key, klen, fn, arg, err);
    if (klen + (v->type == STORE_STRING ? v->len : 0) > sr->max_bytes) {
        *err = STORE_ETOOBIG;
        return NULL;
    }
    char buf[64], px[32], *owned = NULL;
    size_t vlen;
    const char *val = encode(v, buf, sizeof buf, &vlen, &owned);
    if (!val) {
        *err = STORE_ENOMEM;
        return NULL;
    }
    const char *argv[5] = { "SET", NULL, val, "PX", px };
    size_t lens[5] = { 3, 0, vlen, 2, 0 };
    long long ms = (long long)(ttl_s * 1000.0);
    lens[4] = (size_t)snprintf(px, sizeof px, "%lld", ms > 0 ? ms : 1);
    struct store_req *q = keyed(sr, STORE_OP_SET, key, klen, ttl_s > 0 ? 5 : 3, argv, lens,
                                fn, arg, err);
    free(owned);
    return q;
}

void store_redis_cancel(struct store_req *q) {
    if (!q) return;
    redis_cancel(q->call);
    /* the call frees nothing of ours now: its callback is gone, q is ours to free */
    free(q);
}
