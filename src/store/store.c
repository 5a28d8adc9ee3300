#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "store/siphash.h"

/* Open hashing with chains; expired entries are dropped when touched, and by a sweep
 * when the store is full, so a full store of stale keys frees itself. Scripts choose the
 * keys, so the hash is keyed with a secret per store: nobody can aim keys at one chain. */
struct entry {
    struct entry *next;
    uint64_t hash, expires_ms;     /* 0: never */
    enum store_type type;
    union { int64_t i; double n; int b; } num;
    size_t klen, vlen;
    char data[];                   /* key bytes, then string value bytes */
};

struct store {
    unsigned char key[SIPHASH_KEY_LEN];
    struct entry **buckets;
    size_t nbuckets, count, bytes, max_entries, max_bytes;
    uint64_t swept_ms;
    uint64_t (*now_ms)(void);
    struct store_redis *shared;
};

static uint64_t store_hash(const struct store *s, const char *key, size_t len) {
    return siphash(s->key, key, len);
}

static size_t entry_bytes(const struct entry *e) { return sizeof *e + e->klen + e->vlen; }

struct store *store_new(size_t max_entries, size_t max_bytes, uint64_t (*now_ms)(void)) {
    struct store *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->nbuckets = 1024;
    s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
    if (!s->buckets || siphash_random_key(s->key) < 0) {
        free(s->buckets);
        free(s);
        return NULL;
    }
    s->max_entries = max_entries;
    s->max_bytes = max_bytes;
    s->now_ms = now_ms ? now_ms : util_now_ms;
    return s;
}

void store_free(struct store *s) {
    if (!s) return;
    for (size_t i = 0; i < s->nbuckets; i++)
        for (struct entry *e = s->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    free(s->buckets);
    free(s);
}

static void entry_unlink(struct store *s, struct entry **link) {
    struct entry *e = *link;
    *link = e->next;
    s->count--;
    s->bytes -= entry_bytes(e);
    free(e);
}

static int entry_expired(const struct entry *e, uint64_t now) {
    return e->expires_ms && e->expires_ms <= now;
}

/* Returns the link pointing at the live entry for key, or NULL; unlinks expired ones. */
static struct entry **store_find(struct store *s, const char *key, size_t klen, uint64_t h) {
    uint64_t now = s->now_ms();
    struct entry **link = &s->buckets[h % s->nbuckets];
    while (*link) {
        struct entry *e = *link;
        if (e->hash == h && e->klen == klen && memcmp(e->data, key, klen) == 0) {
            if (!entry_expired(e, now)) return link;
            entry_unlink(s, link);
            return NULL;
        }
        link = &e->next;
    }
    return NULL;
}

/* Drops expired entries when the store is full. A whole pass costs O(entries), so it
 * runs at most once a second; in between a full store simply refuses. */
static void store_sweep(struct store *s) {
    uint64_t now = s->now_ms();
    if (s->swept_ms && now - s->swept_ms < 1000) return;
    s->swept_ms = now;
    for (size_t n = 0; n < s->nbuckets; n++) {
        struct entry **link = &s->buckets[n];
        while (*link) {
            if (entry_expired(*link, now)) entry_unlink(s, link);
            else link = &(*link)->next;
        }
    }
}

static void store_grow(struct store *s) {
    size_t n = s->nbuckets * 2;
    struct entry **b = calloc(n, sizeof *b);
    if (!b) return;                /* keep the smaller table: slower, still correct */
    for (size_t i = 0; i < s->nbuckets; i++)
        for (struct entry *e = s->buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash % n];
            b[e->hash % n] = e;
        }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

static struct entry *entry_new(const char *key, size_t klen, const struct store_value *v,
                               uint64_t h, uint64_t expires) {
    size_t vlen = v->type == STORE_STRING ? v->len : 0;
    struct entry *e = malloc(sizeof *e + klen + vlen);
    if (!e) return NULL;
    e->next = NULL;
    e->hash = h;
    e->expires_ms = expires;
    e->type = v->type;
    e->klen = klen;
    e->vlen = vlen;
    memcpy(e->data, key, klen);
    if (vlen) memcpy(e->data + klen, v->u.s, vlen);
    if (v->type == STORE_INTEGER) e->num.i = v->u.i;
    else if (v->type == STORE_NUMBER) e->num.n = v->u.n;
    else if (v->type == STORE_BOOLEAN) e->num.b = v->u.b;
    return e;
}

/* Replaces the live entry at *old (may be NULL). */
static int store_put(struct store *s, struct entry **old, struct entry *e) {
    size_t freed = old ? entry_bytes(*old) : 0;
    if (!old && s->count >= s->max_entries) store_sweep(s);
    if ((!old && s->count >= s->max_entries) || s->bytes - freed + entry_bytes(e) > s->max_bytes) {
        free(e);
        return STORE_EFULL;
    }
    if (old) entry_unlink(s, old);
    if (s->count >= s->nbuckets) store_grow(s);
    struct entry **head = &s->buckets[e->hash % s->nbuckets];
    e->next = *head;
    *head = e;
    s->count++;
    s->bytes += entry_bytes(e);
    return STORE_OK;
}

int store_set(struct store *s, const char *key, size_t klen, const struct store_value *v,
              double ttl_s) {
    if (v->type == STORE_NIL) {
        store_delete(s, key, klen);
        return STORE_OK;
    }
    if (klen + (v->type == STORE_STRING ? v->len : 0) > s->max_bytes) return STORE_ETOOBIG;
    uint64_t h = store_hash(s, key, klen);
    uint64_t expires = ttl_s > 0 ? s->now_ms() + (uint64_t)(ttl_s * 1000.0) : 0;
    struct entry *e = entry_new(key, klen, v, h, expires);
    return e ? store_put(s, store_find(s, key, klen, h), e) : STORE_ENOMEM;
}

void store_get(struct store *s, const char *key, size_t klen, struct store_value *out) {
    memset(out, 0, sizeof *out);
    struct entry **link = store_find(s, key, klen, store_hash(s, key, klen));
    if (link) {
        struct entry *e = *link;
        out->type = e->type;
        if (e->type == STORE_STRING) {
            char *copy = malloc(e->vlen + 1);
            if (copy) {
                memcpy(copy, e->data + e->klen, e->vlen);
                copy[e->vlen] = '\0';
                out->u.s = copy;
                out->len = e->vlen;
            } else {
                out->type = STORE_NIL;
            }
        } else if (e->type == STORE_INTEGER) out->u.i = e->num.i;
        else if (e->type == STORE_NUMBER) out->u.n = e->num.n;
        else out->u.b = e->num.b;
    }
}

int store_incr(struct store *s, const char *key, size_t klen, int64_t n, int64_t *result) {
    uint64_t h = store_hash(s, key, klen);
    int rc = STORE_OK;
    struct entry **link = store_find(s, key, klen, h);
    if (link && (*link)->type != STORE_INTEGER) {
        rc = STORE_ETYPE;
    } else if (link) {
        (*link)->num.i = (int64_t)((uint64_t)(*link)->num.i + (uint64_t)n);  /* wraps, no UB */
        *result = (*link)->num.i;
    } else {
        struct store_value v = { .type = STORE_INTEGER, .u.i = n };
        struct entry *e = entry_new(key, klen, &v, h, 0);
        rc = e ? store_put(s, NULL, e) : STORE_ENOMEM;
        if (rc == STORE_OK) *result = n;
    }
    return rc;
}

int store_delete(struct store *s, const char *key, size_t klen) {
    struct entry **link = store_find(s, key, klen, store_hash(s, key, klen));
    if (link) entry_unlink(s, link);
    return link != NULL;
}

size_t store_count(struct store *s) { return s->count; }

const char *store_strerror(int err) {
    switch (err) {
    case STORE_OK: return "ok";
    case STORE_EFULL: return "store is full (store.max_entries / store.max_bytes)";
    case STORE_ETYPE: return "value is not an integer";
    case STORE_ETOOBIG: return "value larger than store.max_bytes";
    case STORE_EDOWN: return "shared store unavailable (redis down)";
    default: return "out of memory";
    }
}

void store_set_shared(struct store *s, struct store_redis *sr) { s->shared = sr; }

struct store_redis *store_shared(const struct store *s) { return s->shared; }
