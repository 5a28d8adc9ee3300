/* The dispatcher's timing rules (src/event/dispatch.c, chatq.c): the ack deadline, card
 * callbacks answered {} when late, per-chat order with bounded queues, app_ticket
 * capture, and shutdown with events still waiting. Handlers wait with lark.sleep on a
 * real event loop; every check is about order, never about how long something took. */
#include "event/chatq.h"
#include "event/dispatch.h"
#include "test.h"
#include "test_lua_fixture.h"

#include <event2/event.h>

static const char *script =
    "function on_p2_message_receive_v1(event)\n"
    "  local text = event.event.message.content\n"
    "  lark.log.info('start ' .. text)\n"
    "  if text:find('^slow') then lark.sleep(text:find('long') and 1 or 0.2) end\n"
    "  lark.log.info('end ' .. text)\n"
    "  if text:find('fail') then error('late boom') end\n"
    "end\n"
    "function on_p2_card_action_trigger(event)\n"
    "  if event.event.action.value == 'slow' then lark.sleep(1) end\n"
    "  return { toast = { content = 'clicked' } }\n"
    "end\n"
    "function on_event(event) lark.log.info('on_event saw ' .. tostring(event.event.type)) end\n";

struct answer {
    int status, calls;
    char body[256];
};

static void on_reply(void *arg, int status, const char *body, size_t len) {
    struct answer *a = arg;
    a->calls++;
    a->status = status;
    snprintf(a->body, sizeof a->body, "%.*s", (int)len, body);
}

struct env {
    struct fixture fx;
    struct event_base *base;
    struct dispatcher *d;
};

static void setup(struct env *e, int deadline_ms, int order_chat, int queue_max) {
    char err[512];
    fx_init(&e->fx);
    e->fx.dopts.ack_deadline_ms = deadline_ms;
    e->fx.dopts.order = order_chat ? DISPATCH_ORDER_CHAT : DISPATCH_ORDER_NONE;
    e->fx.dopts.order_queue_max = queue_max;
    e->base = event_base_new();
    fx_write(&e->fx, "bot.lua", script);
    e->fx.rt = runtime_new(e->base, &e->fx.opts);
    CHECK_EQ_INT(fx_load(&e->fx, err, sizeof err), 0);
    e->d = dispatcher_new(e->base, &e->fx.dopts, e->fx.rt);
    CHECK(e->d != NULL);
}

static void teardown(struct env *e) {
    runtime_free(e->fx.rt);
    e->fx.rt = NULL;
    dispatcher_free(e->d);
    event_base_free(e->base);
    fx_free(&e->fx);
}

static void submit_msg(struct env *e, const char *id, const char *chat, const char *text,
                       struct answer *a) {
    char json[512];
    snprintf(json, sizeof json,
             "{\"schema\":\"2.0\",\"header\":{\"event_id\":\"%s\",\"event_type\":"
             "\"im.message.receive_v1\",\"tenant_key\":\"tk\"},\"event\":{\"message\":"
             "{\"message_id\":\"om_%s\",\"chat_id\":\"%s\",\"content\":\"%s\"}}}",
             id, id, chat, text);
    memset(a, 0, sizeof *a);
    dispatcher_submit(e->d, json, strlen(json), 0, on_reply, a);
}

static void submit_card(struct env *e, const char *id, const char *value, struct answer *a) {
    char json[512];
    snprintf(json, sizeof json,
             "{\"schema\":\"2.0\",\"header\":{\"event_id\":\"%s\",\"event_type\":"
             "\"card.action.trigger\"},\"event\":{\"action\":{\"value\":\"%s\"},"
             "\"context\":{\"open_chat_id\":\"oc_1\"}}}", id, value);
    memset(a, 0, sizeof *a);
    dispatcher_submit(e->d, json, strlen(json), 0, on_reply, a);
}

static void loop_until(struct env *e, const int *calls, int n) {
    while (*calls < n && event_base_loop(e->base, EVLOOP_ONCE) == 0) {}
}

/* Position of needle in the log, -1 when absent. */
static long log_pos(struct fixture *fx, const char *needle) {
    char *text = fx_log(fx);
    const char *p = strstr(text, needle);
    long pos = p ? p - text : -1;
    free(text);
    return pos;
}

static void test_ack_deadline(void) {
    struct env e;
    setup(&e, 50, 1, 10);
    struct answer a, b;
    submit_msg(&e, "e1", "oc_1", "slow long", &a);
    CHECK_EQ_INT(a.calls, 0);
    loop_until(&e, &a.calls, 1);
    CHECK_EQ_INT(a.status, 200);
    CHECK_EQ_STR(a.body, "{\"msg\":\"success\"}");
    CHECK(fx_log_lacks(&e.fx, "end slow long"));  /* answered while the handler sleeps */
    CHECK(fx_log_has(&e.fx, "event e1 (im.message.receive_v1) still running at the ack deadline"));
    event_base_dispatch(e.base);
    CHECK(fx_log_has(&e.fx, "end slow long"));
    CHECK_EQ_INT(a.calls, 1);
    /* a failure after the ack is logged; the event stays known (no retry will come) */
    submit_msg(&e, "e2", "oc_2", "slow fail", &b);
    event_base_dispatch(e.base);
    CHECK_EQ_INT(b.calls, 1);
    CHECK_EQ_INT(b.status, 200);
    CHECK(fx_log_has(&e.fx, "event e2 (im.message.receive_v1) failed after it was acked"));
    submit_msg(&e, "e2", "oc_2", "slow fail", &b);
    CHECK_EQ_INT(b.calls, 1);
    CHECK(fx_log_has(&e.fx, "duplicate event e2"));
    struct dispatcher_stats st;
    dispatcher_get_stats(e.d, &st);
    CHECK_EQ_INT(st.acked_at_deadline, 2);
    CHECK_EQ_INT(st.late_failures, 1);
    CHECK_EQ_INT(st.in_flight, 0);
    CHECK_EQ_INT(st.chats, 0);
    teardown(&e);
}

static void test_card_callback(void) {
    struct env e;
    setup(&e, 50, 1, 10);
    struct answer fast, slow;
    submit_card(&e, "c1", "fast", &fast);
    CHECK_EQ_INT(fast.calls, 1);
    CHECK_EQ_STR(fast.body, "{\"toast\":{\"content\":\"clicked\"}}");
    submit_card(&e, "c2", "slow", &slow);
    loop_until(&e, &slow.calls, 1);
    CHECK_EQ_INT(slow.status, 200);
    CHECK_EQ_STR(slow.body, "{}");
    event_base_dispatch(e.base);
    CHECK_EQ_INT(slow.calls, 1);
    teardown(&e);
}

static void test_chat_order(void) {
    struct env e;
    setup(&e, 60000, 1, 10);
    struct answer a, b, c, card;
    submit_msg(&e, "e1", "oc_1", "slow A", &a);
    submit_msg(&e, "e2", "oc_1", "B", &b);
    submit_msg(&e, "e3", "oc_2", "C", &c);
    submit_card(&e, "c1", "fast", &card);      /* a callback in chat oc_1: never held */
    CHECK(fx_log_has(&e.fx, "start slow A"));
    CHECK(fx_log_lacks(&e.fx, "start B"));
    CHECK_EQ_INT(c.calls, 1);                  /* another chat: not held up */
    CHECK_EQ_INT(card.calls, 1);
    struct dispatcher_stats st;
    dispatcher_get_stats(e.d, &st);
    CHECK_EQ_INT(st.waiting, 1);
    CHECK_EQ_INT(st.chats, 1);
    event_base_dispatch(e.base);
    CHECK_EQ_INT(a.calls, 1);
    CHECK_EQ_INT(b.calls, 1);
    CHECK(log_pos(&e.fx, "end slow A") >= 0);
    CHECK(log_pos(&e.fx, "end slow A") < log_pos(&e.fx, "start B"));
    dispatcher_get_stats(e.d, &st);
    CHECK_EQ_INT(st.waiting, 0);
    CHECK_EQ_INT(st.chats, 0);
    teardown(&e);
}

static void test_queue_bound(void) {
    struct env e;
    setup(&e, 60000, 1, 1);
    struct answer a, b, c;
    submit_msg(&e, "e1", "oc_1", "slow A", &a);
    submit_msg(&e, "e2", "oc_1", "B", &b);
    submit_msg(&e, "e3", "oc_1", "C", &c);
    CHECK_EQ_INT(c.calls, 1);
    CHECK_EQ_INT(c.status, 503);
    CHECK(fx_log_has(&e.fx, "chat oc_1 already has 1 events waiting (order_queue_max): event e3"));
    event_base_dispatch(e.base);
    submit_msg(&e, "e3", "oc_1", "C", &c);     /* forgotten: the retry runs */
    CHECK_EQ_INT(c.status, 200);
    CHECK(fx_log_has(&e.fx, "start C"));
    teardown(&e);
}

/* Across chats, max_in_flight bounds what is accepted; past it, 503 until some finish. */
static void test_in_flight_bound(void) {
    struct env e;
    setup(&e, 60000, 0, 10);
    dispatcher_free(e.d);  /* it copied its options */
    e.fx.dopts.max_in_flight = 2;
    e.d = dispatcher_new(e.base, &e.fx.dopts, e.fx.rt);
    struct answer a, b, c;
    submit_msg(&e, "e1", "oc_1", "slow A", &a);
    submit_msg(&e, "e2", "oc_2", "slow B", &b);
    submit_msg(&e, "e3", "oc_3", "C", &c);
    CHECK_EQ_INT(c.calls, 1);
    CHECK_EQ_INT(c.status, 503);
    CHECK(fx_log_has(&e.fx, "2 events in flight (max_in_flight)"));
    event_base_dispatch(e.base);
    CHECK_EQ_INT(a.status, 200);
    submit_msg(&e, "e3", "oc_3", "C", &c);     /* room again: the retry runs */
    CHECK_EQ_INT(c.status, 200);
    CHECK(fx_log_has(&e.fx, "start C"));
    teardown(&e);
}

static void test_order_none(void) {
    struct env e;
    setup(&e, 60000, 0, 1);
    struct answer a, b;
    submit_msg(&e, "e1", "oc_1", "slow A", &a);
    submit_msg(&e, "e2", "oc_1", "B", &b);
    CHECK_EQ_INT(b.calls, 1);
    CHECK(fx_log_lacks(&e.fx, "end slow A"));  /* B ran while A of the same chat waits */
    event_base_dispatch(e.base);
    CHECK_EQ_INT(a.calls, 1);
    teardown(&e);
}

/* Waiting for its chat is no reason to miss the deadline: the event was accepted. */
static void test_waiting_acked(void) {
    struct env e;
    setup(&e, 50, 1, 10);
    struct answer a, b;
    submit_msg(&e, "e1", "oc_1", "slow long A", &a);
    submit_msg(&e, "e2", "oc_1", "B", &b);
    loop_until(&e, &b.calls, 1);
    CHECK_EQ_INT(a.calls, 1);
    CHECK_EQ_INT(b.status, 200);
    CHECK(fx_log_lacks(&e.fx, "start B"));
    CHECK(fx_log_has(&e.fx, "event e2 (im.message.receive_v1) waiting for its chat at the ack"));
    event_base_dispatch(e.base);
    CHECK(log_pos(&e.fx, "end slow long A") < log_pos(&e.fx, "start B"));
    CHECK_EQ_INT(b.calls, 1);
    teardown(&e);
}

static char ticket_got[64];
static void on_ticket(void *arg, const char *ticket) {
    (*(int *)arg)++;
    snprintf(ticket_got, sizeof ticket_got, "%s", ticket);
}

static void test_app_ticket(void) {
    struct env e;
    setup(&e, 60000, 1, 10);
    int n = 0;
    dispatcher_on_app_ticket(e.d, on_ticket, &n);
    const char *ev = "{\"uuid\":\"u1\",\"ts\":\"1\",\"type\":\"event_callback\",\"event\":"
                     "{\"type\":\"app_ticket\",\"app_id\":\"cli_1\",\"app_ticket\":\"tk-abc\"}}";
    struct answer a;
    memset(&a, 0, sizeof a);
    dispatcher_submit(e.d, ev, strlen(ev), 0, on_reply, &a);
    CHECK_EQ_INT(a.status, 200);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(ticket_got, "tk-abc");
    CHECK(fx_log_lacks(&e.fx, "on_event saw"));
    CHECK(fx_log_lacks(&e.fx, "tk-abc"));
    const char *bad = "{\"uuid\":\"u2\",\"type\":\"event_callback\",\"event\":{\"type\":\"app_ticket\"}}";
    dispatcher_submit(e.d, bad, strlen(bad), 0, on_reply, &a);
    CHECK_EQ_INT(a.status, 400);
    CHECK_EQ_INT(n, 1);
    teardown(&e);
}

static int drained;
static void on_drained(void *arg) { (void)arg; drained++; }

/* Drain waits for waiting events too; freeing answers whoever is still owed an answer. */
static void test_drain_and_free(void) {
    struct env e;
    setup(&e, 60000, 1, 10);
    struct answer a, b;
    submit_msg(&e, "e1", "oc_1", "slow A", &a);
    submit_msg(&e, "e2", "oc_1", "B", &b);
    drained = 0;
    dispatcher_drain(e.d, on_drained, NULL);
    CHECK_EQ_INT(drained, 0);
    event_base_dispatch(e.base);
    CHECK_EQ_INT(drained, 1);
    CHECK_EQ_INT(b.status, 200);
    teardown(&e);

    setup(&e, 60000, 1, 10);
    submit_msg(&e, "e1", "oc_1", "slow A", &a);
    submit_msg(&e, "e2", "oc_1", "B", &b);
    runtime_free(e.fx.rt);                    /* A is cancelled: 500; B is queued behind it */
    e.fx.rt = NULL;
    CHECK_EQ_INT(a.status, 500);
    CHECK_EQ_INT(b.calls, 0);
    dispatcher_free(e.d);
    e.d = NULL;
    CHECK_EQ_INT(b.calls, 1);
    CHECK_EQ_INT(b.status, 503);
    CHECK(fx_log_lacks(&e.fx, "start B"));
    teardown(&e);
}

struct item {
    struct chatq_item it;
    char chat[16];
};

static void test_chatq(void) {
    struct chatq *q = chatq_new();
    static struct item items[3000];
    for (int i = 0; i < 3000; i++) {
        snprintf(items[i].chat, sizeof items[i].chat, "oc_%d", i % 1000);
        items[i].it.chat = items[i].chat;
        CHECK_EQ_INT(chatq_enter(q, &items[i].it, 1), i < 1000 ? 1 : i < 2000 ? 0 : -1);
    }
    CHECK_EQ_INT(chatq_chats(q), 1000);
    CHECK(chatq_leave(q, &items[7].it) == &items[1007].it);
    CHECK(chatq_leave(q, &items[1007].it) == NULL);
    CHECK_EQ_INT(chatq_chats(q), 999);
    CHECK_EQ_INT(chatq_enter(q, &items[2007].it, 1), 1);
    int waiting = 0;
    while (chatq_take_waiting(q)) waiting++;
    CHECK_EQ_INT(waiting, 999);
    chatq_free(q);
}

int main(void) {
    RUN(test_chatq);
    RUN(test_ack_deadline);
    RUN(test_card_callback);
    RUN(test_chat_order);
    RUN(test_queue_bound);
    RUN(test_in_flight_bound);
    RUN(test_order_none);
    RUN(test_waiting_acked);
    RUN(test_app_ticket);
    RUN(test_drain_and_free);
    return test_report();
}
