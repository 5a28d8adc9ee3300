/* The long connection: a pool of WebSocket connections to the platform, each found by
 * endpoint discovery and carried by a session (ws_session.h) that speaks pbbp2 on it.
 * The pool owns the slots and their sessions: it connects, adopts the ClientConfig
 * (from discovery and from pongs), bounds liveness so half-open connections are
 * replaced, reconnects with jitter, interval and count from the ClientConfig (each
 * attempt with a fresh discovery), stops gracefully and counts. */
#ifndef LARKGW_INGRESS_WS_POOL_H
#define LARKGW_INGRESS_WS_POOL_H

#include "ingress/ws_discovery.h"

struct event_base;
struct dispatcher;
struct http_client;
struct ws_pool;

struct ws_pool_options {
    struct ws_discovery_options discovery;   /* domain and app credentials */
    int connections;             /* how many long connections (at most 50 per app) */
    int dead_after_s;            /* silence that means dead; 0: 3 x PingInterval, capped */
    int fragment_timeout_s;      /* a partial message is given up after this */
    long max_message;            /* bytes, whole or reassembled */
    int ack_deadline_ms;         /* how long a stop waits for acks, plus a little */
};

/* Starts connecting at once. opt is copied; its strings, d and http (used for
 * discovery; its TLS context and resolver serve the WebSockets too) must outlive the
 * pool. NULL (logged) when app_id/app_secret are missing or memory runs out. */
struct ws_pool *ws_pool_new(struct event_base *base, const struct ws_pool_options *opt,
                            struct dispatcher *d, struct http_client *http);

/* SIGTERM: stops reading new events (frames arriving now are left unacked, so the
 * platform re-delivers them), waits for the acks of events in flight (bounded by
 * ack_deadline_ms plus a little), closes every connection with a close handshake,
 * then calls done once. */
void ws_pool_stop(struct ws_pool *p, void (*done)(void *arg), void *arg);

/* Frees everything at once. Replies still owed by the dispatcher point into the pool:
 * free it after the dispatcher (or once the dispatcher has drained). */
void ws_pool_free(struct ws_pool *p);

struct ws_pool_stats {
    int connections, open;                  /* configured, open now */
    unsigned long long connects, disconnects, discovery_failures, handshake_failures;
    unsigned long long events, acks, acks_failed, acks_dropped;
    unsigned long long bad_frames, bad_fragments, pings, pongs;
};
/* The pool's counters plus its sessions'. */
void ws_pool_get_stats(const struct ws_pool *p, struct ws_pool_stats *out);

#endif
