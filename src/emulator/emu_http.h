/* The emulator's requests on net/http_server: one port, one route function (emu_main.c
 * holds the table), replies, deferred answers and the hand-over of a connection to a
 * WebSocket. A leaf: it calls no other file of the emulator. */
#ifndef LARKGW_EMU_HTTP_H
#define LARKGW_EMU_HTTP_H

#include <stddef.h>

#include <cJSON.h>

struct emu;
struct bufferevent;
struct http_server_req;

/* One request as the emulator's handlers see it; http is NULL when a unit test calls a
 * handler directly. */
struct emu_req {
    struct emu *emu;
    struct http_server_req *http;
    struct emu_req *prev, *next;    /* emu->reqs */
    const char *peer;
    const char *method, *path, *query;
    const char *body;               /* NUL-terminated */
    size_t body_len;
    int in_handler, replied, deferred;
    void (*drop)(struct emu_req *r, void *arg);
    void *drop_arg;
};

/* Serves host:port, handing every request to route (which must answer, defer or take
 * it); 0, or -1 (logged). emu->port is the port bound. */
int emu_http_listen(struct emu *emu, const char *host, int port,
                    void (*route)(struct emu_req *r));
void emu_http_free_all(struct emu *emu);
/* A request header, or NULL. */
const char *emu_req_header(const struct emu_req *r, const char *name);
/* A query parameter, percent-decoded into out; -1 when absent or too long. */
int emu_req_query(const struct emu_req *r, const char *key, char *out, size_t outlen);
/* headers: extra "Name: value\r\n" lines or NULL. One reply per request; the reply to
 * a deferred request frees it. */
void emu_http_reply(struct emu_req *r, int status, const char *headers,
                    const char *ctype, const char *body, size_t len);
/* Serialises and frees json. */
void emu_http_reply_json(struct emu_req *r, int status, cJSON *json);
/* Answers {"error": "<formatted>"}. */
void emu_http_reply_error(struct emu_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Keeps r after its handler returns, for an answer sent later with emu_http_reply. The
 * connection reads no further request meanwhile (answers stay in order). When the
 * connection goes away first, drop(r, arg) is called; r stays valid, and the later
 * answer is discarded and frees it. */
void emu_http_defer(struct emu_req *r, void (*drop)(struct emu_req *r, void *arg), void *arg);
/* Detaches the connection's bufferevent (for a WebSocket upgrade), from the handler;
 * the caller owns the bufferevent. */
struct bufferevent *emu_http_take(struct emu_req *r);

#endif
