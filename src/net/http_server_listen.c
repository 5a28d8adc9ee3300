/* http_server: binding, accepting, stopping, freeing. */
#include "net/http_server_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "base/log.h"
#include "base/util.h"

#define BACKLOG 1024
#define ACCEPT_PAUSE_MS 1000

static void format_addr(const struct sockaddr *sa, char *out, size_t len) {
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_UNIX) {
        snprintf(out, len, "unix");
        return;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        port = ntohs(in6->sin6_port);
        snprintf(out, len, "[%s]:%d", ip, port);
        return;
    }
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        port = ntohs(in->sin_port);
    }
    snprintf(out, len, "%s:%d", ip, port);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg) {
    struct http_server *s = arg;
    struct http_server_req *c = http_conn_new(s, fd);
    if (!c) {
        log_error(s->opt.module, "out of memory accepting a connection");
        evutil_closesocket(fd);
        return;
    }
    /* each answer is one write; Nagle would only delay the next pipelined one */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    format_addr(sa, c->peer, sizeof c->peer);
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg) {
    struct http_server *s = arg;
    if (s->listener) evconnlistener_enable(s->listener);
}

/* Out of file descriptors, say: accept() would fail in a busy loop, so pause. */
static void on_accept_error(struct evconnlistener *l, void *arg) {
    struct http_server *s = arg;
    int err = EVUTIL_SOCKET_ERROR();
    log_warn(s->opt.module, "cannot accept: %s; pausing for %d ms",
             evutil_socket_error_to_string(err), ACCEPT_PAUSE_MS);
    evconnlistener_disable(l);
    struct timeval tv = { ACCEPT_PAUSE_MS / 1000, (ACCEPT_PAUSE_MS % 1000) * 1000 };
    evtimer_add(s->accept_retry, &tv);
}

/* "unix:/path": a socket file for its owner only (0600, set before listen() so no one
 * else can connect in between). A stale socket left by a crash is replaced; one a live
 * server still answers on, or any other kind of file, is an error. */
static int bind_unix(struct http_server *s, const char *path) {
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    struct stat st;
    if (!*path || strlen(path) >= sizeof sun.sun_path) {
        log_error(s->opt.module, "bad listen address 'unix:%s' (path empty or too long)", path);
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && lstat(path, &st) == 0) {
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int live = probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof sun) == 0;
        if (probe >= 0) close(probe);
        if (S_ISSOCK(st.st_mode) && !live) unlink(path);
    }
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun)) {
        log_error(s->opt.module, "cannot listen on unix:%s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    if (chmod(path, 0600) == 0)
        s->listener = evconnlistener_new(s->base, on_accept, s, LEV_OPT_CLOSE_ON_FREE |
                                         LEV_OPT_CLOSE_ON_EXEC, BACKLOG, fd);
    if (!s->listener) {
        log_error(s->opt.module, "cannot listen on unix:%s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    evconnlistener_set_error_cb(s->listener, on_accept_error);
    log_info(s->opt.module, "listening on unix:%s", path);
    return 0;
}

static int bind_listener(struct http_server *s, const char *listen) {
    char host[256], port_s[16];
    int port;
    if (strncmp(listen, "unix:", 5) == 0) return bind_unix(s, listen + 5);
    if (util_parse_hostport(listen, host, sizeof host, &port)) {
        log_error(s->opt.module, "bad listen address '%s' (want HOST:PORT)", listen);
        return -1;
    }
    snprintf(port_s, sizeof port_s, "%d", port);
    struct evutil_addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                     .ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_NUMERICSERV };
    struct evutil_addrinfo *ai = NULL;
    int rc = evutil_getaddrinfo(host, port_s, &hints, &ai);
    if (rc != 0) {
        log_error(s->opt.module, "cannot listen on %s: %s", listen, evutil_gai_strerror(rc));
        return -1;
    }
    s->listener = evconnlistener_new_bind(s->base, on_accept, s,
                                          LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE |
                                              LEV_OPT_CLOSE_ON_EXEC, BACKLOG,
                                          ai->ai_addr, (int)ai->ai_addrlen);
    evutil_freeaddrinfo(ai);
    if (!s->listener) {
        log_error(s->opt.module, "cannot listen on %s: %s", listen,
                  evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        return -1;
    }
    evconnlistener_set_error_cb(s->listener, on_accept_error);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char bound[96];
    getsockname(evconnlistener_get_fd(s->listener), (struct sockaddr *)&ss, &len);
    s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    snprintf(bound, sizeof bound, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, s->port);
    log_info(s->opt.module, "listening on %s", bound);
    return 0;
}

static int default_ms(int ms, int def) { return ms > 0 ? ms : def; }

struct http_server *http_server_new(struct event_base *base, const char *listen,
                                    const struct http_server_options *opt) {
    struct http_server *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base = base;
    s->opt = *opt;
    s->opt.idle_timeout_ms = default_ms(opt->idle_timeout_ms, 60000);
    s->opt.request_timeout_ms = default_ms(opt->request_timeout_ms, 10000);
    s->opt.write_timeout_ms = default_ms(opt->write_timeout_ms, 30000);
    s->accept_retry = evtimer_new(base, on_accept_retry, s);
    if (!s->accept_retry || bind_listener(s, listen) < 0) {
        if (s->accept_retry) event_free(s->accept_retry);
        free(s);
        return NULL;
    }
    return s;
}

int http_server_port(const struct http_server *s) { return s->port; }

void http_server_stop(struct http_server *s) {
    if (s->listener) evconnlistener_free(s->listener);
    s->listener = NULL;
    event_del(s->accept_retry);
}

void http_server_free(struct http_server *s) {
    if (!s) return;
    http_server_stop(s);
    http_conn_free_all(s);
    event_free(s->accept_retry);
    free(s);
}
