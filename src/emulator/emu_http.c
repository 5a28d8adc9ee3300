/* The emulator's one HTTP/1.1 server: discovery, the WebSocket upgrade, the control
 * API and the OpenAPI share a port, so the server is ours rather than evhttp, which
 * cannot hand a connection over to a WebSocket. Keep-alive, no chunked bodies; a
 * handler may answer later (emu_http_defer), the connection waits for it. */
#include "emulator/emu.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "core/log.h"

#define IDLE_TIMEOUT_S 60

struct emu_hconn {
    struct emu *emu;
    struct emu_hconn *next;
    struct bufferevent *bev;
    struct emu_req *req;            /* head parsed, body still coming */
    struct emu_req *held;           /* dispatched, its answer deferred */
    size_t want;                    /* body bytes expected for req */
    int closing;                    /* answer sent with Connection: close */
    char peer[64];
};

struct route {
    const char *method;             /* NULL: any, the handler checks */
    const char *path;
    int prefix;
    void (*handle)(struct emu_req *r);
};

static const struct route routes[] = {
    { "POST", "/callback/ws/endpoint", 0, emu_discovery_handle },
    { "GET", "/ws/v2", 0, emu_ws_upgrade },
    { NULL, "/_emu/", 1, emu_control_handle },
    { NULL, "/open-apis/", 1, emu_openapi_handle },
};

static char *next_token(char **s, char sep) {
    char *start = *s, *end = strchr(start, sep);
    if (!end) return NULL;
    *end = '\0';
    *s = end + 1;
    return start;
}

static int valid_token(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isgraph((unsigned char)*s)) return 0;
    return 1;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) *--e = '\0';
    return s;
}

int emu_http_parse_head(char *head, size_t len, struct emu_req *r) {
    if (len < 4 || memcmp(head + len - 4, "\r\n\r\n", 4) != 0) return 400;
    if (memchr(head, '\0', len)) return 400;
    head[len - 2] = '\0';           /* keeps the last header's CRLF as a terminator */
    char *s = head, *line = next_token(&s, '\n');
    if (!line || line[0] == '\0' || line[strlen(line) - 1] != '\r') return 400;
    line[strlen(line) - 1] = '\0';
    char *method = next_token(&line, ' '), *target = method ? next_token(&line, ' ') : NULL;
    if (!target || !valid_token(method) || !valid_token(target) || !valid_token(line)) return 400;
    if (strncmp(line, "HTTP/1.", 7) != 0 || !line[7] || line[8]) return 505;
    if (target[0] != '/') return 400;
    r->method = method;
    r->version = line;
    r->path = target;
    char *q = strchr(target, '?');
    r->query = q ? q + 1 : "";
    if (q) *q = '\0';
    r->nheaders = 0;
    while (*s) {
        line = next_token(&s, '\n');
        if (!line || !*line || line[strlen(line) - 1] != '\r') return 400;
        line[strlen(line) - 1] = '\0';
        char *colon = strchr(line, ':');
        if (!colon || colon == line || line[0] == ' ' || line[0] == '\t') return 400;
        *colon = '\0';
        if (!valid_token(line)) return 400;
        if (r->nheaders == EMU_MAX_HEADERS) return 431;
        r->hname[r->nheaders] = line;
        r->hval[r->nheaders++] = trim(colon + 1);
    }
    return 0;
}

long emu_http_body_length(const struct emu_req *r, long max) {
    if (emu_req_header(r, "Transfer-Encoding")) return -501;
    const char *cl = emu_req_header(r, "Content-Length");
    if (!cl) return 0;
    long n = 0;
    if (!*cl) return -400;
    for (const char *p = cl; *p; p++) {
        if (!isdigit((unsigned char)*p)) return -400;
        if (n > max) return -413;
        n = n * 10 + (*p - '0');
    }
    return n > max ? -413 : n;
}

const char *emu_req_header(const struct emu_req *r, const char *name) {
    for (int i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->hname[i], name) == 0) return r->hval[i];
    return NULL;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

long emu_url_decode(const char *s, size_t n, char *out, size_t outlen) {
    size_t m = 0;
    for (const char *v = s, *end = s + n; v < end; v++) {
        int c = *v;
        if (c == '%' && v + 2 < end && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
            c = hexval(v[1]) * 16 + hexval(v[2]);
            v += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (m + 1 >= outlen) return -1;
        out[m++] = (char)c;
    }
    if (outlen) out[m] = '\0';
    return outlen ? (long)m : -1;
}

int emu_req_query(const struct emu_req *r, const char *key, char *out, size_t outlen) {
    size_t klen = strlen(key);
    for (const char *p = r->query; *p;) {
        const char *end = strchr(p, '&');
        if (!end) end = p + strlen(p);
        if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            const char *v = p + klen + 1;
            return emu_url_decode(v, (size_t)(end - v), out, outlen) < 0 ? -1 : 0;
        }
        p = *end ? end + 1 : end;
    }
    return -1;
}

static const char *reason(int status) {
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
    }
}

static void req_free(struct emu_req *r) {
    free(r->body);
    free(r->head);
    free(r);
}

static void hconn_free(struct emu_hconn *hc) {
    struct emu_hconn **pp = &hc->emu->hconns;
    while (*pp && *pp != hc) pp = &(*pp)->next;
    if (*pp) *pp = hc->next;
    if (hc->held) {
        struct emu_req *r = hc->held;
        hc->held = NULL;
        if (r->drop) r->drop(r, r->drop_arg);
        req_free(r);
    }
    if (hc->bev) bufferevent_free(hc->bev);
    if (hc->req) req_free(hc->req);
    free(hc);
}

/* A deferred request was answered: free it and read the next one, if any. */
static void hconn_resume(struct emu_hconn *hc, struct emu_req *r) {
    hc->held = NULL;
    req_free(r);
    if (hc->closing || !hc->bev) return;
    bufferevent_enable(hc->bev, EV_READ);
    /* pipelined requests already buffered: read them from the loop, not from here */
    if (evbuffer_get_length(bufferevent_get_input(hc->bev)) > 0)
        bufferevent_trigger(hc->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
}

void emu_http_reply(struct emu_req *r, int status, const char *headers,
                    const char *ctype, const char *body, size_t len) {
    struct emu_hconn *hc = r->hc;
    if (r->replied || !hc || !hc->bev) return;
    r->replied = 1;
    struct evbuffer *out = bufferevent_get_output(hc->bev);
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nServer: larkgw-emulator\r\n"
                        "Content-Type: %s\r\nContent-Length: %zu\r\nConnection: %s\r\n%s\r\n",
                        status, reason(status), ctype ? ctype : "application/json", len,
                        r->keep_alive ? "keep-alive" : "close", headers ? headers : "");
    if (len) evbuffer_add(out, body, len);
    if (!r->keep_alive) {
        hc->closing = 1;
        bufferevent_disable(hc->bev, EV_READ);
    }
    if (r->deferred && hc->held == r) hconn_resume(hc, r);
}

void emu_http_defer(struct emu_req *r, void (*drop)(struct emu_req *r, void *arg), void *arg) {
    r->deferred = 1;
    r->drop = drop;
    r->drop_arg = arg;
}

void emu_http_reply_json(struct emu_req *r, int status, cJSON *json) {
    char *s = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    if (!s) {
        emu_http_reply(r, 500, NULL, NULL, "{\"error\":\"out of memory\"}", 25);
        return;
    }
    emu_http_reply(r, status, NULL, NULL, s, strlen(s));
    free(s);
}

void emu_http_reply_error(struct emu_req *r, int status, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    emu_http_reply_json(r, status, o);
}

struct bufferevent *emu_http_take(struct emu_req *r) {
    struct bufferevent *bev = r->hc->bev;
    r->hc->bev = NULL;
    r->replied = 1;
    return bev;
}

static void dispatch(struct emu_req *r) {
    const struct route *found = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *rt = &routes[i];
        if (rt->prefix ? strncmp(r->path, rt->path, strlen(rt->path)) == 0
                       : strcmp(r->path, rt->path) == 0) {
            found = rt;
            break;
        }
    }
    if (!found) {
        emu_http_reply_error(r, 404, "no such path: %s", r->path);
        return;
    }
    if (found->method && strcmp(found->method, r->method) != 0) {
        emu_http_reply_error(r, 405, "%s wants %s", found->path, found->method);
        return;
    }
    found->handle(r);
    if (!r->replied && !r->deferred) emu_http_reply_error(r, 500, "no answer");
}

static void fail(struct emu_hconn *hc, struct emu_req *r, int status, const char *why) {
    log_warn(EMU_MODULE, "http %s: %s, answering %d", hc->peer, why, status);
    r->keep_alive = 0;
    emu_http_reply_error(r, status, "%s", why);
}

/* Returns the parsed request, NULL when the head is incomplete or was refused. */
static struct emu_req *read_head(struct emu_hconn *hc, struct evbuffer *in) {
    struct emu_req tmp = { .emu = hc->emu, .hc = hc, .peer = hc->peer };
    struct evbuffer_ptr p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (p.pos < 0 && evbuffer_get_length(in) <= EMU_MAX_HEAD) return NULL;
    if (p.pos < 0 || (size_t)p.pos + 4 > EMU_MAX_HEAD) {
        fail(hc, &tmp, 431, "request head too large");
        return NULL;
    }
    size_t n = (size_t)p.pos + 4;
    struct emu_req *r = calloc(1, sizeof *r);
    char *head = r ? malloc(n + 1) : NULL;
    if (!head) {
        free(r);
        fail(hc, &tmp, 500, "out of memory");
        return NULL;
    }
    evbuffer_remove(in, head, n);
    head[n] = '\0';
    *r = tmp;
    r->head = head;
    int status = emu_http_parse_head(head, n, r);
    long blen = status ? 0 : emu_http_body_length(r, EMU_MAX_BODY);
    if (status || blen < 0) {
        fail(hc, &tmp, status ? status : (int)-blen, "malformed or refused request head");
        free(head);
        free(r);
        return NULL;
    }
    const char *conn = emu_req_header(r, "Connection");
    r->keep_alive = strcmp(r->version, "HTTP/1.1") == 0
                        ? !(conn && strcasecmp(conn, "close") == 0)
                        : (conn && strcasecmp(conn, "keep-alive") == 0);
    hc->want = (size_t)blen;
    return r;
}

static void hconn_read(struct bufferevent *bev, void *arg) {
    struct emu_hconn *hc = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (hc->held) return;
    while (!hc->closing) {
        if (!hc->req && !(hc->req = read_head(hc, in))) return;
        if (evbuffer_get_length(in) < hc->want) return;
        struct emu_req *r = hc->req;
        hc->req = NULL;
        r->body = malloc(hc->want + 1);
        if (r->body) {
            evbuffer_remove(in, r->body, hc->want);
            r->body[hc->want] = '\0';
            r->body_len = hc->want;
            dispatch(r);
        } else {
            fail(hc, r, 500, "out of memory");
        }
        if (r->deferred && !r->replied) {
            /* answers go out in order: read nothing more until this one is sent */
            hc->held = r;
            bufferevent_disable(bev, EV_READ);
            return;
        }
        req_free(r);
        if (!hc->bev) {             /* upgraded: the WebSocket owns the connection now */
            hconn_free(hc);
            return;
        }
    }
}

static void hconn_write(struct bufferevent *bev, void *arg) {
    struct emu_hconn *hc = arg;
    if (hc->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0) hconn_free(hc);
}

static void hconn_event(struct bufferevent *bev, short what, void *arg) {
    struct emu_hconn *hc = arg;
    /* a client that half-closes after its request still gets the answer */
    if ((what & BEV_EVENT_EOF) && evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
        hc->closing = 1;
        bufferevent_disable(bev, EV_READ);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) log_debug(EMU_MODULE, "http %s: idle, closing", hc->peer);
    hconn_free(hc);
}

static void format_peer(const struct sockaddr *sa, char *out, size_t len) {
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        port = ntohs(in6->sin6_port);
    }
    snprintf(out, len, "%s:%d", ip, port);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg) {
    struct emu *emu = arg;
    struct emu_hconn *hc = calloc(1, sizeof *hc);
    struct bufferevent *bev = hc ? bufferevent_socket_new(emu->base, fd, BEV_OPT_CLOSE_ON_FREE)
                                 : NULL;
    if (!bev) {
        free(hc);
        evutil_closesocket(fd);
        log_error(EMU_MODULE, "out of memory accepting a connection");
        return;
    }
    hc->emu = emu;
    hc->bev = bev;
    format_peer(sa, hc->peer, sizeof hc->peer);
    hc->next = emu->hconns;
    emu->hconns = hc;
    struct timeval idle = { IDLE_TIMEOUT_S, 0 };
    bufferevent_set_timeouts(bev, &idle, &idle);
    bufferevent_setcb(bev, hconn_read, hconn_write, hconn_event, hc);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

int emu_http_listen(struct emu *emu, const char *host, int port) {
    struct sockaddr_storage ss = { 0 };
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    int sslen;
    char addr[96];
    snprintf(addr, sizeof addr, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    if (evutil_inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        sslen = sizeof *in;
    } else if (evutil_inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        sslen = sizeof *in6;
    } else {
        log_error(EMU_MODULE, "cannot listen on %s: not an IP address and port", addr);
        return -1;
    }
    emu->listener = evconnlistener_new_bind(emu->base, on_accept, emu,
                                            LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE |
                                                LEV_OPT_CLOSE_ON_EXEC, -1,
                                            (struct sockaddr *)&ss, sslen);
    if (!emu->listener) {
        log_error(EMU_MODULE, "cannot listen on %s: %s", addr,
                  evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        return -1;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    getsockname(evconnlistener_get_fd(emu->listener), (struct sockaddr *)&bound, &blen);
    emu->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                  : ((struct sockaddr_in *)&bound)->sin_port);
    snprintf(emu->host, sizeof emu->host, "%s", host);
    log_info(EMU_MODULE, "listening on %s:%d", host, emu->port);
    return 0;
}

void emu_http_free_all(struct emu *emu) {
    while (emu->hconns) hconn_free(emu->hconns);
    if (emu->listener) evconnlistener_free(emu->listener);
    emu->listener = NULL;
}
