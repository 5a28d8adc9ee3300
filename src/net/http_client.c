#include "net/http_client.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/util.h"
#include "net/http_parser.h"
#include "net/net.h"

#define HC_DEFAULT_TIMEOUT_MS 10000
#define HC_DEFAULT_MAX_RESPONSE (4u << 20)
#define HC_IDLE_TIMEOUT_S 30
#define HC_MAX_IDLE_PER_HOST 4
#define HC_MAX_IDLE 32
#define NO_CLOSE_NOTIFY "connection closed without TLS close_notify: the body may be truncated"
#define HC_STREAM_HIGH (256u << 10)  /* unread streamed bytes before we stop reading */

/* A connection: busy with one call, or idle in the client's pool. */
struct hc_conn {
    struct http_client *c;
    struct bufferevent *bev;
    char key[300];                 /* "tls|host|port": what may reuse it */
    struct hc_conn *next;          /* idle list */
};

struct http_call {
    struct http_client *c;
    struct http_call *prev, *next;
    struct net_url url;
    char key[300];
    char *request;
    size_t request_len;
    http_done_fn done;
    void *arg;
    struct hc_conn *conn;
    struct event *timer;
    struct http_parser parser;
    size_t max_response;
    int timeout_ms;
    int head, reused, retried, got_bytes, in_done, starting, connected;
    enum http_client_error code;
    char error[256];
    int (*check_addr)(void *arg, const struct sockaddr *sa);
    void *check_arg;
    struct evdns_getaddrinfo_request *resolving;
    /* streaming */
    int stream, head_sent, ended, failed, closed, paused;
    void (*ready)(void *arg);
    void *ready_arg;
};

struct http_client {
    struct event_base *base;
    struct evdns_base *dns;
    SSL_CTX *tls;
    struct http_call *calls;
    struct hc_conn *idle;
    int n_idle;
};

struct http_client *http_client_new(struct event_base *base, const char *ca_file) {
    struct http_client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->base = base;
    c->tls = net_tls_ctx_new(ca_file);
    if (!c->tls) {
        free(c);
        return NULL;
    }
    /* Without a resolver, bufferevent falls back to a blocking getaddrinfo: refuse. */
    c->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
    if (!c->dns) {
        log_error("http", "cannot set up the DNS resolver (see /etc/resolv.conf)");
        SSL_CTX_free(c->tls);
        free(c);
        return NULL;
    }
    return c;
}

static void conn_free(struct hc_conn *conn) {
    if (!conn) return;
    bufferevent_free(conn->bev);
    free(conn);
}

static void idle_remove(struct http_client *c, struct hc_conn *conn) {
    for (struct hc_conn **pp = &c->idle; *pp; pp = &(*pp)->next)
        if (*pp == conn) {
            *pp = conn->next;
            c->n_idle--;
            return;
        }
}

static void idle_on_read(struct bufferevent *bev, void *arg) {
    struct hc_conn *conn = arg;       /* unsolicited bytes: the connection is unusable */
    idle_remove(conn->c, conn);
    conn_free(conn);
}

static void idle_on_event(struct bufferevent *bev, short what, void *arg) {
    struct hc_conn *conn = arg;
    idle_remove(conn->c, conn);
    conn_free(conn);
}

static void idle_put(struct http_client *c, struct hc_conn *conn) {
    int same = 0;
    for (struct hc_conn *i = c->idle; i; i = i->next) same += strcmp(i->key, conn->key) == 0;
    if (same >= HC_MAX_IDLE_PER_HOST || c->n_idle >= HC_MAX_IDLE) {
        conn_free(conn);
        return;
    }
    struct timeval tv = { HC_IDLE_TIMEOUT_S, 0 };
    bufferevent_setcb(conn->bev, idle_on_read, NULL, idle_on_event, conn);
    bufferevent_set_timeouts(conn->bev, &tv, NULL);
    bufferevent_enable(conn->bev, EV_READ);
    conn->next = c->idle;
    c->idle = conn;
    c->n_idle++;
}

static struct hc_conn *idle_take(struct http_client *c, const char *key) {
    for (struct hc_conn *i = c->idle; i; i = i->next)
        if (strcmp(i->key, key) == 0) {
            idle_remove(c, i);
            bufferevent_set_timeouts(i->bev, NULL, NULL);
            return i;
        }
    return NULL;
}

static void call_unlink(struct http_call *call) {
    struct http_client *c = call->c;
    if (call->prev) call->prev->next = call->next;
    else if (c->calls == call) c->calls = call->next;
    if (call->next) call->next->prev = call->prev;
    call->prev = call->next = NULL;
}

static void call_free(struct http_call *call) {
    if (call->resolving) {
        struct evdns_getaddrinfo_request *r = call->resolving;
        call->resolving = NULL;
        evdns_getaddrinfo_cancel(r);   /* its callback runs now, with EAI_CANCEL */
    }
    if (call->timer) event_free(call->timer);
    conn_free(call->conn);
    http_parser_free(&call->parser);
    net_url_free(&call->url);
    /* Requests carry secrets (Authorization, app_secret): clear before freeing. */
    if (call->request) memset(call->request, 0, call->request_len);
    free(call->request);
    free(call);
}

/* Ends a call: the connection goes back to the pool when the response left it clean,
 * then done runs with the call already out of the client (so done may free it). */
static void call_finish(struct http_call *call, const char *error) {
    struct http_client_response res;
    memset(&res, 0, sizeof res);
    call_unlink(call);
    event_del(call->timer);
    if (!error && call->parser.keep_alive && call->conn &&
        evbuffer_get_length(bufferevent_get_input(call->conn->bev)) == 0) {
        idle_put(call->c, call->conn);
        call->conn = NULL;
    }
    conn_free(call->conn);
    call->conn = NULL;
    if (error) {
        res.error = error;
        res.body = "";
        res.code = call->code ? call->code : HTTP_CLIENT_E_CONNECT;
    } else {
        evbuffer_add(call->parser.body, "", 1);
        res.status = call->parser.status;
        res.body_len = evbuffer_get_length(call->parser.body) - 1;
        res.body = (const char *)evbuffer_pullup(call->parser.body, -1);
        res.priv = &call->parser;
    }
    call->in_done = 1;
    call->done(call->arg, &res);
    call_free(call);
}

static void call_send(struct http_call *call) {
    struct bufferevent *bev = call->conn->bev;
    bufferevent_write(bev, call->request, call->request_len);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void call_on_read(struct bufferevent *bev, void *arg);
static void call_on_event(struct bufferevent *bev, short what, void *arg);
static int call_connect(struct http_call *call);

/* A failure before a single response byte: while the call is starting, it is only
 * recorded (http_client_request reports it from the loop); later it ends the call. */
static void call_fail(struct http_call *call, enum http_client_error code, const char *msg) {
    call->code = code;
    if (msg != call->error) snprintf(call->error, sizeof call->error, "%s", msg);
    if (!call->starting) call_finish(call, call->error);
}

/* What a failed connection's description means. */
static enum http_client_error classify(const struct http_call *call, const char *what) {
    if (strncmp(what, "dns", 3) == 0) return HTTP_CLIENT_E_DNS;
    if (strncmp(what, "tls", 3) == 0) return HTTP_CLIENT_E_TLS;
    if (strcmp(what, "timeout") == 0) return HTTP_CLIENT_E_TIMEOUT;
    return call->connected ? HTTP_CLIENT_E_CLOSED : HTTP_CLIENT_E_CONNECT;
}

static enum http_client_error parser_code(const struct http_parser *p) {
    return strstr(p->error, "too large") ? HTTP_CLIENT_E_TOO_LARGE
           : strstr(p->error, "connection closed") ? HTTP_CLIENT_E_CLOSED
                                                    : HTTP_CLIENT_E_PROTOCOL;
}

/* A reused connection may have been closed by the server while idle: when it fails
 * before a single response byte, the request never ran; try once more on a new one. */
static int call_retry(struct http_call *call) {
    if (!call->reused || call->retried || call->got_bytes) return 0;
    call->retried = 1;
    call->reused = 0;
    conn_free(call->conn);
    call->conn = NULL;
    http_parser_free(&call->parser);
    call->starting = 1;
    if (http_parser_init(&call->parser, call->max_response, call->head))
        call_fail(call, HTTP_CLIENT_E_CONNECT, "out of memory");
    else
        call_connect(call);
    call->starting = 0;
    if (call->error[0]) call_finish(call, call->error);
    return 1;
}

static void arm_timer(struct http_call *call) {
    struct timeval tv = { call->timeout_ms / 1000, (call->timeout_ms % 1000) * 1000 };
    evtimer_add(call->timer, &tv);
}

/* Tells the streaming reader something changed; the last thing a callback does, since
 * the reader may cancel (free) the call. */
static void stream_notify(struct http_call *call) {
    void (*ready)(void *) = call->ready;
    call->ready = NULL;
    if (ready) ready(call->ready_arg);
}

/* The body of a streaming call broke off: what was read stays readable, then FAILED. */
static void stream_fail(struct http_call *call, enum http_client_error code, const char *msg) {
    call->failed = 1;
    call->code = code;
    if (msg != call->error) snprintf(call->error, sizeof call->error, "%s", msg);
    event_del(call->timer);
    conn_free(call->conn);
    call->conn = NULL;
    stream_notify(call);
}

/* The head is in: done runs with it; 1 when done closed the call (it is freed). */
static int stream_head(struct http_call *call) {
    struct http_client_response res;
    memset(&res, 0, sizeof res);
    res.status = call->parser.status;
    res.body = "";
    res.priv = &call->parser;
    call->head_sent = 1;
    call->in_done = 1;
    call->done(call->arg, &res);
    call->in_done = 0;
    if (!call->closed) return 0;
    call_unlink(call);
    call_free(call);
    return 1;
}

/* After a parser step of a streaming call. */
static void stream_step(struct http_call *call, int rc) {
    if (rc == HTTP_PARSER_ERROR && !call->head_sent) {
        call->code = parser_code(&call->parser);
        call_finish(call, call->parser.error);
        return;
    }
    if (!call->head_sent && !http_parser_headers_done(&call->parser)) return;
    if (!call->head_sent && stream_head(call)) return;
    if (rc == HTTP_PARSER_ERROR) {
        stream_fail(call, parser_code(&call->parser), call->parser.error);
        return;
    }
    if (rc == HTTP_PARSER_DONE) {
        call->ended = 1;
        event_del(call->timer);
        if (call->parser.keep_alive && call->conn &&
            evbuffer_get_length(bufferevent_get_input(call->conn->bev)) == 0)
            idle_put(call->c, call->conn);
        else
            conn_free(call->conn);
        call->conn = NULL;
    } else {
        arm_timer(call);               /* the timeout bounds each silence */
        if (evbuffer_get_length(call->parser.body) > HC_STREAM_HIGH && call->conn) {
            bufferevent_disable(call->conn->bev, EV_READ);
            call->paused = 1;
        }
    }
    stream_notify(call);
}

static void call_on_read(struct bufferevent *bev, void *arg) {
    struct http_call *call = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (evbuffer_get_length(in)) call->got_bytes = 1;
    int rc = http_parser_feed(&call->parser, in);
    if (call->stream) {
        stream_step(call, rc);
    } else if (rc == HTTP_PARSER_DONE) {
        call_finish(call, NULL);
    } else if (rc == HTTP_PARSER_ERROR) {
        call->code = parser_code(&call->parser);
        call_finish(call, call->parser.error);
    }
}

/* The peer closed: a body running to the end of the connection is whole only when the
 * close was orderly, and over TLS that takes close_notify (a bare TCP close could be
 * anyone's, mid-body). */
static int on_eof(struct http_call *call, struct bufferevent *bev) {
    struct evbuffer *in = bufferevent_get_input(bev);
    if (evbuffer_get_length(in)) call->got_bytes = 1;
    int rc = http_parser_feed(&call->parser, in);     /* bytes that came with the FIN */
    if (rc != HTTP_PARSER_MORE || !call->got_bytes) return rc;
    if (call->url.tls && http_parser_until_eof(&call->parser)) {
        SSL *ssl = bufferevent_openssl_get_ssl(bev);
        if (!ssl || !(SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN)) {
            call->parser.error = NO_CLOSE_NOTIFY;
            return HTTP_PARSER_ERROR;
        }
    }
    return http_parser_eof(&call->parser);
}

static void call_on_event(struct bufferevent *bev, short what, void *arg) {
    struct http_call *call = arg;
    if (what & BEV_EVENT_CONNECTED) {
        call->connected = 1;
        net_set_nodelay(bev);
        call_send(call);
        return;
    }
    int rc = (what & BEV_EVENT_EOF) ? on_eof(call, bev) : HTTP_PARSER_MORE;
    if (rc == HTTP_PARSER_DONE) call->parser.keep_alive = 0;
    if (call->stream && rc != HTTP_PARSER_MORE) {
        stream_step(call, rc);
        return;
    }
    if (rc == HTTP_PARSER_DONE) {
        call_finish(call, NULL);
        return;
    }
    if (rc == HTTP_PARSER_ERROR) {
        call->code = parser_code(&call->parser);
        call_finish(call, call->parser.error);
        return;
    }
    if (!call->head_sent && call_retry(call)) return;
    net_error_describe(bev, what, call->error, sizeof call->error);
    if (call->url.tls && http_parser_until_eof(&call->parser)) {
        /* OpenSSL reports a TCP close without close_notify as an error of its own */
        snprintf(call->error, sizeof call->error, "%s", NO_CLOSE_NOTIFY);
    }
    if (call->head_sent) stream_fail(call, classify(call, call->error), call->error);
    else call_fail(call, classify(call, call->error), call->error);
}

static struct hc_conn *conn_new(struct http_call *call) {
    struct hc_conn *conn = calloc(1, sizeof *conn);
    if (!conn) return NULL;
    conn->c = call->c;
    snprintf(conn->key, sizeof conn->key, "%s", call->key);
    return conn;
}

static void call_attach(struct http_call *call, struct hc_conn *conn) {
    call->conn = conn;
    bufferevent_setcb(conn->bev, call_on_read, NULL, call_on_event, call);
    if (call->reused) call_send(call);
}

static void set_port(struct sockaddr *sa, int port) {
    if (sa->sa_family == AF_INET) ((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
    else if (sa->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
}

/* The resolver's answer for a checked call: connect to the first acceptable address. */
static void on_resolved(int result, struct evutil_addrinfo *ai, void *arg) {
    struct http_call *call = arg;
    if (result == EVUTIL_EAI_CANCEL) return;          /* call_free is cancelling */
    call->resolving = NULL;
    if (result) {
        char msg[200];
        snprintf(msg, sizeof msg, "dns: %s", evutil_gai_strerror(result));
        call_fail(call, HTTP_CLIENT_E_DNS, msg);
        return;
    }
    struct evutil_addrinfo *use = NULL;
    for (struct evutil_addrinfo *i = ai; i && !use; i = i->ai_next)
        if (call->check_addr(call->check_arg, i->ai_addr)) use = i;
    struct hc_conn *conn = use ? conn_new(call) : NULL;
    if (use && conn) {
        set_port(use->ai_addr, call->url.port);
        conn->bev = net_connect_addr(call->c->base, call->c->tls, &call->url, use->ai_addr,
                                     (int)use->ai_addrlen, call->error, sizeof call->error);
    }
    evutil_freeaddrinfo(ai);
    if (!use) {
        call_fail(call, HTTP_CLIENT_E_ADDRESS, "the host resolves to an internal address");
    } else if (!conn || !conn->bev) {
        free(conn);
        call_fail(call, HTTP_CLIENT_E_CONNECT, conn ? call->error : "out of memory");
    } else {
        call_attach(call, conn);
    }
}

static int call_resolve(struct http_call *call) {
    struct evutil_addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    /* may answer at once (an address literal, a failure): on_resolved then ran already */
    struct evdns_getaddrinfo_request *r =
        evdns_getaddrinfo(call->c->dns, call->url.host, NULL, &hints, on_resolved, call);
    call->resolving = r;
    return call->error[0] ? -1 : 0;
}

static int call_connect(struct http_call *call) {
    struct http_client *c = call->c;
    struct hc_conn *conn = idle_take(c, call->key);
    if (conn) {
        call->reused = call->connected = 1;
        call_attach(call, conn);
        return 0;
    }
    call->connected = 0;
    if (call->check_addr) return call_resolve(call);
    conn = conn_new(call);
    if (!conn) {
        call_fail(call, HTTP_CLIENT_E_CONNECT, "out of memory");
        return -1;
    }
    conn->bev = net_connect(c->base, c->dns, c->tls, &call->url, call->error,
                            sizeof call->error);
    if (!conn->bev) {
        free(conn);
        call_fail(call, HTTP_CLIENT_E_CONNECT, call->error);
        return -1;
    }
    call_attach(call, conn);
    return 0;
}

static void call_on_timer(evutil_socket_t fd, short what, void *arg) {
    struct http_call *call = arg;
    if (call->head_sent) {
        stream_fail(call, HTTP_CLIENT_E_TIMEOUT, "timeout");
        return;
    }
    if (!call->error[0]) call->code = HTTP_CLIENT_E_TIMEOUT;
    call_finish(call, call->error[0] ? call->error : "timeout");
}

static int header_ok(const char *s) {
    return s && !strpbrk(s, "\r\n");
}

/* Serialises the request; -1 when a header name or value could split the request. */
static int call_build(struct http_call *call, const struct http_client_request *req) {
    struct evbuffer *b = evbuffer_new();
    if (!b) return -1;
    char authority[300];
    net_url_authority(&call->url, authority, sizeof authority);
    evbuffer_add_printf(b, "%s %s HTTP/1.1\r\nHost: %s\r\n", req->method, call->url.target,
                        authority);
    int ok = header_ok(req->method) && !strchr(req->method, ' '), has_ua = 0;
    for (const char *const *h = req->headers; h && h[0] && ok; h += 2) {
        ok = header_ok(h[0]) && header_ok(h[1]) && *h[0] && !strchr(h[0], ':');
        has_ua |= strcasecmp(h[0], "user-agent") == 0;
        evbuffer_add_printf(b, "%s: %s\r\n", h[0], h[1] ? h[1] : "");
    }
    if (!has_ua) evbuffer_add_printf(b, "User-Agent: larkgw/%s\r\n", LARKGW_VERSION);
    if (req->body || strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0 ||
        strcmp(req->method, "PATCH") == 0)
        evbuffer_add_printf(b, "Content-Length: %zu\r\n", req->body ? req->body_len : 0);
    evbuffer_add(b, "\r\n", 2);
    if (req->body && req->body_len) evbuffer_add(b, req->body, req->body_len);
    call->request_len = evbuffer_get_length(b);
    call->request = malloc(call->request_len);
    if (call->request) evbuffer_remove(b, call->request, call->request_len);
    evbuffer_free(b);
    if (!call->request) return -1;
    if (!ok) {
        snprintf(call->error, sizeof call->error, "invalid request header");
        call->code = HTTP_CLIENT_E_REQUEST;
    }
    return 0;
}

struct http_call *http_client_request(struct http_client *c,
                                      const struct http_client_request *req,
                                      http_done_fn done, void *arg) {
    struct http_call *call = calloc(1, sizeof *call);
    if (!call) return NULL;
    call->c = c;
    call->done = done;
    call->arg = arg;
    call->max_response = req->max_response ? req->max_response : HC_DEFAULT_MAX_RESPONSE;
    call->head = req->method && strcmp(req->method, "HEAD") == 0;
    call->stream = req->stream;
    call->check_addr = req->check_addr;
    call->check_arg = req->check_arg;
    if (!req->method || net_url_parse(req->url, &call->url) ||
        http_parser_init(&call->parser, call->max_response, call->head) ||
        !(call->timer = evtimer_new(c->base, call_on_timer, call)) || call_build(call, req)) {
        call_free(call);
        return NULL;
    }
    snprintf(call->key, sizeof call->key, "%d|%s|%d", call->url.tls, call->url.host,
             call->url.port);
    call->next = c->calls;
    if (c->calls) c->calls->prev = call;
    c->calls = call;
    call->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : HC_DEFAULT_TIMEOUT_MS;
    /* Failures to start are reported from the loop, so done never runs re-entrantly. */
    call->starting = 1;
    if (!call->error[0]) call_connect(call);
    call->starting = 0;
    if (call->error[0]) {
        struct timeval now = { 0, 0 };
        evtimer_add(call->timer, &now);
    } else {
        arm_timer(call);
    }
    return call;
}

void http_call_cancel(struct http_call *call) {
    if (!call) return;
    if (call->in_done) {
        call->closed = call->stream;   /* a streaming call is freed once done returns */
        return;
    }
    call_unlink(call);
    call_free(call);
}

int http_call_read(struct http_call *call, char *buf, size_t cap, size_t *n) {
    int got = evbuffer_remove(call->parser.body, buf, cap);
    *n = got > 0 ? (size_t)got : 0;
    if (call->paused && call->conn &&
        evbuffer_get_length(call->parser.body) < HC_STREAM_HIGH / 2) {
        call->paused = 0;
        bufferevent_enable(call->conn->bev, EV_READ);
    }
    if (*n) {
        if (!call->ended && !call->failed) arm_timer(call);
        return HTTP_CALL_DATA;
    }
    return call->ended ? HTTP_CALL_END : call->failed ? HTTP_CALL_FAILED : HTTP_CALL_WAIT;
}

void http_call_wait(struct http_call *call, void (*ready)(void *arg), void *arg) {
    call->ready = ready;
    call->ready_arg = arg;
}

const char *http_call_error(const struct http_call *call, enum http_client_error *code) {
    if (code) *code = call->code;
    return call->error;
}

void http_client_close_idle(struct http_client *c) {
    while (c->idle) {
        struct hc_conn *conn = c->idle;
        idle_remove(c, conn);
        conn_free(conn);
    }
}

void http_client_free(struct http_client *c) {
    if (!c) return;
    while (c->calls) {
        struct http_call *call = c->calls;
        call_unlink(call);
        call_free(call);
    }
    http_client_close_idle(c);
    if (c->dns) evdns_base_free(c->dns, 0);
    SSL_CTX_free(c->tls);
    free(c);
}

const char *http_client_header(const struct http_client_response *res, const char *name) {
    return res->priv ? http_parser_header(res->priv, name) : NULL;
}

void http_client_foreach_header(const struct http_client_response *res,
                                  void (*fn)(void *arg, const char *name, const char *value),
                                  void *arg) {
    const struct http_parser *p = res->priv;
    for (size_t off = 0; p && off < p->hdr_len;) {
        const char *n = p->hdr + off, *v = n + strlen(n) + 1;
        off = (size_t)(v + strlen(v) + 1 - p->hdr);
        fn(arg, n, v);
    }
}

SSL_CTX *http_client_tls(struct http_client *c) { return c->tls; }
struct evdns_base *http_client_dns(struct http_client *c) { return c->dns; }
