#include "openapi/openapi.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "openapi/openapi_ticket.h"
#include "openapi/openapi_token.h"
#include "openapi/openapi_wire.h"

#define TENANT_KEY_MAX 256

TAILQ_HEAD(call_list, openapi_call);

struct openapi {
    struct event_base *base;
    struct openapi_options o;      /* the strings point into the copies below */
    char *domain, *app_id, *app_secret, *state_dir;
    struct openapi_wire wire;
    struct openapi_ticket ticket;
    struct openapi_tokens tokens;
    struct call_list active, queued, rejected;
    int nactive, nqueued;
    uint64_t calls, failures, retries;
};

enum openapi_call_where {
    OPENAPI_CALL_NOWHERE, OPENAPI_CALL_REJECTED, OPENAPI_CALL_QUEUED, OPENAPI_CALL_ACTIVE
};
enum openapi_call_step { OPENAPI_STEP_START, OPENAPI_STEP_FINISH };

struct openapi_call {
    TAILQ_ENTRY(openapi_call) link;
    struct openapi *api;
    enum openapi_call_where where;
    enum openapi_call_step next;
    int finishing;                 /* done is running: cancel is a no-op */
    openapi_done_fn done;
    openapi_raw_fn raw_done;       /* set instead of done for openapi_request_raw */
    void *arg;
    const char *method;            /* one of the allowed names, static */
    char *target;                  /* path + ?query */
    size_t path_len;               /* the path inside target: the only part that is logged */
    char *body;
    size_t body_len;
    char *content_type;            /* NULL: JSON */
    size_t max_response;           /* 0: the instance's */
    enum openapi_token token_type;
    char *tenant_key;
    char *token;                   /* what this attempt carries; compared when refused */
    struct openapi_token_waiter waiter;
    struct openapi_wire_call wire;
    struct event *step, *deadline;
    uint64_t deadline_at;          /* util_now_ms; timers run on the real clock */
    int timeout_ms, rate_left, token_retried;
    cJSON *result;
    char *raw;                     /* a raw call's answer, with the two headers below */
    size_t raw_len;
    char content_type_in[128], disposition[512];
    struct openapi_wire_error err;
};

static void call_schedule(struct openapi_call *c, enum openapi_call_step step, int ms) {
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    c->next = step;
    evtimer_add(c->step, &tv);
}

static void call_fail(struct openapi_call *c, int code, const char *msg) {
    openapi_wire_error_set(&c->err, code, 0, msg);
    call_schedule(c, OPENAPI_STEP_FINISH, 0);
}

static void call_pump(struct openapi *api) {
    struct openapi_call *c;
    while (api->nactive < api->o.max_inflight && (c = TAILQ_FIRST(&api->queued))) {
        TAILQ_REMOVE(&api->queued, c, link);
        api->nqueued--;
        TAILQ_INSERT_TAIL(&api->active, c, link);
        api->nactive++;
        c->where = OPENAPI_CALL_ACTIVE;
        call_schedule(c, OPENAPI_STEP_START, 0);
    }
}

/* Stops everything the call waits on and takes it off its list. */
static void call_detach(struct openapi_call *c) {
    struct openapi *api = c->api;
    openapi_wire_cancel(&c->wire);
    openapi_token_cancel(&c->waiter);
    evtimer_del(c->step);
    evtimer_del(c->deadline);
    if (c->where == OPENAPI_CALL_ACTIVE) { TAILQ_REMOVE(&api->active, c, link); api->nactive--; }
    if (c->where == OPENAPI_CALL_QUEUED) { TAILQ_REMOVE(&api->queued, c, link); api->nqueued--; }
    if (c->where == OPENAPI_CALL_REJECTED) TAILQ_REMOVE(&api->rejected, c, link);
    c->where = OPENAPI_CALL_NOWHERE;
}

static void call_free(struct openapi_call *c) {
    if (c->step) event_free(c->step);
    if (c->deadline) event_free(c->deadline);
    cJSON_Delete(c->result);
    free(c->raw);
    free(c->content_type);
    free(c->target);
    free(c->body);
    free(c->tenant_key);
    free(c->token);
    free(c);
}

static void call_finish(struct openapi_call *c) {
    struct openapi *api = c->api;
    call_detach(c);
    struct openapi_error pub = { c->err.code, c->err.http_status, c->err.msg, c->err.log_id };
    cJSON *res = c->result;
    c->result = NULL;
    int ok = c->raw_done ? c->raw != NULL : res != NULL;
    if (!ok) {
        api->failures++;
        log_warn("openapi", "%s %.*s failed: code=%d msg=%s log_id=%s http=%d", c->method,
                 (int)c->path_len, c->target, pub.code, pub.msg, pub.log_id,
                 pub.http_status);
    }
    c->finishing = 1;
    if (c->raw_done) {
        struct openapi_raw raw = { c->raw, c->raw_len, c->content_type_in, c->disposition };
        c->raw_done(c->arg, ok ? &raw : NULL, ok ? NULL : &pub);
    } else {
        c->done(c->arg, res, res ? NULL : &pub);
    }
    call_free(c);
    call_pump(api);
}

static void call_on_answer(void *arg, struct openapi_wire_answer *ans);

static void call_send(struct openapi_call *c) {
    int64_t left = (int64_t)(c->deadline_at - util_now_ms());
    struct openapi_wire_req req = { c->method, c->target, c->token, c->body, c->body_len,
                                    left > 1 ? (int)left : 1, c->content_type,
                                    c->max_response, c->raw_done != NULL };
    if (openapi_wire_send(&c->api->wire, &c->wire, &req, call_on_answer, c))
        call_fail(c, OPENAPI_E_TRANSPORT, "cannot start request");
}

static void call_on_token(void *arg, const char *token, const struct openapi_wire_error *err) {
    struct openapi_call *c = arg;
    if (err) {
        c->err = *err;
        call_schedule(c, OPENAPI_STEP_FINISH, 0);
        return;
    }
    free(c->token);
    if (!(c->token = strdup(token))) { call_fail(c, OPENAPI_E_TRANSPORT, "out of memory"); return; }
    call_send(c);
}

/* A refused token: drop it (unless someone already replaced it) and start over once. */
static int call_retry_token(struct openapi_call *c, const struct openapi_wire_answer *ans) {
    struct openapi *api = c->api;
    if (!ans->token_invalid || c->token_retried) return 0;
    c->token_retried = 1;
    api->retries++;
    log_info("openapi", "%s %.*s: token refused (code %d, log_id %s); fetching a new one",
             c->method, (int)c->path_len, c->target, ans->err.code, c->err.log_id);
    openapi_token_drop(&api->tokens, c->token_type, c->tenant_key, c->token);
    if (api->o.marketplace && c->token_type == OPENAPI_TOKEN_TENANT
        && ans->err.code == OPENAPI_CODE_APP_TOKEN_INVALID)
        openapi_token_drop(&api->tokens, OPENAPI_TOKEN_APP, "", NULL);
    call_schedule(c, OPENAPI_STEP_START, 0);
    return 1;
}

static int call_retry_rate(struct openapi_call *c, const struct openapi_wire_answer *ans) {
    struct openapi *api = c->api;
    if (!ans->rate_limited || c->rate_left <= 0) return 0;
    int wait = ans->reset_ms > api->o.rate_wait_max_ms ? api->o.rate_wait_max_ms : ans->reset_ms;
    if ((int64_t)(c->deadline_at - util_now_ms()) <= wait) return 0;
    c->rate_left--;
    api->retries++;
    log_info("openapi", "%s %.*s: rate limited (log_id %s); retrying in %d ms", c->method,
             (int)c->path_len, c->target, c->err.log_id, wait);
    call_schedule(c, OPENAPI_STEP_START, wait);
    return 1;
}

static void call_on_answer(void *arg, struct openapi_wire_answer *ans) {
    struct openapi_call *c = arg;
    c->err = ans->err;
    if (ans->err.code == 0 && c->raw_done) {
        free(c->raw);
        c->raw = ans->raw;
        c->raw_len = ans->raw_len;
        ans->raw = NULL;
        memcpy(c->content_type_in, ans->content_type, sizeof c->content_type_in);
        memcpy(c->disposition, ans->disposition, sizeof c->disposition);
    } else if (ans->err.code == 0) {
        c->result = ans->json;
        ans->json = NULL;
    } else if (call_retry_token(c, ans) || call_retry_rate(c, ans)) {
        return;
    }
    call_schedule(c, OPENAPI_STEP_FINISH, 0);
}

static void call_on_step(evutil_socket_t fd, short what, void *arg) {
    struct openapi_call *c = arg;
    if (c->next == OPENAPI_STEP_FINISH) { call_finish(c); return; }
    c->waiter.fn = call_on_token;
    c->waiter.arg = c;
    openapi_token_acquire(&c->api->tokens, c->token_type, c->tenant_key, &c->waiter);
}

static void call_on_deadline(evutil_socket_t fd, short what, void *arg) {
    struct openapi_call *c = arg;
    char msg[64];
    if (c->next == OPENAPI_STEP_FINISH && evtimer_pending(c->step, NULL)) return;
    snprintf(msg, sizeof msg, "timed out after %d ms", c->timeout_ms);
    openapi_wire_error_set(&c->err, OPENAPI_E_TIMEOUT, 0, msg);
    cJSON_Delete(c->result);
    c->result = NULL;
    free(c->raw);
    c->raw = NULL;
    call_finish(c);
}

static const char *method_name(const char *m) {
    static const char *const names[] = { "GET", "POST", "PUT", "PATCH", "DELETE" };
    for (size_t i = 0; m && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(m, names[i]) == 0) return names[i];
    return NULL;
}

/* Printable, no spaces, none of the characters in `deny`, at most max bytes. */
static int chars_ok(const char *s, size_t max, const char *deny) {
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7f || strchr(deny, s[n]))
            return 0;
    return n <= max;
}

/* Printable ASCII and spaces (a header value), at most max bytes. */
static int printable(const char *s, size_t max) {
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] >= 0x7f) return 0;
    return n <= max;
}

static const char *req_invalid(const struct openapi *api, const struct openapi_req *r) {
    if (!method_name(r->method)) return "method must be GET, POST, PUT, PATCH or DELETE";
    if (!r->path || r->path[0] != '/' || !chars_ok(r->path, 2048, "?#"))
        return "path must start with '/' and hold printable characters only";
    if (r->query && !chars_ok(r->query, 8192, "#")) return "query must be encoded";
    if (r->tenant_key && (!*r->tenant_key || !chars_ok(r->tenant_key, TENANT_KEY_MAX, "")))
        return "malformed tenant_key";
    if (r->token != OPENAPI_TOKEN_TENANT && r->token != OPENAPI_TOKEN_APP)
        return "unknown token type";
    if (api->o.marketplace && r->token == OPENAPI_TOKEN_TENANT && !r->tenant_key)
        return "a marketplace app needs a tenant_key for a tenant token";
    if (r->body_len && !r->body) return "body_len without a body";
    if (r->content_type && !printable(r->content_type, 256)) return "malformed content type";
    return NULL;
}

static char *target_build(const struct openapi_req *r) {
    size_t p = r->path ? strlen(r->path) : 0;
    size_t q = r->query && *r->query ? strlen(r->query) + 1 : 0;
    char *t = malloc(p + q + 1);
    if (!t) return NULL;
    if (p) memcpy(t, r->path, p);
    if (q) { t[p] = '?'; memcpy(t + p + 1, r->query, q - 1); }
    t[p + q] = '\0';
    return t;
}

static int call_fill(struct openapi_call *c, const struct openapi_req *r) {
    struct openapi *api = c->api;
    c->method = method_name(r->method);
    if (!c->method) c->method = "?";
    c->path_len = r->path ? strlen(r->path) : 0;
    c->token_type = r->token;
    c->timeout_ms = r->timeout_ms > 0 ? r->timeout_ms : api->o.default_timeout_ms;
    c->rate_left = api->o.rate_retries;
    c->body_len = r->body ? r->body_len : 0;
    if (r->body && r->body_owned) c->body = (char *)r->body;
    else if (r->body && !(c->body = malloc(r->body_len ? r->body_len : 1))) return -1;
    else if (r->body) memcpy(c->body, r->body, r->body_len);
    if (r->tenant_key && !(c->tenant_key = strdup(r->tenant_key))) return -1;
    if (r->content_type && !(c->content_type = strdup(r->content_type))) return -1;
    c->max_response = r->max_response;
    if (!(c->target = target_build(r))) return -1;
    c->step = evtimer_new(api->base, call_on_step, c);
    c->deadline = evtimer_new(api->base, call_on_deadline, c);
    return c->step && c->deadline ? 0 : -1;
}

static void call_admit(struct openapi_call *c) {
    struct openapi *api = c->api;
    struct timeval tv = { c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000 };
    c->deadline_at = util_now_ms() + (uint64_t)c->timeout_ms;
    evtimer_add(c->deadline, &tv);
    if (api->nactive < api->o.max_inflight) {
        TAILQ_INSERT_TAIL(&api->active, c, link);
        api->nactive++;
        c->where = OPENAPI_CALL_ACTIVE;
        call_schedule(c, OPENAPI_STEP_START, 0);
    } else {
        TAILQ_INSERT_TAIL(&api->queued, c, link);
        api->nqueued++;
        c->where = OPENAPI_CALL_QUEUED;
    }
}

static struct openapi_call *request_start(struct openapi *api, const struct openapi_req *req,
                                          openapi_done_fn done, openapi_raw_fn raw_done,
                                          void *arg) {
    struct openapi_call *c = calloc(1, sizeof *c);
    if (!c) {
        if (req->body_owned) free((char *)req->body);
        return NULL;
    }
    c->api = api;
    c->done = done;
    c->raw_done = raw_done;
    c->arg = arg;
    if (call_fill(c, req)) {
        if (req->body_owned && !c->body) free((char *)req->body);
        call_free(c);
        return NULL;
    }
    api->calls++;
    int code = OPENAPI_E_INVAL;
    const char *bad = req_invalid(api, req);
    if (!bad && api->nactive >= api->o.max_inflight && api->nqueued >= api->o.max_queue) {
        code = OPENAPI_E_BUSY;
        bad = "too many OpenAPI calls waiting";
    }
    if (!bad) {
        call_admit(c);
        return c;
    }
    /* Kept on a list so openapi_free finds it before its event fires. */
    TAILQ_INSERT_TAIL(&api->rejected, c, link);
    c->where = OPENAPI_CALL_REJECTED;
    call_fail(c, code, bad);
    return c;
}

struct openapi_call *openapi_request(struct openapi *api, const struct openapi_req *req,
                                     openapi_done_fn done, void *arg) {
    return request_start(api, req, done, NULL, arg);
}

struct openapi_call *openapi_request_raw(struct openapi *api, const struct openapi_req *req,
                                         openapi_raw_fn done, void *arg) {
    return request_start(api, req, NULL, done, arg);
}

void openapi_call_cancel(struct openapi_call *c) {
    if (!c || c->finishing) return;
    struct openapi *api = c->api;
    int was_active = c->where == OPENAPI_CALL_ACTIVE;
    call_detach(c);
    call_free(c);
    if (was_active) call_pump(api);
}

static void options_fill(struct openapi_options *o, const struct openapi_options *in) {
    *o = *in;
    if (o->max_inflight <= 0) o->max_inflight = 64;
    if (o->max_queue <= 0) o->max_queue = 1024;
    if (o->default_timeout_ms <= 0) o->default_timeout_ms = 10000;
    if (o->token_timeout_ms <= 0) o->token_timeout_ms = 10000;
    if (!o->max_response) o->max_response = 4 << 20;
    if (o->rate_retries == 0) o->rate_retries = 3;
    if (o->rate_retries < 0) o->rate_retries = 0;
    if (o->rate_wait_max_ms <= 0) o->rate_wait_max_ms = 10000;
    if (o->resend_interval_ms <= 0) o->resend_interval_ms = 60000;
    if (!o->max_tokens) o->max_tokens = 10000;
    if (!o->now_ms) o->now_ms = util_now_ms;
}

/* The instance's own copies of the strings it was given. */
static int strings_copy(struct openapi *api) {
    const struct openapi_options *o = &api->o;
    api->domain = strdup(o->domain);
    api->app_id = strdup(o->app_id);
    api->app_secret = strdup(o->app_secret);
    api->state_dir = o->state_dir ? strdup(o->state_dir) : NULL;
    if (!api->domain || !api->app_id || !api->app_secret || (o->state_dir && !api->state_dir))
        return -1;
    api->o.domain = api->domain;
    api->o.app_id = api->app_id;
    api->o.app_secret = api->app_secret;
    api->o.state_dir = api->state_dir;
    return 0;
}

/* The layers under the request path, bottom up: wire, ticket, tokens. */
static int layers_init(struct openapi *api, const struct openapi_transport *t) {
    const struct openapi_options *o = &api->o;
    if (openapi_wire_init(&api->wire, t, o->domain, o->max_response)) return -1;
    struct openapi_ticket *tk = &api->ticket;
    tk->wire = &api->wire;
    tk->app_id = o->app_id;
    tk->app_secret = o->app_secret;
    tk->state_dir = o->state_dir;
    tk->marketplace = o->marketplace;
    tk->resend_interval_ms = o->resend_interval_ms;
    tk->timeout_ms = o->token_timeout_ms;
    tk->now_ms = o->now_ms;
    struct openapi_tokens *tks = &api->tokens;
    tks->base = api->base;
    tks->wire = &api->wire;
    tks->ticket = tk;
    tks->app_id = o->app_id;
    tks->app_secret = o->app_secret;
    tks->marketplace = o->marketplace;
    tks->timeout_ms = o->token_timeout_ms;
    tks->max_tokens = o->max_tokens;
    tks->now_ms = o->now_ms;
    openapi_token_init(tks);
    openapi_ticket_load(tk);
    return 0;
}

struct openapi *openapi_new(struct event_base *base, const struct openapi_transport *t,
                            const struct openapi_options *opts) {
    if (!opts->domain || !*opts->domain || !opts->app_id || !*opts->app_id
        || !opts->app_secret || !*opts->app_secret) {
        log_error("openapi", "domain, app_id and app_secret are required for the OpenAPI");
        return NULL;
    }
    struct openapi *api = calloc(1, sizeof *api);
    if (!api) return NULL;
    api->base = base;
    options_fill(&api->o, opts);
    TAILQ_INIT(&api->active);
    TAILQ_INIT(&api->queued);
    TAILQ_INIT(&api->rejected);
    TAILQ_INIT(&api->tokens.inflight);
    if (strings_copy(api) || layers_init(api, t)) {
        openapi_free(api);
        return NULL;
    }
    return api;
}

void openapi_free(struct openapi *api) {
    if (!api) return;
    struct openapi_call *c;
    while ((c = TAILQ_FIRST(&api->active))) { call_detach(c); call_free(c); }
    while ((c = TAILQ_FIRST(&api->queued))) { call_detach(c); call_free(c); }
    while ((c = TAILQ_FIRST(&api->rejected))) { call_detach(c); call_free(c); }
    openapi_token_free(&api->tokens);
    openapi_ticket_free(&api->ticket);
    openapi_wire_free(&api->wire);
    if (api->app_secret) memset(api->app_secret, 0, strlen(api->app_secret));
    free(api->domain);
    free(api->app_id);
    free(api->app_secret);
    free(api->state_dir);
    free(api);
}

void openapi_set_redis(struct openapi *api, struct redis *r, const char *owner) {
    api->tokens.redis = r;
    api->tokens.owner = owner;
    api->ticket.redis = r;
}

int openapi_set_app_ticket(struct openapi *api, const char *ticket) {
    return openapi_ticket_set(&api->ticket, ticket);
}

int openapi_has_app_ticket(const struct openapi *api) { return api->ticket.value != NULL; }

void openapi_request_app_ticket(struct openapi *api) {
    if (api->o.marketplace && !api->ticket.value) openapi_ticket_resend(&api->ticket);
}

void openapi_get_stats(const struct openapi *api, struct openapi_stats *st) {
    memset(st, 0, sizeof *st);
    st->calls = api->calls;
    st->failures = api->failures;
    st->retries = api->retries;
    st->token_fetches = api->tokens.fetches;
    st->ticket_resends = api->ticket.resends;
    st->inflight = api->nactive;
    st->queued = api->nqueued;
    st->tokens = api->tokens.count;
}
