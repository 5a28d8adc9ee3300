/* http_server: the listener and the server object. Binds, accepts, and bounds what
 * strangers can hold: connections in all and per peer address (over the limit: a 503
 * and close), and running out of file descriptors (a reserve descriptor lets it shed
 * the newest connection; accepting pauses on a timer instead of spinning). The
 * connections themselves are http_conn.c. */
#include "net/http_server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
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
#include "net/http_conn.h"

#define BACKLOG 1024
#define ACCEPT_PAUSE_MS 200         /* out of descriptors: how long accepting rests */
#define LOG_EVERY_MS 1000           /* refusals of whole connections: one line a second */

struct http_server {
    struct evconnlistener *listener;
    struct event *accept_retry;     /* out of file descriptors: accepting again later */
    struct http_conn_set set;
    int port;
    int reserve_fd;                 /* /dev/null, given up to shed a connection on EMFILE */
    uint64_t logged_ms;             /* the last rate-limited log line */
    unsigned quiet;                 /* refusals not logged since */
    struct http_server_stats stats;
};

/* One line a second at most; the count of those left out goes with the next. */
static int log_due(struct http_server *s) {
    uint64_t now = util_now_ms();
    if (s->logged_ms && now - s->logged_ms < LOG_EVERY_MS) {
        s->quiet++;
        return 0;
    }
    s->logged_ms = now;
    return 1;
}

static unsigned take_quiet(struct http_server *s) {
    unsigned n = s->quiet;
    s->quiet = 0;
    return n;
}

/* Over a connection limit: the peer learns why, in one write that may not block. */
static void refuse_connection(struct http_server *s, evutil_socket_t fd,
                              const struct sockaddr *sa, const char *why, int limit) {
    char peer[64], msg[64], body[128], head[256];
    http_conn_format_addr(sa, peer, sizeof peer);
    snprintf(msg, sizeof msg, "%s (limit %d)", why, limit);
    size_t blen = http_response_json_msg(msg, body, sizeof body);
    char date[HTTP_RESPONSE_DATE_LEN];
    http_response_date(time(NULL), date, sizeof date);
    struct http_response r = { .status = 503, .date = date, .content_length = blen,
                               .connection = "close" };
    size_t hlen = http_response_head(&r, head, sizeof head);
    if (hlen < sizeof head) {
        struct iovec v[2] = { { head, hlen }, { body, blen } };
        struct msghdr m = { .msg_iov = v, .msg_iovlen = 2 };
        (void)sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    shutdown(fd, SHUT_WR);
    evutil_closesocket(fd);
    s->stats.refused++;
    if (log_due(s))
        log_warn(s->set.opt.module, "refused 503 from %s: %s (+%u more in the last second)",
                 peer, msg, take_quiet(s));
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg) {
    struct http_server *s = arg;
    const struct http_server_options *o = &s->set.opt;
    if (s->set.open >= o->max_connections) {
        refuse_connection(s, fd, sa, "too many connections", o->max_connections);
        return;
    }
    if (http_conn_count_peer(&s->set, sa) >= o->max_connections_per_ip) {
        refuse_connection(s, fd, sa, "too many connections from this address",
                          o->max_connections_per_ip);
        return;
    }
    if (!http_conn_new(&s->set, fd, sa, (socklen_t)salen))
        log_error(o->module, "out of memory accepting a connection");
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg) {
    struct http_server *s = arg;
    if (s->listener) evconnlistener_enable(s->listener);
}

/* Out of descriptors, the pending connection would sit in the backlog with its peer
 * waiting: give up the reserve, take that connection, close it at once, and take the
 * reserve back. */
static int shed_one(struct http_server *s) {
    if (s->reserve_fd < 0) return 0;
    close(s->reserve_fd);
    int fd = accept4(evconnlistener_get_fd(s->listener), NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) close(fd);
    s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    s->stats.shed++;
    return 1;
}

/* accept() failing (out of file descriptors, say) would fail again at once: pause. */
static void on_accept_error(struct evconnlistener *l, void *arg) {
    struct http_server *s = arg;
    int err = EVUTIL_SOCKET_ERROR();
    int shed = (err == EMFILE || err == ENFILE) ? shed_one(s) : 0;
    evconnlistener_disable(l);
    struct timeval tv = { ACCEPT_PAUSE_MS / 1000, (ACCEPT_PAUSE_MS % 1000) * 1000 };
    evtimer_add(s->accept_retry, &tv);
    s->stats.accept_pauses++;
    if (log_due(s))
        log_warn(s->set.opt.module, "cannot accept: %s; %spausing for %d ms "
                 "(+%u more in the last second)", evutil_socket_error_to_string(err),
                 shed ? "shed the newest connection, " : "", ACCEPT_PAUSE_MS, take_quiet(s));
}

/* "unix:/path": a socket file for its owner only (0600, set before listen() so no one
 * else can connect in between). A stale socket left by a crash is replaced; one a live
 * server still answers on, or any other kind of file, is an error. */
static int bind_unix(struct http_server *s, const char *path) {
    const char *module = s->set.opt.module;
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    struct stat st;
    if (!*path || strlen(path) >= sizeof sun.sun_path) {
        log_error(module, "bad listen address 'unix:%s' (path empty or too long)", path);
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
        log_error(module, "cannot listen on unix:%s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    if (chmod(path, 0600) == 0)
        s->listener = evconnlistener_new(s->set.base, on_accept, s, LEV_OPT_CLOSE_ON_FREE |
                                         LEV_OPT_CLOSE_ON_EXEC, BACKLOG, fd);
    if (!s->listener) {
        log_error(module, "cannot listen on unix:%s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    evconnlistener_set_error_cb(s->listener, on_accept_error);
    log_info(module, "listening on unix:%s", path);
    return 0;
}

static int bind_listener(struct http_server *s, const char *listen) {
    const char *module = s->set.opt.module;
    char host[256], port_s[16];
    int port;
    if (strncmp(listen, "unix:", 5) == 0) return bind_unix(s, listen + 5);
    if (util_parse_hostport(listen, host, sizeof host, &port)) {
        log_error(module, "bad listen address '%s' (want HOST:PORT)", listen);
        return -1;
    }
    snprintf(port_s, sizeof port_s, "%d", port);
    struct evutil_addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                     .ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_NUMERICSERV };
    struct evutil_addrinfo *ai = NULL;
    int rc = evutil_getaddrinfo(host, port_s, &hints, &ai);
    if (rc != 0) {
        log_error(module, "cannot listen on %s: %s", listen, evutil_gai_strerror(rc));
        return -1;
    }
    unsigned flags = LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC;
    if (s->set.opt.reuse_port) flags |= LEV_OPT_REUSEABLE_PORT;
    s->listener = evconnlistener_new_bind(s->set.base, on_accept, s, flags, BACKLOG,
                                          ai->ai_addr, (int)ai->ai_addrlen);
    evutil_freeaddrinfo(ai);
    if (!s->listener) {
        log_error(module, "cannot listen on %s: %s", listen,
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
    log_info(module, "listening on %s", bound);
    return 0;
}

static int or_default(int v, int def) { return v > 0 ? v : def; }

struct http_server *http_server_new(struct event_base *base, const char *listen,
                                    const struct http_server_options *opt) {
    struct http_server *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    struct http_server_options *o = &s->set.opt;
    s->set.base = base;
    *o = *opt;
    o->idle_timeout_ms = or_default(opt->idle_timeout_ms, 60000);
    o->request_timeout_ms = or_default(opt->request_timeout_ms, 10000);
    o->write_timeout_ms = or_default(opt->write_timeout_ms, 30000);
    o->max_connections = or_default(opt->max_connections, HTTP_SERVER_MAX_CONNECTIONS);
    o->max_connections_per_ip = or_default(opt->max_connections_per_ip,
                                           HTTP_SERVER_MAX_CONNECTIONS_PER_IP);
    s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (s->reserve_fd < 0)
        log_warn(o->module, "no reserve descriptor (%s): cannot shed when out of them",
                 strerror(errno));
    s->accept_retry = evtimer_new(base, on_accept_retry, s);
    if (!s->accept_retry || bind_listener(s, listen) < 0) {
        if (s->accept_retry) event_free(s->accept_retry);
        if (s->reserve_fd >= 0) close(s->reserve_fd);
        free(s);
        return NULL;
    }
    return s;
}

int http_server_port(const struct http_server *s) { return s->port; }

void http_server_stats(const struct http_server *s, struct http_server_stats *out) {
    *out = s->stats;
    out->connections = s->set.open;
    out->bytes_held = http_conn_bytes_held(&s->set);
}

void http_server_stop(struct http_server *s) {
    if (s->listener) evconnlistener_free(s->listener);
    s->listener = NULL;
    event_del(s->accept_retry);
}

void http_server_free(struct http_server *s) {
    if (!s) return;
    http_server_stop(s);
    http_conn_free_all(&s->set);
    event_free(s->accept_retry);
    if (s->reserve_fd >= 0) close(s->reserve_fd);
    free(s);
}

/* The request side of the public face: each a view of the connection carrying it. */
static const struct http_conn *view(const struct http_server_req *r) {
    return (const struct http_conn *)(const void *)r;
}

const char *http_server_req_method(const struct http_server_req *r) {
    return view(r)->req.method;
}
const char *http_server_req_path(const struct http_server_req *r) {
    return view(r)->req.path;
}
const char *http_server_req_query(const struct http_server_req *r) {
    return view(r)->req.query;
}
const char *http_server_req_peer(const struct http_server_req *r) {
    return view(r)->peer;
}
const char *http_server_req_header(const struct http_server_req *r, const char *name) {
    return http_request_header(&view(r)->req, name);
}
const char *http_server_req_body(const struct http_server_req *r, size_t *len) {
    const struct http_conn *c = view(r);
    *len = c->body_len;
    return c->body_len ? c->body : "";
}

void http_server_reply(struct http_server_req *r, int status, const char *ctype,
                       const char *body, size_t len) {
    http_conn_reply(http_conn_of(r), status, NULL, ctype, body, len);
}
void http_server_reply_with(struct http_server_req *r, int status, const char *headers,
                            const char *ctype, const char *body, size_t len) {
    http_conn_reply(http_conn_of(r), status, headers, ctype, body, len);
}
void http_server_refuse(struct http_server_req *r, int status, const char *headers,
                        const char *msg) {
    http_conn_refuse(http_conn_of(r), status, headers, msg);
}
void http_server_defer(struct http_server_req *r,
                       void (*drop)(struct http_server_req *r, void *arg), void *arg) {
    http_conn_defer(http_conn_of(r), drop, arg);
}
struct bufferevent *http_server_take(struct http_server_req *r) {
    return http_conn_take(http_conn_of(r));
}
