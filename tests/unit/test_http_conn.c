/* net/http_conn, through http_server, over real loopback sockets: keep-alive and
 * pipelining in order (deferred answers included), the server's own refusals (JSON, one
 * log line with the peer, connection closed, 413 decided before any body byte),
 * deadlines (a slowloris peer is dropped; bare CRLFs do not extend the idle one),
 * buffers released once answered, deferred answers after the peer left or the server
 * was freed, taking a connection over, Expect: 100-continue, HEAD, stop. ASan turns
 * any touch of a freed request into a failure. */
#include "test.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "net/http_server.h"
#include "test_http_fixture.h"

/* What the handler saw and what it is told to do. */
static struct {
    int calls, drops;
    char seen[8][256];              /* "METHOD path?query body" per call */
    char peer[64], header[64];
    int defer;                      /* defer every request */
    struct http_server_req *held[8];
    int nheld;
    struct bufferevent *taken;
} h;

static void on_drop(struct http_server_req *r, void *arg) { h.drops++; }

static void handler(struct http_server_req *r, void *arg) {
    size_t len;
    const char *body = http_server_req_body(r, &len);
    if (h.calls < 8)
        snprintf(h.seen[h.calls], sizeof h.seen[0], "%s %s?%s %.*s", http_server_req_method(r),
                 http_server_req_path(r), http_server_req_query(r), (int)len, body);
    h.calls++;
    snprintf(h.peer, sizeof h.peer, "%s", http_server_req_peer(r));
    const char *x = http_server_req_header(r, "x-test");
    snprintf(h.header, sizeof h.header, "%s", x ? x : "");
    const char *path = http_server_req_path(r);
    if (strcmp(path, "/take") == 0) {
        h.taken = http_server_take(r);
        evbuffer_add(bufferevent_get_output(h.taken), "TAKEN ", 6);
        evbuffer_add_buffer(bufferevent_get_output(h.taken), bufferevent_get_input(h.taken));
        return;
    }
    if (strcmp(path, "/silent") == 0) return;
    if (h.defer || strcmp(path, "/later") == 0) {
        http_server_defer(r, on_drop, NULL);
        if (h.nheld < 8) h.held[h.nheld++] = r;
        return;
    }
    char answer[300];
    int n = snprintf(answer, sizeof answer, "{\"n\":%d}", h.calls);
    http_server_reply_with(r, 200, "X-Extra: 1\r\n", NULL, answer, (size_t)n);
}

static struct http_server *start(size_t max_body, int idle_ms, int request_ms) {
    memset(&h, 0, sizeof h);
    struct http_server_options opt = {
        .module = "testhttp", .handler = handler, .max_body = max_body,
        .idle_timeout_ms = idle_ms, .request_timeout_ms = request_ms,
    };
    struct http_server *s = http_server_new(base, "127.0.0.1:0", &opt);
    CHECK(s != NULL);
    return s;
}

static void test_request_and_keep_alive(void) {
    struct http_server *s = start(100, 0, 0);
    int fd = client_connect(http_server_port(s));
    client_send(fd, "POST /a/b?x=1 HTTP/1.1\r\nHost: t\r\nX-Test:  yes \r\n"
                    "Content-Length: 5\r\n\r\nhello");
    char buf[4096];
    int closed;
    client_read(fd, buf, sizeof buf, strlen("{\"n\":1}") + 100, &closed, 5000);
    CHECK(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK_CONTAINS(buf, "Content-Type: application/json\r\n");
    CHECK_CONTAINS(buf, "Content-Length: 7\r\n");
    CHECK_CONTAINS(buf, "X-Extra: 1\r\n");
    CHECK_CONTAINS(buf, "Date: ");
    CHECK_NOT_CONTAINS(buf, "Connection: close");
    CHECK_CONTAINS(buf, "\r\n\r\n{\"n\":1}");
    CHECK_EQ_STR(h.seen[0], "POST /a/b?x=1 hello");
    CHECK_EQ_STR(h.header, "yes");
    CHECK(strncmp(h.peer, "127.0.0.1:", 10) == 0);
    /* the same connection serves the next one; HEAD gets no body */
    client_send(fd, "HEAD /c HTTP/1.1\r\nHost: t\r\n\r\n");
    size_t n = client_read(fd, buf, sizeof buf, 4096, &closed, 300);
    CHECK(n > 0 && strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK_CONTAINS(buf, "Content-Length: 7\r\n");
    CHECK_NOT_CONTAINS(buf, "{\"n\"");
    CHECK(!closed);
    CHECK_EQ_INT(h.calls, 2);
    close(fd);
    http_server_free(s);
}

static void test_pipelined_in_order(void) {
    struct http_server *s = start(100, 0, 0);
    int fd = client_connect(http_server_port(s));
    client_send(fd, "GET /1 HTTP/1.1\r\n\r\n\r\n"    /* a stray CRLF between requests is fine */
                    "POST /later HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"
                    "GET /3 HTTP/1.1\r\n\r\n");
    pump(100);
    client_send(fd, "GET /4 HTTP/1.1\r\nConnection: close\r\n\r\n");
    pump(100);
    /* /later is held: /3 and /4 must not have been read, let alone answered */
    CHECK_EQ_INT(h.calls, 2);
    CHECK_EQ_INT(h.nheld, 1);
    char buf[4096];
    int closed;
    client_read(fd, buf, sizeof buf, sizeof buf, &closed, 100);
    CHECK_CONTAINS(buf, "{\"n\":1}");
    CHECK_NOT_CONTAINS(buf, "late");
    http_server_reply(h.held[0], 200, "text/plain", "late", 4);
    int answers = read_all(fd, buf, sizeof buf, &closed);
    CHECK_EQ_INT(answers, 3);
    CHECK(closed);
    const char *late = strstr(buf, "late"), *three = strstr(buf, "{\"n\":3}");
    const char *four = strstr(buf, "{\"n\":4}");
    CHECK(late && three && four && late < three && three < four);
    CHECK_CONTAINS(buf, "Connection: close\r\n");
    CHECK_EQ_STR(h.seen[1], "POST /later? hi");
    CHECK_EQ_STR(h.seen[3], "GET /4? ");
    CHECK_EQ_INT(h.drops, 0);
    close(fd);
    http_server_free(s);
}

/* One refusal: status line, {"msg": msg}, the connection closed after it, one log line. */
static void expect_refusal(struct http_server *s, const char *req, int status, const char *msg) {
    int before = h.calls;
    char line[64], needle[160], body[160];
    snprintf(line, sizeof line, "HTTP/1.1 %d ", status);
    snprintf(needle, sizeof needle, "testhttp: refused %d from 127.0.0.1:", status);
    snprintf(body, sizeof body, "{\"msg\":\"%s\"}", msg);
    int logged = log_count(needle);
    int fd = client_connect(http_server_port(s));
    client_send(fd, req);
    char buf[4096];
    int closed;
    CHECK_EQ_INT(read_all(fd, buf, sizeof buf, &closed), 1);
    if (strncmp(buf, line, strlen(line)) != 0) fprintf(stderr, "got: %.60s\n", buf);
    CHECK(strncmp(buf, line, strlen(line)) == 0);
    CHECK_CONTAINS(buf, "Content-Type: application/json\r\n");
    CHECK_CONTAINS(buf, "Connection: close\r\n");
    CHECK_CONTAINS(buf, body);
    CHECK(closed);
    CHECK_EQ_INT(log_count(needle), logged + 1);
    CHECK_EQ_INT(h.calls, before);
    close(fd);
}

static void test_refusals(void) {
    struct http_server *s = start(1000, 0, 0);
    expect_refusal(s, "GARBAGE\r\n\r\n", 400, "malformed request line");
    expect_refusal(s, "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400, "malformed header name");
    expect_refusal(s, "GET / HTTP/2.0\r\n\r\n", 505, "HTTP version not supported");
    expect_refusal(s, "BREW / HTTP/1.1\r\n\r\n", 501, "method not implemented");
    expect_refusal(s, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
                   "\r\n", 501, "Transfer-Encoding not supported (send Content-Length)");
    /* 413 from Content-Length alone: the body is never sent, the answer still comes */
    expect_refusal(s, "POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n", 413, "body too large");
    char big[20000];
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nX: %0*d\r\n\r\n", 17000, 0);
    expect_refusal(s, big, 431, "request head too large");
    big[17000] = '\0';
    expect_refusal(s, big, 431, "request head too large");   /* no end of head in sight */
    int fd = client_connect(http_server_port(s));
    client_send(fd, "GET /silent HTTP/1.1\r\n\r\n");
    char buf[4096];
    int closed;
    client_read(fd, buf, sizeof buf, sizeof buf, &closed, 300);
    CHECK(strncmp(buf, "HTTP/1.1 500 ", 13) == 0);
    close(fd);
    http_server_free(s);
}

/* The peer keeps sending its (too large) body after the 413: it is discarded, and the
 * peer reads the answer instead of a reset. */
static void test_413_while_the_body_keeps_coming(void) {
    struct http_server *s = start(1000, 0, 0);
    int fd = client_connect(http_server_port(s));
    client_send(fd, "POST / HTTP/1.1\r\nContent-Length: 200000\r\n\r\n");
    char chunk[8193];
    memset(chunk, 'a', sizeof chunk - 1);
    chunk[sizeof chunk - 1] = '\0';
    for (int i = 0; i < 24; i++) {
        client_send(fd, chunk);
        pump(2);
    }
    char buf[4096];
    int closed;
    CHECK_EQ_INT(read_all(fd, buf, sizeof buf, &closed), 1);
    CHECK(strncmp(buf, "HTTP/1.1 413 ", 13) == 0);
    CHECK(closed);
    CHECK_EQ_INT(h.calls, 0);
    close(fd);
    http_server_free(s);
}

static void test_slowloris_dropped(void) {
    struct http_server *s = start(1000, 5000, 300);
    int fd = client_connect(http_server_port(s));
    const char *head = "POST / HTTP/1.1\r\nHost: t\r\nX-Slow: ";
    client_send(fd, head);
    /* a byte every 50 ms keeps a read timeout happy, not the request deadline */
    uint64_t start_ms = util_now_ms();
    char buf[4096];
    int closed = 0;
    size_t n = 0;
    while (!closed && util_now_ms() - start_ms < 5000) {
        client_send(fd, "a");
        n += client_read(fd, buf + n, sizeof buf - n, sizeof buf, &closed, 50);
    }
    CHECK(closed);
    CHECK(strncmp(buf, "HTTP/1.1 408 ", 13) == 0);
    CHECK_CONTAINS(buf, "{\"msg\":\"request not complete in time\"}");
    CHECK_EQ_INT(log_count("testhttp: refused 408 from 127.0.0.1:"), 1);
    close(fd);
    /* a body that never finishes: the same deadline */
    fd = client_connect(http_server_port(s));
    client_send(fd, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    CHECK_EQ_INT(read_all(fd, buf, sizeof buf, &closed), 1);
    CHECK(strncmp(buf, "HTTP/1.1 408 ", 13) == 0 && closed);
    close(fd);
    CHECK_EQ_INT(h.calls, 0);
    http_server_free(s);
}

static void test_idle_closed(void) {
    struct http_server *s = start(1000, 200, 5000);
    int fd = client_connect(http_server_port(s));
    char buf[256];
    int closed;
    size_t n = client_read(fd, buf, sizeof buf, sizeof buf, &closed, 3000);
    CHECK(closed);
    CHECK_EQ_INT(n, 0);                 /* nothing asked, nothing answered */
    close(fd);
    http_server_free(s);
}

/* Bare CRLFs are allowed between requests, but they are not a request: the idle
 * deadline set when the connection opened (or its last answer went out) still holds. */
static void test_crlf_drip_does_not_extend_idle(void) {
    struct http_server *s = start(1000, 300, 5000);
    for (int answered = 0; answered < 2; answered++) {
        int fd = client_connect(http_server_port(s));
        char buf[1024];
        int closed = 0;
        if (answered) {
            client_send(fd, "GET /first HTTP/1.1\r\n\r\n");
            client_read(fd, buf, sizeof buf, 60, &closed, 3000);
            CHECK(strncmp(buf, "HTTP/1.1 200 ", 13) == 0);
        }
        uint64_t start_ms = util_now_ms();
        while (!closed && util_now_ms() - start_ms < 5000) {
            client_send(fd, "\r\n");
            client_read(fd, buf, sizeof buf, sizeof buf, &closed, 50);
        }
        CHECK(closed);
        close(fd);
    }
    CHECK_EQ_INT(h.calls, 1);
    http_server_free(s);
}

static char *big_post(const char *path, size_t len) {
    char *req = malloc(len + 200);
    int n = snprintf(req, 200, "POST %s HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", path, len);
    memset(req + n, 'b', len);
    req[(size_t)n + len] = '\0';
    return req;
}

/* An idle keep-alive connection holds no buffer of the request it was answered. */
static void test_buffers_released(void) {
    struct http_server *s = start(200000, 0, 0);
    struct http_server_stats st;
    int fd = client_connect(http_server_port(s));
    char *req = big_post("/now", 100000);
    client_send(fd, req);
    char buf[1024];
    int closed;
    client_read(fd, buf, sizeof buf, 60, &closed, 3000);
    CHECK(strncmp(buf, "HTTP/1.1 200 ", 13) == 0);
    pump(20);
    http_server_stats(s, &st);
    CHECK_EQ_INT(st.connections, 1);
    CHECK_EQ_INT(st.bytes_held, 0);
    free(req);
    /* deferred: held while the answer is pending, released once it is given */
    req = big_post("/later", 100000);
    client_send(fd, req);
    PUMP_UNTIL(h.nheld == 1);
    http_server_stats(s, &st);
    CHECK(st.bytes_held >= 100000);
    http_server_reply(h.held[0], 200, NULL, "{}", 2);
    client_read(fd, buf, sizeof buf, 60, &closed, 3000);
    CHECK(strncmp(buf, "HTTP/1.1 200 ", 13) == 0);
    http_server_stats(s, &st);
    CHECK_EQ_INT(st.bytes_held, 0);
    CHECK_EQ_INT(st.connections, 1);
    free(req);
    close(fd);
    http_server_free(s);
}

/* The peer leaves while its answer is deferred: drop fires once, the late answer is
 * discarded and frees the request, the server goes on. */
static void test_deferred_after_peer_left(void) {
    struct http_server *s = start(1000, 0, 0);
    int fd = client_connect(http_server_port(s));
    client_send(fd, "GET /later HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\n\r\n");
    PUMP_UNTIL(h.nheld == 1);
    CHECK_EQ_INT(h.nheld, 1);
    close(fd);
    PUMP_UNTIL(h.drops == 1);
    CHECK_EQ_INT(h.drops, 1);
    CHECK_EQ_STR(http_server_req_path(h.held[0]), "/later");   /* still valid */
    http_server_reply(h.held[0], 200, NULL, "{}", 2);
    CHECK_EQ_INT(h.calls, 1);
    fd = client_connect(http_server_port(s));
    client_send(fd, "GET /again HTTP/1.1\r\nConnection: close\r\n\r\n");
    char buf[1024];
    int closed;
    CHECK_EQ_INT(read_all(fd, buf, sizeof buf, &closed), 1);
    CHECK(strncmp(buf, "HTTP/1.1 200 ", 13) == 0);
    close(fd);
    /* dropped and never answered: freed with the server */
    fd = client_connect(http_server_port(s));
    client_send(fd, "GET /later HTTP/1.1\r\n\r\n");
    PUMP_UNTIL(h.nheld == 2);
    close(fd);
    PUMP_UNTIL(h.drops == 2);
    CHECK_EQ_INT(h.drops, 2);
    http_server_free(s);
}

static void test_free_with_deferred(void) {
    struct http_server *s = start(1000, 0, 0);
    int fd = client_connect(http_server_port(s));
    client_send(fd, "GET /later HTTP/1.1\r\n\r\n");
    PUMP_UNTIL(h.nheld == 1);
    CHECK_EQ_INT(h.nheld, 1);
    http_server_free(s);
    CHECK_EQ_INT(h.drops, 1);
    char c;
    CHECK(recv(fd, &c, 1, 0) <= 0);     /* closed without an answer */
    close(fd);
}

static void test_take_over(void) {
    struct http_server *s = start(1000, 0, 0);
    int fd = client_connect(http_server_port(s));
    client_send(fd, "GET /take HTTP/1.1\r\nUpgrade: x\r\n\r\nAFTER");
    char buf[256];
    int closed;
    client_read(fd, buf, sizeof buf, 11, &closed, 3000);
    CHECK_EQ_STR(buf, "TAKEN AFTER");
    CHECK(h.taken != NULL);
    http_server_free(s);                /* the taken connection is not the server's */
    client_send(fd, "more");
    PUMP_UNTIL(evbuffer_get_length(bufferevent_get_input(h.taken)) == 4);
    CHECK_EQ_INT(evbuffer_get_length(bufferevent_get_input(h.taken)), 4);   /* ours now */
    bufferevent_free(h.taken);
    pump(10);
    close(fd);
}

static void test_expect_continue(void) {
    struct http_server *s = start(1000, 0, 0);
    int fd = client_connect(http_server_port(s));
    client_send(fd, "POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    char buf[1024];
    int closed;
    client_read(fd, buf, sizeof buf, 25, &closed, 3000);
    CHECK_EQ_STR(buf, "HTTP/1.1 100 Continue\r\n\r\n");
    client_send(fd, "data");
    client_read(fd, buf, sizeof buf, 100, &closed, 300);
    CHECK(strncmp(buf, "HTTP/1.1 200 ", 13) == 0);
    CHECK_EQ_STR(h.seen[0], "POST /up? data");
    close(fd);
    http_server_free(s);
}

static void test_http10(void) {
    struct http_server *s = start(1000, 0, 0);
    int fd = client_connect(http_server_port(s));
    client_send(fd, "GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    char buf[1024];
    int closed;
    client_read(fd, buf, sizeof buf, sizeof buf, &closed, 300);
    CHECK_CONTAINS(buf, "Connection: keep-alive\r\n");
    CHECK(!closed);
    client_send(fd, "GET /c HTTP/1.0\r\n\r\n");
    CHECK_EQ_INT(read_all(fd, buf, sizeof buf, &closed), 1);
    CHECK_CONTAINS(buf, "Connection: close\r\n");
    CHECK(closed);
    close(fd);
    http_server_free(s);
}

static void test_stop(void) {
    struct http_server *s = start(1000, 0, 0);
    int port = http_server_port(s);
    int fd = client_connect(port);
    client_send(fd, "GET /later HTTP/1.1\r\n\r\n");
    pump(50);
    http_server_stop(s);
    int refused = client_connect(port);
    CHECK(refused < 0);
    if (refused >= 0) close(refused);
    http_server_reply(h.held[0], 200, NULL, "{}", 2);
    client_send(fd, "GET /after-stop HTTP/1.1\r\nConnection: close\r\n\r\n");
    char buf[1024];
    int closed;
    CHECK_EQ_INT(read_all(fd, buf, sizeof buf, &closed), 2);
    close(fd);
    http_server_free(s);
}

static void test_bad_listen(void) {
    struct http_server_options opt = { .module = "testhttp", .handler = handler };
    CHECK(http_server_new(base, "nonsense", &opt) == NULL);
    CHECK(http_server_new(base, "127.0.0.1:99999", &opt) == NULL);
}

int main(void) {
    snprintf(log_path, sizeof log_path, "/tmp/test_http_server.%d.log", (int)getpid());
    unlink(log_path);
    log_setup(LOG_LEVEL_DEBUG, LOG_FORMAT_TEXT, log_path);
    base = event_base_new();
    RUN(test_request_and_keep_alive);
    RUN(test_pipelined_in_order);
    RUN(test_refusals);
    RUN(test_413_while_the_body_keeps_coming);
    RUN(test_slowloris_dropped);
    RUN(test_idle_closed);
    RUN(test_crlf_drip_does_not_extend_idle);
    RUN(test_buffers_released);
    RUN(test_deferred_after_peer_left);
    RUN(test_free_with_deferred);
    RUN(test_take_over);
    RUN(test_expect_continue);
    RUN(test_http10);
    RUN(test_stop);
    RUN(test_bad_listen);
    event_base_free(base);
    log_close();
    unlink(log_path);
    return test_report();
}
