/* Leases on Redis: "only one gateway of the cluster does this now". A lease is a key
 * <prefix><name> set with SET NX PX to a value unique to its holder; it ends when its
 * holder releases it (DEL, only if still its own) or after ttl_ms, so a gateway that
 * dies holding one blocks the others for ttl_ms at most.
 *
 * Users: the per-chat order across gateways (name "chat:<chat_id>", held while the
 * chat's handler runs, then released), and schedules: name "sched:<job>:<tick time>",
 * ttl_ms about one period, poll_ms 0; the gateway that gets HELD runs the tick, the
 * others (TAKEN) skip it; the winner ends with redis_lease_keep, not release, so a
 * gateway whose timer fires a little later still finds the tick taken. */
#ifndef LARKGW_NET_REDIS_LEASE_H
#define LARKGW_NET_REDIS_LEASE_H

struct redis;
struct redis_lease;

enum redis_lease_result {
    REDIS_LEASE_HELD,     /* ours until redis_lease_release or ttl_ms */
    REDIS_LEASE_TAKEN,    /* another holder has it (poll_ms 0 only) */
    REDIS_LEASE_DOWN,     /* Redis unreachable: the caller decides alone */
};

typedef void (*redis_lease_fn)(void *arg, enum redis_lease_result res);

/* Asks for the lease name (the client's prefix is prepended), for ttl_ms once held.
 * owner names the holder in the value (a gateway id; never a secret). With poll_ms > 0
 * a taken lease is asked for again every poll_ms until held or Redis goes down;
 * with 0, fn gets REDIS_LEASE_TAKEN. fn is called exactly once, never before this
 * returns, unless redis_lease_release comes first. NULL only when out of memory. */
struct redis_lease *redis_lease_acquire(struct redis *r, const char *name, const char *owner,
                                        int ttl_ms, int poll_ms, redis_lease_fn fn, void *arg);

/* Gives the lease back if held (deleted only while still ours), stops asking if not yet,
 * and frees l. fn is not called afterwards. */
void redis_lease_release(struct redis_lease *l);

/* Frees l but leaves a held lease in place until its ttl_ms lapses (a schedule's tick
 * stays claimed for the whole tick). Stops asking if not yet held. */
void redis_lease_keep(struct redis_lease *l);

#endif
