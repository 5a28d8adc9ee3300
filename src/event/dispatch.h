/* The dispatcher: the one seam between transports and the Lua runtime. A transport
 * hands it the event JSON bytes and a reply callback; the dispatcher parses the
 * envelope once, checks the verification token, answers url_verification challenges,
 * drops duplicates, and runs the handlers. Nothing here knows the transport. */
#ifndef LARKGW_EVENT_DISPATCH_H
#define LARKGW_EVENT_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct runtime;
struct dispatcher;
struct redis;

enum dispatch_order {
    DISPATCH_ORDER_CHAT,   /* events of one chat run one after another */
    DISPATCH_ORDER_NONE,   /* every event starts at once */
};

struct dispatch_options {
    const char *verification_token;  /* NULL or "": not checked */
    int ack_deadline_ms;
    enum dispatch_order order;
    int order_queue_max;     /* events waiting per chat before new ones are refused */
    int max_in_flight;       /* events accepted and not yet finished, all chats */
    int dedup_ttl_s;         /* 0: no dedup */
    int dedup_max_entries;
    bool log_payloads;       /* log each event's own part (truncated) */
};

/* Called exactly once per submitted event, possibly before dispatcher_submit returns.
 * status is HTTP-like: 200 handled (or duplicate), 400 malformed envelope, 401 token
 * mismatch or unsigned non-challenge, 500 a handler raised, 503 draining or its chat's
 * queue full (order_queue_max). body is JSON ({"msg":"success"}, a challenge answer, or
 * a handler's returned table), valid only during the call.
 * The answer never waits past opts->ack_deadline_ms: an event whose handlers still run
 * (or still wait for their chat) then is answered 200 {"msg":"success"}, a card callback
 * (card.action.trigger, card.action.legacy, url.preview.get) 200 {}, and its handlers go
 * on; their outcome is then only logged.
 * Per-chat order (DISPATCH_ORDER_CHAT): events of one chat run one after another, in arrival
 * order; the chat is event.message.chat_id (im.message.*), event.chat_id (im.chat.*) or
 * event.open_chat_id (schema 1.0). Card callbacks and events without a chat are never
 * held. */
typedef void (*event_reply_fn)(void *arg, int status, const char *body, size_t len);

/* A webhook request that carried no signature: only url_verification is accepted. */
#define EVENT_CHALLENGE_ONLY 1u
/* `larkgw replay`: a saved event, run as is: no token check, no dedup. */
#define EVENT_REPLAY 2u

/* base may be NULL (tests): then nothing is answered before its handlers finish. opts
 * is copied; its strings must outlive the dispatcher. NULL when out of memory. */
struct dispatcher *dispatcher_new(struct event_base *base, const struct dispatch_options *opts,
                                  struct runtime *rt);
/* Free the runtime first: its cancelled handlers answer through the dispatcher. Events
 * still waiting for their chat are answered 503 here, if they are still owed one. */
void dispatcher_free(struct dispatcher *d);

/* The app_ticket event (schema 1.0, event.type "app_ticket") is never passed to scripts:
 * its event.app_ticket goes to fn (marketplace apps need it for their tokens) and the
 * event is answered 200. */
typedef void (*dispatcher_ticket_fn)(void *arg, const char *ticket);
void dispatcher_on_app_ticket(struct dispatcher *d, dispatcher_ticket_fn fn, void *arg);

/* Shares dedup and per-chat order with the other gateways through Redis (r outlives
 * the dispatcher): dedup claims and chat leases last handler_max_s; owner names this
 * gateway in them (copied). A delivery of an event another gateway is running answers
 * 503 "busy" (the long connection acks it 500): the platform delivers it again later.
 * While Redis is down, both fall back to this gateway alone. -1 when out of memory. */
int dispatcher_share(struct dispatcher *d, struct redis *r, const char *owner,
                     int handler_max_s);

/* json need not be NUL-terminated; it is not referenced after the call returns. */
void dispatcher_submit(struct dispatcher *d, const char *json, size_t len, unsigned flags,
                       event_reply_fn reply, void *arg);

/* Stops taking events (new ones answer 503) and calls drained once nothing is in
 * flight (at once when idle). */
void dispatcher_drain(struct dispatcher *d, void (*drained)(void *arg), void *arg);

/* Counters for /metrics. */
struct dispatcher_stats {
    unsigned long long received, handled, duplicates, failed, rejected, in_flight;
    unsigned long long acked_at_deadline;  /* answered before their handlers finished */
    unsigned long long late_failures;      /* of those, the ones whose handlers failed */
    unsigned long long waiting;            /* now waiting for their chat */
    unsigned long long chats;              /* now with an event running */
    unsigned long long busy;               /* running on another gateway: retry later */
    unsigned long long dedup_alone;        /* deduplicated in memory only: Redis down */
};
void dispatcher_get_stats(const struct dispatcher *d, struct dispatcher_stats *out);

#endif
