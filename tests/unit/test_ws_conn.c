/* ws_conn against a tiny raw WebSocket server on 127.0.0.1, plain and TLS: every byte
 * the server sends is written here, so handshake checks, masking, the close handshake,
 * the message bound and the liveness bound are tested without the emulator. */
#include "net/ws_conn.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "test.h"
#include "test_tls.h"
#include "net/net.h"
#include "net/ws_handshake.h"

enum mode { M_ECHO, M_REFUSE, M_BAD_ACCEPT, M_SILENT, M_BIG, M_SERVER_CLOSE };

static struct event_base *base;
static enum mode mode;
static SSL_CTX *server_tls;
static int server_open;
static char server_got[256];        /* what the server unmasked from the client */
static int server_saw_unmasked, server_saw_close;
static char server_pong[32];       /* the payload of the client's WS pong */

struct srv {
    struct bufferevent *bev;
    int upgraded;
};

static void srv_free(struct srv *s) {
    bufferevent_free(s->bev);
    free(s);
    server_open--;
}

static void srv_send(struct srv *s, int opcode, const void *data, size_t len) {
    unsigned char head[10];
    size_t n = 2;
    head[0] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        head[1] = (unsigned char)len;
    } else {
        head[1] = 127;
        for (int i = 0; i < 8; i++) head[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        n = 10;
    }
    bufferevent_write(s->bev, head, n);
    bufferevent_write(s->bev, data, len);
}

static void srv_handshake(struct srv *s, struct evbuffer *in) {
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0) return;
    char head[4096] = "";
    evbuffer_remove(in, head, (size_t)end.pos + 4 < sizeof head - 1 ? (size_t)end.pos + 4 : sizeof head - 1);
    char key[64] = "", accept[WS_ACCEPT_LEN + 1];
    const char *k = strstr(head, "Sec-WebSocket-Key: ");
    if (k) sscanf(k + 19, "%63[^\r]", key);
    ws_handshake_accept(key, accept);
    if (mode == M_BAD_ACCEPT) accept[0] ^= 1;
    if (mode == M_REFUSE) {
        evbuffer_add_printf(bufferevent_get_output(s->bev),
                            "HTTP/1.1 403 Forbidden\r\nHandshake-Status: 403\r\n"
                            "Handshake-Msg: no entry\r\nContent-Length: 0\r\n\r\n");
        return;
    }
    evbuffer_add_printf(bufferevent_get_output(s->bev),
                        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
    s->upgraded = 1;
    if (mode == M_BIG) {
        size_t big = 70000;       /* max_message 1000 + 64 KiB of frame slack */
        char *buf = calloc(1, big);
        srv_send(s, 2, buf, big);
        free(buf);
    } else if (mode == M_SERVER_CLOSE) {
        srv_send(s, 8, "\x03\xe8", 2);
    } else if (mode == M_ECHO) {
        srv_send(s, 9, "pp", 2);            /* a WS ping: wslay must answer it */
        srv_send(s, 2, "hello", 5);
    }
}

/* One masked client frame, if whole: 1 when consumed. */
static int srv_frame(struct srv *s, struct evbuffer *in) {
    unsigned char h[14];
    size_t have = evbuffer_get_length(in);
    if (have < 2) return 0;
    evbuffer_copyout(in, h, have < sizeof h ? have : sizeof h);
    size_t len = h[1] & 0x7f, off = 2;
    if (!(h[1] & 0x80)) server_saw_unmasked = 1;
    if (len == 126) {
        len = (size_t)h[2] << 8 | h[3];
        off = 4;
    }
    if (have < off + 4 + len || len >= sizeof server_got) return 0;
    unsigned char mask[4], data[256];
    evbuffer_drain(in, off);
    evbuffer_remove(in, mask, 4);
    evbuffer_remove(in, data, len);
    for (size_t i = 0; i < len; i++) data[i] ^= mask[i % 4];
    int opcode = h[0] & 0x0f;
    if (opcode == 10) {
        snprintf(server_pong, sizeof server_pong, "%.*s", (int)len, (const char *)data);
    } else if (opcode == 8) {
        server_saw_close = 1;
        if (mode != M_SERVER_CLOSE) srv_send(s, 8, "\x03\xe8", 2);
    } else if (opcode == 2) {
        memcpy(server_got, data, len);
        server_got[len] = '\0';
        char reply[300];
        int n = snprintf(reply, sizeof reply, "got:%s", server_got);
        srv_send(s, 2, reply, (size_t)n);
    }
    return 1;
}

static void srv_read(struct bufferevent *bev, void *arg) {
    struct srv *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (!s->upgraded) srv_handshake(s, in);
    if (mode == M_SILENT) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    while (s->upgraded && srv_frame(s, in)) {}
}

static void srv_event(struct bufferevent *bev, short what, void *arg) {
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) srv_free(arg);
}

static void srv_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                       int len, void *arg) {
    struct srv *s = calloc(1, sizeof *s);
    s->bev = server_tls ? bufferevent_openssl_socket_new(base, fd, SSL_new(server_tls),
                                                         BUFFEREVENT_SSL_ACCEPTING,
                                                         BEV_OPT_CLOSE_ON_FREE)
                        : bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    server_open++;
    bufferevent_setcb(s->bev, srv_read, NULL, srv_event, s);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

struct client {
    struct ws_conn *conn;
    int opened, closed, verdict, messages;
    char why[400], last[300];
    int close_after_reply;
};

static void c_open(void *arg) {
    struct client *c = arg;
    c->opened = 1;
    /* the peer only owes an answer once asked: the session's first ping does that */
    if (mode == M_SILENT) ws_conn_send(c->conn, (const uint8_t *)"ping!", 5);
}

static void c_message(void *arg, const uint8_t *data, size_t len) {
    struct client *c = arg;
    c->messages++;
    snprintf(c->last, sizeof c->last, "%.*s", (int)len, (const char *)data);
    if (strcmp(c->last, "hello") == 0) ws_conn_send(c->conn, (const uint8_t *)"ping!", 5);
    else if (c->close_after_reply) ws_conn_close(c->conn);
}

static void c_closed(void *arg, int verdict, const char *why) {
    struct client *c = arg;
    c->closed = 1;
    c->verdict = verdict;
    snprintf(c->why, sizeof c->why, "%s", why);
    ws_conn_free(c->conn);        /* freeing inside the callback must be safe */
    c->conn = NULL;
}

static const struct ws_conn_callbacks cbs = { c_open, c_message, c_closed };

static void run(enum mode m, const char *scheme, SSL_CTX *client_tls, struct client *c,
                int dead_after_ms) {
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
    struct evconnlistener *l = evconnlistener_new_bind(base, srv_accept, NULL,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1, (struct sockaddr *)&sin, sizeof sin);
    struct sockaddr_in bound;
    socklen_t blen = sizeof bound;
    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&bound, &blen);
    char url[128], err[128];
    snprintf(url, sizeof url, "%s://127.0.0.1:%d/ws/v2?device_id=1&ticket=secret", scheme,
             ntohs(bound.sin_port));
    mode = m;
    server_got[0] = '\0';
    server_saw_unmasked = server_saw_close = 0;
    server_pong[0] = '\0';
    memset(c, 0, sizeof *c);
    c->close_after_reply = 1;
    struct ws_conn_options opt = { 1000, 3000, dead_after_ms };
    c->conn = ws_conn_new(base, NULL, client_tls, url, &opt, &cbs, c, err, sizeof err);
    CHECK(c->conn != NULL);
    uint64_t until = util_now_ms() + 8000;
    while (!c->closed && util_now_ms() < until) event_base_loop(base, EVLOOP_ONCE);
    CHECK(c->closed);
    until = util_now_ms() + 3000;
    while (server_open > 0 && util_now_ms() < until) event_base_loop(base, EVLOOP_ONCE);
    evconnlistener_free(l);
}

static void test_echo_and_close(void) {
    struct client c;
    run(M_ECHO, "ws", NULL, &c, 0);
    CHECK_EQ_INT(c.opened, 1);
    CHECK_EQ_INT(c.messages, 2);
    CHECK_EQ_STR(c.last, "got:ping!");
    CHECK_EQ_STR(server_got, "ping!");
    CHECK_EQ_INT(server_saw_unmasked, 0);      /* RFC 6455: every client frame masked */
    CHECK_EQ_INT(server_saw_close, 1);
    CHECK_EQ_STR(server_pong, "pp");
    CHECK_EQ_STR(c.why, "closed");
}

static void test_refused(void) {
    struct client c;
    run(M_REFUSE, "ws", NULL, &c, 0);
    CHECK_EQ_INT(c.opened, 0);
    CHECK_EQ_INT(c.verdict, WS_HANDSHAKE_CLIENT_ERROR);
    CHECK_CONTAINS(c.why, "HTTP 403, Handshake-Status 403, Handshake-Msg \"no entry\"");
}

static void test_bad_accept(void) {
    struct client c;
    run(M_BAD_ACCEPT, "ws", NULL, &c, 0);
    CHECK_EQ_INT(c.opened, 0);
    CHECK_EQ_INT(c.verdict, WS_HANDSHAKE_BUSY);
    CHECK_EQ_STR(c.why, "handshake failed: wrong Sec-WebSocket-Accept");
}

static void test_silent_peer(void) {
    struct client c;
    run(M_SILENT, "ws", NULL, &c, 300);
    CHECK_EQ_INT(c.opened, 1);
    CHECK_CONTAINS(c.why, "presumed dead");
}

static void test_message_bound(void) {
    struct client c;
    run(M_BIG, "ws", NULL, &c, 0);
    CHECK_EQ_INT(c.opened, 1);
    CHECK_EQ_INT(c.messages, 0);
    CHECK_CONTAINS(c.why, "above ws.max_message");
}

static void test_server_close(void) {
    struct client c;
    run(M_SERVER_CLOSE, "ws", NULL, &c, 0);
    CHECK_EQ_STR(c.why, "closed by the server (code 1000)");
    CHECK_EQ_INT(server_saw_close, 1);          /* the client answered the close */
}

static void test_connect_refused(void) {
    struct client c;
    char err[128];
    struct ws_conn_options opt = { 1000, 3000, 0 };
    memset(&c, 0, sizeof c);
    c.conn = ws_conn_new(base, NULL, NULL, "ws://127.0.0.1:1/", &opt, &cbs, &c, err, sizeof err);
    CHECK(c.conn != NULL);
    uint64_t until = util_now_ms() + 5000;
    while (!c.closed && util_now_ms() < until) event_base_loop(base, EVLOOP_ONCE);
    CHECK(strncmp(c.why, "cannot connect", 14) == 0);
    CHECK(ws_conn_new(base, NULL, NULL, "not a url", &opt, &cbs, &c, err, sizeof err) == NULL);
}

static void test_wss(void) {
    struct test_tls tls;
    test_tls_init(&tls, "IP:127.0.0.1");
    server_tls = tls.server;
    SSL_CTX *trusting = net_tls_ctx_new(tls.ca_path), *strict = net_tls_ctx_new(NULL);
    struct client c;
    run(M_ECHO, "wss", trusting, &c, 0);
    CHECK_EQ_INT(c.opened, 1);
    CHECK_EQ_STR(c.last, "got:ping!");
    run(M_ECHO, "wss", strict, &c, 0);
    CHECK_EQ_INT(c.opened, 0);
    CHECK_CONTAINS(c.why, "certificate verify failed");
    SSL_CTX_free(trusting);
    SSL_CTX_free(strict);
    test_tls_free(&tls);
    server_tls = NULL;
}

static void tick(evutil_socket_t fd, short what, void *arg) {}

int main(void) {
    base = event_base_new();
    struct event *t = event_new(base, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = { 0, 20000 };
    event_add(t, &tv);
    RUN(test_echo_and_close);
    RUN(test_refused);
    RUN(test_bad_accept);
    RUN(test_silent_peer);
    RUN(test_message_bound);
    RUN(test_server_close);
    RUN(test_connect_refused);
    RUN(test_wss);
    event_free(t);
    event_base_free(base);
    return test_report();
}
