/* The protocol side of one of the pool's long connections: pbbp2 frames on an open
 * WebSocket. It pings every PingInterval with the connection's service_id, counts
 * pongs and hands a pong's ClientConfig to its owner, reassembles fragments, hands
 * events and card callbacks to the dispatcher and acks each one (the same frame + biz_rt
 * + {"code","headers","data"}) on the connection that delivered it.
 *
 * A session lives across its slot's reconnects: each connection it is given starts a
 * new generation, and an ack owed to an older generation is dropped (the platform
 * re-delivers what it never saw acked). It never opens, closes or frees a connection:
 * its owner does that and tells it through ws_session_open / ws_session_closed. */
#ifndef LARKGW_INGRESS_WS_SESSION_H
#define LARKGW_INGRESS_WS_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "ingress/ws_discovery.h"

struct event_base;
struct dispatcher;
struct reassembly;
struct ws_conn;
struct ws_session;

struct ws_session_options {
    int index;                   /* the slot's number, for logs: "[index] ..." */
    long max_message;            /* bytes; a frame may be this plus 64 KiB of envelope */
    struct reassembly *reasm;    /* borrowed; the pool's sessions share one */
    struct dispatcher *disp;     /* borrowed */
};

/* How a session reports to its owner; arg is the one given to ws_session_new. */
struct ws_session_hooks {
    /* A pong carried a ClientConfig: cc is the session's current one with the pong's
     * keys applied. The owner decides what to adopt (ws_session_set_config). */
    void (*on_config)(void *arg, const struct ws_client_config *cc);
    /* Draining and the last ack owed on the open connection is out: the owner may
     * close it now. May run inside ws_session_drain or inside a dispatcher reply. */
    void (*on_drained)(void *arg);
};

struct ws_session_stats {
    unsigned long long events, acks, acks_failed, acks_dropped;
    unsigned long long bad_frames, bad_fragments, pings, pongs;
};

/* A session with no connection yet; opt and hooks are copied, cc is the ClientConfig
 * to start from. NULL when memory runs out. Free with ws_session_free. */
struct ws_session *ws_session_new(struct event_base *base, const struct ws_session_options *opt,
                                  const struct ws_session_hooks *hooks, void *arg,
                                  const struct ws_client_config *cc);

/* conn (borrowed until ws_session_closed) has just opened: a new generation starts,
 * the first ping goes out at once (its pong brings the current ClientConfig) and then
 * every PingInterval. host and device_id are copied, for logs only. */
void ws_session_open(struct ws_session *s, struct ws_conn *conn, const char *host,
                     const char *device_id, int32_t service_id);

/* One whole binary message from the open connection; data is read during the call. */
void ws_session_on_message(struct ws_session *s, const uint8_t *data, size_t len);

/* The connection is gone (or about to be freed): stop pinging, forget it, and drop the
 * acks of this generation when their replies come. */
void ws_session_closed(struct ws_session *s);

/* Adopts a ClientConfig; re-arms the ping timer of an open connection when
 * PingInterval changed. */
void ws_session_set_config(struct ws_session *s, const struct ws_client_config *cc);

/* Stops taking events (later ones stay unacked, so the platform hands them to another
 * client); on_drained follows once nothing is owed on the open connection, at once if
 * nothing is owed now. */
void ws_session_drain(struct ws_session *s);

/* Acks owed on the open connection. */
int ws_session_inflight(const struct ws_session *s);

void ws_session_get_stats(const struct ws_session *s, struct ws_session_stats *out);

/* Frees the session and the records of replies still owed: free it after the
 * dispatcher (or once the dispatcher has drained), as a reply would reach freed memory. */
void ws_session_free(struct ws_session *s);

#endif
