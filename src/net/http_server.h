/* The one HTTP/1.1 server of the project (webhook, admin, emulator): the listener here,
 * each connection's state machine in http_conn.c, the head parser in http_request.c and
 * the answer formatter in http_response.c. Keep-alive with one request at a time per
 * connection (pipelined bytes wait their turn), Content-Length bodies only, bounded
 * heads and bodies, idle and per-request deadlines that bytes of nothing (bare CRLFs)
 * cannot extend, buffers released once a request is answered, connections capped in
 * all and per peer address, and a listener that survives running out of descriptors.
 * A handler answers now or later (deferred), or takes the connection over (a WebSocket
 * upgrade; a taken connection no longer counts against the caps).
 *
 * Everything the server refuses itself (malformed heads, 413, 431, 501, 505, a request
 * not finished in time) is answered with JSON {"msg":"..."} and one log line
 * "refused STATUS from IP:PORT: reason" under the owner's module tag, and the
 * connection is closed. One server per event_base thread; nothing here is locked. */
#ifndef LARKGW_NET_HTTP_SERVER_H
#define LARKGW_NET_HTTP_SERVER_H

#include <stddef.h>

struct event_base;
struct bufferevent;
struct http_server;
struct http_server_req;

/* Called once per request with the whole head and body in memory. Must answer
 * (http_server_reply*), defer, or take the connection before returning; otherwise the
 * server answers 500. */
typedef void (*http_server_handler)(struct http_server_req *req, void *arg);

#define HTTP_SERVER_MAX_CONNECTIONS 1024       /* default of max_connections */
#define HTTP_SERVER_MAX_CONNECTIONS_PER_IP 64   /* default of max_connections_per_ip */

struct http_server_options {
    const char *module;          /* log tag ("webhook"); kept by pointer */
    http_server_handler handler;
    void *arg;
    size_t max_body;             /* larger Content-Length: 413 before reading the body */
    int idle_timeout_ms;         /* keep-alive wait for the next request (0: 60 s) */
    int request_timeout_ms;      /* first byte to last byte of a request (0: 10 s) */
    int write_timeout_ms;        /* a peer that stops reading its answer (0: 30 s) */
    /* Open connections in all, and from one peer address (0: the defaults above). A
     * connection over either is answered 503 {"msg":...} and closed at once, with a log
     * line "refused 503 from IP:PORT: ..." at most once a second. */
    int max_connections;
    int max_connections_per_ip;
    /* SO_REUSEPORT: several processes bind the same port and the kernel spreads new
     * connections over them (workers). TCP listen addresses only. */
    int reuse_port;
};

/* What a server holds and has refused, for tests and metrics. */
struct http_server_stats {
    int connections;             /* open connections (taken ones not counted) */
    size_t bytes_held;           /* request buffers: heads, bodies, unread input, unsent output */
    unsigned long refused;       /* connections answered 503 for a connection cap */
    unsigned long shed;          /* connections closed unanswered: out of file descriptors */
    unsigned long accept_pauses; /* times accepting paused after accept() failed */
};

/* Binds listen ("host:port", "[::1]:port"; port 0: the kernel picks; or "unix:/path", a
 * 0600 socket file the caller removes when done) and logs "listening on HOST:PORT" with
 * the bound port. Keeps one spare descriptor (/dev/null): when accept() fails for want
 * of descriptors, it is given up to accept and close the waiting connection (logged
 * "shed"), and accepting pauses 200 ms rather than spin. NULL (logged) on a malformed
 * address or a bind failure. */
struct http_server *http_server_new(struct event_base *base, const char *listen,
                                    const struct http_server_options *opt);
int http_server_port(const struct http_server *s);
/* Fills out with the server's current figures. */
void http_server_stats(const struct http_server *s, struct http_server_stats *out);
/* Closes the listening socket (new connections are refused); open connections are
 * served on, deferred answers still go out. */
void http_server_stop(struct http_server *s);
/* Closes every connection (answers already given are flushed if the socket takes them
 * now). Deferred requests whose peer was still there get their drop callback; every
 * request is freed, so no answer may come after this. */
void http_server_free(struct http_server *s);

/* The request: valid while its handler runs and, when deferred, until answered. */
const char *http_server_req_method(const struct http_server_req *r);   /* "POST" */
const char *http_server_req_path(const struct http_server_req *r);     /* raw, no query */
const char *http_server_req_query(const struct http_server_req *r);    /* "" when none */
/* First header of that name (case-insensitive), trimmed; NULL when absent. */
const char *http_server_req_header(const struct http_server_req *r, const char *name);
/* The body, NUL-terminated (the NUL is not counted); "" and 0 when none. */
const char *http_server_req_body(const struct http_server_req *r, size_t *len);
const char *http_server_req_peer(const struct http_server_req *r);     /* "ip:port" */

/* Answers with status (200..599, else 500), Content-Type ctype (NULL: application/json)
 * and body, written to the socket at once when it takes it. headers: NULL or extra
 * "Name: value\r\n" lines, never built from request data. A second answer to the same
 * request is ignored; so is an answer to a dropped request (it just frees it). The
 * request's strings stay valid until the handler returns, or for a deferred request
 * until this call returns. */
void http_server_reply(struct http_server_req *r, int status, const char *ctype,
                       const char *body, size_t len);
void http_server_reply_with(struct http_server_req *r, int status, const char *headers,
                            const char *ctype, const char *body, size_t len);
/* Answers {"msg": msg} (JSON-escaped) with status, logs "refused STATUS from PEER: msg"
 * at warn under the server's module tag. headers as in http_server_reply_with. */
void http_server_refuse(struct http_server_req *r, int status, const char *headers,
                        const char *msg);

/* Keeps r after the handler returns, for an answer given later; the connection reads no
 * further request meanwhile (answers stay in order). If the peer goes away first,
 * drop(r, arg) is called (drop may be NULL); r stays valid, and the later answer is
 * discarded and frees it. */
void http_server_defer(struct http_server_req *r,
                       void (*drop)(struct http_server_req *r, void *arg), void *arg);

/* Takes the connection over (a WebSocket upgrade), from inside the handler only: the
 * caller owns the returned bufferevent (callbacks cleared, timeouts off, input holding
 * whatever the peer sent after this request). r stays valid until the handler returns;
 * no answer is sent for it. */
struct bufferevent *http_server_take(struct http_server_req *r);

#endif
