/* The connections of http_server, private to net/: one state machine per accepted
 * socket that reads a request head (http_request.c) and body, runs the handler, writes
 * the answer (http_response.c), and enforces the deadlines. The listener (accepting,
 * counting, shedding) is http_server.c; it owns the http_conn_set its connections
 * live in. Nothing here is locked: one set per event_base thread. */
#ifndef LARKGW_NET_HTTP_CONN_H
#define LARKGW_NET_HTTP_CONN_H

#include <event2/util.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#include "net/http_request.h"
#include "net/http_response.h"
#include "net/http_server.h"

struct event;

#define HTTP_CONN_SPARES 16             /* pooled request buffers per server */

enum http_conn_timer {
    HTTP_CONN_TIMER_NONE,
    HTTP_CONN_TIMER_IDLE,        /* waiting for a request to begin */
    HTTP_CONN_TIMER_REQUEST,     /* a request began: it must be complete in time */
    HTTP_CONN_TIMER_LINGER,      /* answered and closing: the peer's leftovers are drained */
};

/* Every connection of one server and what they share. */
struct http_conn_set {
    struct event_base *base;
    struct http_server_options opt;     /* timeouts already defaulted */
    struct http_conn *head;             /* every connection, and requests outliving theirs */
    int open;                           /* connections holding a socket */
    time_t date_at;                     /* the Date header, formatted once a second */
    char date[HTTP_RESPONSE_DATE_LEN];
    int nspare;                         /* request buffers between two requests */
    char *spare[HTTP_CONN_SPARES];
    size_t spare_cap[HTTP_CONN_SPARES];
};

/* One per connection, reused by each request on it. A deferred request whose peer left
 * lives on (gone, bev NULL) until answered. */
struct http_conn {
    struct http_conn_set *set;
    struct http_conn *prev, *next;
    struct bufferevent *bev;            /* writes; NULL once gone or taken */
    struct event *rev;                  /* reads (ours, not the bufferevent's) */
    struct event *timer;
    enum http_conn_timer mode;
    struct http_request req;
    char *head, *body;                  /* the current request's head (parsed in place), body */
    size_t head_cap, body_cap, body_len;
    char *in;                           /* input read, unparsed: in[in_start, in_end) */
    size_t in_cap, in_start, in_end;
    size_t head_len;                    /* 0 until the current request's head is in */
    size_t searched;                    /* input bytes already searched for the head's end */
    size_t lingered;                    /* bytes discarded while closing */
    unsigned in_handler : 1, in_drop : 1, replied : 1, deferred : 1, taken : 1, gone : 1;
    unsigned closing : 1, eof : 1, continued : 1, paused : 1, out_paused : 1;
    void (*drop)(struct http_server_req *r, void *arg);
    void *drop_arg;
    struct sockaddr_storage addr;       /* the peer, for per-address limits */
    char peer[64];                      /* "ip:port" */
};

/* The public handle of http_server.h is the connection; these convert between them. */
static inline struct http_server_req *http_conn_handle(struct http_conn *c) {
    return (struct http_server_req *)(void *)c;
}
static inline struct http_conn *http_conn_of(struct http_server_req *r) {
    return (struct http_conn *)(void *)r;
}

/* Takes fd (closing it on failure) from peer sa and starts reading, with the idle
 * deadline armed. NULL when out of memory. */
struct http_conn *http_conn_new(struct http_conn_set *set, evutil_socket_t fd,
                                const struct sockaddr *sa, socklen_t salen);

/* Frees every connection: answers already given go out if the socket takes them now
 * (the loop may not run again); a deferred request still connected gets its drop. */
void http_conn_free_all(struct http_conn_set *set);

/* Connections from the same address as sa that still hold a socket. */
int http_conn_count_peer(const struct http_conn_set *set, const struct sockaddr *sa);

/* Bytes the set holds for requests: head and body buffers plus unread input and
 * unsent output. An idle keep-alive connection holds none. */
size_t http_conn_bytes_held(const struct http_conn_set *set);

/* The answers and hand-offs behind http_server.h (same contracts). */
void http_conn_reply(struct http_conn *c, int status, const char *headers, const char *ctype,
                     const char *body, size_t len);
void http_conn_refuse(struct http_conn *c, int status, const char *headers, const char *msg);
void http_conn_defer(struct http_conn *c, void (*drop)(struct http_server_req *r, void *arg),
                     void *arg);
struct bufferevent *http_conn_take(struct http_conn *c);

/* "ip:port" of sa into out (brackets around IPv6). */
void http_conn_format_addr(const struct sockaddr *sa, char *out, size_t len);

#endif
