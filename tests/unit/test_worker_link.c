/* app/worker_link: a worker answers the supervisor's questions through the admin hooks,
 * says hello, and calls lost() when the supervisor's end closes; the supervisor's side
 * takes whole messages only, and refuses a length over the bound. */
#include <event2/buffer.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/admin.h"
#include "app/worker_link.h"
#include "test.h"

static int reload_rc, lost;

static int fake_ready(void *arg) { return 1; }
static const char *fake_degraded(void *arg) { return "redis: down"; }
static void fake_metrics(void *arg, struct evbuffer *out) {
    evbuffer_add_printf(out, "m_total 7\n");
}
static int fake_reload(void *arg, char *err, size_t errlen) {
    if (reload_rc) snprintf(err, errlen, "a.lua:1: boom");
    return reload_rc;
}
static char *fake_jobs(void *arg) { return strdup("{\"jobs\":[]}"); }
static void on_lost(void *arg) { lost++; }

/* Runs the worker's loop until one whole message has come back on fd. */
static int receive(struct event_base *base, int fd, struct evbuffer *in,
                   struct worker_link_msg *m) {
    for (int i = 0; i < 200; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        evbuffer_read(in, fd, -1);
        int rc = worker_link_take(in, m);
        if (rc) return rc;
        usleep(1000);
    }
    return 0;
}

static void test_questions_and_answers(void) {
    struct event_base *base = event_base_new();
    int sv[2];
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    evutil_make_socket_nonblocking(sv[0]);
    struct admin_hooks hooks = { NULL, fake_ready, fake_metrics, fake_reload, fake_degraded,
                                 fake_jobs };
    struct worker_link *l = worker_link_serve(base, sv[1], &hooks, on_lost, NULL);
    struct evbuffer *in = evbuffer_new();
    struct worker_link_msg m;

    worker_link_hello(l);
    CHECK_EQ_INT(receive(base, sv[0], in, &m), 1);
    CHECK_EQ_INT(m.kind, WORKER_LINK_HELLO);
    free(m.data);

    CHECK_EQ_INT(worker_link_ask(sv[0], WORKER_LINK_METRICS, 41), 0);
    CHECK_EQ_INT(receive(base, sv[0], in, &m), 1);
    CHECK_EQ_INT(m.kind, WORKER_LINK_ANSWER);
    CHECK_EQ_INT(m.seq, 41);
    CHECK_EQ_STR(m.data, "m_total 7\n");
    free(m.data);

    CHECK_EQ_INT(worker_link_ask(sv[0], WORKER_LINK_READY, 42), 0);
    CHECK_EQ_INT(receive(base, sv[0], in, &m), 1);
    CHECK_EQ_INT(m.status, 1);
    CHECK_EQ_STR(m.data, "redis: down");
    free(m.data);

    CHECK_EQ_INT(worker_link_ask(sv[0], WORKER_LINK_JOBS, 44), 0);
    CHECK_EQ_INT(receive(base, sv[0], in, &m), 1);
    CHECK_EQ_INT(m.status, 0);
    CHECK_EQ_STR(m.data, "{\"jobs\":[]}");
    free(m.data);

    reload_rc = -1;
    CHECK_EQ_INT(worker_link_ask(sv[0], WORKER_LINK_RELOAD, 43), 0);
    CHECK_EQ_INT(receive(base, sv[0], in, &m), 1);
    CHECK_EQ_INT(m.seq, 43);
    CHECK_EQ_INT(m.status, 1);
    CHECK_EQ_STR(m.data, "a.lua:1: boom");
    free(m.data);

    close(sv[0]);
    for (int i = 0; i < 100 && !lost; i++) event_base_loop(base, EVLOOP_NONBLOCK);
    CHECK_EQ_INT(lost, 1);
    worker_link_free(l);
    evbuffer_free(in);
    event_base_free(base);
}

static void test_take_whole_messages_only(void) {
    struct evbuffer *in = evbuffer_new();
    struct worker_link_msg m;
    struct { uint8_t kind, status, pad[2]; uint32_t seq, len; } h = { 'a', 0, { 0, 0 }, 9, 3 };
    evbuffer_add(in, &h, 5);
    CHECK_EQ_INT(worker_link_take(in, &m), 0);
    evbuffer_add(in, (char *)&h + 5, sizeof h - 5);
    evbuffer_add(in, "ab", 2);
    CHECK_EQ_INT(worker_link_take(in, &m), 0);
    evbuffer_add(in, "c", 1);
    CHECK_EQ_INT(worker_link_take(in, &m), 1);
    CHECK_EQ_STR(m.data, "abc");
    free(m.data);
    h.len = WORKER_LINK_MAX_PAYLOAD + 1;
    evbuffer_add(in, &h, sizeof h);
    CHECK_EQ_INT(worker_link_take(in, &m), -1);
    evbuffer_free(in);
}

int main(void) {
    RUN(test_questions_and_answers);
    RUN(test_take_whole_messages_only);
    return test_report();
}
