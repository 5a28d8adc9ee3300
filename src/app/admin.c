#include "app/admin.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "net/http_server.h"

#define MAX_BODY 4096

struct admin {
    struct http_server *http;
    struct admin_hooks hooks;
};

static void reply_text(struct http_server_req *req, int status, const char *text) {
    char body[600];
    int n = snprintf(body, sizeof body, "%s\n", text);
    http_server_reply(req, status, "text/plain", body,
                      n < (int)sizeof body ? (size_t)n : sizeof body - 1);
}

static void admin_reload(struct admin *a, struct http_server_req *req) {
    char err[512];
    if (!a->hooks.reload) {
        http_server_refuse(req, 501, NULL, "reload not available");
        return;
    }
    if (a->hooks.reload(a->hooks.arg, err, sizeof err) == 0)
        reply_text(req, 200, "reloaded");
    else
        reply_text(req, 500, err);
}

static void admin_metrics(struct admin *a, struct http_server_req *req) {
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        http_server_refuse(req, 503, NULL, "out of memory");
        return;
    }
    a->hooks.metrics(a->hooks.arg, b);
    size_t len = evbuffer_get_length(b);
    const char *text = len ? (const char *)evbuffer_pullup(b, -1) : "";
    if (!text) http_server_refuse(req, 503, NULL, "out of memory");
    else http_server_reply(req, 200, "text/plain; version=0.0.4", text, len);
    evbuffer_free(b);
}

static void admin_handle(struct http_server_req *req, void *arg) {
    struct admin *a = arg;
    const char *path = http_server_req_path(req), *method = http_server_req_method(req);
    if (strcmp(path, "/admin/reload") == 0) {
        if (strcmp(method, "POST") != 0)
            http_server_refuse(req, 405, "Allow: POST\r\n", "POST only");
        else
            admin_reload(a, req);
        return;
    }
    int known = strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0 ||
                (strcmp(path, "/metrics") == 0 && a->hooks.metrics);
    if (!known) {
        http_server_refuse(req, 404, NULL, "not found");
    } else if (strcmp(method, "GET") != 0) {
        http_server_refuse(req, 405, "Allow: GET\r\n", "GET only");
    } else if (strcmp(path, "/healthz") == 0) {
        reply_text(req, 200, "ok");
    } else if (strcmp(path, "/readyz") == 0) {
        int ready = a->hooks.ready ? a->hooks.ready(a->hooks.arg) : 1;
        reply_text(req, ready ? 200 : 503, ready ? "ready" : "not ready");
    } else {
        admin_metrics(a, req);
    }
}

struct admin *admin_new(struct event_base *base, const char *listen,
                        const struct admin_hooks *hooks) {
    struct admin *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->hooks = *hooks;
    struct http_server_options opt = {
        .module = "admin", .handler = admin_handle, .arg = a, .max_body = MAX_BODY,
    };
    a->http = http_server_new(base, listen, &opt);
    if (!a->http) {
        free(a);
        return NULL;
    }
    return a;
}

void admin_free(struct admin *a) {
    if (!a) return;
    http_server_free(a->http);
    free(a);
}
