/* lark.store: a small key/value store with per-key TTL, shared by every script of the
 * process and outliving reloads. Bounded in entries and bytes. Not thread-safe: the
 * process runs its scripts on one event loop, so there is nothing to lock. Values are
 * strings, numbers or booleans. Its hash is keyed with a random secret per store
 * (SipHash), so keys a script chooses cannot be aimed at one chain. */
#ifndef LARKGW_STORE_H
#define LARKGW_STORE_H

#include <stddef.h>
#include <stdint.h>

enum store_type { STORE_NIL, STORE_STRING, STORE_INTEGER, STORE_NUMBER, STORE_BOOLEAN };

struct store_value {
    enum store_type type;
    union { const char *s; int64_t i; double n; int b; } u;
    size_t len;                     /* STORE_STRING */
};

enum store_error { STORE_OK = 0, STORE_EFULL = -1, STORE_ETYPE = -2, STORE_ENOMEM = -3,
                   STORE_ETOOBIG = -4, STORE_EDOWN = -5 };

struct store;

/* now_ms may be NULL (the monotonic clock); tests inject a clock. NULL when out of
 * memory or when no random key can be had. */
struct store *store_new(size_t max_entries, size_t max_bytes, uint64_t (*now_ms)(void));
void store_free(struct store *s);

/* ttl_s <= 0: no expiry. Replaces any previous value. STORE_EFULL when the entry or
 * byte bound would be passed. */
int store_set(struct store *s, const char *key, size_t klen, const struct store_value *v,
              double ttl_s);

/* Copies the value into *out; strings are copied into a malloc'd buffer the caller frees
 * (out->u.s). Returns STORE_NIL type when absent or expired. */
void store_get(struct store *s, const char *key, size_t klen, struct store_value *out);

/* Adds n to an integer (absent: starts at 0, no expiry, or keeps the existing TTL);
 * STORE_ETYPE when the value is not an integer. */
int store_incr(struct store *s, const char *key, size_t klen, int64_t n, int64_t *result);

/* 1 when something was deleted. */
int store_delete(struct store *s, const char *key, size_t klen);

size_t store_count(struct store *s);

/* Puts lark.store on Redis (store_redis.h) for every script: the bindings then use sr,
 * asynchronously, instead of this memory store. sr is the caller's and outlives s. */
struct store_redis;
void store_set_shared(struct store *s, struct store_redis *sr);
/* The Redis store set above, NULL when lark.store lives in memory. */
struct store_redis *store_shared(const struct store *s);
const char *store_strerror(int err);

#endif
