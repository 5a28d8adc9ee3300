/* http_server: the request accessors and the answers. */
#include "net/http_server_int.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "base/log.h"

const char *http_server_req_method(const struct http_server_req *r) { return r->req.method; }
const char *http_server_req_path(const struct http_server_req *r) { return r->req.path; }
const char *http_server_req_query(const struct http_server_req *r) { return r->req.query; }
const char *http_server_req_peer(const struct http_server_req *r) { return r->peer; }

const char *http_server_req_header(const struct http_server_req *r, const char *name) {
    return http_request_header(&r->req, name);
}

int http_server_req_header_has_token(const struct http_server_req *r, const char *name,
                                     const char *token) {
    return http_request_header_has_token(&r->req, name, token);
}

const char *http_server_req_body(const struct http_server_req *r, size_t *len) {
    *len = r->body_len;
    return r->body_len ? r->body : "";
}

static const char *reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

static const char *date_now(struct http_server *s) {
    struct timeval tv;
    event_base_gettimeofday_cached(s->base, &tv);
    if (tv.tv_sec != s->date_at || !s->date[0]) {
        struct tm tm;
        time_t t = tv.tv_sec;
        gmtime_r(&t, &tm);
        strftime(s->date, sizeof s->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        s->date_at = tv.tv_sec;
    }
    return s->date;
}

#define ANSWER_HEAD "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n"

/* Sent at once when nothing is queued before it (no wait for the loop, no EPOLLOUT
 * round trip); what the socket does not take goes to the bufferevent. */
static void write_answer(struct http_server_req *c, int status, const char *headers,
                         const char *ctype, const char *body, size_t len) {
    struct evbuffer *out = bufferevent_get_output(c->bev);
    const struct http_request *q = &c->req;
    const char *conn = !q->keep_alive ? "Connection: close\r\n"
                       : q->minor == 0 ? "Connection: keep-alive\r\n" : "";
    const char *type = ctype ? ctype : "application/json";
    if (q->method && strcmp(q->method, "HEAD") == 0) body = NULL;
    size_t blen = body ? len : 0;
    char head[1024];
    int n = snprintf(head, sizeof head, ANSWER_HEAD, status, reason(status), date_now(c->srv),
                     type, len, conn, headers ? headers : "");
    if (n < 0 || (size_t)n >= sizeof head || evbuffer_get_length(out) > 0) {
        evbuffer_add_printf(out, ANSWER_HEAD, status, reason(status), date_now(c->srv), type,
                            len, conn, headers ? headers : "");
        if (blen) evbuffer_add(out, body, blen);
        return;
    }
    size_t hlen = (size_t)n;
    struct iovec v[2] = { { head, hlen }, { (void *)body, blen } };
    struct msghdr msg = { .msg_iov = v, .msg_iovlen = blen ? 2 : 1 };
    ssize_t sent = sendmsg(bufferevent_getfd(c->bev), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    size_t done = sent > 0 ? (size_t)sent : 0;     /* errors: the bufferevent reports them */
    if (done < hlen) evbuffer_add(out, head + done, hlen - done);
    size_t bdone = done > hlen ? done - hlen : 0;
    if (bdone < blen) evbuffer_add(out, body + bdone, blen - bdone);
}

void http_server_reply_with(struct http_server_req *c, int status, const char *headers,
                            const char *ctype, const char *body, size_t len) {
    if (c->replied) return;
    c->replied = 1;
    if (c->gone) {
        log_debug(c->srv->opt.module, "answer %d to %s dropped: the client is gone", status,
                  c->peer);
        /* inside the drop callback or http_server_free, the caller frees c */
        if (!c->in_drop) http_conn_free(c);
        return;
    }
    if (status < 200 || status > 599) status = 500;
    write_answer(c, status, headers, ctype, body, len);
    if (!c->req.keep_alive) http_conn_close(c);
    else if (c->deferred && !c->in_handler) http_conn_resume(c);
}

void http_server_reply(struct http_server_req *c, int status, const char *ctype,
                       const char *body, size_t len) {
    http_server_reply_with(c, status, NULL, ctype, body, len);
}

/* {"msg":"..."} with msg escaped and cut to fit. */
static size_t json_msg(const char *msg, char *out, size_t cap) {
    size_t n = (size_t)snprintf(out, cap, "{\"msg\":\"");
    for (const unsigned char *p = (const unsigned char *)msg; *p && n + 10 < cap; p++) {
        if (*p == '"' || *p == '\\') n += (size_t)snprintf(out + n, cap - n, "\\%c", *p);
        else if (*p < 0x20) n += (size_t)snprintf(out + n, cap - n, "\\u%04x", *p);
        else out[n++] = (char)*p;
    }
    n += (size_t)snprintf(out + n, cap - n, "\"}");
    return n;
}

void http_server_refuse(struct http_server_req *c, int status, const char *headers,
                        const char *msg) {
    if (c->replied) return;
    log_warn(c->srv->opt.module, "refused %d from %s: %s", status, c->peer, msg);
    char body[320];
    size_t n = json_msg(msg, body, sizeof body);
    http_server_reply_with(c, status, headers, "application/json", body, n);
}

void http_conn_refuse(struct http_server_req *c, int status, const char *msg) {
    c->req.keep_alive = 0;          /* what follows on this connection cannot be framed */
    c->req.method = NULL;
    c->replied = 0;
    if (status == 413)
        log_warn(c->srv->opt.module, "refused 413 from %s: %s (limit %zu bytes)", c->peer, msg,
                 c->srv->opt.max_body);
    else
        log_warn(c->srv->opt.module, "refused %d from %s: %s", status, c->peer, msg);
    char body[320];
    size_t n = json_msg(msg, body, sizeof body);
    write_answer(c, status, NULL, "application/json", body, n);
    c->replied = 1;
    http_conn_close(c);
}
