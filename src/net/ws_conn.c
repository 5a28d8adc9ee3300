#include "net/ws_conn.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <wslay/wslay.h>

#include "base/util.h"
#include "crypto/crypto.h"
#include "net/http_parser.h"
#include "net/net.h"
#include "net/ws_handshake.h"

#define WS_CLOSE_WAIT_MS 2000
#define WS_HANDSHAKE_MAX 65536

/* C_DRAINING: the close handshake is over, our last bytes are still leaving. */
enum { C_CONNECTING, C_HANDSHAKE, C_OPEN, C_CLOSING, C_DRAINING, C_DONE };

struct ws_conn {
    struct bufferevent *bev;
    struct net_url url;
    char key[WS_KEY_LEN + 1];
    struct http_parser head;           /* the handshake answer */
    wslay_event_context_ptr ws;
    struct ws_conn_callbacks cb;
    void *arg;
    struct ws_conn_options opt;
    struct event *timer;               /* open timeout, then liveness, then close wait */
    int state;
    int depth, freed, in_recv;         /* callbacks may free the conn: see leave() */
    uint64_t last_rx_ms;
    uint64_t asked_ms;           /* first send since the last receive; 0: none */
    char end_why[160];
};

static void conn_destroy(struct ws_conn *c) {
    if (c->bev) bufferevent_free(c->bev);
    if (c->ws) wslay_event_context_free(c->ws);
    if (c->timer) event_free(c->timer);
    http_parser_free(&c->head);
    net_url_free(&c->url);
    free(c);
}

static void enter(struct ws_conn *c) {
    c->depth++;
}

/* 1 when the conn is gone (freed by a callback while we were inside it). */
static int leave(struct ws_conn *c) {
    if (--c->depth == 0 && c->freed) {
        conn_destroy(c);
        return 1;
    }
    return c->freed;
}

static void timer_arm(struct ws_conn *c, int ms) {
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(c->timer, &tv);
}

/* The end: the socket goes now, the owner hears once. */
static void conn_finish(struct ws_conn *c, int verdict, const char *why) {
    if (c->state == C_DONE) return;
    c->state = C_DONE;
    event_del(c->timer);
    if (c->bev) bufferevent_free(c->bev);
    c->bev = NULL;
    if (!c->freed && c->cb.on_closed) c->cb.on_closed(c->arg, verdict, why);
}

static const char *close_reason(struct ws_conn *c, char *buf, size_t len) {
    if (c->state == C_CLOSING) {
        snprintf(buf, len, "closed");
    } else if (wslay_event_get_close_received(c->ws)) {
        snprintf(buf, len, "closed by the server (code %u)",
                 wslay_event_get_status_code_received(c->ws));
    } else if (wslay_event_get_status_code_sent(c->ws) == WSLAY_CODE_MESSAGE_TOO_BIG) {
        snprintf(buf, len, "the server sent a message above ws.max_message (%zu bytes)",
                 c->opt.max_message);
    } else if (wslay_event_get_status_code_sent(c->ws) == WSLAY_CODE_PROTOCOL_ERROR) {
        snprintf(buf, len, "websocket protocol error from the server");
    } else {
        snprintf(buf, len, "closed");
    }
    return buf;
}

static void conn_on_read(struct bufferevent *bev, void *arg);
static void conn_on_write(struct bufferevent *bev, void *arg);
static void conn_on_event(struct bufferevent *bev, short what, void *arg);

/* Freeing the bufferevent now would drop the close frame we just queued. */
static void conn_end_after_flush(struct ws_conn *c, const char *why) {
    snprintf(c->end_why, sizeof c->end_why, "%s", why);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        conn_finish(c, WS_HANDSHAKE_BUSY, c->end_why);
        return;
    }
    c->state = C_DRAINING;
    bufferevent_setcb(c->bev, conn_on_read, conn_on_write, conn_on_event, c);
    event_del(c->timer);
    timer_arm(c, WS_CLOSE_WAIT_MS);
}

/* Sends what wslay queued, then ends the connection once both directions are done. */
static void conn_flush(struct ws_conn *c) {
    if (!c->ws || c->in_recv || c->state < C_OPEN || c->state >= C_DRAINING) return;
    if (wslay_event_send(c->ws) != 0) {
        conn_finish(c, WS_HANDSHAKE_BUSY, "websocket send failed");
        return;
    }
    if (!wslay_event_want_read(c->ws) && !wslay_event_want_write(c->ws)) {
        char why[128];
        conn_end_after_flush(c, close_reason(c, why, sizeof why));
    }
}

static ssize_t ws_recv_cb(wslay_event_context_ptr ws, uint8_t *buf, size_t len, int flags,
                          void *arg) {
    struct ws_conn *c = arg;
    int n = evbuffer_remove(bufferevent_get_input(c->bev), buf, len);
    if (n <= 0) {
        wslay_event_set_error(ws, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    return n;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ws, const uint8_t *data, size_t len,
                          int flags, void *arg) {
    struct ws_conn *c = arg;
    if (bufferevent_write(c->bev, data, len) != 0) {
        wslay_event_set_error(ws, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static int ws_genmask_cb(wslay_event_context_ptr ws, uint8_t *buf, size_t len, void *arg) {
    crypto_random(buf, len);
    return 0;
}

static void ws_msg_cb(wslay_event_context_ptr ws, const struct wslay_event_on_msg_recv_arg *m,
                      void *arg) {
    struct ws_conn *c = arg;
    if (c->freed || c->state != C_OPEN) return;
    if (m->opcode == WSLAY_BINARY_FRAME || m->opcode == WSLAY_TEXT_FRAME)
        c->cb.on_message(c->arg, m->msg, m->msg_length);
}

static void conn_read_ws(struct ws_conn *c) {
    c->in_recv = 1;
    int rc = wslay_event_recv(c->ws);
    c->in_recv = 0;
    if (c->freed || c->state == C_DONE) return;
    if (rc != 0) {
        conn_finish(c, WS_HANDSHAKE_BUSY, "websocket receive failed");
        return;
    }
    conn_flush(c);
}

static int conn_start_ws(struct ws_conn *c) {
    struct wslay_event_callbacks cbs = { ws_recv_cb, ws_send_cb, ws_genmask_cb,
                                         NULL, NULL, NULL, ws_msg_cb };
    if (wslay_event_context_client_init(&c->ws, &cbs, c) != 0) return -1;
    /* The bound is on the pbbp2 frame: the message plus its headers. */
    wslay_event_config_set_max_recv_msg_length(c->ws, c->opt.max_message + 65536);
    return 0;
}

static void conn_read_handshake(struct ws_conn *c) {
    struct evbuffer *in = bufferevent_get_input(c->bev);
    int rc = http_parser_feed(&c->head, in);
    char why[400];
    if (rc == HTTP_PARSER_ERROR) {
        snprintf(why, sizeof why, "handshake failed: %s", c->head.error);
        conn_finish(c, WS_HANDSHAKE_BUSY, why);
        return;
    }
    if (rc != HTTP_PARSER_DONE && !http_parser_headers_done(&c->head)) return;
    int verdict = ws_handshake_check(&c->head, c->key, why, sizeof why);
    if (verdict == WS_HANDSHAKE_OK && conn_start_ws(c)) {
        verdict = WS_HANDSHAKE_BUSY;
        snprintf(why, sizeof why, "out of memory");
    }
    if (verdict != WS_HANDSHAKE_OK) {
        conn_finish(c, verdict, why);
        return;
    }
    c->state = C_OPEN;
    event_del(c->timer);
    if (c->opt.dead_after_ms > 0) timer_arm(c, c->opt.dead_after_ms);
    c->cb.on_open(c->arg);
    if (!c->freed && c->state == C_OPEN && evbuffer_get_length(in)) conn_read_ws(c);
}

static void conn_on_read(struct bufferevent *bev, void *arg) {
    struct ws_conn *c = arg;
    enter(c);
    c->last_rx_ms = util_now_ms();
    c->asked_ms = 0;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (c->state == C_DRAINING) evbuffer_drain(in, evbuffer_get_length(in));
    else if (c->state == C_HANDSHAKE) conn_read_handshake(c);
    else if (c->ws && (c->state == C_OPEN || c->state == C_CLOSING)) conn_read_ws(c);
    leave(c);
}

static void conn_on_write(struct bufferevent *bev, void *arg) {
    struct ws_conn *c = arg;
    enter(c);
    if (c->state == C_DRAINING && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        conn_finish(c, WS_HANDSHAKE_BUSY, c->end_why);
    leave(c);
}

static void conn_on_event(struct bufferevent *bev, short what, void *arg) {
    struct ws_conn *c = arg;
    enter(c);
    if (what & BEV_EVENT_CONNECTED) {
        if (c->state != C_CONNECTING) {       /* closed while connecting */
            leave(c);
            return;
        }
        c->state = C_HANDSHAKE;
        net_set_nodelay(bev);
        struct evbuffer *req = evbuffer_new();
        if (req) {
            ws_handshake_request(req, &c->url, c->key);
            bufferevent_write_buffer(bev, req);
            evbuffer_free(req);
        }
        bufferevent_enable(bev, EV_READ | EV_WRITE);
    } else {
        if ((what & BEV_EVENT_EOF) && c->state != C_DRAINING)
            conn_on_read(bev, c);                          /* what came with the FIN */
        if (!c->freed && c->state == C_DRAINING) {
            conn_finish(c, WS_HANDSHAKE_BUSY, c->end_why);
        } else if (!c->freed && c->state != C_DONE) {
            char why[300], err[256];
            net_error_describe(bev, what, err, sizeof err);
            snprintf(why, sizeof why, "%s%s", c->state < C_OPEN ? "cannot connect: " : "", err);
            if (c->state == C_HANDSHAKE && (what & BEV_EVENT_EOF))
                snprintf(why, sizeof why, "connection closed during the handshake");
            conn_finish(c, WS_HANDSHAKE_BUSY, why);
        }
    }
    leave(c);
}

/* Bytes waiting for us (read but not parsed, or still in the socket) mean the peer
 * spoke: a long silence was ours, the loop busy elsewhere (a handler that ran long on
 * a loaded machine), not the peer's. */
static int peer_has_sent(struct ws_conn *c) {
    if (evbuffer_get_length(bufferevent_get_input(c->bev))) return 1;
    int n = 0;
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    return fd >= 0 && ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

static void conn_on_timer(evutil_socket_t fd, short what, void *arg) {
    struct ws_conn *c = arg;
    enter(c);
    char why[160];
    if (c->state == C_OPEN) {
        uint64_t now = util_now_ms(), quiet = now - c->last_rx_ms;
        uint64_t owed = c->asked_ms ? now - c->asked_ms : 0;   /* how long an answer is due */
        if (quiet < (uint64_t)c->opt.dead_after_ms) {
            timer_arm(c, c->opt.dead_after_ms - (int)quiet);
        } else if (peer_has_sent(c)) {
            timer_arm(c, c->opt.dead_after_ms);
        } else if (owed < (uint64_t)c->opt.dead_after_ms) {
            /* we said nothing it had to answer (the loop was busy): its silence is ours */
            timer_arm(c, c->opt.dead_after_ms - (int)owed);
        } else {
            snprintf(why, sizeof why, "nothing received for %llu s: presumed dead",
                     (unsigned long long)(quiet / 1000));
            conn_finish(c, WS_HANDSHAKE_BUSY, why);
        }
    } else if (c->state == C_CLOSING) {
        conn_finish(c, WS_HANDSHAKE_BUSY, "closed");
    } else if (c->state == C_DRAINING) {
        conn_finish(c, WS_HANDSHAKE_BUSY, c->end_why);
    } else {
        conn_finish(c, WS_HANDSHAKE_BUSY, "timeout opening the connection");
    }
    leave(c);
}

struct ws_conn *ws_conn_new(struct event_base *base, struct evdns_base *dns, SSL_CTX *tls,
                            const char *url, const struct ws_conn_options *opt,
                            const struct ws_conn_callbacks *cb, void *arg, char *err,
                            size_t errlen) {
    struct ws_conn *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->cb = *cb;
    c->arg = arg;
    c->opt = *opt;
    c->state = C_CONNECTING;
    c->last_rx_ms = util_now_ms();
    ws_handshake_key(c->key);
    if (net_url_parse(url, &c->url)) {
        snprintf(err, errlen, "malformed WebSocket URL");
        free(c);
        return NULL;
    }
    if (http_parser_init(&c->head, WS_HANDSHAKE_MAX, 0) ||
        !(c->timer = evtimer_new(base, conn_on_timer, c)) ||
        !(c->bev = net_connect(base, dns, tls, &c->url, err, errlen))) {
        if (!c->timer) snprintf(err, errlen, "out of memory");
        conn_destroy(c);
        return NULL;
    }
    bufferevent_setcb(c->bev, conn_on_read, NULL, conn_on_event, c);
    timer_arm(c, opt->open_timeout_ms > 0 ? opt->open_timeout_ms : 10000);
    return c;
}

int ws_conn_send(struct ws_conn *c, const uint8_t *data, size_t len) {
    if (c->state != C_OPEN) return -1;
    struct wslay_event_msg msg = { WSLAY_BINARY_FRAME, data, len };
    if (wslay_event_queue_msg(c->ws, &msg) != 0) return -1;
    if (!c->asked_ms) c->asked_ms = util_now_ms();
    enter(c);
    conn_flush(c);
    int open = c->state == C_OPEN;    /* the flush may have failed and closed it */
    leave(c);
    return open ? 0 : -1;
}

void ws_conn_set_dead_after(struct ws_conn *c, int dead_after_ms) {
    c->opt.dead_after_ms = dead_after_ms;
    if (c->state == C_OPEN) {
        event_del(c->timer);
        if (dead_after_ms > 0) timer_arm(c, dead_after_ms);
    }
}

void ws_conn_close(struct ws_conn *c) {
    if (c->state >= C_CLOSING) return;
    int was_open = c->state == C_OPEN;
    c->state = C_CLOSING;
    event_del(c->timer);
    timer_arm(c, was_open ? WS_CLOSE_WAIT_MS : 0);
    if (!was_open) return;
    wslay_event_queue_close(c->ws, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
    enter(c);
    conn_flush(c);
    leave(c);
}

void ws_conn_free(struct ws_conn *c) {
    if (!c) return;
    c->freed = 1;
    if (c->depth == 0) conn_destroy(c);
}
