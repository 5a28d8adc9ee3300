/* http_conn: one connection of http_server, from accept to close. Reads one request at
 * a time (pipelined bytes wait their turn), runs the handler, writes its answer, and
 * keeps three deadlines: idle (no request begun; bytes of nothing such as bare CRLFs do
 * not extend it), request (first byte to last byte, never extended) and write (a peer
 * that stops reading). Buffers are released once a request is answered.
 *
 * Reading is ours (recv into one flat buffer per request, taken from and given back to
 * a small pool of the set); the bufferevent only writes. Its reads would cost an ioctl
 * and a fresh evbuffer chain per request, a fifth of the server's own CPU per event. */
#include "net/http_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "base/log.h"

#define PIPELINE_MAX 65536      /* bytes read ahead while a request is being answered */
#define OUTPUT_MAX (1 << 20)    /* answers queued before the peer must read some */
#define LINGER_MS 2000          /* after the last answer: the peer's leftovers are discarded */
#define LINGER_MAX (1 << 20)
#define READ_MIN 4096           /* free input space asked for before each recv */
#define SPARE_MAX_CAP 65536     /* larger buffers go back to malloc, not to the pool */

static void conn_process(struct http_conn *c);

static void conn_arm(struct http_conn *c, enum http_conn_timer mode, int ms) {
    c->mode = mode;
    if (mode == HTTP_CONN_TIMER_NONE) {
        event_del(c->timer);
        return;
    }
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    event_add(c->timer, &tv);
}

/* A buffer of at least need bytes: the smallest of the set's pool that is big enough,
 * else a new one. */
static char *spare_take(struct http_conn_set *set, size_t need, size_t *cap) {
    int best = -1;
    for (int i = 0; i < set->nspare; i++)
        if (set->spare_cap[i] >= need && (best < 0 || set->spare_cap[i] < set->spare_cap[best]))
            best = i;
    if (best >= 0) {
        char *p = set->spare[best];
        *cap = set->spare_cap[best];
        set->nspare--;
        set->spare[best] = set->spare[set->nspare];
        set->spare_cap[best] = set->spare_cap[set->nspare];
        return p;
    }
    if (need < 1024) need = 1024;
    char *p = malloc(need);
    *cap = p ? need : 0;
    return p;
}

static void spare_give(struct http_conn_set *set, char *p, size_t cap) {
    if (!p) return;
    if (cap > SPARE_MAX_CAP || set->nspare == HTTP_CONN_SPARES) {
        free(p);
        return;
    }
    set->spare[set->nspare] = p;
    set->spare_cap[set->nspare++] = cap;
}

/* Grows *buf to hold need bytes, keeping its first keep bytes. */
static int reserve(struct http_conn_set *set, char **buf, size_t *cap, size_t need,
                   size_t keep) {
    if (need <= *cap) return 0;
    size_t ncap;
    char *p;
    if (need > SPARE_MAX_CAP) {
        ncap = need;
        p = malloc(ncap);
    } else {
        p = spare_take(set, need, &ncap);
    }
    if (!p) return -1;
    if (keep) memcpy(p, *buf, keep);
    spare_give(set, *buf, *cap);
    *buf = p;
    *cap = ncap;
    return 0;
}

static size_t in_len(const struct http_conn *c) { return c->in_end - c->in_start; }

static void in_clear(struct http_conn *c) { c->in_start = c->in_end = 0; }

static void read_pause(struct http_conn *c) {
    if (c->rev) event_del(c->rev);
}

static void read_resume(struct http_conn *c) {
    if (c->rev && !c->eof) event_add(c->rev, NULL);
}

/* bufferevent_free closes the socket from the loop, later; the peer should see the
 * end now. */
static void release_bev(struct http_conn *c) {
    if (c->rev) event_free(c->rev);
    c->rev = NULL;
    shutdown(bufferevent_getfd(c->bev), SHUT_RDWR);
    bufferevent_free(c->bev);
    c->bev = NULL;
    c->set->open--;
}

/* The request is answered: an idle connection keeps no buffer of it (its unread input,
 * pipelined requests, stays). */
static void release_buffers(struct http_conn *c) {
    struct http_conn_set *set = c->set;
    spare_give(set, c->head, c->head_cap);
    spare_give(set, c->body, c->body_cap);
    c->head = c->body = NULL;
    c->head_cap = c->body_cap = c->body_len = 0;
    if (!in_len(c)) {
        spare_give(set, c->in, c->in_cap);
        c->in = NULL;
        c->in_cap = 0;
        in_clear(c);
    }
}

static void conn_free(struct http_conn *c) {
    struct http_conn_set *set = c->set;
    if (c->prev) c->prev->next = c->next;
    else set->head = c->next;
    if (c->next) c->next->prev = c->prev;
    if (c->timer) event_free(c->timer);
    if (c->bev) release_bev(c);
    in_clear(c);
    release_buffers(c);
    free(c);
}

/* The peer is gone (or is being dropped). A deferred request outlives its connection
 * until it is answered: its owner may still hold it. */
static void conn_gone(struct http_conn *c) {
    if (!c->deferred || c->replied) {
        conn_free(c);
        return;
    }
    release_bev(c);
    event_free(c->timer);
    c->timer = NULL;
    c->gone = 1;
    log_debug(c->set->opt.module, "%s left before its answer", c->peer);
    if (c->drop) {
        c->in_drop = 1;
        c->drop(http_conn_handle(c), c->drop_arg);
        c->in_drop = 0;
    }
    if (c->replied) conn_free(c);
}

static void start_linger(struct http_conn *c) {
    shutdown(bufferevent_getfd(c->bev), SHUT_WR);
    read_resume(c);
    conn_arm(c, HTTP_CONN_TIMER_LINGER, LINGER_MS);
}

/* Answers are out (or going): discard input, close once flushed. */
static void conn_close(struct http_conn *c) {
    c->closing = 1;
    in_clear(c);
    if (!c->in_handler) release_buffers(c);     /* a handler may still read its request */
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
        conn_arm(c, HTTP_CONN_TIMER_NONE, 0);    /* the write timeout bounds the flush */
        return;
    }
    if (c->eof) conn_free(c);
    else start_linger(c);
}

/* Ready for the next request: the idle deadline starts now, once. */
static void conn_next(struct http_conn *c) {
    c->deferred = 0;
    c->head_len = 0;
    release_buffers(c);
    conn_arm(c, HTTP_CONN_TIMER_IDLE, c->set->opt.idle_timeout_ms);
}

/* A deferred request was answered (outside its handler): go on with the next one from
 * the loop, not from inside the answer. */
static void conn_resume(struct http_conn *c) {
    conn_next(c);
    if (c->paused) {
        c->paused = 0;
        read_resume(c);
    }
    if (in_len(c) > 0 && c->rev) event_active(c->rev, EV_READ, 0);
}

static const char *date_now(struct http_conn_set *set) {
    struct timeval tv;
    event_base_gettimeofday_cached(set->base, &tv);
    if (tv.tv_sec != set->date_at || !set->date[0]) {
        http_response_date(tv.tv_sec, set->date, sizeof set->date);
        set->date_at = tv.tv_sec;
    }
    return set->date;
}

/* Sent at once when nothing is queued before it (no wait for the loop, no EPOLLOUT
 * round trip); what the socket does not take goes to the bufferevent. */
static void write_answer(struct http_conn *c, int status, const char *headers,
                         const char *ctype, const char *body, size_t len) {
    struct evbuffer *out = bufferevent_get_output(c->bev);
    const struct http_request *q = &c->req;
    struct http_response r = {
        .status = status, .date = date_now(c->set), .ctype = ctype, .content_length = len,
        .connection = !q->keep_alive ? "close" : q->minor == 0 ? "keep-alive" : NULL,
        .headers = headers,
    };
    if (q->method && strcmp(q->method, "HEAD") == 0) body = NULL;
    size_t blen = body ? len : 0;
    char head[1024];
    size_t hlen = http_response_head(&r, head, sizeof head);
    if (hlen >= sizeof head || evbuffer_get_length(out) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_reserve_space(out, (ev_ssize_t)hlen + 1, &v, 1) < 1) return;
        v.iov_len = http_response_head(&r, v.iov_base, hlen + 1);
        evbuffer_commit_space(out, &v, 1);
        if (blen) evbuffer_add(out, body, blen);
        return;
    }
    struct iovec v[2] = { { head, hlen }, { (void *)body, blen } };
    struct msghdr msg = { .msg_iov = v, .msg_iovlen = blen ? 2 : 1 };
    ssize_t sent = sendmsg(bufferevent_getfd(c->bev), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    size_t done = sent > 0 ? (size_t)sent : 0;     /* errors: the bufferevent reports them */
    if (done < hlen) evbuffer_add(out, head + done, hlen - done);
    size_t bdone = done > hlen ? done - hlen : 0;
    if (bdone < blen) evbuffer_add(out, body + bdone, blen - bdone);
}

void http_conn_reply(struct http_conn *c, int status, const char *headers, const char *ctype,
                     const char *body, size_t len) {
    if (c->replied) return;
    c->replied = 1;
    if (c->gone) {
        log_debug(c->set->opt.module, "answer %d to %s dropped: the client is gone", status,
                  c->peer);
        /* inside the drop callback or http_server_free, the caller frees c */
        if (!c->in_drop) conn_free(c);
        return;
    }
    if (status < 200 || status > 599) status = 500;
    write_answer(c, status, headers, ctype, body, len);
    if (!c->req.keep_alive) conn_close(c);
    else if (c->deferred && !c->in_handler) conn_resume(c);
}

void http_conn_refuse(struct http_conn *c, int status, const char *headers, const char *msg) {
    if (c->replied) return;
    log_warn(c->set->opt.module, "refused %d from %s: %s", status, c->peer, msg);
    char body[320];
    size_t n = http_response_json_msg(msg, body, sizeof body);
    http_conn_reply(c, status, headers, "application/json", body, n);
}

/* The server's own refusal: what follows on this connection cannot be framed. */
static void refuse_and_close(struct http_conn *c, int status, const char *msg) {
    c->req.keep_alive = 0;
    c->req.method = NULL;
    c->replied = 0;
    if (status == 413)
        log_warn(c->set->opt.module, "refused 413 from %s: %s (limit %zu bytes)", c->peer, msg,
                 c->set->opt.max_body);
    else
        log_warn(c->set->opt.module, "refused %d from %s: %s", status, c->peer, msg);
    char body[320];
    size_t n = http_response_json_msg(msg, body, sizeof body);
    write_answer(c, status, NULL, "application/json", body, n);
    c->replied = 1;
    conn_close(c);
}

/* Clients may send stray CRLFs between requests (RFC 9112 2.2). */
static void skip_blank_lines(struct http_conn *c) {
    while (c->in_start < c->in_end && (c->in[c->in_start] == '\r' || c->in[c->in_start] == '\n'))
        c->in_start++;
}

/* 1 with the head parsed, 0 when it is not all in yet, -1 when refused (closing). */
static int read_head(struct http_conn *c) {
    if (!c->searched) skip_blank_lines(c);
    size_t len = in_len(c);
    if (!len) return 0;
    size_t from = c->searched > 3 ? c->searched - 3 : 0;
    const char *start = c->in + c->in_start;
    const char *end = memmem(start + from, len - from, "\r\n\r\n", 4);
    size_t n = end ? (size_t)(end - start) + 4 : len;
    if (n > HTTP_REQUEST_MAX_HEAD) {
        refuse_and_close(c, 431, "request head too large");
        return -1;
    }
    if (!end) {
        c->searched = len;
        return 0;
    }
    c->searched = 0;
    if (reserve(c->set, &c->head, &c->head_cap, n + 1, 0) < 0) {
        refuse_and_close(c, 503, "out of memory");
        return -1;
    }
    memcpy(c->head, start, n);
    c->in_start += n;
    c->head[n] = '\0';
    int status = http_request_parse(c->head, n, c->set->opt.max_body, &c->req);
    if (status) {
        refuse_and_close(c, status, c->req.error);
        return -1;
    }
    c->head_len = n;
    c->continued = 0;
    return 1;
}

/* 1 with the body in c->body, 0 when it is not all in yet, -1 when refused. */
static int read_body(struct http_conn *c) {
    size_t want = c->req.content_length;
    if (in_len(c) < want) {
        if (c->req.expect_continue && !c->continued && c->req.minor >= 1) {
            c->continued = 1;
            evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
        }
        return 0;
    }
    if (reserve(c->set, &c->body, &c->body_cap, want + 1, 0) < 0) {
        refuse_and_close(c, 503, "out of memory");
        return -1;
    }
    memcpy(c->body, c->in + c->in_start, want);
    c->in_start += want;
    c->body[want] = '\0';
    c->body_len = want;
    return 1;
}

/* Runs the handler; 1 when the connection can go on to the next request now. */
static int dispatch(struct http_conn *c) {
    const struct http_server_options *opt = &c->set->opt;
    c->in_handler = 1;
    c->replied = c->deferred = 0;
    c->drop = NULL;
    conn_arm(c, HTTP_CONN_TIMER_NONE, 0);   /* a deferred answer has no deadline here */
    opt->handler(http_conn_handle(c), opt->arg);
    c->in_handler = 0;
    if (c->taken) {
        conn_free(c);
        return 0;
    }
    if (!c->replied && !c->deferred) {
        log_error(opt->module, "no answer to %s %.200s from %s", c->req.method, c->req.path,
                  c->peer);
        http_conn_reply(c, 500, NULL, NULL, "{\"msg\":\"no answer\"}", 19);
    }
    if (c->closing) release_buffers(c);
    if (!c->replied || c->closing) return 0;
    conn_next(c);
    return 1;
}

static void conn_process(struct http_conn *c) {
    for (;;) {
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) > OUTPUT_MAX) {
            /* a peer pipelining without reading: wait for on_write */
            c->paused = c->out_paused = 1;
            read_pause(c);
            return;
        }
        int rc = c->head_len ? 1 : read_head(c);
        if (rc > 0) rc = read_body(c);
        if (rc < 0) return;
        if (rc == 0) break;
        if (!dispatch(c)) return;
    }
    /* The request deadline starts with a request's first byte and is never moved; the
     * idle one was armed when the last request was answered and stays where it is. */
    if ((c->head_len || in_len(c) > 0) && c->mode != HTTP_CONN_TIMER_REQUEST)
        conn_arm(c, HTTP_CONN_TIMER_REQUEST, c->set->opt.request_timeout_ms);
    if (!in_len(c) && !c->head_len && !c->in_handler && !c->deferred) release_buffers(c);
}

/* The peer sent its last byte (or reset): what bufferevent's EOF and error events did. */
static void conn_eof(struct http_conn *c, int error) {
    int pending = evbuffer_get_length(bufferevent_get_output(c->bev)) > 0;
    read_pause(c);
    if (!error && pending && !c->deferred) {
        /* a peer that half-closes after its requests still gets the answers */
        c->eof = 1;
        if (!c->closing) conn_close(c);
        return;
    }
    conn_gone(c);
}

/* Input bytes into c->in; 1 when some came, 0 when none are there, -1 at the end
 * (EOF or error, handled: c may be gone). */
static int read_some(struct http_conn *c) {
    size_t have = in_len(c);
    if (c->in_start && (!have || c->in_cap - c->in_end < READ_MIN)) {
        memmove(c->in, c->in + c->in_start, have);   /* unread bytes to the front */
        c->in_start = 0;
        c->in_end = have;
    }
    /* doubling: a large body is read in a few steps, not one copy per READ_MIN */
    if (c->in_cap - c->in_end < READ_MIN &&
        reserve(c->set, &c->in, &c->in_cap, c->in_end + READ_MIN > 2 * c->in_cap
                ? c->in_end + READ_MIN : 2 * c->in_cap, c->in_end) < 0) {
        log_warn(c->set->opt.module, "%s: out of memory reading a request", c->peer);
        conn_eof(c, 1);
        return -1;
    }
    ssize_t n = recv(bufferevent_getfd(c->bev), c->in + c->in_end, c->in_cap - c->in_end, 0);
    if (n > 0) {
        c->in_end += (size_t)n;
        return 1;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 0;
    conn_eof(c, n < 0);
    return -1;
}

static void on_read(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct http_conn *c = arg;
    if (c->closing) {
        size_t before = in_len(c);
        if (read_some(c) < 0) return;
        c->lingered += in_len(c) - before;
        in_clear(c);
        if (c->lingered > LINGER_MAX) conn_free(c);
        return;
    }
    if (read_some(c) < 0) return;
    if (c->deferred) {
        /* keep reading to notice the peer leaving, but only so far ahead */
        if (in_len(c) > PIPELINE_MAX) {
            c->paused = 1;
            read_pause(c);
        }
        return;
    }
    conn_process(c);
}

static void on_write(struct bufferevent *bev, void *arg) {
    struct http_conn *c = arg;
    if (c->closing) {
        if (c->eof) conn_free(c);
        else start_linger(c);
        return;
    }
    if (c->out_paused) {
        c->out_paused = 0;
        if (c->deferred) return;
        c->paused = 0;
        read_resume(c);
        conn_process(c);
    }
}

/* Only writing is left to the bufferevent: its events are write errors and timeouts. */
static void on_event(struct bufferevent *bev, short what, void *arg) {
    (void)bev;
    struct http_conn *c = arg;
    if (what & BEV_EVENT_TIMEOUT)
        log_debug(c->set->opt.module, "%s does not read its answer, closing", c->peer);
    conn_gone(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
    struct http_conn *c = arg;
    enum http_conn_timer mode = c->mode;
    c->mode = HTTP_CONN_TIMER_NONE;
    if (mode == HTTP_CONN_TIMER_NONE) return;
    if (mode == HTTP_CONN_TIMER_REQUEST) {
        refuse_and_close(c, 408, "request not complete in time");
        return;
    }
    if (mode == HTTP_CONN_TIMER_IDLE &&
        evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
        /* still reading answers */
        conn_arm(c, HTTP_CONN_TIMER_IDLE, c->set->opt.idle_timeout_ms);
        return;
    }
    if (mode == HTTP_CONN_TIMER_IDLE) log_debug(c->set->opt.module, "%s idle, closing", c->peer);
    conn_free(c);
}

void http_conn_format_addr(const struct sockaddr *sa, char *out, size_t len) {
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_UNIX) {
        snprintf(out, len, "unix");
        return;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        snprintf(out, len, "[%s]:%d", ip, ntohs(in6->sin6_port));
        return;
    }
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        port = ntohs(in->sin_port);
    }
    snprintf(out, len, "%s:%d", ip, port);
}

struct http_conn *http_conn_new(struct http_conn_set *set, evutil_socket_t fd,
                                const struct sockaddr *sa, socklen_t salen) {
    struct http_conn *c = calloc(1, sizeof *c);
    if (c) c->bev = bufferevent_socket_new(set->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (c && c->bev) c->timer = evtimer_new(set->base, on_timer, c);
    if (c && c->timer) c->rev = event_new(set->base, fd, EV_READ | EV_PERSIST, on_read, c);
    if (!c || !c->rev) {
        if (c && c->timer) event_free(c->timer);
        if (c && c->bev) bufferevent_free(c->bev);
        else evutil_closesocket(fd);
        free(c);
        return NULL;
    }
    c->set = set;
    set->open++;
    if ((size_t)salen <= sizeof c->addr) memcpy(&c->addr, sa, (size_t)salen);
    http_conn_format_addr(sa, c->peer, sizeof c->peer);
    c->next = set->head;
    if (set->head) set->head->prev = c;
    set->head = c;
    /* each answer is one write; Nagle would only delay the next pipelined one */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int ms = set->opt.write_timeout_ms;
    struct timeval wt = { ms / 1000, (ms % 1000) * 1000 };
    bufferevent_set_timeouts(c->bev, NULL, &wt);
    bufferevent_setcb(c->bev, NULL, on_write, on_event, c);
    bufferevent_enable(c->bev, EV_WRITE);
    event_add(c->rev, NULL);
    conn_arm(c, HTTP_CONN_TIMER_IDLE, set->opt.idle_timeout_ms);
    return c;
}

static int same_host(const struct sockaddr *a, const struct sockaddr *b) {
    if (a->sa_family != b->sa_family) return 0;
    if (a->sa_family == AF_INET)
        return ((const struct sockaddr_in *)(const void *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)(const void *)b)->sin_addr.s_addr;
    if (a->sa_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr, 16) == 0;
    return 0;
}

int http_conn_count_peer(const struct http_conn_set *set, const struct sockaddr *sa) {
    int n = 0;
    for (const struct http_conn *c = set->head; c; c = c->next)
        if (c->bev && same_host((const struct sockaddr *)&c->addr, sa)) n++;
    return n;
}

size_t http_conn_bytes_held(const struct http_conn_set *set) {
    size_t n = 0;
    for (const struct http_conn *c = set->head; c; c = c->next) {
        n += c->head_cap + c->body_cap + c->in_cap;
        if (c->bev) n += evbuffer_get_length(bufferevent_get_output(c->bev));
    }
    return n;
}

/* One non-blocking try (the bufferevent's own writes need the loop). */
static void flush_now(struct http_conn *c) {
    struct evbuffer *out = bufferevent_get_output(c->bev);
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    struct evbuffer_iovec v[8];
    int n = evbuffer_peek(out, -1, NULL, v, 8);
    struct msghdr msg = { .msg_iov = (struct iovec *)v, .msg_iovlen = n < 8 ? (size_t)n : 8 };
    if (sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        log_debug(c->set->opt.module, "%s: answer not flushed at exit", c->peer);
}

void http_conn_free_all(struct http_conn_set *set) {
    while (set->head) {
        struct http_conn *c = set->head;
        if (c->bev && evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) flush_now(c);
        if (c->deferred && !c->replied && !c->gone) {
            release_bev(c);
            c->gone = c->in_drop = 1;
            if (c->drop) c->drop(http_conn_handle(c), c->drop_arg);
        }
        conn_free(c);
    }
    while (set->nspare) free(set->spare[--set->nspare]);
}

/* The new owner reads with the bufferevent: bytes already read (a client that spoke
 * right after its upgrade request) go into its input first. */
struct bufferevent *http_conn_take(struct http_conn *c) {
    if (!c->in_handler || !c->bev) return NULL;
    struct bufferevent *bev = c->bev;
    if (in_len(c)) {
        /* a socket bufferevent keeps its input's end frozen between its own reads */
        struct evbuffer *in = bufferevent_get_input(bev);
        evbuffer_unfreeze(in, 0);
        int rc = evbuffer_add(in, c->in + c->in_start, in_len(c));
        evbuffer_freeze(in, 0);
        if (rc) return NULL;
    }
    in_clear(c);
    event_free(c->rev);
    c->rev = NULL;
    c->bev = NULL;
    c->set->open--;
    c->taken = c->replied = 1;
    bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
    bufferevent_set_timeouts(bev, NULL, NULL);
    bufferevent_enable(bev, EV_READ);   /* handed over reading, as the taker expects */
    return bev;
}

void http_conn_defer(struct http_conn *c, void (*drop)(struct http_server_req *r, void *arg),
                     void *arg) {
    if (c->replied || !c->in_handler) return;
    c->deferred = 1;
    c->drop = drop;
    c->drop_arg = arg;
}
