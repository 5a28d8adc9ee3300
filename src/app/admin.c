#include "app/admin.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/util.h"
#include "crypto/crypto.h"
#include "net/http_server.h"

#define MAX_BODY 4096

struct admin {
    struct http_server *http;
    struct admin_hooks hooks;
    struct admin_options opt;
};

static int admin_is_unix(const struct admin_options *opt) {
    return opt->listen && strncmp(opt->listen, "unix:", 5) == 0;
}

/* Host must name this listener: a page on a rebound DNS name says its own name. */
static int admin_host_ok(const struct admin_options *opt, int port, const char *value) {
    char host[256], mine[256];
    int p, my_port;
    if (util_parse_hostport(value, host, sizeof host, &p) || p != port) return 0;
    if (strcmp(host, "127.0.0.1") == 0 || strcasecmp(host, "localhost") == 0 ||
        strcmp(host, "::1") == 0)
        return 1;
    return opt->listen && util_parse_hostport(opt->listen, mine, sizeof mine, &my_port) == 0
           && strcasecmp(host, mine) == 0;
}

/* Hashing both sides first makes the comparison's time independent of the lengths. */
static int admin_token_ok(const char *token, const char *authorization) {
    unsigned char want[CRYPTO_SHA256_LEN], got[CRYPTO_SHA256_LEN];
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0) return 0;
    const char *given = authorization + 7;
    while (*given == ' ') given++;
    crypto_sha256(token, strlen(token), want);
    crypto_sha256(given, strlen(given), got);
    return crypto_equal(want, got, sizeof want);
}

int admin_admit(const struct admin_options *opt, int port, const struct admin_head *h,
                const char **why) {
    if (h->origin) {
        *why = "a request from a browser page (Origin header)";
        return 403;
    }
    int has_token = opt->token && *opt->token;
    int proven = has_token && admin_token_ok(opt->token, h->authorization);
    /* No Host at all is not a browser (they always send one). The token proves the
     * caller whatever name it used: a scraper of a 0.0.0.0 listener names the host. */
    if (!admin_is_unix(opt) && h->host && !proven && !admin_host_ok(opt, port, h->host)) {
        *why = "Host does not name this listener";
        return 403;
    }
    if (has_token && !proven && strcmp(h->method, "POST") == 0) {
        *why = h->authorization ? "wrong bearer token" : "a bearer token is required";
        return 401;
    }
    return 0;
}

static void reply_text(struct http_server_req *req, int status, const char *text) {
    char body[600];
    int n = snprintf(body, sizeof body, "%s\n", text);
    http_server_reply(req, status, "text/plain", body,
                      n < (int)sizeof body ? (size_t)n : sizeof body - 1);
}

/* Degraded still serves: 200, so a load balancer does not pull every node at once when
 * a shared dependency (Redis) goes away; the body says what is missing. */
static void reply_degraded(struct http_server_req *req, const char *reason) {
    char body[600];
    size_t n = (size_t)snprintf(body, sizeof body, "{\"status\":\"degraded\",\"reason\":\"");
    for (const char *c = reason; *c && n < sizeof body - 8; c++)
        if (*c == '"' || *c == '\\') n += (size_t)snprintf(body + n, 3, "\\%c", *c);
        else if ((unsigned char)*c >= 0x20) body[n++] = *c;
    n += (size_t)snprintf(body + n, sizeof body - n, "\"}\n");
    http_server_reply(req, 200, "application/json", body, n < sizeof body ? n : sizeof body - 1);
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

/* Lists what scripts scheduled; GET like the other reads, so a token is not needed. */
static void admin_jobs(struct admin *a, struct http_server_req *req) {
    char *json = a->hooks.jobs(a->hooks.arg);
    if (!json) http_server_refuse(req, 503, NULL, "out of memory");
    else http_server_reply(req, 200, "application/json", json, strlen(json));
    free(json);
}

/* Refuses (and logs, through the server) a request admin_admit turns away; 1 if so. */
static int admin_refused(struct admin *a, struct http_server_req *req) {
    struct admin_head head = {
        http_server_req_method(req), http_server_req_header(req, "Host"),
        http_server_req_header(req, "Origin"), http_server_req_header(req, "Authorization"),
    };
    const char *why;
    int status = admin_admit(&a->opt, http_server_port(a->http), &head, &why);
    if (status)
        http_server_refuse(req, status, status == 401 ? "WWW-Authenticate: Bearer\r\n" : NULL,
                           why);
    return status != 0;
}

static void admin_handle(struct http_server_req *req, void *arg) {
    struct admin *a = arg;
    const char *path = http_server_req_path(req), *method = http_server_req_method(req);
    if (admin_refused(a, req)) return;
    if (strcmp(path, "/admin/reload") == 0) {
        if (strcmp(method, "POST") != 0)
            http_server_refuse(req, 405, "Allow: POST\r\n", "POST only");
        else
            admin_reload(a, req);
        return;
    }
    int known = strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0 ||
                (strcmp(path, "/metrics") == 0 && a->hooks.metrics) ||
                (strcmp(path, "/admin/jobs") == 0 && a->hooks.jobs);
    if (!known) {
        http_server_refuse(req, 404, NULL, "not found");
    } else if (strcmp(method, "GET") != 0) {
        http_server_refuse(req, 405, "Allow: GET\r\n", "GET only");
    } else if (strcmp(path, "/healthz") == 0) {
        reply_text(req, 200, "ok");
    } else if (strcmp(path, "/readyz") == 0) {
        int ready = a->hooks.ready ? a->hooks.ready(a->hooks.arg) : 1;
        const char *why = ready && a->hooks.degraded ? a->hooks.degraded(a->hooks.arg) : NULL;
        if (why) reply_degraded(req, why);
        else reply_text(req, ready ? 200 : 503, ready ? "ready" : "not ready");
    } else if (strcmp(path, "/admin/jobs") == 0) {
        admin_jobs(a, req);
    } else {
        admin_metrics(a, req);
    }
}

struct admin *admin_new(struct event_base *base, const struct admin_options *opt,
                        const struct admin_hooks *hooks) {
    struct admin *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->hooks = *hooks;
    a->opt = *opt;
    struct http_server_options sopt = {
        .module = "admin", .handler = admin_handle, .arg = a, .max_body = MAX_BODY,
    };
    a->http = http_server_new(base, opt->listen, &sopt);
    if (!a->http) {
        free(a);
        return NULL;
    }
    return a;
}

void admin_free(struct admin *a) {
    if (!a) return;
    http_server_free(a->http);
    if (admin_is_unix(&a->opt)) unlink(a->opt.listen + 5);
    free(a);
}
