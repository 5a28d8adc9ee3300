/* Loopback clients for the http_server and http_conn tests: a shared event_base the
 * helpers pump while they wait, and the log file the server writes to. */
#ifndef LARKGW_TEST_HTTP_FIXTURE_H
#define LARKGW_TEST_HTTP_FIXTURE_H

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"

static struct event_base *base;
static char log_path[64];

static inline int client_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline void client_send(int fd, const char *data) {
    size_t len = strlen(data);
    while (len) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0) return;
        data += n;
        len -= (size_t)n;
    }
}

static inline void nap(void) {
    struct timespec ts = { 0, 1000000 };
    nanosleep(&ts, NULL);
}

static inline void pump(int ms) {
    uint64_t end = util_now_ms() + (uint64_t)ms;
    while (util_now_ms() < end) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        nap();
    }
}

/* Runs the loop until cond holds, for 5 s at most (the CHECK after it then fails). */
#define PUMP_UNTIL(cond) do { uint64_t end_ = util_now_ms() + 5000; \
    while (!(cond) && util_now_ms() < end_) pump(1); } while (0)

/* Pumps the loop while reading until want bytes are in, the peer closes (*closed = 1)
 * or timeout_ms passes. */
static inline size_t client_read(int fd, char *buf, size_t cap, size_t want, int *closed,
                          int timeout_ms) {
    size_t have = 0;
    uint64_t end = util_now_ms() + (uint64_t)timeout_ms;
    *closed = 0;
    while (have < want && have + 1 < cap && util_now_ms() < end) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        ssize_t n = recv(fd, buf + have, cap - 1 - have, MSG_DONTWAIT);
        if (n > 0) have += (size_t)n;
        else if (n == 0) { *closed = 1; break; }
        else nap();
    }
    buf[have] = '\0';
    return have;
}

/* Reads everything until the server closes; returns the count of "HTTP/1.1 " answers. */
static inline int read_all(int fd, char *buf, size_t cap, int *closed) {
    client_read(fd, buf, cap, cap, closed, 5000);
    int n = 0;
    for (const char *p = buf; (p = strstr(p, "HTTP/1.1 ")); p++) n++;
    return n;
}

static inline int log_count(const char *needle) {
    size_t len;
    char *text = util_read_file(log_path, 1 << 20, &len);
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p++) n++;
    free(text);
    return n;
}

#endif
