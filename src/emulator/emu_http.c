/* The emulator's requests: discovery, the WebSocket upgrade, the control API and the
 * OpenAPI share one port, served by net/http_server (which can hand a connection over
 * to a WebSocket). The route table lives with the composition (emu_main.c), so this
 * file calls no handler by name. */
#include "emulator/emu_http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "emulator/emu.h"
#include "net/http_request.h"
#include "net/http_server.h"

#define IDLE_TIMEOUT_MS 60000
#define REQUEST_TIMEOUT_MS 30000

const char *emu_req_header(const struct emu_req *r, const char *name) {
    return r->http ? http_server_req_header(r->http, name) : NULL;
}

int emu_req_query(const struct emu_req *r, const char *key, char *out, size_t outlen) {
    return http_query_param(r->query ? r->query : "", key, out, outlen);
}

static void req_free(struct emu_req *r) {
    struct emu *emu = r->emu;
    if (r->prev) r->prev->next = r->next;
    else emu->reqs = r->next;
    if (r->next) r->next->prev = r->prev;
    free(r);
}

void emu_http_reply(struct emu_req *r, int status, const char *headers,
                    const char *ctype, const char *body, size_t len) {
    if (r->replied) return;
    r->replied = 1;
    if (r->http) http_server_reply_with(r->http, status, headers, ctype, body, len);
    if (r->deferred && !r->in_handler) req_free(r);
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

static void on_drop(struct http_server_req *hr, void *arg) {
    struct emu_req *r = arg;
    if (r->drop) r->drop(r, r->drop_arg);
}

void emu_http_defer(struct emu_req *r, void (*drop)(struct emu_req *r, void *arg), void *arg) {
    r->deferred = 1;
    r->drop = drop;
    r->drop_arg = arg;
    if (r->http) http_server_defer(r->http, on_drop, r);
}

struct bufferevent *emu_http_take(struct emu_req *r) {
    r->replied = 1;
    return r->http ? http_server_take(r->http) : NULL;
}

static void on_request(struct http_server_req *hr, void *arg) {
    struct emu *emu = arg;
    struct emu_req *r = calloc(1, sizeof *r);
    if (!r) {
        http_server_refuse(hr, 503, NULL, "out of memory");
        return;
    }
    r->emu = emu;
    r->http = hr;
    r->peer = http_server_req_peer(hr);
    r->method = http_server_req_method(hr);
    r->path = http_server_req_path(hr);
    r->query = http_server_req_query(hr);
    r->body = http_server_req_body(hr, &r->body_len);
    r->next = emu->reqs;
    if (emu->reqs) emu->reqs->prev = r;
    emu->reqs = r;
    r->in_handler = 1;
    emu->route(r);
    r->in_handler = 0;
    if (!r->replied && !r->deferred) emu_http_reply_error(r, 500, "no answer");
    if (r->replied) req_free(r);
}

int emu_http_listen(struct emu *emu, const char *host, int port,
                    void (*route)(struct emu_req *r)) {
    char listen[96];
    snprintf(listen, sizeof listen, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    struct http_server_options opt = {
        .module = EMU_MODULE,
        .handler = on_request,
        .arg = emu,
        .max_body = EMU_MAX_BODY,
        .idle_timeout_ms = IDLE_TIMEOUT_MS,
        .request_timeout_ms = REQUEST_TIMEOUT_MS,
        /* its clients are all on loopback: one address, so no lower bound per peer
         * (a gateway streaming 200 cards keeps more than 64 OpenAPI calls open) */
        .max_connections_per_ip = HTTP_SERVER_MAX_CONNECTIONS,
    };
    emu->route = route;
    if (!(emu->http = http_server_new(emu->base, listen, &opt))) return -1;
    emu->port = http_server_port(emu->http);
    snprintf(emu->host, sizeof emu->host, "%s", host);
    return 0;
}

/* Deferred answers still held (the OpenAPI's latency) get their drop first. */
void emu_http_free_all(struct emu *emu) {
    http_server_free(emu->http);
    emu->http = NULL;
    while (emu->reqs) req_free(emu->reqs);
}
