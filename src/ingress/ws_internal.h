/* What ws_client.c (the pool: slots, discovery, reconnects, stop) and ws_events.c
 * (pbbp2 frames on an open connection: pings, pongs, reassembly, dispatch, acks) share.
 * Private to ingress/ws_*. */
#ifndef LARKGW_INGRESS_WS_INTERNAL_H
#define LARKGW_INGRESS_WS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "proto/frame.h"
#include "ingress/ws_client.h"
#include "ingress/ws_discovery.h"

struct event;
struct evdns_base;
struct http_client;
struct reassembly;
struct ws_conn;
typedef struct ssl_ctx_st SSL_CTX;

enum ws_slot_state { SLOT_WAITING, SLOT_DISCOVERING, SLOT_CONNECTING, SLOT_OPEN,
                     SLOT_CLOSING, SLOT_STOPPED, SLOT_GAVE_UP };

/* One of the pool's connections, across its reconnects. */
struct ws_slot {
    struct ws_pool *pool;
    int index;
    int state;
    struct ws_discovery *disc;
    struct ws_conn *conn;
    struct event *retry_timer, *ping_timer;
    int attempts;              /* failed attempts since the last open connection */
    uint64_t generation;       /* bumped per connection: late acks find theirs gone */
    int inflight;              /* events of this generation still owed an ack */
    char host[256], device_id[64];
    int32_t service_id;
};

/* An event handed to the dispatcher, kept for its ack. It outlives its connection
 * when the handler is slower than the connection; the pool frees leftovers. */
struct ws_inflight {
    struct ws_pool *pool;
    struct ws_inflight *prev, *next;
    int slot;
    uint64_t generation;
    frame_t *frame;            /* the delivering frame, payload dropped */
    uint64_t start_ms;
};

struct ws_pool {
    struct event_base *base;
    const struct config *cfg;
    struct dispatcher *disp;
    struct http_client *http;      /* borrowed from the gateway, like tls and dns */
    SSL_CTX *tls;
    struct evdns_base *dns;
    struct ws_client_config cc;
    struct reassembly *reasm;
    struct event *reasm_timer;
    struct ws_slot *slots;
    int n;
    struct ws_inflight *inflight;
    int stopping;
    void (*stop_done)(void *arg);
    void *stop_arg;
    struct event *stop_timer;
    struct ws_pool_stats stats;
};

/* ws_events.c */
void ws_events_on_message(struct ws_slot *s, const uint8_t *data, size_t len);
void ws_events_send_ping(struct ws_slot *s);
void ws_events_free_inflight(struct ws_pool *p);
void ws_events_expire_fragments(struct ws_pool *p);

/* ws_client.c */
void ws_pool_adopt_config(struct ws_pool *p, const struct ws_client_config *cc,
                          const char *source);
/* A stopping pool closes a slot once its last ack is out. */
void ws_slot_acks_done(struct ws_slot *s);

#endif
