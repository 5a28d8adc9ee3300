/* ws_pool against an in-process fake platform (evhttp discovery + a raw WebSocket
 * server) with a fake dispatcher that answers whenever the test says: acks that come
 * late, after their connection died, during a stop, or never. This file defines
 * dispatcher_submit, so the real dispatcher is not linked in. */
#include "ingress/ws_pool.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "crypto/crypto.h"
#include "event/dispatch.h"
#include "proto/frame.h"
#include "test.h"
#include "net/http_client.h"
#include "net/ws_handshake.h"

static struct event_base *base;
static int ws_port, accepted, pings, bad_pings;

#define WAIT(cond) do { uint64_t _until = util_now_ms() + 8000; \
    while (!(cond) && util_now_ms() < _until) event_base_loop(base, EVLOOP_ONCE); } while (0)

/* The fake dispatcher: remembers each submission until the test replies. */
struct submitted {
    event_reply_fn reply;
    void *arg;
    char json[128];
};
static struct submitted subs[8];
static int n_subs;

void dispatcher_submit(struct dispatcher *d, const char *json, size_t len, unsigned flags,
                       event_reply_fn reply, void *arg) {
    struct submitted *s = &subs[n_subs++ % 8];
    s->reply = reply;
    s->arg = arg;
    snprintf(s->json, sizeof s->json, "%.*s", (int)len, json);
}

static void answer(int i, int status, const char *body) {
    subs[i].reply(subs[i].arg, status, body, strlen(body));
}

/* The platform's WebSocket end: one connection at a time. */
static struct bufferevent *cur;
static int upgraded, saw_close;
static frame_t *acks[8];
static int n_acks;

static void srv_drop(void) {
    if (cur) bufferevent_free(cur);
    cur = NULL;
    upgraded = 0;
}

static void srv_send_frame(const frame_t *f) {
    size_t len;
    uint8_t *buf = frame_encode(f, &len);
    unsigned char head[4] = { 0x82, (unsigned char)len };
    if (len >= 126) {
        head[1] = 126;
        head[2] = (unsigned char)(len >> 8);
        head[3] = (unsigned char)len;
    }
    bufferevent_write(cur, head, len >= 126 ? 4 : 2);
    bufferevent_write(cur, buf, len);
    free(buf);
}

static void srv_event(const char *message_id, uint64_t seq) {
    Pbbp2__Header h1 = PBBP2__HEADER__INIT, h2 = PBBP2__HEADER__INIT;
    h1.key = "type";
    h1.value = "event";
    h2.key = "message_id";
    h2.value = (char *)message_id;
    Pbbp2__Header *hs[2] = { &h1, &h2 };
    frame_t f = PBBP2__FRAME__INIT;
    f.seqid = seq;
    f.logid = 100 + seq;
    f.service = 77;
    f.method = FRAME_DATA;
    f.n_headers = 2;
    f.headers = hs;
    f.has_payload = 1;
    f.payload.data = (uint8_t *)"{\"schema\":\"2.0\"}";
    f.payload.len = 16;
    srv_send_frame(&f);
}

static void srv_client_frame(const uint8_t *data, size_t len, int opcode) {
    if (opcode == 8) {
        saw_close = 1;
        bufferevent_write(cur, "\x88\x02\x03\xe8", 4);
        return;
    }
    frame_t *f = frame_decode(data, len, 65536, NULL);
    if (!f) return;
    const char *type = frame_header(f, "type");
    if (f->method == FRAME_CONTROL && type && strcmp(type, "ping") == 0) {
        if (f->service == 77) pings++;
        else bad_pings++;
        frame_free(f);
    } else if (f->method == FRAME_DATA && n_acks < 8) {
        acks[n_acks++] = f;
    } else {
        frame_free(f);
    }
}

static int srv_frame(struct evbuffer *in) {
    unsigned char h[8];
    size_t have = evbuffer_get_length(in);
    if (have < 2) return 0;
    evbuffer_copyout(in, h, have < sizeof h ? have : sizeof h);
    size_t len = h[1] & 0x7f, off = 2;
    if (len == 126) {
        len = (size_t)h[2] << 8 | h[3];
        off = 4;
    }
    if (have < off + 4 + len) return 0;
    unsigned char mask[4];
    uint8_t *data = malloc(len + 1);
    evbuffer_drain(in, off);
    evbuffer_remove(in, mask, 4);
    evbuffer_remove(in, data, len);
    for (size_t i = 0; i < len; i++) data[i] ^= mask[i % 4];
    srv_client_frame(data, len, h[0] & 0x0f);
    free(data);
    return 1;
}

static void srv_read(struct bufferevent *bev, void *arg) {
    struct evbuffer *in = bufferevent_get_input(bev);
    if (!upgraded) {
        struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        if (end.pos < 0) return;
        char head[2048] = "", key[64] = "", accept[WS_ACCEPT_LEN + 1];
        evbuffer_remove(in, head, (size_t)end.pos + 4 < sizeof head ? (size_t)end.pos + 4 : sizeof head - 1);
        const char *k = strstr(head, "Sec-WebSocket-Key: ");
        if (k) sscanf(k + 19, "%63[^\r]", key);
        ws_handshake_accept(key, accept);
        evbuffer_add_printf(bufferevent_get_output(bev),
                            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
        upgraded = 1;
    }
    while (cur && srv_frame(in)) {}
}

static void srv_eventcb(struct bufferevent *bev, short what, void *arg) {
    if (bev == cur) srv_drop();
    else bufferevent_free(bev);
}

static void srv_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                       int len, void *arg) {
    srv_drop();
    accepted++;
    cur = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(cur, srv_read, NULL, srv_eventcb, NULL);
    bufferevent_enable(cur, EV_READ | EV_WRITE);
}

static void discovery(struct evhttp_request *req, void *arg) {
    struct evbuffer *out = evbuffer_new();
    evbuffer_add_printf(out, "{\"code\":0,\"msg\":\"ok\",\"data\":{\"URL\":"
                        "\"ws://127.0.0.1:%d/ws/v2?device_id=d%d&service_id=77&ticket=t\","
                        "\"ClientConfig\":{\"PingInterval\":1,\"ReconnectInterval\":1,"
                        "\"ReconnectNonce\":0,\"ReconnectCount\":-1}}}", ws_port, accepted);
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

static struct ws_pool_options opt;
static char domain[64];
static struct http_client *client;   /* the gateway's, which the pool borrows */

static struct ws_pool *pool_up(void) {
    n_subs = n_acks = 0;
    int before = accepted;
    struct ws_pool *p = ws_pool_new(base, &opt, NULL, client);
    CHECK(p != NULL);
    WAIT(accepted > before && upgraded);
    struct ws_pool_stats st;
    WAIT((ws_pool_get_stats(p, &st), st.open == 1));
    CHECK_EQ_INT(st.open, 1);
    return p;
}

static void acks_clear(void) {
    for (int i = 0; i < n_acks; i++) frame_free(acks[i]);
    n_acks = 0;
}

static void test_late_ack(void) {
    struct ws_pool *p = pool_up();
    srv_event("m1", 5);
    WAIT(n_subs == 1);
    CHECK_EQ_STR(subs[0].json, "{\"schema\":\"2.0\"}");
    CHECK_EQ_INT(n_acks, 0);                     /* nothing until the dispatcher answers */
    answer(0, 200, "{\"toast\":1}");
    WAIT(n_acks == 1);
    CHECK_EQ_INT(n_acks, 1);
    if (n_acks) {
        CHECK_EQ_INT(acks[0]->seqid, 5);
        CHECK_EQ_INT(acks[0]->logid, 105);
        CHECK_EQ_STR(frame_header(acks[0], "message_id"), "m1");
        CHECK(frame_header(acks[0], "biz_rt") != NULL);
        char b64[64];
        crypto_base64_encode("{\"toast\":1}", 11, b64);
        char want[128];
        snprintf(want, sizeof want, "{\"code\":200,\"headers\":{},\"data\":\"%s\"}", b64);
        CHECK(acks[0]->payload.len == strlen(want) &&
              memcmp(acks[0]->payload.data, want, strlen(want)) == 0);
    }
    srv_event("m2", 6);
    WAIT(n_subs == 2);
    answer(1, 503, "{\"msg\":\"draining\"}");
    WAIT(n_acks == 2);
    CHECK(n_acks == 2 && strstr((const char *)acks[1]->payload.data, "\"code\":500"));
    WAIT(pings >= 2);
    CHECK(pings >= 2);
    CHECK_EQ_INT(bad_pings, 0);
    acks_clear();
    ws_pool_free(p);
    WAIT(!cur);
}

static void test_ack_after_the_connection_died(void) {
    struct ws_pool *p = pool_up();
    int before = accepted;
    srv_event("m3", 7);
    WAIT(n_subs == 1);
    srv_drop();                                   /* the platform goes away mid-handler */
    struct ws_pool_stats st;
    WAIT(accepted > before && (ws_pool_get_stats(p, &st), st.connects == 2 && st.open == 1));
    CHECK_EQ_INT(st.open, 1);                     /* ...and the pool is back */
    answer(0, 200, "{}");                         /* late: its connection is gone */
    ws_pool_get_stats(p, &st);
    CHECK_EQ_INT(st.acks_dropped, 1);
    CHECK_EQ_INT(st.disconnects, 1);
    event_base_loop(base, EVLOOP_NONBLOCK);
    CHECK_EQ_INT(n_acks, 0);                      /* never on the new connection */
    ws_pool_free(p);
    WAIT(!cur);
}

static int stopped;
static void on_stopped(void *arg) {
    stopped++;
}

static void test_stop_waits_for_the_ack_in_flight(void) {
    struct ws_pool *p = pool_up();
    srv_event("m4", 8);
    WAIT(n_subs == 1);
    stopped = saw_close = 0;
    ws_pool_stop(p, on_stopped, NULL);
    srv_event("m5", 9);                          /* arrives while stopping: not taken */
    uint64_t until = util_now_ms() + 300;
    while (util_now_ms() < until) event_base_loop(base, EVLOOP_ONCE);
    CHECK_EQ_INT(n_subs, 1);
    CHECK_EQ_INT(stopped, 0);
    CHECK_EQ_INT(saw_close, 0);
    answer(0, 200, "{}");
    WAIT(stopped);
    CHECK_EQ_INT(stopped, 1);
    CHECK_EQ_INT(n_acks, 1);                     /* the ack left before the close */
    CHECK_EQ_INT(saw_close, 1);
    acks_clear();
    ws_pool_free(p);
    WAIT(!cur);
}

static void test_free_with_replies_outstanding(void) {
    struct ws_pool *p = pool_up();
    srv_event("m6", 10);
    srv_event("m7", 11);
    WAIT(n_subs == 2);
    ws_pool_free(p);                 /* the dispatcher would be gone too: ASan checks leaks */
    WAIT(!cur);
    CHECK(cur == NULL);
}

static void tick(evutil_socket_t fd, short what, void *arg) {}

int main(void) {
    base = event_base_new();
    struct event *t = event_new(base, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = { 0, 20000 };
    event_add(t, &tv);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
    struct evconnlistener *l = evconnlistener_new_bind(base, srv_accept, NULL,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1, (struct sockaddr *)&sin, sizeof sin);
    socklen_t slen = sizeof sin;
    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &slen);
    ws_port = ntohs(sin.sin_port);
    struct evhttp *http = evhttp_new(base);
    evhttp_set_cb(http, "/callback/ws/endpoint", discovery, NULL);
    struct evhttp_bound_socket *hs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    getsockname(evhttp_bound_socket_get_fd(hs), (struct sockaddr *)&sin, &slen);
    snprintf(domain, sizeof domain, "http://127.0.0.1:%d", ntohs(sin.sin_port));
    opt = (struct ws_pool_options){
        .discovery = { domain, "cli_test", "s3cret" },
        .connections = 1,
        .fragment_timeout_s = 5,
        .max_message = 16L << 20,
        .ack_deadline_ms = 500,
    };
    client = http_client_new(base, NULL);
    RUN(test_late_ack);
    RUN(test_ack_after_the_connection_died);
    RUN(test_stop_waits_for_the_ack_in_flight);
    RUN(test_free_with_replies_outstanding);
    http_client_free(client);
    evhttp_free(http);
    evconnlistener_free(l);
    event_free(t);
    event_base_free(base);
    return test_report();
}
