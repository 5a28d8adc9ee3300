/* The long connection (PROTOCOL.md §1): a pool of cfg->connections WebSocket
 * connections to the platform, each found by endpoint discovery, carrying pbbp2 frames:
 * pings every PingInterval, ClientConfig adopted from pongs, a liveness bound that
 * replaces half-open connections, fragment reassembly, events and card callbacks handed
 * to the dispatcher, acks (the same frame + biz_rt + {"code","headers","data"}) when the
 * dispatcher replies, and reconnects with jitter, interval and count from ClientConfig,
 * each with a fresh discovery. */
#ifndef LARKGW_INGRESS_WS_CLIENT_H
#define LARKGW_INGRESS_WS_CLIENT_H

struct event_base;
struct config;
struct dispatcher;
struct http_client;
struct ws_pool;

/* Starts connecting at once. cfg, d and http (used for discovery; its TLS context and
 * resolver serve the WebSockets too) must outlive the pool. NULL (logged) when
 * app_id/app_secret are missing or memory runs out. */
struct ws_pool *ws_pool_new(struct event_base *base, const struct config *cfg,
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
void ws_pool_get_stats(const struct ws_pool *p, struct ws_pool_stats *out);

#endif
