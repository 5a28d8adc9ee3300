/* Duplicate suppression: remembers event keys (event_id, uuid, message_id) for ttl_s
 * seconds, at most max_entries of them, oldest out first. Every operation is O(1)
 * amortised: a hash table over a FIFO ring ordered by insertion time (the TTL is the
 * same for all, so insertion order is expiry order). Keys are kept as 64-bit seeded
 * fingerprints (16 bytes an entry, whatever the id's length); two distinct ids share a
 * fingerprint with odds of about entries / 2^64. */
#ifndef LARKGW_EVENT_DEDUP_H
#define LARKGW_EVENT_DEDUP_H

#include <stddef.h>
#include <stdint.h>

struct dedup;

/* now_ms returns a monotonic clock in milliseconds (NULL: util_now_ms); tests inject
 * their own. NULL on allocation failure. */
struct dedup *dedup_new(int ttl_s, int max_entries, uint64_t (*now_ms)(void *arg), void *arg);
void dedup_free(struct dedup *d);

/* The fingerprint of (ns, id): ns separates key spaces ("id", "msg"). Never 0. */
uint64_t dedup_key(const struct dedup *d, const char *ns, const char *id);

/* Records key; returns 1 when it was already present (a duplicate: nothing changes),
 * 0 when newly recorded, -1 on allocation failure (treated by callers as "not seen"). */
int dedup_insert(struct dedup *d, uint64_t key);

/* 1 when key is present and unexpired. */
int dedup_contains(struct dedup *d, uint64_t key);

/* Forgets key (a handler failed and the platform's retry must run again); a no-op when
 * the key is absent or already gone. */
void dedup_remove(struct dedup *d, uint64_t key);

/* Live entries (expired ones are dropped lazily, on the next call). */
size_t dedup_count(const struct dedup *d);

#endif
