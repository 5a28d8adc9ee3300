/* ws_session with bytes in and frames out: no socket. This file defines ws_conn_send
 * (frames the session sends are decoded and kept, per connection) and
 * dispatcher_submit (submissions wait until the test answers), so neither the real
 * WebSocket nor the real dispatcher is linked in. */
#include "ingress/ws_session.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "crypto/crypto.h"
#include "event/dispatch.h"
#include "proto/frame.h"
#include "proto/reassembly.h"
#include "test.h"

static struct event_base *base;
static struct ws_conn *conn_a = (struct ws_conn *)"a", *conn_b = (struct ws_conn *)"b";

/* The fake connection: what was sent, on which connection; send_fails makes the next
 * send fail the way a dying connection does, its owner closing the session inside. */
static frame_t *sent[16];
static struct ws_conn *sent_on[16];
static int n_sent, send_fails;
static struct ws_session *cur;

int ws_conn_send(struct ws_conn *c, const uint8_t *data, size_t len) {
    if (send_fails) {
        send_fails = 0;
        ws_session_closed(cur);
        return -1;
    }
    if (n_sent < 16) {
        sent_on[n_sent] = c;
        sent[n_sent++] = frame_decode(data, len, 1 << 20, NULL);
    }
    return 0;
}

static void sent_clear(void) {
    for (int i = 0; i < n_sent; i++) frame_free(sent[i]);
    n_sent = 0;
}

/* The fake dispatcher: remembers each submission until the test replies, or replies
 * at once (before dispatcher_submit returns) when sync_status is set. */
struct submitted {
    event_reply_fn reply;
    void *arg;
    char json[128];
};
static struct submitted subs[8];
static int n_subs, sync_status;

void dispatcher_submit(struct dispatcher *d, const char *json, size_t len, unsigned flags,
                       event_reply_fn reply, void *arg) {
    if (sync_status) {
        reply(arg, sync_status, "", 0);
        return;
    }
    struct submitted *s = &subs[n_subs++ % 8];
    s->reply = reply;
    s->arg = arg;
    snprintf(s->json, sizeof s->json, "%.*s", (int)len, json);
}

static void answer(int i, int status, const char *body) {
    subs[i].reply(subs[i].arg, status, body, strlen(body));
}

/* The owner's side of the hooks. */
static struct ws_client_config got_cc;
static int n_configs, n_drained;

static void on_config(void *arg, const struct ws_client_config *cc) {
    got_cc = *cc;
    n_configs++;
}

static void on_drained(void *arg) {
    n_drained++;
}

static struct reassembly *reasm;

static struct ws_session *session_up(struct ws_conn *conn) {
    static const struct ws_session_hooks hooks = { on_config, on_drained };
    struct ws_session_options opt = { 3, 4096, reasm, NULL };
    struct ws_client_config cc;
    ws_discovery_config_default(&cc);
    sent_clear();
    n_subs = n_configs = n_drained = sync_status = send_fails = 0;
    cur = ws_session_new(base, &opt, &hooks, NULL, &cc);
    CHECK(cur != NULL);
    ws_session_open(cur, conn, "127.0.0.1", "d1", 77);
    return cur;
}

/* Feeds one frame to the session as the connection would. */
static void feed(struct ws_session *s, int method, const char *const *headers,
                 const char *payload, uint64_t seq) {
    Pbbp2__Header h[4], *hs[4];
    size_t n = 0;
    for (; n < 4 && headers[2 * n]; n++) {
        pbbp2__header__init(&h[n]);
        h[n].key = (char *)headers[2 * n];
        h[n].value = (char *)headers[2 * n + 1];
        hs[n] = &h[n];
    }
    frame_t f = PBBP2__FRAME__INIT;
    f.seqid = seq;
    f.logid = 100 + seq;
    f.service = 77;
    f.method = method;
    f.n_headers = n;
    f.headers = hs;
    if (payload) {
        f.has_payload = 1;
        f.payload.data = (uint8_t *)payload;
        f.payload.len = strlen(payload);
    }
    size_t len;
    uint8_t *buf = frame_encode(&f, &len);
    ws_session_on_message(s, buf, len);
    free(buf);
}

static void feed_event(struct ws_session *s, const char *type, const char *mid, uint64_t seq) {
    const char *h[] = { "type", type, "message_id", mid, NULL };
    feed(s, FRAME_DATA, h, "{\"schema\":\"2.0\"}", seq);
}

static int payload_has(const frame_t *f, const char *needle) {
    char buf[256];
    snprintf(buf, sizeof buf, "%.*s", (int)f->payload.len, (const char *)f->payload.data);
    return strstr(buf, needle) != NULL;
}

static void test_open_pings_with_the_service_id(void) {
    struct ws_session *s = session_up(conn_a);
    CHECK_EQ_INT(n_sent, 1);
    if (n_sent == 1) {
        CHECK_EQ_INT(sent[0]->method, FRAME_CONTROL);
        CHECK_EQ_INT(sent[0]->service, 77);
        CHECK_EQ_STR(frame_header(sent[0], "type"), "ping");
    }
    struct ws_session_stats st;
    ws_session_get_stats(s, &st);
    CHECK_EQ_INT(st.pings, 1);
    ws_session_free(s);
}

static void test_event_is_dispatched_then_acked(void) {
    struct ws_session *s = session_up(conn_a);
    sent_clear();
    feed_event(s, "event", "m1", 5);
    CHECK_EQ_INT(n_subs, 1);
    CHECK_EQ_STR(subs[0].json, "{\"schema\":\"2.0\"}");
    CHECK_EQ_INT(n_sent, 0);                     /* nothing until the dispatcher answers */
    CHECK_EQ_INT(ws_session_inflight(s), 1);
    answer(0, 200, "{\"toast\":1}");
    CHECK_EQ_INT(n_sent, 1);
    if (n_sent == 1) {
        char b64[64], want[128];
        crypto_base64_encode("{\"toast\":1}", 11, b64);
        snprintf(want, sizeof want, "{\"code\":200,\"headers\":{},\"data\":\"%s\"}", b64);
        CHECK_EQ_INT(sent[0]->seqid, 5);
        CHECK_EQ_INT(sent[0]->logid, 105);
        CHECK_EQ_STR(frame_header(sent[0], "message_id"), "m1");
        CHECK(frame_header(sent[0], "biz_rt") != NULL);
        CHECK(payload_has(sent[0], want));
    }
    feed_event(s, "card", "m2", 6);              /* card callbacks take the same road */
    CHECK_EQ_INT(n_subs, 2);
    answer(1, 503, "{}");
    CHECK(n_sent == 2 && payload_has(sent[1], "\"code\":500"));
    sync_status = 200;                           /* a reply before submit returns */
    feed_event(s, "event", "m3", 7);
    CHECK(n_sent == 3 && payload_has(sent[2], "\"code\":200"));
    CHECK_EQ_INT(ws_session_inflight(s), 0);
    struct ws_session_stats st;
    ws_session_get_stats(s, &st);
    CHECK_EQ_INT(st.events, 3);
    CHECK_EQ_INT(st.acks, 3);
    CHECK_EQ_INT(st.acks_failed, 1);
    sent_clear();
    ws_session_free(s);
}

static void test_what_is_not_an_event_is_not_dispatched(void) {
    struct ws_session *s = session_up(conn_a);
    feed_event(s, "other", "m1", 1);
    const char *none[] = { NULL };
    feed(s, FRAME_DATA, none, "{}", 2);
    feed(s, 7, none, "{}", 3);
    ws_session_on_message(s, (const uint8_t *)"\xff\xff\xff", 3);
    CHECK_EQ_INT(n_subs, 0);
    struct ws_session_stats st;
    ws_session_get_stats(s, &st);
    CHECK_EQ_INT(st.bad_frames, 1);
    CHECK_EQ_INT(st.events, 0);
    sent_clear();
    ws_session_free(s);
}

static void test_fragments_are_joined(void) {
    struct ws_session *s = session_up(conn_a);
    const char *f1[] = { "type", "event", "message_id", "big", "sum", "2", "seq", "1", NULL };
    const char *f0[] = { "type", "event", "message_id", "big", "sum", "2", "seq", "0", NULL };
    feed(s, FRAME_DATA, f1, "world\"}", 9);
    CHECK_EQ_INT(n_subs, 0);
    CHECK_EQ_INT(reassembly_pending(reasm), 1);
    feed(s, FRAME_DATA, f0, "{\"hello\":\"", 8);
    CHECK_EQ_INT(n_subs, 1);
    CHECK_EQ_STR(subs[0].json, "{\"hello\":\"world\"}");
    const char *bad[] = { "type", "event", "message_id", "x", "sum", "2", "seq", "2", NULL };
    feed(s, FRAME_DATA, bad, "{}", 10);
    const char *nan[] = { "type", "event", "message_id", "y", "sum", "two", NULL };
    feed(s, FRAME_DATA, nan, "{}", 11);
    CHECK_EQ_INT(n_subs, 1);
    struct ws_session_stats st;
    ws_session_get_stats(s, &st);
    CHECK_EQ_INT(st.bad_fragments, 2);
    answer(0, 200, "");
    sent_clear();
    ws_session_free(s);
}

static void test_pong_hands_its_config_to_the_owner(void) {
    struct ws_session *s = session_up(conn_a);
    const char *pong[] = { "type", "pong", NULL };
    feed(s, FRAME_CONTROL, pong, NULL, 0);
    CHECK_EQ_INT(n_configs, 0);
    feed(s, FRAME_CONTROL, pong, "{\"PingInterval\":7}", 0);
    CHECK_EQ_INT(n_configs, 1);
    CHECK_EQ_INT(got_cc.ping_interval, 7);
    CHECK_EQ_INT(got_cc.reconnect_interval, 120);   /* absent: the session's own */
    feed(s, FRAME_CONTROL, pong, "[1]", 0);
    CHECK_EQ_INT(n_configs, 1);
    struct ws_session_stats st;
    ws_session_get_stats(s, &st);
    CHECK_EQ_INT(st.pongs, 3);
    sent_clear();
    ws_session_free(s);
}

static void test_ping_follows_the_adopted_interval(void) {
    struct ws_session *s = session_up(conn_a);
    struct ws_client_config cc;
    ws_discovery_config_default(&cc);
    cc.ping_interval = 1;
    ws_session_set_config(s, &cc);
    uint64_t until = util_now_ms() + 5000;
    while (n_sent < 2 && util_now_ms() < until) event_base_loop(base, EVLOOP_ONCE);
    CHECK_EQ_INT(n_sent, 2);
    CHECK(n_sent == 2 && frame_header(sent[1], "type") &&
          strcmp(frame_header(sent[1], "type"), "ping") == 0);
    ws_session_closed(s);          /* and stops with the connection */
    CHECK_EQ_INT(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 0);
    sent_clear();
    ws_session_free(s);
}

static void test_ack_for_a_closed_connection_is_dropped(void) {
    struct ws_session *s = session_up(conn_a);
    feed_event(s, "event", "m1", 5);
    ws_session_closed(s);                          /* the platform goes away mid-handler */
    ws_session_open(s, conn_b, "127.0.0.1", "d2", 77);
    sent_clear();
    answer(0, 200, "{}");
    CHECK_EQ_INT(n_sent, 0);                       /* never on the new connection */
    struct ws_session_stats st;
    ws_session_get_stats(s, &st);
    CHECK_EQ_INT(st.acks_dropped, 1);
    CHECK_EQ_INT(ws_session_inflight(s), 0);
    feed_event(s, "event", "m2", 6);               /* the new one acks its own */
    answer(1, 200, "{}");
    CHECK(n_sent == 1 && sent_on[0] == conn_b);
    sent_clear();
    ws_session_free(s);
}

static void test_failed_send_drops_the_ack(void) {
    struct ws_session *s = session_up(conn_a);
    feed_event(s, "event", "m1", 5);
    feed_event(s, "event", "m2", 6);
    ws_session_drain(s);
    send_fails = 1;                               /* the owner closes us inside the send */
    answer(0, 200, "{}");
    answer(1, 200, "{}");
    struct ws_session_stats st;
    ws_session_get_stats(s, &st);
    CHECK_EQ_INT(st.acks_dropped, 2);
    CHECK_EQ_INT(n_drained, 0);                   /* closed, not drained */
    sent_clear();
    ws_session_free(s);
}

static void test_drain_waits_for_the_acks_owed(void) {
    struct ws_session *s = session_up(conn_a);
    feed_event(s, "event", "m1", 5);
    ws_session_drain(s);
    CHECK_EQ_INT(n_drained, 0);
    feed_event(s, "event", "m2", 6);              /* arrives while draining: not taken */
    CHECK_EQ_INT(n_subs, 1);
    sent_clear();
    answer(0, 200, "{}");
    CHECK_EQ_INT(n_sent, 1);                      /* the ack leaves before on_drained */
    CHECK_EQ_INT(n_drained, 1);
    sent_clear();
    ws_session_free(s);
    s = session_up(conn_a);
    ws_session_drain(s);                          /* nothing owed: at once */
    CHECK_EQ_INT(n_drained, 1);
    sent_clear();
    ws_session_free(s);
}

static void test_free_with_replies_outstanding(void) {
    struct ws_session *s = session_up(conn_a);
    feed_event(s, "event", "m1", 5);
    feed_event(s, "event", "m2", 6);
    CHECK_EQ_INT(ws_session_inflight(s), 2);
    ws_session_free(s);            /* the dispatcher would be gone too: ASan checks leaks */
    sent_clear();
}

int main(void) {
    base = event_base_new();
    struct reassembly_limits lim = { 16, 4096, 8192, 4, 5000 };
    reasm = reassembly_new(&lim);
    RUN(test_open_pings_with_the_service_id);
    RUN(test_event_is_dispatched_then_acked);
    RUN(test_what_is_not_an_event_is_not_dispatched);
    RUN(test_fragments_are_joined);
    RUN(test_pong_hands_its_config_to_the_owner);
    RUN(test_ping_follows_the_adopted_interval);
    RUN(test_ack_for_a_closed_connection_is_dropped);
    RUN(test_failed_send_drops_the_ack);
    RUN(test_drain_waits_for_the_acks_owed);
    RUN(test_free_with_replies_outstanding);
    reassembly_free(reasm);
    event_base_free(base);
    return test_report();
}
