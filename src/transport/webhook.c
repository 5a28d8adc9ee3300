#include "transport/webhook.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/log.h"
#include "event/event.h"
#include "transport/listen.h"
#include "transport/webhook_verify.h"

#define MAX_HEADERS_SIZE 16384
#define CONN_TIMEOUT_S 30
#define SPARE_CALLS_MAX 256

/* A request handed to the dispatcher, waiting for its reply. The reply may come after
 * the client left: req is then NULL (evhttp freed it with the connection). */
struct webhook_call {
    struct webhook *w;
    struct evhttp_request *req;
    struct webhook_call *prev, *next;
};

struct webhook {
    struct evhttp *http;
    const struct config *cfg;
    struct dispatcher *d;
    struct webhook_verifier verifier;
    int port;
    unsigned char *scratch;      /* decoded + decrypted body, reused by every request */
    size_t scratch_cap;
    struct webhook_call *pending;
    struct webhook_call *spare;  /* recycled calls, singly linked through next */
    int nspare;
};

static void send_json(struct evhttp_request *req, int status, const char *body, size_t len) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
    evhttp_send_reply(req, status, NULL, NULL);
}

static void refuse(struct evhttp_request *req, int status, const char *reason) {
    char *addr = NULL;
    ev_uint16_t port = 0;
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    if (conn) evhttp_connection_get_peer(conn, &addr, &port);
    log_warn("webhook", "refused %d from %s:%u: %s", status, addr ? addr : "?", port, reason);
    char body[256];
    int n = snprintf(body, sizeof body, "{\"msg\":\"%s\"}", reason);
    send_json(req, status, body, n < (int)sizeof body ? (size_t)n : sizeof body - 1);
}

static struct webhook_call *call_new(struct webhook *w, struct evhttp_request *req) {
    struct webhook_call *c = w->spare;
    if (c) {
        w->spare = c->next;
        w->nspare--;
    } else if (!(c = malloc(sizeof *c))) {
        return NULL;
    }
    c->w = w;
    c->req = req;
    c->prev = NULL;
    c->next = w->pending;
    if (w->pending) w->pending->prev = c;
    w->pending = c;
    return c;
}

static void call_release(struct webhook_call *c) {
    struct webhook *w = c->w;
    if (c->prev) c->prev->next = c->next;
    else w->pending = c->next;
    if (c->next) c->next->prev = c->prev;
    if (w->nspare >= SPARE_CALLS_MAX) { free(c); return; }
    c->next = w->spare;
    w->spare = c;
    w->nspare++;
}

/* evhttp frees the request right after this, with its connection. */
static void on_connection_close(struct evhttp_connection *conn, void *arg) {
    struct webhook_call *c = arg;
    c->req = NULL;
}

static void on_reply(void *arg, int status, const char *body, size_t len) {
    struct webhook_call *c = arg;
    if (c->req) {
        evhttp_connection_set_closecb(evhttp_request_get_connection(c->req), NULL, NULL);
        send_json(c->req, status, body, len);
    } else {
        log_debug("webhook", "answer %d dropped: the client is gone", status);
    }
    call_release(c);
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

static void submit(struct webhook *w, struct evhttp_request *req, const struct webhook_verdict *v) {
    struct webhook_call *c = call_new(w, req);
    if (!c) { refuse(req, 503, "out of memory"); return; }
    /* One request at a time per connection (evhttp reads the next after the answer),
     * so the connection's one close callback can stand for this call. */
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_connection_close, c);
    dispatcher_submit(w->d, v->json, v->json_len, v->flags, on_reply, c);
}

/* One pass over the headers for the three X-Lark-* ones (the first of each counts). */
static void find_signature_headers(const struct evkeyvalq *headers, struct webhook_input *in) {
    for (const struct evkeyval *h = headers->tqh_first; h; h = h->next.tqe_next) {
        if (evutil_ascii_strncasecmp(h->key, "X-Lark-", 7) != 0) continue;
        const char *rest = h->key + 7;
        if (!in->timestamp && evutil_ascii_strcasecmp(rest, "Request-Timestamp") == 0)
            in->timestamp = h->value;
        else if (!in->nonce && evutil_ascii_strcasecmp(rest, "Request-Nonce") == 0)
            in->nonce = h->value;
        else if (!in->signature && evutil_ascii_strcasecmp(rest, "Signature") == 0)
            in->signature = h->value;
    }
}

static void on_request(struct evhttp_request *req, void *arg) {
    struct webhook *w = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!path || strcmp(path, w->cfg->webhook.path) != 0) {
        refuse(req, 404, "no such path");
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
        refuse(req, 405, "method not allowed (POST only)");
        return;
    }
    struct evbuffer *input = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(input);
    struct webhook_input in = {
        .body = len ? (const char *)evbuffer_pullup(input, -1) : "",
        .len = len,
        .now = (long long)time(NULL),
    };
    find_signature_headers(evhttp_request_get_input_headers(req), &in);
    if (!in.body || scratch_reserve(w, len) < 0) {
        refuse(req, 503, "out of memory");
        return;
    }
    struct webhook_verdict v;
    int status = webhook_verify(&w->verifier, &in, w->scratch, &v);
    if (status) {
        refuse(req, status, v.reason);
        return;
    }
    submit(w, req, &v);
}

static int check_config(const struct config *cfg) {
    int insecure = cfg->webhook.insecure;
    int tokenless = !cfg->verification_token || !*cfg->verification_token;
    if (!insecure && tokenless) {
        log_error("webhook", "refusing to start: no verification_token, so anyone who finds "
                  "the URL could post forged events. Set verification_token (or "
                  "LARK_VERIFICATION_TOKEN) to the app's Verification Token, or "
                  "webhook.insecure = true for local testing only");
        return -1;
    }
    int keyless = !cfg->encrypt_key || !*cfg->encrypt_key;
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

struct webhook *webhook_new(struct event_base *base, const struct config *cfg,
                            struct dispatcher *d) {
    if (check_config(cfg) < 0) return NULL;
    struct webhook *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->cfg = cfg;
    w->d = d;
    webhook_verifier_init(&w->verifier, cfg->encrypt_key, cfg->webhook.max_skew_s);
    w->http = listen_http(base, cfg->webhook.listen, "webhook", &w->port);
    if (!w->http) {
        free(w);
        return NULL;
    }
    evhttp_set_max_headers_size(w->http, MAX_HEADERS_SIZE);
    evhttp_set_max_body_size(w->http, cfg->webhook.max_body);
    evhttp_set_timeout(w->http, CONN_TIMEOUT_S);
    /* Every method reaches on_request, which answers 405 itself (evhttp would say 501). */
    evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                               EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                               EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(w->http, on_request, w);
    return w;
}

int webhook_port(const struct webhook *w) { return w->port; }

static void collect_bound(struct evhttp_bound_socket *bound, void *arg) {
    struct evhttp_bound_socket **slot = arg;
    if (!*slot) *slot = bound;
}

void webhook_stop(struct webhook *w) {
    for (;;) {
        struct evhttp_bound_socket *bound = NULL;
        evhttp_foreach_bound_socket(w->http, collect_bound, &bound);
        if (!bound) break;
        evhttp_del_accept_socket(w->http, bound);
    }
}

/* The gateway frees the dispatcher first, and a freed dispatcher never replies: calls
 * still waiting here are dropped with their connections. */
void webhook_free(struct webhook *w) {
    if (!w) return;
    evhttp_free(w->http);
    while (w->pending) {
        struct webhook_call *c = w->pending;
        w->pending = c->next;
        free(c);
    }
    while (w->spare) {
        struct webhook_call *c = w->spare;
        w->spare = c->next;
        free(c);
    }
    free(w->scratch);
    free(w);
}
