#include "event/dispatch.h"
#include "test.h"
#include "test_lua_fixture.h"

#include <event2/event.h>

/* Every handler call bumps `calls`; the second event of a kind can fail on demand. */
static const char *counting_script =
    "calls = 0\n"
    "fail_next = false\n"
    "function on_p2_message_receive_v1(event)\n"
    "  calls = calls + 1\n"
    "  lark.log.info('calls=' .. calls)\n"
    "  if event.event.message.content == 'fail' and calls == 1 then error('first try fails') end\n"
    "end\n"
    "function on_p1_message_receive_v1(event) lark.log.info('v1 ' .. event.event.text) end\n";

struct answer {
    int status, calls;
    char body[512];
};

static void on_reply(void *arg, int status, const char *body, size_t len) {
    struct answer *a = arg;
    a->calls++;
    a->status = status;
    snprintf(a->body, sizeof a->body, "%.*s", (int)len, body);
}

static struct answer submit(struct dispatcher *d, const char *json, unsigned flags) {
    struct answer a = { 0, 0, "" };
    dispatcher_submit(d, json, strlen(json), flags, on_reply, &a);
    CHECK_EQ_INT(a.calls, 1);
    return a;
}

static char *msg_event(char *buf, size_t len, const char *event_id, const char *message_id,
                       const char *token, const char *content) {
    snprintf(buf, len,
             "{\"schema\":\"2.0\",\"header\":{\"event_id\":\"%s\",\"event_type\":"
             "\"im.message.receive_v1\",\"token\":\"%s\"},\"event\":{\"message\":"
             "{\"message_id\":\"%s\",\"content\":\"%s\"}}}",
             event_id, token, message_id, content);
    return buf;
}

static struct dispatcher *setup(struct fixture *fx, const char *token) {
    char err[512];
    fx_init(fx);
    fx->dopts.verification_token = token;
    fx_write(fx, "count.lua", counting_script);
    CHECK_EQ_INT(fx_load(fx, err, sizeof err), 0);
    return dispatcher_new(NULL, &fx->dopts, fx->rt);
}

static void test_challenge(void) {
    struct fixture fx;
    struct dispatcher *d = setup(&fx, "vt");
    const char *ok = "{\"challenge\":\"c\\\"1\",\"token\":\"vt\",\"type\":\"url_verification\"}";
    const char *bad = "{\"challenge\":\"c1\",\"token\":\"nope\",\"type\":\"url_verification\"}";
    const char *none = "{\"challenge\":\"c1\",\"type\":\"url_verification\"}";
    struct answer a = submit(d, ok, EVENT_CHALLENGE_ONLY);
    CHECK_EQ_INT(a.status, 200);
    CHECK_EQ_STR(a.body, "{\"challenge\":\"c\\\"1\"}");
    CHECK_EQ_INT(submit(d, bad, EVENT_CHALLENGE_ONLY).status, 401);
    CHECK_EQ_INT(submit(d, none, 0).status, 401);
    dispatcher_free(d);
    fx_free(&fx);
    d = setup(&fx, NULL);  /* no token configured: accepted */
    CHECK_EQ_INT(submit(d, bad, 0).status, 200);
    dispatcher_free(d);
    fx_free(&fx);
}

static void test_token_and_flags(void) {
    struct fixture fx;
    struct dispatcher *d = setup(&fx, "vt");
    char ev[512];
    CHECK_EQ_INT(submit(d, msg_event(ev, sizeof ev, "e1", "m1", "wrong", "x"), 0).status, 401);
    CHECK_EQ_INT(submit(d, msg_event(ev, sizeof ev, "e1", "m1", "vt", "x"), EVENT_CHALLENGE_ONLY).status, 401);
    CHECK(fx_log_has(&fx, "refused with 401"));
    struct answer a = submit(d, msg_event(ev, sizeof ev, "e1", "m1", "vt", "x"), 0);
    CHECK_EQ_INT(a.status, 200);
    CHECK_EQ_STR(a.body, "{\"msg\":\"success\"}");
    CHECK(fx_log_has(&fx, "calls=1"));
    /* replay: no token check, no dedup */
    CHECK_EQ_INT(submit(d, msg_event(ev, sizeof ev, "e1", "m1", "wrong", "x"), EVENT_REPLAY).status, 200);
    CHECK(fx_log_has(&fx, "calls=2"));
    const char *v1 = "{\"uuid\":\"u1\",\"token\":\"bad\",\"type\":\"event_callback\","
                     "\"event\":{\"type\":\"message\",\"text\":\"hey\"}}";
    CHECK_EQ_INT(submit(d, v1, 0).status, 401);
    const char *v1ok = "{\"uuid\":\"u1\",\"token\":\"vt\",\"type\":\"event_callback\","
                       "\"event\":{\"type\":\"message\",\"text\":\"hey\"}}";
    CHECK_EQ_INT(submit(d, v1ok, 0).status, 200);
    CHECK(fx_log_has(&fx, "v1 hey"));
    struct dispatcher_stats st;
    dispatcher_get_stats(d, &st);
    CHECK_EQ_INT(st.received, 6);
    CHECK_EQ_INT(st.rejected, 3);
    CHECK_EQ_INT(st.handled, 3);
    CHECK_EQ_INT(st.in_flight, 0);
    dispatcher_free(d);
    fx_free(&fx);
}

/* Scripts never see the verification token (2.0 header.token, 1.0 token): checked
 * here, stripped before the event becomes a Lua table, so a debug print of the event
 * cannot log it. */
static const char *token_script =
    "function on_event(event)\n"
    "  lark.log.info('tokens', event.token, event.header and event.header.token,\n"
    "                lark.event.token, lark.event.header and lark.event.header.token)\n"
    "  lark.log.info('as json ' .. lark.json.encode(event))\n"
    "end\n";

static void test_scripts_never_see_the_token(void) {
    struct fixture fx;
    char err[512], ev[1024];
    fx_init(&fx);
    fx.dopts.verification_token = "vt-secret-41";
    fx_write(&fx, "t.lua", token_script);
    CHECK_EQ_INT(fx_load(&fx, err, sizeof err), 0);
    struct dispatcher *d = dispatcher_new(NULL, &fx.dopts, fx.rt);
    CHECK_EQ_INT(submit(d, msg_event(ev, sizeof ev, "e1", "m1", "vt-secret-41", "x"), 0).status, 200);
    const char *v1 = "{\"uuid\":\"u1\",\"token\":\"vt-secret-41\",\"ts\":\"1\",\"type\":"
                     "\"event_callback\",\"event\":{\"type\":\"message\",\"text\":\"t\"}}";
    CHECK_EQ_INT(submit(d, v1, 0).status, 200);
    CHECK(fx_log_has(&fx, "t.lua [e1]: tokens nil nil nil nil"));
    CHECK(fx_log_has(&fx, "t.lua [u1]: tokens nil nil nil nil"));
    CHECK(fx_log_has(&fx, "t.lua [u1]: as json {"));
    CHECK(fx_log_lacks(&fx, "vt-secret-41"));
    dispatcher_free(d);
    fx_free(&fx);
}

static void test_malformed(void) {
    struct fixture fx;
    struct dispatcher *d = setup(&fx, NULL);
    struct answer a = submit(d, "{not json", 0);
    CHECK_EQ_INT(a.status, 400);
    CHECK_EQ_STR(a.body, "{\"msg\":\"malformed JSON\"}");
    a = submit(d, "{\"schema\":\"2.0\",\"header\":{\"event_type\":\"x.y_v1\"}}", 0);
    CHECK_EQ_INT(a.status, 400);
    CHECK_EQ_STR(a.body, "{\"msg\":\"missing header.event_id\"}");
    dispatcher_free(d);
    fx_free(&fx);
}

static void test_duplicates(void) {
    struct fixture fx;
    struct dispatcher *d = setup(&fx, NULL);
    char ev[512];
    CHECK_EQ_INT(submit(d, msg_event(ev, sizeof ev, "e1", "m1", "", "x"), 0).status, 200);
    CHECK_EQ_INT(submit(d, msg_event(ev, sizeof ev, "e1", "m1", "", "x"), 0).status, 200);
    /* a re-delivery under a new event_id, same message: still a duplicate */
    struct answer a = submit(d, msg_event(ev, sizeof ev, "e2", "m1", "", "x"), 0);
    CHECK_EQ_INT(a.status, 200);
    CHECK_EQ_STR(a.body, "{\"msg\":\"success\"}");
    CHECK(fx_log_has(&fx, "calls=1"));
    CHECK(fx_log_lacks(&fx, "calls=2"));
    struct dispatcher_stats st;
    dispatcher_get_stats(d, &st);
    CHECK_EQ_INT(st.duplicates, 2);
    CHECK_EQ_INT(st.handled, 1);
    dispatcher_free(d);
    fx_free(&fx);
}

/* A failed event is forgotten, so the platform's retry runs the handlers again. */
static void test_failure_forgets(void) {
    struct fixture fx;
    struct dispatcher *d = setup(&fx, NULL);
    char ev[512];
    CHECK_EQ_INT(submit(d, msg_event(ev, sizeof ev, "e9", "m9", "", "fail"), 0).status, 500);
    CHECK(fx_log_has(&fx, "count.lua: event e9 (im.message.receive_v1): handler failed: "));
    CHECK(fx_log_has(&fx, "count.lua:6: first try fails"));
    CHECK_EQ_INT(submit(d, msg_event(ev, sizeof ev, "e9", "m9", "", "fail"), 0).status, 200);
    CHECK(fx_log_has(&fx, "calls=2"));
    CHECK_EQ_INT(submit(d, msg_event(ev, sizeof ev, "e9", "m9", "", "fail"), 0).status, 200);
    CHECK(fx_log_lacks(&fx, "calls=3"));
    struct dispatcher_stats st;
    dispatcher_get_stats(d, &st);
    CHECK_EQ_INT(st.failed, 1);
    CHECK_EQ_INT(st.duplicates, 1);
    dispatcher_free(d);
    fx_free(&fx);
}

static int drained_calls;
static void on_drained(void *arg) {
    (void)arg;
    drained_calls++;
}

static void test_drain(void) {
    struct fixture fx;
    struct dispatcher *d = setup(&fx, NULL);
    char ev[512];
    drained_calls = 0;
    dispatcher_drain(d, on_drained, NULL);
    CHECK_EQ_INT(drained_calls, 1);  /* idle: at once */
    struct answer a = submit(d, msg_event(ev, sizeof ev, "e1", "m1", "", "x"), 0);
    CHECK_EQ_INT(a.status, 503);
    CHECK(fx_log_lacks(&fx, "calls=1"));
    dispatcher_free(d);
    fx_free(&fx);
}

static void test_no_scripts(void) {
    struct fixture fx;
    char err[256], ev[512];
    fx_init(&fx);
    CHECK_EQ_INT(fx_load(&fx, err, sizeof err), 0);
    struct event_base *base = event_base_new();
    struct dispatcher *d = dispatcher_new(base, &fx.dopts, fx.rt);
    CHECK_EQ_INT(submit(d, msg_event(ev, sizeof ev, "e1", "m1", "", "x"), 0).status, 200);
    dispatcher_free(d);
    event_base_free(base);
    fx_free(&fx);
}

/* log.payloads: off, no payload in the log; on, the event part, never the header's
 * verification token, cut at 1 KiB. */
static void test_payload_log(void) {
    struct fixture fx;
    struct dispatcher *d = setup(&fx, "vt-secret-77");
    char ev[4096], big[2100];
    CHECK_EQ_INT(submit(d, msg_event(ev, sizeof ev, "e1", "m1", "vt-secret-77", "hello"), 0).status, 200);
    CHECK(fx_log_lacks(&fx, "payload"));
    dispatcher_free(d);  /* it copied its options */
    fx.dopts.log_payloads = true;
    d = dispatcher_new(NULL, &fx.dopts, fx.rt);
    CHECK_EQ_INT(submit(d, msg_event(ev, sizeof ev, "e2", "m2", "vt-secret-77", "hi"), 0).status, 200);
    CHECK(fx_log_has(&fx, "event e2 (im.message.receive_v1) payload: {\"message\":"
                          "{\"message_id\":\"m2\",\"content\":\"hi\"}}"));
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_EQ_INT(submit(d, msg_event(ev, sizeof ev, "e3", "m3", "vt-secret-77", big), 0).status, 200);
    CHECK(fx_log_has(&fx, "xxx... (truncated)"));
    CHECK(fx_log_lacks(&fx, "vt-secret-77"));
    dispatcher_free(d);
    fx_free(&fx);
}

int main(void) {
    RUN(test_challenge);
    RUN(test_token_and_flags);
    RUN(test_scripts_never_see_the_token);
    RUN(test_malformed);
    RUN(test_duplicates);
    RUN(test_failure_forgets);
    RUN(test_drain);
    RUN(test_no_scripts);
    RUN(test_payload_log);
    return test_report();
}
