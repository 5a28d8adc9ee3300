/* One WebSocket client connection (RFC 6455) over a bufferevent, plain or TLS, with
 * wslay doing the framing: connect, opening handshake, binary messages both ways,
 * WS-level ping/pong, the close handshake, a message size bound and a liveness bound
 * (nothing received for dead_after_ms, counted from the first message sent since the
 * peer last spoke: the peer is presumed gone, even without a FIN; a silence while we
 * sent nothing, or with bytes waiting to be read, is not the peer's).
 * Knows nothing of pbbp2. Used by ingress/ws_*. */
#ifndef LARKGW_NET_WS_CONN_H
#define LARKGW_NET_WS_CONN_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evdns_base;
typedef struct ssl_ctx_st SSL_CTX;
struct ws_conn;

struct ws_conn_callbacks {
    void (*on_open)(void *arg);
    /* One whole binary message; data dies on return. */
    void (*on_message)(void *arg, const uint8_t *data, size_t len);
    /* The last callback. verdict: an enum ws_handshake_verdict (BUSY for losses after
     * the handshake); why is one log-ready line. The owner may free the conn here. */
    void (*on_closed)(void *arg, int verdict, const char *why);
};

struct ws_conn_options {
    size_t max_message;          /* larger messages close the connection (1009) */
    int open_timeout_ms;         /* connect + TLS + handshake */
    int dead_after_ms;           /* 0: no liveness bound */
};

/* Starts connecting to a ws:// or wss:// url. NULL and err on an immediate failure
 * (malformed URL, out of memory); otherwise exactly one on_closed will follow. */
struct ws_conn *ws_conn_new(struct event_base *base, struct evdns_base *dns, SSL_CTX *tls,
                            const char *url, const struct ws_conn_options *opt,
                            const struct ws_conn_callbacks *cb, void *arg, char *err,
                            size_t errlen);

/* Queues one binary message; -1 when the connection is not open (or is closing). */
int ws_conn_send(struct ws_conn *c, const uint8_t *data, size_t len);

void ws_conn_set_dead_after(struct ws_conn *c, int dead_after_ms);

/* Starts the close handshake (code 1000); on_closed follows once the peer answers, or
 * after a short bound. */
void ws_conn_close(struct ws_conn *c);

/* Tears the connection down at once; no callback runs afterwards. Safe inside one. */
void ws_conn_free(struct ws_conn *c);

#endif
