/* Private to http_server*.c: the server and its connections. */
#ifndef LARKGW_NET_HTTP_SERVER_INT_H
#define LARKGW_NET_HTTP_SERVER_INT_H

#include <event2/util.h>
#include <time.h>

#include "net/http_request.h"
#include "net/http_server.h"

struct event;
struct evconnlistener;

enum http_timer { T_NONE, T_IDLE, T_REQUEST, T_LINGER };

struct http_server {
    struct event_base *base;
    struct evconnlistener *listener;
    struct event *accept_retry;     /* out of file descriptors: accepting again later */
    struct http_server_options opt;
    int port;
    struct http_server_req *conns;  /* every connection, and requests outliving theirs */
    time_t date_at;                 /* the Date header, formatted once a second */
    char date[40];
};

/* One per connection, reused by each request on it; a deferred request whose peer
 * left lives on (gone, bev NULL) until answered. */
struct http_server_req {
    struct http_server *srv;
    struct http_server_req *prev, *next;
    struct bufferevent *bev;        /* NULL once gone or taken */
    struct event *timer;
    enum http_timer mode;
    struct http_request req;
    char *head, *body;              /* the current request's head (parsed in place), body */
    size_t head_cap, body_cap, body_len;
    size_t head_len;                /* 0 until the current request's head is in */
    size_t searched;                /* input bytes already searched for the head's end */
    size_t lingered;                /* bytes discarded while closing */
    unsigned in_handler : 1, in_drop : 1, replied : 1, deferred : 1, taken : 1, gone : 1;
    unsigned closing : 1, eof : 1, continued : 1, paused : 1, out_paused : 1;
    void (*drop)(struct http_server_req *r, void *arg);
    void *drop_arg;
    char peer[64];
};

/* http_server.c */
struct http_server_req *http_conn_new(struct http_server *s, evutil_socket_t fd);
void http_conn_free(struct http_server_req *c);
void http_conn_free_all(struct http_server *s);
void http_conn_arm(struct http_server_req *c, enum http_timer mode, int ms);
/* Answers are out (or going): discard input, close once flushed. */
void http_conn_close(struct http_server_req *c);
void http_conn_resume(struct http_server_req *c);

/* http_server_reply.c: the server's own refusal, with Connection: close. */
void http_conn_refuse(struct http_server_req *c, int status, const char *msg);

#endif
