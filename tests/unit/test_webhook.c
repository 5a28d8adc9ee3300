/* ingress/webhook over real loopback sockets with a fake dispatcher, so the tests
 * control when (and whether) the reply comes: after the client left, after
 * webhook_stop, after webhook_free. ASan turns any touch of a freed request into a
 * failure. Working directory: tests/. */
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "event/dispatch.h"
#include "ingress/webhook.h"

/* The fake dispatcher: records the submission, answers at once unless told to hold. */
static struct {
    int submits;
    char json[4096];
    size_t len;
    unsigned flags;
    int hold;
    event_reply_fn reply;
    void *arg;
    int status;
    const char *body;
} fake;

void dispatcher_submit(struct dispatcher *d, const char *json, size_t len, unsigned flags,
                       event_reply_fn reply, void *arg) {
    fake.submits++;
    fake.len = len < sizeof fake.json ? len : sizeof fake.json - 1;
    memcpy(fake.json, json, fake.len);
    fake.json[fake.len] = '\0';
    fake.flags = flags;
    if (fake.hold) {
        fake.reply = reply;
        fake.arg = arg;
        return;
    }
    reply(arg, fake.status, fake.body, strlen(fake.body));
}

static void fake_reset(void) {
    memset(&fake, 0, sizeof fake);
    fake.status = 200;
    fake.body = "{\"msg\":\"success\"}";
}

static void fake_release(int status, const char *body) {
    event_reply_fn reply = fake.reply;
    fake.reply = NULL;
    reply(fake.arg, status, body, strlen(body));
}

static char *fixture(const char *name, size_t *len) {
    char path[256];
    snprintf(path, sizeof path, "data/webhook/%s", name);
    char *s = util_read_file(path, 1 << 20, len);
    if (!s) { fprintf(stderr, "cannot read %s (cwd must be tests/)\n", path); exit(1); }
    return s;
}

static struct event_base *base;

static void pump(int ms) {
    uint64_t end = util_now_ms() + (uint64_t)ms;
    while (util_now_ms() < end) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
}

/* Runs the loop until cond holds, for 5 s at most (the CHECK after it then fails). */
#define PUMP_UNTIL(cond) do { uint64_t end_ = util_now_ms() + 5000; \
    while (!(cond) && util_now_ms() < end_) pump(1); } while (0)

static int client_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void client_send(int fd, const char *data, size_t len) {
    while (len) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0) return;
        data += n;
        len -= (size_t)n;
    }
}

static void send_post(int fd, const char *path, const char *headers, const char *body, size_t len) {
    char head[1024];
    int n = snprintf(head, sizeof head, "POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n"
                     "%s\r\n", path, len, headers);
    client_send(fd, head, (size_t)n);
    client_send(fd, body, len);
}

struct resp {
    int status;
    char headers[2048];
    char body[4096];
};

/* Pumps the loop while reading one response; 0 when complete within the bound. */
static int read_response(int fd, struct resp *r, int timeout_ms) {
    char buf[8192];
    size_t have = 0;
    uint64_t end = util_now_ms() + (uint64_t)timeout_ms;
    memset(r, 0, sizeof *r);
    while (util_now_ms() < end) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        ssize_t n = recv(fd, buf + have, sizeof buf - 1 - have, MSG_DONTWAIT);
        if (n > 0) have += (size_t)n;
        else if (n == 0) return -1;
        buf[have] = '\0';
        char *eoh = strstr(buf, "\r\n\r\n");
        if (eoh) {
            const char *cl = strcasestr(buf, "Content-Length: ");
            size_t blen = cl ? strtoul(cl + 16, NULL, 10) : 0;
            if (have >= (size_t)(eoh + 4 - buf) + blen) {
                sscanf(buf, "HTTP/1.%*d %d", &r->status);
                snprintf(r->headers, sizeof r->headers, "%.*s", (int)(eoh - buf), buf);
                snprintf(r->body, sizeof r->body, "%.*s", (int)blen, eoh + 4);
                return 0;
            }
        }
        if (n < 0) {
            struct timespec ts = { 0, 1000000 };
            nanosleep(&ts, NULL);
        }
    }
    return -1;
}

/* What the gateway would pass: the config's defaults for the listen path. */
static struct webhook_options options(const char *key, int max_skew) {
    struct webhook_options opt = {
        .listen = "127.0.0.1:0",
        .path = "/webhook/event",
        .verification_token = "v-token-7c1e",
        .encrypt_key = key,
        .max_body = 4096,
        .max_skew_s = max_skew,
    };
    return opt;
}

static struct webhook *start(const char *key, int max_skew) {
    struct webhook_options opt = options(key, max_skew);
    fake_reset();
    struct webhook *w = webhook_new(base, &opt, NULL);
    CHECK(w != NULL);
    return w;
}

static void stop(struct webhook *w) {
    webhook_free(w);
}

static const char *sig_headers =
    "X-Lark-Request-Timestamp: 1732406400\r\nX-Lark-Request-Nonce: 13579\r\n"
    "X-Lark-Signature: aefdd2ff1cd30faf8c119558fdc177c30789bf33940000aa1e7926b32c8120e1\r\n";

static void test_signed_event_reaches_dispatcher(void) {
    struct webhook *w = start("test-encrypt-key-9f3a", 0);
    size_t blen, plen;
    char *body = fixture("event.encrypted.body", &blen), *plain = fixture("event.plain.json", &plen);
    int fd = client_connect(webhook_port(w));
    send_post(fd, "/webhook/event", sig_headers, body, blen);
    struct resp r;
    CHECK_EQ_INT(read_response(fd, &r, 5000), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.body, "{\"msg\":\"success\"}");
    CHECK(strcasestr(r.headers, "Content-Type: application/json") != NULL);
    CHECK_EQ_INT(fake.submits, 1);
    CHECK_EQ_STR(fake.json, plain);
    CHECK_EQ_INT(fake.flags, 0);
    /* keep-alive: the same connection serves the next request */
    fake.status = 500;
    fake.body = "{\"msg\":\"handler failed\"}";
    send_post(fd, "/webhook/event", sig_headers, body, blen);
    CHECK_EQ_INT(read_response(fd, &r, 5000), 0);
    CHECK_EQ_INT(r.status, 500);
    CHECK_EQ_STR(r.body, "{\"msg\":\"handler failed\"}");
    close(fd);
    free(body);
    free(plain);
    stop(w);
}

static void expect(struct webhook *w, const char *req, size_t len, int status, const char *body_part) {
    int fd = client_connect(webhook_port(w));
    client_send(fd, req, len);
    struct resp r;
    CHECK_EQ_INT(read_response(fd, &r, 5000), 0);
    if (r.status != status) fprintf(stderr, "request %.40s...: %d %s\n", req, r.status, r.body);
    CHECK_EQ_INT(r.status, status);
    if (body_part) CHECK_CONTAINS(r.body, body_part);
    close(fd);
}

static void test_refusals(void) {
    struct webhook *w = start("test-encrypt-key-9f3a", 300);
    size_t blen;
    char *body = fixture("event.encrypted.body", &blen);
    char req[8192];
    int n = snprintf(req, sizeof req, "POST /webhook/event HTTP/1.1\r\nHost: t\r\n"
                     "Content-Length: %zu\r\n%s\r\n%s", blen, sig_headers, body);
    expect(w, req, (size_t)n, 401, "stale");
    n = snprintf(req, sizeof req, "POST /other HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}");
    expect(w, req, (size_t)n, 404, NULL);
    n = snprintf(req, sizeof req, "GET /webhook/event HTTP/1.1\r\nHost: t\r\n\r\n");
    int fd = client_connect(webhook_port(w));
    client_send(fd, req, (size_t)n);
    struct resp r;
    CHECK_EQ_INT(read_response(fd, &r, 5000), 0);
    CHECK_EQ_INT(r.status, 405);
    CHECK(strcasestr(r.headers, "Allow: POST") != NULL);
    CHECK(strcasestr(r.headers, "Content-Type: application/json") != NULL);
    close(fd);
    n = snprintf(req, sizeof req, "POST /webhook/event HTTP/1.1\r\nHost: t\r\n"
                 "Content-Length: 8\r\n\r\nnot json");
    expect(w, req, (size_t)n, 400, "JSON");
    /* decided from Content-Length: the body is never sent */
    n = snprintf(req, sizeof req, "POST /webhook/event HTTP/1.1\r\nHost: t\r\n"
                 "Content-Length: 5000\r\n\r\n");
    expect(w, req, (size_t)n, 413, "{\"msg\":\"body too large\"}");
    n = snprintf(req, sizeof req, "BREW /webhook/event HTTP/1.1\r\nHost: t\r\n\r\n");
    expect(w, req, (size_t)n, 501, "{\"msg\":\"method not implemented\"}");
    n = snprintf(req, sizeof req, "POST /webhook/event HTTP/1.1\r\nHost: t\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
    expect(w, req, (size_t)n, 501, "Content-Length");
    CHECK_EQ_INT(fake.submits, 0);
    free(body);
    stop(w);
}

static void test_unsigned_goes_challenge_only(void) {
    struct webhook *w = start("test-encrypt-key-9f3a", 300);
    size_t blen;
    char *body = fixture("challenge.encrypted.body", &blen);
    int fd = client_connect(webhook_port(w));
    fake.body = "{\"challenge\":\"ajls384kdjx98XX\"}";
    send_post(fd, "/webhook/event", "", body, blen);
    struct resp r;
    CHECK_EQ_INT(read_response(fd, &r, 5000), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.body, "{\"challenge\":\"ajls384kdjx98XX\"}");
    CHECK_EQ_INT(fake.flags, EVENT_CHALLENGE_ONLY);
    close(fd);
    free(body);
    stop(w);
}

static void test_async_reply(void) {
    struct webhook *w = start(NULL, 300);
    fake.hold = 1;
    int fd = client_connect(webhook_port(w));
    send_post(fd, "/webhook/event", "", "{\"a\":1}", 7);
    PUMP_UNTIL(fake.reply != NULL);
    CHECK_EQ_INT(fake.submits, 1);
    CHECK(fake.reply != NULL);
    fake_release(200, "{\"late\":true}");
    struct resp r;
    CHECK_EQ_INT(read_response(fd, &r, 5000), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.body, "{\"late\":true}");
    close(fd);
    stop(w);
}

/* The client leaves while the handler runs: the late reply must not touch the freed
 * request, and the server goes on serving. */
static void test_reply_after_client_left(void) {
    struct webhook *w = start(NULL, 300);
    fake.hold = 1;
    int fd = client_connect(webhook_port(w));
    send_post(fd, "/webhook/event", "", "{\"a\":1}", 7);
    PUMP_UNTIL(fake.reply != NULL);
    CHECK(fake.reply != NULL);
    close(fd);
    pump(50);     /* let the server see the close first: the late reply is the point */
    fake_release(200, "{\"msg\":\"success\"}");
    fake.hold = 0;
    fd = client_connect(webhook_port(w));
    send_post(fd, "/webhook/event", "", "{\"a\":2}", 7);
    struct resp r;
    CHECK_EQ_INT(read_response(fd, &r, 5000), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(fake.submits, 2);
    close(fd);
    stop(w);
}

/* A body cut off mid-way: nothing reaches the dispatcher, the server survives. */
static void test_truncated_body(void) {
    struct webhook *w = start(NULL, 300);
    int fd = client_connect(webhook_port(w));
    const char *req = "POST /webhook/event HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"a\":";
    client_send(fd, req, strlen(req));
    close(fd);
    fd = client_connect(webhook_port(w));
    send_post(fd, "/webhook/event", "", "{\"a\":2}", 7);
    struct resp r;
    CHECK_EQ_INT(read_response(fd, &r, 5000), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(fake.submits, 1);     /* the cut-off one never reached the dispatcher */
    close(fd);
    stop(w);
}

static void test_stop_keeps_in_flight(void) {
    struct webhook *w = start(NULL, 300);
    int port = webhook_port(w);
    fake.hold = 1;
    int fd = client_connect(port);
    send_post(fd, "/webhook/event", "", "{\"a\":1}", 7);
    PUMP_UNTIL(fake.reply != NULL);
    CHECK(fake.reply != NULL);
    webhook_stop(w);
    int refused = client_connect(port);
    CHECK(refused < 0);
    if (refused >= 0) close(refused);
    fake_release(200, "{\"msg\":\"success\"}");
    struct resp r;
    CHECK_EQ_INT(read_response(fd, &r, 5000), 0);
    CHECK_EQ_INT(r.status, 200);
    close(fd);
    stop(w);
}

/* Shutdown as the gateway does it: the dispatcher is freed with a request in flight (it
 * never replies), then webhook_free: nothing leaks, the client sees the close. */
static void test_free_with_request_in_flight(void) {
    struct webhook *w = start(NULL, 300);
    fake.hold = 1;
    int fd = client_connect(webhook_port(w));
    send_post(fd, "/webhook/event", "", "{\"a\":1}", 7);
    PUMP_UNTIL(fake.reply != NULL);
    CHECK(fake.reply != NULL);
    webhook_free(w);
    char c;
    CHECK(recv(fd, &c, 1, 0) <= 0);   /* closed without an answer */
    close(fd);
}

static void test_refuses_without_token(void) {
    struct webhook_options opt = options(NULL, 300);
    opt.verification_token = NULL;
    CHECK(webhook_new(base, &opt, NULL) == NULL);
    opt.verification_token = "";
    CHECK(webhook_new(base, &opt, NULL) == NULL);
    opt.insecure = true;
    struct webhook *w = webhook_new(base, &opt, NULL);
    CHECK(w != NULL);
    webhook_free(w);
    opt = options(NULL, 300);
    opt.listen = "256.0.0.1:0";
    CHECK(webhook_new(base, &opt, NULL) == NULL);
}

int main(void) {
    base = event_base_new();
    RUN(test_signed_event_reaches_dispatcher);
    RUN(test_refusals);
    RUN(test_unsigned_goes_challenge_only);
    RUN(test_async_reply);
    RUN(test_reply_after_client_left);
    RUN(test_truncated_body);
    RUN(test_stop_keeps_in_flight);
    RUN(test_free_with_request_in_flight);
    RUN(test_refuses_without_token);
    event_base_free(base);
    return test_report();
}
