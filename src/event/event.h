/* The dispatcher: the one seam between transports and the Lua runtime. A transport
 * hands it the event JSON bytes and a reply callback; the dispatcher parses the
 * envelope once, checks the verification token, answers url_verification challenges,
 * drops duplicates, and runs the handlers. Nothing here knows the transport. */
#ifndef LARKGW_EVENT_H
#define LARKGW_EVENT_H

#include <stddef.h>

struct event_base;
struct config;
struct runtime;
struct dispatcher;

/* Called exactly once per submitted event, possibly before dispatcher_submit returns.
 * status is HTTP-like: 200 handled (or duplicate), 400 malformed envelope, 401 token
 * mismatch or unsigned non-challenge, 500 a handler raised, 503 draining or queue full.
 * body is JSON ({"msg":"success"}, a challenge answer, or a handler's returned table),
 * valid only during the call. */
typedef void (*event_reply_fn)(void *arg, int status, const char *body, size_t len);

/* A webhook request that carried no signature: only url_verification is accepted. */
#define EVENT_CHALLENGE_ONLY 1u
/* `larkgw replay`: a saved event, run as is: no token check, no dedup. */
#define EVENT_REPLAY 2u

struct dispatcher *dispatcher_new(struct event_base *base, const struct config *cfg,
                                  struct runtime *rt);
void dispatcher_free(struct dispatcher *d);

/* json need not be NUL-terminated; it is not referenced after the call returns. */
void dispatcher_submit(struct dispatcher *d, const char *json, size_t len, unsigned flags,
                       event_reply_fn reply, void *arg);

/* Stops taking events (new ones answer 503) and calls drained once nothing is in
 * flight (at once when idle). */
void dispatcher_drain(struct dispatcher *d, void (*drained)(void *arg), void *arg);

/* Counters for /metrics. */
struct dispatcher_stats {
    unsigned long long received, handled, duplicates, failed, rejected, in_flight;
};
void dispatcher_get_stats(const struct dispatcher *d, struct dispatcher_stats *out);

#endif
