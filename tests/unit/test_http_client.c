/* http_client against an in-process evhttp server on 127.0.0.1 (plain and TLS). */
#include "net/http_client.h"

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/dns.h>
#include <stdio.h>

#include "base/util.h"
#include "net/http_allow.h"
#include "test.h"
#include "test_tls.h"
#include "net/http_parser.h"

static struct event_base *base;
static int port, tls_port;
static unsigned short peer_ports[16];
static int n_peers;
static struct evhttp_request *held;

struct result {
    int done, status, code;
    char error[128], body[256], header[64];
    size_t body_len;
};

static void on_done(void *arg, const struct http_client_response *res) {
    struct result *r = arg;
    r->done++;
    r->status = res->status;
    r->code = res->code;
    snprintf(r->error, sizeof r->error, "%s", res->error ? res->error : "");
    snprintf(r->body, sizeof r->body, "%s", res->body);
    r->body_len = res->body_len;
    const char *h = http_client_header(res, "x-test");
    snprintf(r->header, sizeof r->header, "%s", h ? h : "");
}

static void note_peer(struct evhttp_request *req) {
    char *addr;
    ev_uint16_t p;
    evhttp_connection_get_peer(evhttp_request_get_connection(req), &addr, &p);
    for (int i = 0; i < n_peers; i++)
        if (peer_ports[i] == p) return;
    if (n_peers < 16) peer_ports[n_peers++] = p;
}

static void serve(struct evhttp_request *req, void *arg) {
    const char *uri = evhttp_request_get_uri(req);
    struct evbuffer *out = evbuffer_new();
    note_peer(req);
    if (strcmp(uri, "/hello") == 0) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "X-Test", "yes");
        evbuffer_add_printf(out, "hello");
        evhttp_send_reply(req, 200, "OK", out);
    } else if (strcmp(uri, "/echo") == 0) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        evbuffer_add_printf(out, "%d:", evhttp_request_get_command(req));
        evbuffer_add_buffer(out, in);
        evhttp_send_reply(req, 201, "Created", out);
    } else if (strcmp(uri, "/chunked") == 0 || strcmp(uri, "/bigchunked") == 0) {
        evhttp_send_reply_start(req, 200, "OK");
        for (int i = 0; i < (uri[1] == 'b' ? 100 : 3); i++) {
            evbuffer_add_printf(out, uri[1] == 'b' ? "%01000d" : "%c%c", 'a' + 2 * i, 'b' + 2 * i);
            evhttp_send_reply_chunk(req, out);
        }
        evhttp_send_reply_end(req);
    } else if (strcmp(uri, "/big") == 0) {
        char big[100000];
        memset(big, 'x', sizeof big);
        evbuffer_add(out, big, sizeof big);
        evhttp_send_reply(req, 200, "OK", out);
    } else if (strcmp(uri, "/hang") == 0) {
        held = req;
    } else {
        evhttp_send_reply(req, 404, "Not Found", out);
    }
    evbuffer_free(out);
}

static int bound_port(struct evhttp_bound_socket *s) {
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    getsockname(evhttp_bound_socket_get_fd(s), (struct sockaddr *)&sin, &len);
    return ntohs(sin.sin_port);
}

static void tick(evutil_socket_t fd, short what, void *arg) {}

static void wait_done(struct result *r, int n) {
    uint64_t deadline = util_now_ms() + 8000;
    while (r->done < n && util_now_ms() < deadline) event_base_loop(base, EVLOOP_ONCE);
}

static struct http_call *get(struct http_client *c, const char *url, struct result *r,
                             int timeout_ms, size_t max) {
    memset(r, 0, sizeof *r);
    struct http_client_request req = { .method = "GET", .url = url, .timeout_ms = timeout_ms,
                                       .max_response = max };
    return http_client_request(c, &req, on_done, r);
}

static void test_get_and_keep_alive(void) {
    struct http_client *c = http_client_new(base, NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hello", port);
    n_peers = 0;
    for (int i = 0; i < 3; i++) {
        struct result r;
        CHECK(get(c, url, &r, 0, 0) != NULL);
        CHECK_EQ_INT(r.done, 0);           /* never called back before returning */
        wait_done(&r, 1);
        CHECK_EQ_INT(r.done, 1);
        CHECK_EQ_INT(r.status, 200);
        CHECK_EQ_STR(r.body, "hello");
        CHECK_EQ_INT(r.body_len, 5);
        CHECK_EQ_STR(r.header, "yes");
    }
    CHECK_EQ_INT(n_peers, 1);               /* one connection carried all three */
    http_client_free(c);
}

static void test_post_body(void) {
    struct http_client *c = http_client_new(base, NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/echo", port);
    const char *hdrs[] = { "Content-Type", "application/json", "locale", "zh", NULL };
    struct http_client_request req = { .method = "POST", .url = url, .headers = hdrs,
                                       .body = "{\"a\":1}", .body_len = 7 };
    struct result r = { 0 };
    CHECK(http_client_request(c, &req, on_done, &r) != NULL);
    wait_done(&r, 1);
    CHECK_EQ_INT(r.status, 201);
    CHECK_EQ_STR(r.body, "2:{\"a\":1}");     /* EVHTTP_REQ_POST == 2 */
    http_client_free(c);
}

static void test_chunked(void) {
    struct http_client *c = http_client_new(base, NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/chunked", port);
    struct result r;
    get(c, url, &r, 0, 0);
    wait_done(&r, 1);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.body, "abcdef");
    http_client_free(c);
}

static void test_size_bound(void) {
    struct http_client *c = http_client_new(base, NULL);
    char url[128];
    struct result r;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/big", port);
    get(c, url, &r, 0, 50000);
    wait_done(&r, 1);
    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_STR(r.error, "response too large");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/bigchunked", port);
    get(c, url, &r, 0, 50000);
    wait_done(&r, 1);
    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_STR(r.error, "response too large");
    get(c, url, &r, 0, 200000);
    wait_done(&r, 1);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(r.body_len, 100000);
    http_client_free(c);
}

static void test_timeout_and_cancel(void) {
    struct http_client *c = http_client_new(base, NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hang", port);
    struct result r;
    get(c, url, &r, 300, 0);
    wait_done(&r, 1);
    CHECK_EQ_INT(r.done, 1);
    CHECK_EQ_STR(r.error, "timeout");
    if (held) evhttp_send_reply(held, 200, "OK", NULL);
    held = NULL;

    struct result r2;
    struct http_call *call = get(c, url, &r2, 300, 0);
    CHECK(call != NULL);
    http_call_cancel(call);
    uint64_t until = util_now_ms() + 600;
    while (util_now_ms() < until) event_base_loop(base, EVLOOP_ONCE);
    CHECK_EQ_INT(r2.done, 0);
    if (held) evhttp_send_reply(held, 200, "OK", NULL);
    held = NULL;

    /* A call still in flight when the client goes: done never runs, nothing leaks. */
    struct result r3;
    get(c, url, &r3, 5000, 0);
    http_client_free(c);
    CHECK_EQ_INT(r3.done, 0);
    event_base_loop(base, EVLOOP_NONBLOCK);
    if (held) evhttp_send_reply(held, 200, "OK", NULL);
    held = NULL;
}

static void test_errors(void) {
    struct http_client *c = http_client_new(base, NULL);
    struct result r;
    CHECK(get(c, "ftp://x/", &r, 0, 0) == NULL);
    CHECK(get(c, "http://", &r, 0, 0) == NULL);
    CHECK(get(c, "http://a b/", &r, 0, 0) == NULL);
    CHECK(get(c, "http://h:99999/", &r, 0, 0) == NULL);
    /* Nothing listens on port 1. */
    CHECK(get(c, "http://127.0.0.1:1/", &r, 0, 0) != NULL);
    wait_done(&r, 1);
    CHECK_EQ_INT(r.status, 0);
    CHECK(r.error[0] != '\0');
    /* A header value with CRLF would smuggle a second header: refused. */
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hello", port);
    const char *hdrs[] = { "X-A", "v\r\nX-B: evil", NULL };
    struct http_client_request req = { .method = "GET", .url = url, .headers = hdrs };
    memset(&r, 0, sizeof r);
    CHECK(http_client_request(c, &req, on_done, &r) != NULL);
    wait_done(&r, 1);
    CHECK_EQ_STR(r.error, "invalid request header");
    http_client_free(c);
}

static SSL_CTX *server_ctx;

static struct bufferevent *tls_bevcb(struct event_base *b, void *arg) {
    return bufferevent_openssl_socket_new(b, -1, SSL_new(server_ctx), BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
}

static void tls_case(const char *san, const char *host, int trust, const char *expect_error) {
    struct test_tls tls;
    test_tls_init(&tls, san);
    server_ctx = tls.server;

    struct evhttp *https = evhttp_new(base);
    evhttp_set_bevcb(https, tls_bevcb, NULL);
    evhttp_set_gencb(https, serve, NULL);
    tls_port = bound_port(evhttp_bind_socket_with_handle(https, "127.0.0.1", 0));

    struct http_client *c = http_client_new(base, trust ? tls.ca_path : NULL);
    char url[128];
    snprintf(url, sizeof url, "https://%s:%d/hello", host, tls_port);
    struct result r;
    get(c, url, &r, 3000, 0);
    wait_done(&r, 1);
    if (expect_error) {
        CHECK_EQ_INT(r.status, 0);
        CHECK_CONTAINS(r.error, expect_error);
        fprintf(stderr, "  %s via %s, trusted=%d: %s\n", san, host, trust, r.error);
    } else {
        CHECK_EQ_INT(r.status, 200);
        CHECK_EQ_STR(r.body, "hello");
        CHECK_EQ_STR(r.error, "");
    }
    http_client_free(c);
    evhttp_free(https);
    test_tls_free(&tls);
}

static void test_tls(void) {
    tls_case("IP:127.0.0.1", "127.0.0.1", 1, NULL);
    tls_case("IP:127.0.0.1", "127.0.0.1", 0, "certificate verify failed");
    tls_case("DNS:other.example", "127.0.0.1", 1, "certificate verify failed");
}

static void test_missing_ca_file(void) {
    CHECK(http_client_new(base, "/nonexistent/ca.pem") == NULL);
}

static int parse(const char *text, size_t len, size_t max_body, int eof, struct http_parser *p) {
    http_parser_init(p, max_body, 0);
    struct evbuffer *in = evbuffer_new();
    int rc = HTTP_PARSER_MORE;
    /* byte by byte: every incremental path runs */
    for (size_t i = 0; i < len && rc == HTTP_PARSER_MORE; i++) {
        evbuffer_add(in, text + i, 1);
        rc = http_parser_feed(p, in);
    }
    if (rc == HTTP_PARSER_MORE && eof) rc = http_parser_eof(p);
    evbuffer_free(in);
    return rc;
}

static void test_parser(void) {
    struct http_parser p;
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
                               "Content-Length: 2\r\n\r\nhi";
    CHECK_EQ_INT(parse(cont, sizeof cont - 1, 100, 0, &p), HTTP_PARSER_DONE);
    CHECK_EQ_INT(p.status, 200);
    CHECK_EQ_INT(p.keep_alive, 1);
    http_parser_free(&p);
    static const char eof[] = "HTTP/1.0 200 OK\r\nX-A:  spaced value \r\n\r\nto the end";
    CHECK_EQ_INT(parse(eof, sizeof eof - 1, 100, 1, &p), HTTP_PARSER_DONE);
    CHECK_EQ_STR(http_parser_header(&p, "x-a"), "spaced value");
    CHECK_EQ_INT(evbuffer_get_length(p.body), 10);
    CHECK_EQ_INT(p.keep_alive, 0);
    http_parser_free(&p);
    static const char close[] = "HTTP/1.1 204 No Content\r\nConnection: keep-alive, Close\r\n\r\n";
    CHECK_EQ_INT(parse(close, sizeof close - 1, 100, 0, &p), HTTP_PARSER_DONE);
    CHECK_EQ_INT(p.keep_alive, 0);
    http_parser_free(&p);
    static const char *const bad[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",          /* then EOF */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(parse(bad[i], strlen(bad[i]), 100, 1, &p), HTTP_PARSER_ERROR);
        CHECK(p.error != NULL);
        http_parser_free(&p);
    }
    static const char nul[] = "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n";
    CHECK_EQ_INT(parse(nul, sizeof nul - 1, 100, 0, &p), HTTP_PARSER_ERROR);
    http_parser_free(&p);
    char big[HTTP_PARSER_MAX_LINE + 64];
    memset(big, 'a', sizeof big);
    memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
    CHECK_EQ_INT(parse(big, sizeof big, 100, 0, &p), HTTP_PARSER_ERROR);
    CHECK_EQ_STR(p.error, "response line too long");
    http_parser_free(&p);
}

/* A server that answers the first request of a connection (keep-alive) and closes the
 * connection, unread, when a second one comes: what an idle-timeout race looks like. */
static int stale_conns, stale_open;

static void stale_read(struct bufferevent *bev, void *arg) {
    int *served = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0) return;
    evbuffer_drain(in, (size_t)end.pos + 4);
    if ((*served)++ == 0) {
        bufferevent_write(bev, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 40);
        return;
    }
    bufferevent_free(bev);
    free(served);
    stale_open--;
}

static void stale_event(struct bufferevent *bev, short what, void *arg) {
    bufferevent_free(bev);
    free(arg);
    stale_open--;
}

static void stale_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                         int len, void *arg) {
    struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    stale_conns++;
    stale_open++;
    bufferevent_setcb(bev, stale_read, NULL, stale_event, calloc(1, sizeof(int)));
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void test_stale_keep_alive_is_retried_once(void) {
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
    struct evconnlistener *l = evconnlistener_new_bind(base, stale_accept, NULL,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1, (struct sockaddr *)&sin, sizeof sin);
    struct sockaddr_in bound;
    socklen_t blen = sizeof bound;
    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&bound, &blen);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", ntohs(bound.sin_port));
    struct http_client *c = http_client_new(base, NULL);
    stale_conns = 0;
    for (int i = 0; i < 3; i++) {
        struct result r;
        get(c, url, &r, 3000, 0);
        wait_done(&r, 1);
        CHECK_EQ_INT(r.status, 200);
        CHECK_EQ_STR(r.body, "ok");
    }
    CHECK_EQ_INT(stale_conns, 3);     /* each reuse failed unread, each retry a new one */
    http_client_free(c);
    uint64_t until = util_now_ms() + 3000;
    while (stale_open > 0 && util_now_ms() < until) event_base_loop(base, EVLOOP_ONCE);
    evconnlistener_free(l);
}

static void on_ready(void *arg) { (*(int *)arg)++; }

/* Reads a streaming call to its end; the bytes read, -1 when it failed. */
static long read_stream(struct http_call *call, int *ready) {
    char buf[700];
    long total = 0;
    uint64_t deadline = util_now_ms() + 8000;
    for (;;) {
        size_t n;
        int rc = http_call_read(call, buf, sizeof buf, &n);
        if (rc == HTTP_CALL_DATA) total += (long)n;
        else if (rc == HTTP_CALL_END) return total;
        else if (rc == HTTP_CALL_FAILED) return -1;
        else if (util_now_ms() > deadline) return -2;
        else {
            int before = *ready;
            http_call_wait(call, on_ready, ready);
            while (*ready == before && util_now_ms() < deadline) event_base_loop(base, EVLOOP_ONCE);
        }
    }
}

static void test_stream(void) {
    struct http_client *c = http_client_new(base, NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/bigchunked", port);
    struct http_client_request req = { .method = "GET", .url = url, .stream = 1 };
    struct result r = { 0 };
    int ready = 0;
    struct http_call *call = http_client_request(c, &req, on_done, &r);
    wait_done(&r, 1);
    CHECK_EQ_INT(r.status, 200);         /* done came with the head */
    CHECK_EQ_INT(r.body_len, 0);
    CHECK_EQ_INT(read_stream(call, &ready), 100000);
    CHECK(ready > 0);
    http_call_cancel(call);
    /* the body bound holds for a stream too: what came is readable, then FAILED */
    memset(&r, 0, sizeof r);
    req.max_response = 5000;
    call = http_client_request(c, &req, on_done, &r);
    wait_done(&r, 1);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(read_stream(call, &ready), -1);
    enum http_client_error code;
    CHECK_CONTAINS(http_call_error(call, &code), "too large");
    CHECK_EQ_INT(code, HTTP_CLIENT_E_TOO_LARGE);
    http_call_cancel(call);
    /* closed before the body ended: nothing leaks, nothing calls back */
    memset(&r, 0, sizeof r);
    req.max_response = 0;
    call = http_client_request(c, &req, on_done, &r);
    wait_done(&r, 1);
    http_call_wait(call, on_ready, &ready);
    http_call_cancel(call);
    event_base_loop(base, EVLOOP_NONBLOCK);
    http_client_free(c);
}

static int no_internal(void *arg, const struct sockaddr *sa) {
    (*(int *)arg)++;
    return !http_allow_addr_internal(sa);
}

static int any_address(void *arg, const struct sockaddr *sa) {
    (*(int *)arg)++;
    return 1;
}

/* Names resolved through the client's resolver (a hosts file here), then checked. */
static void test_checked_addresses(void) {
    char hosts[] = "/tmp/larkgw-hosts-XXXXXX";
    int fd = mkstemp(hosts);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "127.0.0.1 api.internal.test\n::ffff:127.0.0.1 mapped.internal.test\n");
    fclose(f);
    struct http_client *c = http_client_new(base, NULL);
    CHECK_EQ_INT(evdns_base_load_hosts(http_client_dns(c), hosts), 0);
    const char *names[] = { "api.internal.test", "mapped.internal.test", "127.0.0.1" };
    for (size_t i = 0; i < 3; i++) {
        char url[128];
        snprintf(url, sizeof url, "http://%s:%d/hello", names[i], port);
        int checked = 0;
        struct http_client_request req = { .method = "GET", .url = url,
                                           .check_addr = no_internal, .check_arg = &checked };
        struct result r = { 0 };
        CHECK(http_client_request(c, &req, on_done, &r) != NULL);
        CHECK_EQ_INT(r.done, 0);
        wait_done(&r, 1);
        CHECK_EQ_INT(r.status, 0);
        CHECK_EQ_INT(r.code, HTTP_CLIENT_E_ADDRESS);
        CHECK(checked >= 1);
    }
    char url[128];
    snprintf(url, sizeof url, "http://api.internal.test:%d/hello", port);
    int checked = 0;
    struct http_client_request req = { .method = "GET", .url = url,
                                       .check_addr = any_address, .check_arg = &checked };
    struct result r = { 0 };
    http_client_request(c, &req, on_done, &r);
    wait_done(&r, 1);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.body, "hello");
    CHECK_EQ_INT(checked, 1);
    /* cancelled while resolving: the resolver's answer goes nowhere */
    snprintf(url, sizeof url, "http://nonexistent.invalid:%d/hello", port);
    memset(&r, 0, sizeof r);
    http_call_cancel(http_client_request(c, &req, on_done, &r));
    http_client_free(c);
    event_base_loop(base, EVLOOP_NONBLOCK);
    CHECK_EQ_INT(r.done, 0);
    unlink(hosts);
}

static void test_error_codes(void) {
    struct http_client *c = http_client_new(base, NULL);
    struct result r;
    get(c, "http://127.0.0.1:1/", &r, 0, 0);
    wait_done(&r, 1);
    CHECK_EQ_INT(r.code, HTTP_CLIENT_E_CONNECT);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/big", port);
    get(c, url, &r, 0, 1000);
    wait_done(&r, 1);
    CHECK_EQ_INT(r.code, HTTP_CLIENT_E_TOO_LARGE);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hang", port);
    get(c, url, &r, 100, 0);
    wait_done(&r, 1);
    CHECK_EQ_INT(r.code, HTTP_CLIENT_E_TIMEOUT);
    get(c, url, &r, 0, 0);
    CHECK_EQ_INT(r.code, HTTP_CLIENT_OK);
    http_client_free(c);
    if (held) evhttp_send_reply(held, 200, "OK", NULL);
    held = NULL;
}

int main(void) {
    base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    evhttp_set_gencb(http, serve, NULL);
    port = bound_port(evhttp_bind_socket_with_handle(http, "127.0.0.1", 0));
    struct event *t = event_new(base, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = { 0, 20000 };
    event_add(t, &tv);
    RUN(test_get_and_keep_alive);
    RUN(test_post_body);
    RUN(test_chunked);
    RUN(test_size_bound);
    RUN(test_timeout_and_cancel);
    RUN(test_errors);
    RUN(test_tls);
    RUN(test_missing_ca_file);
    RUN(test_parser);
    RUN(test_stale_keep_alive_is_retried_once);
    RUN(test_stream);
    RUN(test_checked_addresses);
    RUN(test_error_codes);
    event_free(t);
    evhttp_free(http);
    event_base_free(base);
    return test_report();
}
