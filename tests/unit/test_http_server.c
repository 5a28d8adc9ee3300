/* net/http_server, the listener: connection caps in all and per peer address (503 with
 * a JSON message, the connection closed, log lines rate-limited, room again once a
 * connection leaves), running out of file descriptors (RLIMIT_NOFILE lowered in this
 * process: the newest connection is shed, accepting pauses, the loop goes on and
 * serves the next client once descriptors are back), and the stats call. */
#include "test.h"

#include <sys/resource.h>

#include "base/log.h"
#include "net/http_server.h"
#include "test_http_fixture.h"

static int calls;

static void handler(struct http_server_req *r, void *arg) {
    calls++;
    http_server_reply(r, 200, NULL, "{}", 2);
}

static struct http_server *start(int max_total, int max_per_ip) {
    calls = 0;
    struct http_server_options opt = {
        .module = "testsrv", .handler = handler, .max_body = 1000,
        .max_connections = max_total, .max_connections_per_ip = max_per_ip,
    };
    struct http_server *s = http_server_new(base, "127.0.0.1:0", &opt);
    CHECK(s != NULL);
    return s;
}

static int open_conns(struct http_server *s) {
    struct http_server_stats st;
    http_server_stats(s, &st);
    return st.connections;
}

/* A connection over a cap: answered 503 with why, and closed. */
static void expect_503(struct http_server *s, const char *msg) {
    int fd = client_connect(http_server_port(s));
    CHECK(fd >= 0);
    char buf[1024];
    int closed;
    read_all(fd, buf, sizeof buf, &closed);
    CHECK(strncmp(buf, "HTTP/1.1 503 ", 13) == 0);
    CHECK_CONTAINS(buf, "Connection: close\r\n");
    CHECK_CONTAINS(buf, msg);
    CHECK(closed);
    close(fd);
}

static void expect_served(struct http_server *s) {
    int fd = client_connect(http_server_port(s));
    client_send(fd, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    char buf[1024];
    int closed;
    CHECK_EQ_INT(read_all(fd, buf, sizeof buf, &closed), 1);
    CHECK(strncmp(buf, "HTTP/1.1 200 ", 13) == 0);
    close(fd);
}

static void test_per_ip_cap(void) {
    struct http_server *s = start(0, 3);
    int fds[3];
    for (int i = 0; i < 3; i++) fds[i] = client_connect(http_server_port(s));
    PUMP_UNTIL(open_conns(s) == 3);
    CHECK_EQ_INT(open_conns(s), 3);
    int logged = log_count("testsrv: refused 503 from 127.0.0.1:");
    expect_503(s, "{\"msg\":\"too many connections from this address (limit 3)\"}");
    CHECK_EQ_INT(log_count("testsrv: refused 503 from 127.0.0.1:"), logged + 1);
    CHECK_EQ_INT(open_conns(s), 3);
    close(fds[0]);
    PUMP_UNTIL(open_conns(s) == 2);
    expect_served(s);
    CHECK_EQ_INT(calls, 1);
    close(fds[1]);
    close(fds[2]);
    http_server_free(s);
}

static void test_total_cap_and_log_rate(void) {
    struct http_server *s = start(2, 0);
    int a = client_connect(http_server_port(s)), b = client_connect(http_server_port(s));
    PUMP_UNTIL(open_conns(s) == 2);
    CHECK_EQ_INT(open_conns(s), 2);
    int logged = log_count("testsrv: refused 503 from");
    for (int i = 0; i < 6; i++) expect_503(s, "{\"msg\":\"too many connections (limit 2)\"}");
    struct http_server_stats st;
    http_server_stats(s, &st);
    CHECK_EQ_INT(st.refused, 6);
    /* one line a second, not one per refusal */
    CHECK(log_count("testsrv: refused 503 from") - logged < 6);
    close(a);
    PUMP_UNTIL(open_conns(s) == 1);
    expect_served(s);
    close(b);
    http_server_free(s);
}

/* Descriptors run out in this very process: the server sheds what it cannot hold and
 * keeps its loop; a client after the flood is served. */
static void test_emfile_shed(void) {
    struct http_server *s = start(0, 0);
    int port = http_server_port(s);
    enum { FLOOD = 24 };
    int fds[FLOOD];
    for (int i = 0; i < FLOOD; i++) fds[i] = client_connect(port);   /* not accepted yet */
    int top = dup(0);                   /* the next free descriptor number */
    close(top);
    struct rlimit old, low;
    getrlimit(RLIMIT_NOFILE, &old);
    low = old;
    low.rlim_cur = (rlim_t)top + 4;     /* room for a few accepted connections only */
    CHECK_EQ_INT(setrlimit(RLIMIT_NOFILE, &low), 0);
    struct http_server_stats st;
    /* the log file cannot be opened to look: the stats tell */
    PUMP_UNTIL((http_server_stats(s, &st), st.shed >= 2));
    pump(300);                          /* a few pauses: the loop keeps turning */
    http_server_stats(s, &st);
    CHECK(st.shed >= 1);
    CHECK(st.accept_pauses >= 1);
    CHECK(st.connections < FLOOD);      /* descriptors freed late by earlier tests count */
    CHECK_EQ_INT(setrlimit(RLIMIT_NOFILE, &old), 0);
    CHECK(log_count("testsrv: cannot accept: Too many open files; shed") >= 1);
    for (int i = 0; i < FLOOD; i++) close(fds[i]);
    PUMP_UNTIL(open_conns(s) == 0);
    CHECK_EQ_INT(open_conns(s), 0);
    expect_served(s);
    http_server_free(s);
}

static void test_defaults(void) {
    struct http_server *s = start(0, 0);
    int fds[HTTP_SERVER_MAX_CONNECTIONS_PER_IP];
    for (int i = 0; i < HTTP_SERVER_MAX_CONNECTIONS_PER_IP; i++)
        fds[i] = client_connect(http_server_port(s));
    PUMP_UNTIL(open_conns(s) == HTTP_SERVER_MAX_CONNECTIONS_PER_IP);
    CHECK_EQ_INT(open_conns(s), HTTP_SERVER_MAX_CONNECTIONS_PER_IP);
    expect_503(s, "from this address (limit 64)");
    for (int i = 0; i < HTTP_SERVER_MAX_CONNECTIONS_PER_IP; i++) close(fds[i]);
    http_server_free(s);
}

/* reuse_port: a second server binds the same port (as a second worker does); without
 * it the second bind fails. */
static void test_reuse_port(void) {
    struct http_server_options opt = {
        .module = "testsrv", .handler = handler, .max_body = 1000, .reuse_port = 1,
    };
    struct http_server *a = http_server_new(base, "127.0.0.1:0", &opt);
    CHECK(a != NULL);
    if (!a) return;
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", http_server_port(a));
    struct http_server *b = http_server_new(base, listen, &opt);
    CHECK(b != NULL);
    CHECK_EQ_INT(b ? http_server_port(b) : -1, http_server_port(a));
    opt.reuse_port = 0;
    struct http_server *c = http_server_new(base, listen, &opt);
    CHECK(c == NULL);
    calls = 0;
    expect_served(a);
    http_server_free(a);
    expect_served(b);          /* the port lives on with the other server */
    CHECK_EQ_INT(calls, 2);
    http_server_free(b);
}

int main(void) {
    snprintf(log_path, sizeof log_path, "/tmp/test_http_server.%d.log", (int)getpid());
    unlink(log_path);
    log_setup(LOG_LEVEL_DEBUG, LOG_FORMAT_TEXT, log_path);
    base = event_base_new();
    RUN(test_per_ip_cap);
    RUN(test_total_cap_and_log_rate);
    RUN(test_emfile_shed);
    RUN(test_defaults);
    RUN(test_reuse_port);
    event_base_free(base);
    log_close();
    unlink(log_path);
    return test_report();
}
