#include "net/http_client.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
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
    int head, reused, retried, got_bytes, in_done;
    char error[256];
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
    struct http_response res;
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

/* A reused connection may have been closed by the server while idle: when it fails
 * before a single response byte, the request never ran; try once more on a new one. */
static int call_retry(struct http_call *call) {
    if (!call->reused || call->retried || call->got_bytes) return 0;
    call->retried = 1;
    call->reused = 0;
    conn_free(call->conn);
    call->conn = NULL;
    http_parser_free(&call->parser);
    if (http_parser_init(&call->parser, call->max_response, call->head)) return 0;
    return call_connect(call) == 0;
}

static void call_on_read(struct bufferevent *bev, void *arg) {
    struct http_call *call = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (evbuffer_get_length(in)) call->got_bytes = 1;
    int rc = http_parser_feed(&call->parser, in);
    if (rc == HTTP_PARSER_DONE) call_finish(call, NULL);
    else if (rc == HTTP_PARSER_ERROR) call_finish(call, call->parser.error);
}

static void call_on_event(struct bufferevent *bev, short what, void *arg) {
    struct http_call *call = arg;
    if (what & BEV_EVENT_CONNECTED) {
        net_set_nodelay(bev);
        call_send(call);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        struct evbuffer *in = bufferevent_get_input(bev);
        if (evbuffer_get_length(in)) call->got_bytes = 1;
        int rc = http_parser_feed(&call->parser, in);     /* bytes that came with the FIN */
        if (rc == HTTP_PARSER_MORE && call->got_bytes) rc = http_parser_eof(&call->parser);
        if (rc == HTTP_PARSER_DONE) {
            call->parser.keep_alive = 0;
            call_finish(call, NULL);
            return;
        }
        if (rc == HTTP_PARSER_ERROR) {
            call_finish(call, call->parser.error);
            return;
        }
    }
    if (call_retry(call)) return;
    net_error_describe(bev, what, call->error, sizeof call->error);
    call_finish(call, call->error);
}

static int call_connect(struct http_call *call) {
    struct http_client *c = call->c;
    struct hc_conn *conn = idle_take(c, call->key);
    if (conn) {
        call->reused = 1;
    } else {
        conn = calloc(1, sizeof *conn);
        if (!conn) {
            snprintf(call->error, sizeof call->error, "out of memory");
            return -1;
        }
        conn->c = c;
        snprintf(conn->key, sizeof conn->key, "%s", call->key);
        conn->bev = net_connect(c->base, c->dns, c->tls, &call->url, call->error,
                                sizeof call->error);
        if (!conn->bev) {
            free(conn);
            return -1;
        }
    }
    call->conn = conn;
    bufferevent_setcb(conn->bev, call_on_read, NULL, call_on_event, call);
    if (call->reused) call_send(call);
    return 0;
}

static void call_on_timer(evutil_socket_t fd, short what, void *arg) {
    struct http_call *call = arg;
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
    if (!ok) snprintf(call->error, sizeof call->error, "invalid request header");
    return 0;
}

struct http_call *http_client_request(struct http_client *c, const struct http_client_request *req,
                                      http_done_fn done, void *arg) {
    struct http_call *call = calloc(1, sizeof *call);
    if (!call) return NULL;
    call->c = c;
    call->done = done;
    call->arg = arg;
    call->max_response = req->max_response ? req->max_response : HC_DEFAULT_MAX_RESPONSE;
    call->head = req->method && strcmp(req->method, "HEAD") == 0;
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
    int ms = req->timeout_ms > 0 ? req->timeout_ms : HC_DEFAULT_TIMEOUT_MS;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    /* Failures to start are reported from the loop, so done never runs re-entrantly. */
    if (call->error[0] || call_connect(call)) tv.tv_sec = tv.tv_usec = 0;
    evtimer_add(call->timer, &tv);
    return call;
}

void http_call_cancel(struct http_call *call) {
    if (!call || call->in_done) return;
    call_unlink(call);
    call_free(call);
}

void http_client_free(struct http_client *c) {
    if (!c) return;
    while (c->calls) http_call_cancel(c->calls);
    while (c->idle) {
        struct hc_conn *conn = c->idle;
        idle_remove(c, conn);
        conn_free(conn);
    }
    if (c->dns) evdns_base_free(c->dns, 0);
    SSL_CTX_free(c->tls);
    free(c);
}

const char *http_response_header(const struct http_response *res, const char *name) {
    return res->priv ? http_parser_header(res->priv, name) : NULL;
}

SSL_CTX *http_client_tls(struct http_client *c) { return c->tls; }
struct evdns_base *http_client_dns(struct http_client *c) { return c->dns; }
