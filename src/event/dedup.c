#include "event/dedup.h"

#include "base/util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define NIL UINT32_MAX
#define FIRST_CAP 1024u
/* Up to this many entries the table is allocated whole at the start, zeroed by the
 * system: pages cost memory only once touched, and growing never rehashes (a rehash of
 * 256k keys stalled the loop for ~20 ms, the p99.9 of a busy gateway). */
#define WHOLE_MAX (4u << 20)

/* key 0 marks a slot whose key was removed: it waits in the ring, in no chain. Links
 * (buckets, next) hold slot + 1, so that a zeroed table is an empty one. */
struct entry {
    uint64_t key;
    uint32_t expire_s;   /* seconds since base_ms */
    uint32_t next;       /* next ring slot in the same bucket, + 1; 0: none */
};

struct dedup {
    struct entry *ring;
    uint32_t cap, head, len, removed, max;
    uint32_t *buckets;
    uint32_t nbuckets;   /* a power of two >= cap */
    uint32_t ttl_s;
    uint64_t seed, base_ms;
    uint64_t (*now_ms)(void *arg);
    void *clock_arg;
};

static uint64_t default_clock(void *arg) {
    (void)arg;
    return util_now_ms();
}

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t fnv1a(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t random_seed(void) {
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&seed;
    return seed;
}

static uint32_t pow2_at_least(uint32_t n) {
    uint32_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

static int resize(struct dedup *d, uint32_t cap) {
    uint32_t nb = pow2_at_least(cap);
    struct entry *ring = calloc(cap, sizeof *ring);
    uint32_t *buckets = calloc(nb, sizeof *buckets);
    if (!ring || !buckets) {
        free(ring);
        free(buckets);
        return -1;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < d->len; i++) {
        struct entry e = d->ring[(d->head + i) % d->cap];
        if (!e.key) continue;
        uint32_t b = (uint32_t)e.key & (nb - 1);
        e.next = buckets[b];
        ring[n++] = e;
        buckets[b] = n;
    }
    free(d->ring);
    free(d->buckets);
    d->ring = ring;
    d->buckets = buckets;
    d->cap = cap;
    d->nbuckets = nb;
    d->head = 0;
    d->len = n;
    d->removed = 0;
    return 0;
}

struct dedup *dedup_new(int ttl_s, int max_entries, uint64_t (*now_ms)(void *arg), void *arg) {
    struct dedup *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->max = max_entries > 0 ? (uint32_t)max_entries : 1;
    d->ttl_s = ttl_s > 0 ? (uint32_t)ttl_s : 0;
    d->now_ms = now_ms ? now_ms : default_clock;
    d->clock_arg = arg;
    d->base_ms = d->now_ms(d->clock_arg);
    d->seed = random_seed();
    /* whole when it may be (and the system lends the address space), else growing */
    if ((d->max > WHOLE_MAX || resize(d, d->max) < 0) &&
        resize(d, d->max < FIRST_CAP ? d->max : FIRST_CAP) < 0) {
        free(d);
        return NULL;
    }
    return d;
}

void dedup_free(struct dedup *d) {
    if (!d) return;
    free(d->ring);
    free(d->buckets);
    free(d);
}

uint64_t dedup_key(const struct dedup *d, const char *ns, const char *id) {
    uint64_t h = fnv1a(0xcbf29ce484222325ULL ^ d->seed, ns, strlen(ns) + 1);
    h = mix64(fnv1a(h, id, strlen(id)) ^ d->seed);
    return h ? h : 1;
}

static uint32_t now_s(const struct dedup *d) {
    uint64_t now = d->now_ms(d->clock_arg);
    return now > d->base_ms ? (uint32_t)((now - d->base_ms) / 1000) : 0;
}

static void unlink_slot(struct dedup *d, uint32_t slot) {
    uint32_t *pp = &d->buckets[(uint32_t)d->ring[slot].key & (d->nbuckets - 1)];
    while (*pp != slot + 1) pp = &d->ring[*pp - 1].next;
    *pp = d->ring[slot].next;
}

static void pop_oldest(struct dedup *d) {
    if (d->ring[d->head].key) unlink_slot(d, d->head);
    else d->removed--;
    d->head = (d->head + 1) % d->cap;
    d->len--;
}

static void expire(struct dedup *d) {
    uint32_t now = now_s(d);
    while (d->len && (!d->ring[d->head].key || d->ring[d->head].expire_s <= now))
        pop_oldest(d);
}

static uint32_t find(const struct dedup *d, uint64_t key) {
    uint32_t i = d->buckets[(uint32_t)key & (d->nbuckets - 1)];
    while (i && d->ring[i - 1].key != key) i = d->ring[i - 1].next;
    return i ? i - 1 : NIL;
}

int dedup_contains(struct dedup *d, uint64_t key) {
    expire(d);
    return find(d, key) != NIL;
}

int dedup_insert(struct dedup *d, uint64_t key) {
    expire(d);
    if (find(d, key) != NIL) return 1;
    if (d->len == d->cap) {
        if (d->cap < d->max) {
            uint32_t cap = d->cap > d->max / 2 ? d->max : d->cap * 2;
            if (resize(d, cap) < 0) return -1;
        } else {
            pop_oldest(d);
        }
    }
    /* A removed slot can still sit at the tail; after a resize or pop there is room. */
    uint32_t slot = (d->head + d->len) % d->cap;
    uint32_t b = (uint32_t)key & (d->nbuckets - 1);
    /* +1: an entry lives at least ttl_s whole seconds whatever the sub-second phase */
    d->ring[slot] = (struct entry){ key, now_s(d) + d->ttl_s + 1, d->buckets[b] };
    d->buckets[b] = slot + 1;
    d->len++;
    return 0;
}

void dedup_remove(struct dedup *d, uint64_t key) {
    uint32_t slot = find(d, key);
    if (slot == NIL) return;
    unlink_slot(d, slot);
    d->ring[slot].key = 0;
    d->removed++;
}

size_t dedup_count(const struct dedup *d) { return d->len - d->removed; }
