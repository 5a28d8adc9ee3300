#include "app/worker_link.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/admin.h"
#include "base/log.h"

struct link_question {
    uint8_t cmd, pad[3];
    uint32_t seq;
};

struct link_head {
    uint8_t kind, status, pad[2];
    uint32_t seq, len;
};

struct worker_link {
    struct bufferevent *bev;
    struct admin_hooks hooks;
    void (*lost)(void *arg);
    void *arg;
    int gone;
};

static void link_send(struct worker_link *l, int kind, int status, uint32_t seq,
                      const void *data, size_t len) {
    struct link_head h = { (uint8_t)kind, (uint8_t)status, { 0, 0 }, seq, (uint32_t)len };
    struct evbuffer *out = bufferevent_get_output(l->bev);
    evbuffer_add(out, &h, sizeof h);
    if (len) evbuffer_add(out, data, len);
}

static void link_answer(struct worker_link *l, const struct link_question *q) {
    char err[512];
    if (q->cmd == WORKER_LINK_READY) {
        int ready = l->hooks.ready ? l->hooks.ready(l->hooks.arg) : 1;
        const char *why = ready && l->hooks.degraded ? l->hooks.degraded(l->hooks.arg) : NULL;
        link_send(l, WORKER_LINK_ANSWER, ready, q->seq, why, why ? strlen(why) : 0);
    } else if (q->cmd == WORKER_LINK_RELOAD) {
        int rc = l->hooks.reload(l->hooks.arg, err, sizeof err);
        link_send(l, WORKER_LINK_ANSWER, rc != 0, q->seq, err, rc ? strlen(err) : 0);
    } else if (q->cmd == WORKER_LINK_METRICS) {
        struct evbuffer *b = evbuffer_new();
        if (b) l->hooks.metrics(l->hooks.arg, b);
        size_t len = b ? evbuffer_get_length(b) : 0;
        const char *text = len ? (const char *)evbuffer_pullup(b, -1) : NULL;
        link_send(l, WORKER_LINK_ANSWER, !b, q->seq, text, text ? len : 0);
        if (b) evbuffer_free(b);
    } else if (q->cmd == WORKER_LINK_JOBS) {
        char *json = l->hooks.jobs ? l->hooks.jobs(l->hooks.arg) : NULL;
        link_send(l, WORKER_LINK_ANSWER, !json, q->seq, json, json ? strlen(json) : 0);
        free(json);
    } else {
        log_warn("workers", "unknown question %d from the supervisor", q->cmd);
        link_send(l, WORKER_LINK_ANSWER, 1, q->seq, NULL, 0);
    }
}

static void link_on_read(struct bufferevent *bev, void *arg) {
    struct worker_link *l = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct link_question q;
    while (evbuffer_get_length(in) >= sizeof q) {
        evbuffer_remove(in, &q, sizeof q);
        link_answer(l, &q);
    }
}

static void link_on_event(struct bufferevent *bev, short what, void *arg) {
    struct worker_link *l = arg;
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) || l->gone) return;
    l->gone = 1;
    bufferevent_disable(bev, EV_READ | EV_WRITE);
    if (l->lost) l->lost(l->arg);
}

struct worker_link *worker_link_serve(struct event_base *base, int fd,
                                      const struct admin_hooks *hooks,
                                      void (*lost)(void *arg), void *arg) {
    struct worker_link *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    evutil_make_socket_nonblocking(fd);
    evutil_make_socket_closeonexec(fd);
    l->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!l->bev) {
        free(l);
        return NULL;
    }
    l->hooks = *hooks;
    l->lost = lost;
    l->arg = arg;
    bufferevent_setcb(l->bev, link_on_read, NULL, link_on_event, l);
    bufferevent_enable(l->bev, EV_READ | EV_WRITE);
    return l;
}

void worker_link_hello(struct worker_link *l) {
    link_send(l, WORKER_LINK_HELLO, 0, 0, NULL, 0);
}

void worker_link_free(struct worker_link *l) {
    if (!l) return;
    bufferevent_free(l->bev);
    free(l);
}

int worker_link_ask(int fd, enum worker_link_cmd cmd, uint32_t seq) {
    struct link_question q = { (uint8_t)cmd, { 0, 0, 0 }, seq };
    ssize_t n;
    do {
        n = send(fd, &q, sizeof q, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof q ? 0 : -1;
}

int worker_link_take(struct evbuffer *in, struct worker_link_msg *m) {
    struct link_head h;
    if (evbuffer_copyout(in, &h, sizeof h) < (ev_ssize_t)sizeof h) return 0;
    if (h.len > WORKER_LINK_MAX_PAYLOAD) return -1;
    if (evbuffer_get_length(in) < sizeof h + h.len) return 0;
    char *data = malloc((size_t)h.len + 1);
    if (!data) return -1;
    evbuffer_drain(in, sizeof h);
    evbuffer_remove(in, data, h.len);
    data[h.len] = '\0';
    *m = (struct worker_link_msg){ h.kind, h.status, h.seq, data, h.len };
    return 1;
}
