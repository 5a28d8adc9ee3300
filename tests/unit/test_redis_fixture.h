/* A private redis-server for the C tests of the Redis backends: loopback, a free port,
 * no persistence, in a temp dir; started and stopped by the test. When redis-server is
 * missing or does not start, redis_fixture_start returns -1 and the test fails: make
 * test installs it (make deps), so that is a broken box, never a skip. */
#ifndef LARKGW_TEST_REDIS_FIXTURE_H
#define LARKGW_TEST_REDIS_FIXTURE_H

#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"

struct redis_fixture {
    pid_t pid;
    int port;
    char dir[64];
    char url[64];
};

static int redis_fixture_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t n = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &n)) {
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static int redis_fixture_accepts(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) close(fd);
    return ok;
}

/* Starts (or, with port already set, restarts on the same port) the server. */
static int redis_fixture_start(struct redis_fixture *f) {
    if (access("/usr/bin/redis-server", X_OK) != 0) return -1;
    if (!f->port) {
        snprintf(f->dir, sizeof f->dir, "/tmp/larkgw-redis-XXXXXX");
        if (!mkdtemp(f->dir) || (f->port = redis_fixture_free_port()) < 0) return -1;
        snprintf(f->url, sizeof f->url, "redis://127.0.0.1:%d/0", f->port);
    }
    char port[16];
    snprintf(port, sizeof port, "%d", f->port);
    f->pid = fork();
    if (f->pid == 0) {
        int null = open("/dev/null", 1);
        dup2(null, 1);
        dup2(null, 2);
        execl("/usr/bin/redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
              "--save", "", "--appendonly", "no", "--dir", f->dir, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        if (redis_fixture_accepts(f->port)) return 0;
        usleep(10000);
    }
    return -1;
}

static void redis_fixture_kill(struct redis_fixture *f) {
    if (f->pid <= 0) return;
    kill(f->pid, SIGKILL);
    waitpid(f->pid, NULL, 0);
    f->pid = 0;
}

static void redis_fixture_stop(struct redis_fixture *f) {
    redis_fixture_kill(f);
    if (f->dir[0]) rmdir(f->dir);
}

/* Runs the loop until *v reaches target or ms pass; returns 1 when it did. */
static int redis_fixture_wait_n(struct event_base *base, const int *v, int target, int ms) {
    uint64_t until = util_now_ms() + (uint64_t)ms;
    while (*v < target && util_now_ms() < until) {
        struct timeval tv = { 0, 10000 };
        event_base_loopexit(base, &tv);
        event_base_loop(base, EVLOOP_ONCE);
    }
    return *v >= target;
}

/* Runs the loop until *flag is set or ms pass; returns *flag. */
static int redis_fixture_wait(struct event_base *base, const int *flag, int ms) {
    uint64_t until = util_now_ms() + (uint64_t)ms;
    while (!*flag && util_now_ms() < until) {
        struct timeval tv = { 0, 10000 };
        event_base_loopexit(base, &tv);
        event_base_loop(base, EVLOOP_ONCE);
    }
    return *flag;
}

#endif
