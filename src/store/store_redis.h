/* lark.store on Redis: the same values, TTLs and answers as store.h, shared by every
 * gateway using the same Redis and prefix, each key at <prefix>store:<key>. Every
 * operation is asynchronous (the binding yields the handler until the answer comes).
 *
 * Values keep their Lua type through Redis: an integer is stored as its decimal text
 * (so INCRBY works on it atomically on the server), a string as "s" + bytes, a float as
 * "n" + %.17g, a boolean as "b1"/"b0". incr on a non-integer is STORE_ETYPE, like the
 * memory store; an absent key counts from 0 and incr keeps an existing TTL.
 * Bounds: a key plus value longer than max_bytes is STORE_ETOOBIG; the entry count and
 * the total are bounded by the Redis server's own maxmemory, not here. */
#ifndef LARKGW_STORE_REDIS_H
#define LARKGW_STORE_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct redis;
struct store_redis;
struct store_req;

struct store_result {
    int err;                      /* STORE_OK or a negative enum store_error */
    struct store_value value;     /* get: a string is malloc'd, the callback's to free */
    int64_t integer;              /* incr: the new value; delete: 1 when one was deleted */
};

/* Called once per operation, later (never inside the call that started it). */
typedef void (*store_redis_fn)(void *arg, struct store_result *res);

/* r outlives the store. NULL when out of memory. */
struct store_redis *store_redis_new(struct redis *r, size_t max_bytes);
void store_redis_free(struct store_redis *sr);

/* Each returns the request, or NULL with *err set (STORE_EDOWN: Redis unreachable,
 * STORE_ETOOBIG, STORE_ENOMEM) and fn not called. set with a nil value deletes. */
struct store_req *store_redis_get(struct store_redis *sr, const char *key, size_t klen,
                                  store_redis_fn fn, void *arg, int *err);
struct store_req *store_redis_set(struct store_redis *sr, const char *key, size_t klen,
                                  const struct store_value *v, double ttl_s,
                                  store_redis_fn fn, void *arg, int *err);
struct store_req *store_redis_incr(struct store_redis *sr, const char *key, size_t klen,
                                   int64_t n, store_redis_fn fn, void *arg, int *err);
struct store_req *store_redis_delete(struct store_redis *sr, const char *key, size_t klen,
                                     store_redis_fn fn, void *arg, int *err);

/* fn will not be called; frees the request. */
void store_redis_cancel(struct store_req *q);

#endif
