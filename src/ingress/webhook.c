#include "ingress/webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "event/dispatch.h"
#include "net/http_server.h"
#include "ingress/webhook_legacy.h"
#include "ingress/webhook_verify.h"

/* The platform sends each request whole and wants the answer within 3 s. */
#define IDLE_TIMEOUT_MS 30000
#define REQUEST_TIMEOUT_MS 10000
#define WRITE_TIMEOUT_MS 30000

struct webhook {
    struct http_server *http;
    struct webhook_options opt;
    struct dispatcher *d;
    struct webhook_verifier verifier;
    unsigned char *scratch;      /* decoded + decrypted body, reused by every request */
    size_t scratch_cap;
};

/* The dispatcher's answer; req outlives its connection until this comes (http_server
 * discards the answer then), so no bookkeeping is needed here. */
static void on_reply(void *arg, int status, const char *body, size_t len) {
    struct http_server_req *req = arg;
    /* A handler's failure (500) is logged where it happened, with the script's line;
     * reason is ours or the dispatcher's answer body, never a header value or a secret. */
    if (status >= 400 && status != 500)
        log_warn("webhook", "refused %d from %s: %.*s", status, http_server_req_peer(req),
                 (int)(len > 200 ? 200 : len), body);
    http_server_reply(req, status, "application/json", body, len);
}

static int scratch_reserve(struct webhook *w, size_t body_len) {
    size_t need = webhook_scratch_size(body_len);
    if (need <= w->scratch_cap) return 0;
    unsigned char *p = realloc(w->scratch, need);
    if (!p) return -1;
    w->scratch = p;
    w->scratch_cap = need;
    return 0;
}

static struct webhook_input input_of(struct http_server_req *req) {
    size_t len;
    struct webhook_input in = {
        .body = http_server_req_body(req, &len),
        .now = (long long)time(NULL),
        .timestamp = http_server_req_header(req, "X-Lark-Request-Timestamp"),
        .nonce = http_server_req_header(req, "X-Lark-Request-Nonce"),
        .signature = http_server_req_header(req, "X-Lark-Signature"),
    };
    in.len = len;
    return in;
}

/* A click on a legacy message card: its own signature, then the dispatcher. */
static void on_card(struct webhook *w, struct http_server_req *req) {
    struct webhook_input in = input_of(req);
    struct webhook_legacy_verdict v;
    int status = webhook_legacy_verify(w->opt.verification_token, w->opt.max_skew_s, &in, &v);
    if (status) {
        http_server_refuse(req, status, NULL, v.reason);
        return;
    }
    http_server_defer(req, NULL, NULL);
    dispatcher_submit(w->d, v.json, v.json_len, v.flags, on_reply, req);
    free(v.json);
}

static void on_request(struct http_server_req *req, void *arg) {
    struct webhook *w = arg;
    const char *path = http_server_req_path(req);
    int card = w->opt.card_path && *w->opt.card_path && strcmp(path, w->opt.card_path) == 0;
    if (!card && strcmp(path, w->opt.path) != 0) {
        http_server_refuse(req, 404, NULL, "no such path");
        return;
    }
    if (strcmp(http_server_req_method(req), "POST") != 0) {
        http_server_refuse(req, 405, "Allow: POST\r\n", "method not allowed (POST only)");
        return;
    }
    if (card) {
        on_card(w, req);
        return;
    }
    struct webhook_input in = input_of(req);
    size_t len = in.len;
    if (scratch_reserve(w, len) < 0) {
        http_server_refuse(req, 503, NULL, "out of memory");
        return;
    }
    struct webhook_verdict v;
    int status = webhook_verify(&w->verifier, &in, w->scratch, &v);
    if (status) {
        http_server_refuse(req, status, NULL, v.reason);
        return;
    }
    http_server_defer(req, NULL, NULL);
    dispatcher_submit(w->d, v.json, v.json_len, v.flags, on_reply, req);
}

static int check_options(const struct webhook_options *opt) {
    int insecure = opt->insecure;
    int tokenless = !opt->verification_token || !*opt->verification_token;
    if (!insecure && tokenless) {
        log_error("webhook", "refusing to start: no verification_token, so anyone who finds "
                  "the URL could post forged events. Set verification_token (or "
                  "LARK_VERIFICATION_TOKEN) to the app's Verification Token, or "
                  "webhook.insecure = true for local testing only");
        return -1;
    }
    int keyless = !opt->encrypt_key || !*opt->encrypt_key;
    if (insecure && (keyless || tokenless))
        log_warn("webhook", "webhook.insecure = true: running without the %s that keeps "
                 "forged events out; never expose this listener",
                 tokenless && keyless ? "verification token and encrypt key"
                 : tokenless ? "verification token" : "encrypt key");
    else if (keyless)
        log_warn("webhook", "no encrypt_key: requests are neither signed nor encrypted, so "
                 "events can be forged by anyone who learns the verification token. Set "
                 "encrypt_key (or LARK_ENCRYPT_KEY) to the app's Encrypt Key");
    return 0;
}

struct webhook *webhook_new(struct event_base *base, const struct webhook_options *wopt,
                            struct dispatcher *d) {
    if (check_options(wopt) < 0) return NULL;
    struct webhook *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->opt = *wopt;
    w->d = d;
    webhook_verifier_init(&w->verifier, wopt->encrypt_key, wopt->max_skew_s);
    struct http_server_options opt = {
        .module = "webhook",
        .handler = on_request,
        .arg = w,
        .max_body = (size_t)wopt->max_body,
        .idle_timeout_ms = IDLE_TIMEOUT_MS,
        .request_timeout_ms = REQUEST_TIMEOUT_MS,
        .write_timeout_ms = WRITE_TIMEOUT_MS,
        .max_connections = wopt->max_connections,
        .max_connections_per_ip = wopt->max_connections_per_ip,
        .reuse_port = wopt->reuse_port,
    };
    w->http = http_server_new(base, wopt->listen, &opt);
    if (!w->http) {
        free(w);
        return NULL;
    }
    return w;
}

int webhook_port(const struct webhook *w) { return http_server_port(w->http); }

void webhook_stop(struct webhook *w) { http_server_stop(w->http); }

/* The gateway frees the dispatcher first, and a freed dispatcher never replies: requests
 * still waiting here are freed with their connections. */
void webhook_free(struct webhook *w) {
    if (!w) return;
    http_server_free(w->http);
    free(w->scratch);
    free(w);
}
