/* Dedup shared by every gateway of a cluster, on Redis, in two steps so that nothing is
 * lost when a gateway dies mid-handler:
 *   claim   SET <prefix>dedup:<event_id> claim:<owner>:<n> NX PX claim_ms, taken as the
 *           handlers start (the same for <prefix>dedup:msg:<message_id>);
 *   finish  success: the key becomes the mark "done" for ttl_s; failure: it is deleted
 *           if the claim is still ours, so the platform's retry runs the handlers.
 * A delivery that finds a mark is a duplicate; one that finds a claim is busy (another
 * gateway runs it now: the platform is asked to try again later); an event whose
 * gateway died keeps its claim only until claim_ms, then runs again elsewhere.
 * Both keys of an event are checked and claimed in one server-side script, atomically.
 * The in-memory dedup (dedup.h) stays in front of this one and alone while Redis is
 * down. */
#ifndef LARKGW_EVENT_DEDUP_REDIS_H
#define LARKGW_EVENT_DEDUP_REDIS_H

struct redis;
struct dedup_redis;
struct dedup_claim;

enum dedup_verdict {
    DEDUP_VERDICT_NEW,     /* claimed: run the handlers, then dedup_redis_finish */
    DEDUP_VERDICT_DONE,    /* already handled somewhere: answer 200, run nothing */
    DEDUP_VERDICT_BUSY,    /* being handled elsewhere now: ask for a retry later */
    DEDUP_VERDICT_DOWN,    /* Redis failed on the way: decide in memory */
};

typedef void (*dedup_verdict_fn)(void *arg, enum dedup_verdict v);

/* owner names this gateway in claims (host:pid, never a secret); copied. claim_ms is
 * limits.handler_max_s in ms; ttl_s dedup.ttl_s. NULL when out of memory. */
struct dedup_redis *dedup_redis_new(struct redis *r, const char *owner, int claim_ms,
                                    int ttl_s);
void dedup_redis_free(struct dedup_redis *dr);

/* Claims event_id and message_id (NULL or "": none). Returns NULL when Redis is down
 * (fn is not called: decide in memory); else fn is called once, later, with the
 * verdict. The claim stays the caller's until dedup_redis_finish, whatever the verdict. */
struct dedup_claim *dedup_redis_claim(struct dedup_redis *dr, const char *event_id,
                                      const char *message_id, dedup_verdict_fn fn, void *arg);

/* Ends a claim and frees it: ok marks the event done for ttl_s, !ok releases it (if
 * it is still ours). Before the verdict came, it cancels it (fn is not called) and
 * releases whatever the claim may have taken. After DONE or BUSY it only frees. */
void dedup_redis_finish(struct dedup_claim *c, int ok);

#endif
