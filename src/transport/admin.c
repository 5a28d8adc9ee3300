#include "transport/admin.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "transport/listen.h"

struct admin {
    struct evhttp *http;
    struct admin_hooks hooks;
};

static void admin_reply(struct evhttp_request *req, int status, const char *type,
                        struct evbuffer *body) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
    evhttp_send_reply(req, status, status == 200 ? "OK" : "Error", body);
}

static void admin_reply_text(struct evhttp_request *req, int status, const char *text) {
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evbuffer_add_printf(b, "%s\n", text);
    admin_reply(req, status, "text/plain", b);
    evbuffer_free(b);
}

static void admin_reload(struct admin *a, struct evhttp_request *req) {
    char err[512];
    if (!a->hooks.reload) {
        admin_reply_text(req, 501, "reload not available");
        return;
    }
    if (a->hooks.reload(a->hooks.arg, err, sizeof err) == 0)
        admin_reply_text(req, 200, "reloaded");
    else
        admin_reply_text(req, 500, err);
}

static void admin_handle(struct evhttp_request *req, void *arg) {
    struct admin *a = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (!path) path = "";
    if (strcmp(path, "/admin/reload") == 0) {
        if (cmd != EVHTTP_REQ_POST) admin_reply_text(req, 405, "POST only");
        else admin_reload(a, req);
        return;
    }
    if (cmd != EVHTTP_REQ_GET) {
        admin_reply_text(req, 405, "GET only");
        return;
    }
    if (strcmp(path, "/healthz") == 0) {
        admin_reply_text(req, 200, "ok");
    } else if (strcmp(path, "/readyz") == 0) {
        int ready = a->hooks.ready ? a->hooks.ready(a->hooks.arg) : 1;
        admin_reply_text(req, ready ? 200 : 503, ready ? "ready" : "not ready");
    } else if (strcmp(path, "/metrics") == 0 && a->hooks.metrics) {
        struct evbuffer *b = evbuffer_new();
        if (!b) {
            evhttp_send_error(req, 500, NULL);
            return;
        }
        a->hooks.metrics(a->hooks.arg, b);
        admin_reply(req, 200, "text/plain; version=0.0.4", b);
        evbuffer_free(b);
    } else {
        admin_reply_text(req, 404, "not found");
    }
}

struct admin *admin_new(struct event_base *base, const char *listen,
                        const struct admin_hooks *hooks) {
    struct admin *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->hooks = *hooks;
    a->http = listen_http(base, listen, "admin", NULL);
    if (!a->http) {
        free(a);
        return NULL;
    }
    evhttp_set_max_body_size(a->http, 4096);
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    evhttp_set_gencb(a->http, admin_handle, a);
    return a;
}

void admin_free(struct admin *a) {
    if (!a) return;
    evhttp_free(a->http);
    free(a);
}
