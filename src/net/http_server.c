/* Connections of http_server: reading requests, deadlines, closing. The listener and
 * the answers are in http_server_listen.c and http_server_reply.c. */
#include "net/http_server_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "base/log.h"

#define PIPELINE_MAX 65536      /* bytes read ahead while a request is being answered */
#define OUTPUT_MAX (1 << 20)    /* answers queued before the peer must read some */
#define LINGER_MS 2000          /* after the last answer: the peer's leftovers are discarded */
#define LINGER_MAX (1 << 20)
#define KEEP_BUF 65536          /* a larger body buffer is freed before the next request */

static void conn_process(struct http_server_req *c);

void http_conn_arm(struct http_server_req *c, enum http_timer mode, int ms) {
    c->mode = mode;
    if (mode == T_NONE) {
        event_del(c->timer);
        return;
    }
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    event_add(c->timer, &tv);
}

/* bufferevent_free closes the socket from the loop, later; the peer should see the
 * end now. */
static void release_bev(struct http_server_req *c) {
    shutdown(bufferevent_getfd(c->bev), SHUT_RDWR);
    bufferevent_free(c->bev);
    c->bev = NULL;
}

void http_conn_free(struct http_server_req *c) {
    struct http_server *s = c->srv;
    if (c->prev) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    if (c->timer) event_free(c->timer);
    if (c->bev) release_bev(c);
    free(c->head);
    free(c->body);
    free(c);
}

/* The peer is gone (or is being dropped). A deferred request outlives its connection
 * until it is answered: its owner may still hold it. */
static void conn_gone(struct http_server_req *c) {
    if (!c->deferred || c->replied) {
        http_conn_free(c);
        return;
    }
    release_bev(c);
    event_free(c->timer);
    c->timer = NULL;
    c->gone = 1;
    log_debug(c->srv->opt.module, "%s left before its answer", c->peer);
    if (c->drop) {
        c->in_drop = 1;
        c->drop(c, c->drop_arg);
        c->in_drop = 0;
    }
    if (c->replied) http_conn_free(c);
}

static void start_linger(struct http_server_req *c) {
    shutdown(bufferevent_getfd(c->bev), SHUT_WR);
    bufferevent_enable(c->bev, EV_READ);
    http_conn_arm(c, T_LINGER, LINGER_MS);
}

void http_conn_close(struct http_server_req *c) {
    struct evbuffer *in = bufferevent_get_input(c->bev);
    c->closing = 1;
    evbuffer_drain(in, evbuffer_get_length(in));
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
        http_conn_arm(c, T_NONE, 0);    /* the write timeout bounds the flush */
        return;
    }
    if (c->eof) http_conn_free(c);
    else start_linger(c);
}

/* A deferred request was answered (outside its handler): go on with the next one from
 * the loop, not from inside the answer. */
void http_conn_resume(struct http_server_req *c) {
    c->deferred = 0;
    c->head_len = 0;
    if (c->paused) {
        c->paused = 0;
        bufferevent_enable(c->bev, EV_READ);
    }
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
        bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
    else
        http_conn_arm(c, T_IDLE, c->srv->opt.idle_timeout_ms);
}

static int reserve(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    char *p = realloc(*buf, need);
    if (!p) return -1;
    *buf = p;
    *cap = need;
    return 0;
}

/* Clients may send stray CRLFs between requests (RFC 9112 2.2). */
static void skip_blank_lines(struct evbuffer *in) {
    unsigned char b;
    while (evbuffer_copyout(in, &b, 1) == 1 && (b == '\r' || b == '\n')) evbuffer_drain(in, 1);
}

/* 1 with the head parsed, 0 when it is not all in yet, -1 when refused (closing). */
static int read_head(struct http_server_req *c, struct evbuffer *in) {
    if (!c->searched) skip_blank_lines(in);
    size_t len = evbuffer_get_length(in);
    if (!len) return 0;
    struct evbuffer_ptr from;
    evbuffer_ptr_set(in, &from, c->searched > 3 ? c->searched - 3 : 0, EVBUFFER_PTR_SET);
    struct evbuffer_ptr p = evbuffer_search(in, "\r\n\r\n", 4, &from);
    size_t n = p.pos < 0 ? len : (size_t)p.pos + 4;
    if (n > HTTP_REQUEST_MAX_HEAD) {
        http_conn_refuse(c, 431, "request head too large");
        return -1;
    }
    if (p.pos < 0) {
        c->searched = len;
        return 0;
    }
    c->searched = 0;
    if (c->body_cap > KEEP_BUF) {
        free(c->body);
        c->body = NULL;
        c->body_cap = 0;
    }
    if (reserve(&c->head, &c->head_cap, n + 1) < 0) {
        http_conn_refuse(c, 503, "out of memory");
        return -1;
    }
    evbuffer_remove(in, c->head, n);
    c->head[n] = '\0';
    int status = http_request_parse(c->head, n, c->srv->opt.max_body, &c->req);
    if (status) {
        http_conn_refuse(c, status, c->req.error);
        return -1;
    }
    c->head_len = n;
    c->continued = 0;
    return 1;
}

/* 1 with the body in c->body, 0 when it is not all in yet, -1 when refused. */
static int read_body(struct http_server_req *c, struct evbuffer *in) {
    size_t want = c->req.content_length;
    if (evbuffer_get_length(in) < want) {
        if (c->req.expect_continue && !c->continued && c->req.minor >= 1) {
            c->continued = 1;
            evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
        }
        return 0;
    }
    if (reserve(&c->body, &c->body_cap, want + 1) < 0) {
        http_conn_refuse(c, 503, "out of memory");
        return -1;
    }
    evbuffer_remove(in, c->body, want);
    c->body[want] = '\0';
    c->body_len = want;
    return 1;
}

/* Runs the handler; 1 when the connection can go on to the next request now. */
static int dispatch(struct http_server_req *c) {
    struct http_server *s = c->srv;
    c->in_handler = 1;
    c->replied = c->deferred = 0;
    c->drop = NULL;
    c->mode = T_NONE;               /* a timer still pending finds nothing to do */
    s->opt.handler(c, s->opt.arg);
    c->in_handler = 0;
    if (c->taken) {
        http_conn_free(c);
        return 0;
    }
    if (!c->replied && !c->deferred) {
        log_error(s->opt.module, "no answer to %s %.200s from %s", c->req.method, c->req.path,
                  c->peer);
        http_server_reply(c, 500, NULL, "{\"msg\":\"no answer\"}", 19);
    }
    if (!c->replied || c->closing) return 0;
    c->deferred = 0;
    c->head_len = 0;
    return 1;
}

static void conn_process(struct http_server_req *c) {
    struct evbuffer *in = bufferevent_get_input(c->bev);
    for (;;) {
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) > OUTPUT_MAX) {
            /* a peer pipelining without reading: wait for on_write */
            c->paused = c->out_paused = 1;
            bufferevent_disable(c->bev, EV_READ);
            return;
        }
        int rc = c->head_len ? 1 : read_head(c, in);
        if (rc > 0) rc = read_body(c, in);
        if (rc < 0) return;
        if (rc == 0) break;
        if (!dispatch(c)) return;
    }
    if (c->head_len || evbuffer_get_length(in) > 0) {
        if (c->mode != T_REQUEST) http_conn_arm(c, T_REQUEST, c->srv->opt.request_timeout_ms);
    } else {
        http_conn_arm(c, T_IDLE, c->srv->opt.idle_timeout_ms);
    }
}

static void on_read(struct bufferevent *bev, void *arg) {
    struct http_server_req *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (c->closing) {
        size_t n = evbuffer_get_length(in);
        evbuffer_drain(in, n);
        if ((c->lingered += n) > LINGER_MAX) http_conn_free(c);
        return;
    }
    if (c->deferred) {
        /* keep reading to notice the peer leaving, but only so far ahead */
        if (evbuffer_get_length(in) > PIPELINE_MAX) {
            c->paused = 1;
            bufferevent_disable(bev, EV_READ);
        }
        return;
    }
    conn_process(c);
}

static void on_write(struct bufferevent *bev, void *arg) {
    struct http_server_req *c = arg;
    if (c->closing) {
        if (c->eof) http_conn_free(c);
        else start_linger(c);
        return;
    }
    if (c->out_paused) {
        c->out_paused = 0;
        if (c->deferred) return;
        c->paused = 0;
        bufferevent_enable(bev, EV_READ);
        conn_process(c);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
    struct http_server_req *c = arg;
    int pending = evbuffer_get_length(bufferevent_get_output(bev)) > 0;
    if ((what & BEV_EVENT_EOF) && pending && !c->deferred) {
        /* a peer that half-closes after its requests still gets the answers */
        c->eof = 1;
        if (!c->closing) http_conn_close(c);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT)
        log_debug(c->srv->opt.module, "%s does not read its answer, closing", c->peer);
    conn_gone(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
    struct http_server_req *c = arg;
    enum http_timer mode = c->mode;
    c->mode = T_NONE;
    if (mode == T_NONE) return;
    if (mode == T_REQUEST) {
        http_conn_refuse(c, 408, "request not complete in time");
        return;
    }
    if (mode == T_IDLE && evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
        http_conn_arm(c, T_IDLE, c->srv->opt.idle_timeout_ms);   /* still reading answers */
        return;
    }
    if (mode == T_IDLE) log_debug(c->srv->opt.module, "%s idle, closing", c->peer);
    http_conn_free(c);
}

struct http_server_req *http_conn_new(struct http_server *s, evutil_socket_t fd) {
    struct http_server_req *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->srv = s;
    c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->timer = c->bev ? evtimer_new(s->base, on_timer, c) : NULL;
    if (!c->timer) {
        if (c->bev) bufferevent_free(c->bev);
        free(c);
        return NULL;
    }
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    int ms = s->opt.write_timeout_ms;
    struct timeval wt = { ms / 1000, (ms % 1000) * 1000 };
    bufferevent_set_timeouts(c->bev, NULL, &wt);
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    http_conn_arm(c, T_IDLE, s->opt.idle_timeout_ms);
    return c;
}

/* One non-blocking try (the bufferevent's own writes need the loop). */
static void flush_now(struct http_server_req *c) {
    struct evbuffer *out = bufferevent_get_output(c->bev);
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    struct evbuffer_iovec v[8];
    int n = evbuffer_peek(out, -1, NULL, v, 8);
    struct msghdr msg = { .msg_iov = (struct iovec *)v, .msg_iovlen = n < 8 ? (size_t)n : 8 };
    if (sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        log_debug(c->srv->opt.module, "%s: answer not flushed at exit", c->peer);
}

/* Frees every connection: answers already given go out if the socket takes them now
 * (the loop may not run again), a deferred request still connected gets its drop. */
void http_conn_free_all(struct http_server *s) {
    while (s->conns) {
        struct http_server_req *c = s->conns;
        if (c->bev && evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) flush_now(c);
        if (c->deferred && !c->replied && !c->gone) {
            release_bev(c);
            c->gone = c->in_drop = 1;
            if (c->drop) c->drop(c, c->drop_arg);
        }
        http_conn_free(c);
    }
}

struct bufferevent *http_server_take(struct http_server_req *c) {
    if (!c->in_handler || !c->bev) return NULL;
    struct bufferevent *bev = c->bev;
    c->bev = NULL;
    c->taken = c->replied = 1;
    bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
    bufferevent_set_timeouts(bev, NULL, NULL);
    return bev;
}

void http_server_defer(struct http_server_req *c,
                       void (*drop)(struct http_server_req *r, void *arg), void *arg) {
    if (c->replied || !c->in_handler) return;
    c->deferred = 1;
    c->drop = drop;
    c->drop_arg = arg;
}
