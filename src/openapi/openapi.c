#include "openapi/openapi_int.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/config.h"
#include "base/log.h"
#include "base/util.h"

enum call_where { CALL_NOWHERE, CALL_REJECTED, CALL_QUEUED, CALL_ACTIVE };
enum call_step { STEP_START, STEP_FINISH };

struct openapi_call {
    TAILQ_ENTRY(openapi_call) link;
    struct openapi *api;
    enum call_where where;
    enum call_step next;
    int finishing;                 /* done is running: cancel is a no-op */
    openapi_done_fn done;
    void *arg;
    const char *method;            /* one of the allowed names, static */
    char *url;                     /* domain + path + ?query */
    size_t path_off, path_len;     /* the path inside url: the only part that is logged */
    char *body;
    size_t body_len;
    enum openapi_token token_type;
    char *tenant_key;
    char *token;                   /* what this attempt carries; compared when refused */
    struct oa_waiter waiter;
    void *http;
    int http_active;
    struct event *step, *deadline;
    uint64_t deadline_at;          /* util_now_ms; timers run on the real clock */
    int timeout_ms, rate_left, token_retried;
    cJSON *result;
    struct oa_error err;
};

static void call_schedule(struct openapi_call *c, enum call_step step, int ms) {
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    c->next = step;
    evtimer_add(c->step, &tv);
}

static void call_fail(struct openapi_call *c, int code, const char *msg) {
    openapi_error_set(&c->err, code, 0, msg);
    call_schedule(c, STEP_FINISH, 0);
}

static void call_pump(struct openapi *api) {
    struct openapi_call *c;
    while (api->nactive < api->o.max_inflight && (c = TAILQ_FIRST(&api->queued))) {
        TAILQ_REMOVE(&api->queued, c, link);
        api->nqueued--;
        TAILQ_INSERT_TAIL(&api->active, c, link);
        api->nactive++;
        c->where = CALL_ACTIVE;
        call_schedule(c, STEP_START, 0);
    }
}

/* Stops everything the call waits on and takes it off its list. */
static void call_detach(struct openapi_call *c) {
    struct openapi *api = c->api;
    if (c->http_active && c->http) api->t.cancel(api->t.ctx, c->http);
    c->http_active = 0;
    c->http = NULL;
    openapi_token_cancel(&c->waiter);
    evtimer_del(c->step);
    evtimer_del(c->deadline);
    if (c->where == CALL_ACTIVE) { TAILQ_REMOVE(&api->active, c, link); api->nactive--; }
    if (c->where == CALL_QUEUED) { TAILQ_REMOVE(&api->queued, c, link); api->nqueued--; }
    if (c->where == CALL_REJECTED) TAILQ_REMOVE(&api->rejected, c, link);
    c->where = CALL_NOWHERE;
}

static void call_free(struct openapi_call *c) {
    if (c->step) event_free(c->step);
    if (c->deadline) event_free(c->deadline);
    cJSON_Delete(c->result);
    free(c->url);
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
    if (!res) {
        api->st.failures++;
        log_warn("openapi", "%s %.*s failed: code=%d msg=%s log_id=%s http=%d", c->method,
                 (int)c->path_len, c->url + c->path_off, pub.code, pub.msg, pub.log_id,
                 pub.http_status);
    }
    c->finishing = 1;
    c->done(c->arg, res, res ? NULL : &pub);
    call_free(c);
    call_pump(api);
}

static void call_on_http(void *arg, const struct http_client_response *res);

static void call_send(struct openapi_call *c) {
    struct openapi *api = c->api;
    char auth[OA_TOKEN_MAX + 16];
    snprintf(auth, sizeof auth, "Bearer %s", c->token);
    const char *headers[] = { "Authorization", auth,
                              "Content-Type", "application/json; charset=utf-8", NULL };
    int64_t left = (int64_t)(c->deadline_at - util_now_ms());
    struct http_client_request req = { .method = c->method, .url = c->url, .headers = headers,
        .body = c->body, .body_len = c->body_len, .timeout_ms = left > 1 ? (int)left : 1,
        .max_response = api->o.max_response };
    c->http_active = 1;
    void *h = api->t.request(api->t.ctx, &req, call_on_http, c);
    memset(auth, 0, sizeof auth);
    if (!h) { c->http_active = 0; call_fail(c, OPENAPI_E_TRANSPORT, "cannot start request"); }
    else if (c->http_active) c->http = h;
}

static void call_on_token(void *arg, const char *token, const struct oa_error *err) {
    struct openapi_call *c = arg;
    if (err) {
        c->err = *err;
        call_schedule(c, STEP_FINISH, 0);
        return;
    }
    free(c->token);
    if (!(c->token = strdup(token))) { call_fail(c, OPENAPI_E_TRANSPORT, "out of memory"); return; }
    call_send(c);
}

/* A refused token: drop it (unless someone already replaced it) and start over once. */
static int call_retry_token(struct openapi_call *c, int code) {
    struct openapi *api = c->api;
    if (!openapi_code_is_token_invalid(code) || c->token_retried) return 0;
    c->token_retried = 1;
    api->st.retries++;
    log_info("openapi", "%s %.*s: token refused (code %d, log_id %s); fetching a new one",
             c->method, (int)c->path_len, c->url + c->path_off, code, c->err.log_id);
    openapi_token_drop(api, c->token_type, c->tenant_key, c->token);
    if (api->marketplace && c->token_type == OPENAPI_TOKEN_TENANT
        && code == OPENAPI_CODE_APP_TOKEN_INVALID)
        openapi_token_drop(api, OPENAPI_TOKEN_APP, "", NULL);
    call_schedule(c, STEP_START, 0);
    return 1;
}

static int reset_wait_ms(const struct openapi *api, const struct http_client_response *res) {
    const char *h = api->t.header(api->t.ctx, res, "x-ogw-ratelimit-reset");
    char *end;
    long s = h ? strtol(h, &end, 10) : -1;
    long ms = (h && end != h && s >= 0 && s < 86400) ? s * 1000 : 1000;
    return ms > api->o.rate_wait_max_ms ? api->o.rate_wait_max_ms : (int)ms;
}

static int call_retry_rate(struct openapi_call *c, int code,
                           const struct http_client_response *res) {
    struct openapi *api = c->api;
    if ((code != OPENAPI_CODE_RATE_LIMITED && res->status != 429) || c->rate_left <= 0) return 0;
    int wait = reset_wait_ms(api, res);
    if ((int64_t)(c->deadline_at - util_now_ms()) <= wait) return 0;
    c->rate_left--;
    api->st.retries++;
    log_info("openapi", "%s %.*s: rate limited (log_id %s); retrying in %d ms", c->method,
             (int)c->path_len, c->url + c->path_off, c->err.log_id, wait);
    call_schedule(c, STEP_START, wait);
    return 1;
}

static void call_on_http(void *arg, const struct http_client_response *res) {
    struct openapi_call *c = arg;
    struct openapi *api = c->api;
    c->http_active = 0;
    c->http = NULL;
    openapi_copy_clean(c->err.log_id, sizeof c->err.log_id,
                       api->t.header(api->t.ctx, res, "X-Tt-Logid"));
    if (res->status == 0) {
        openapi_answer_transport_error(res->error, &c->err);
        call_schedule(c, STEP_FINISH, 0);
        return;
    }
    cJSON *json;
    int code = openapi_answer_parse(res->status, res->body, res->body_len, api->o.max_response,
                                    &json, &c->err);
    if (code == 0) {
        c->result = json;
        call_schedule(c, STEP_FINISH, 0);
        return;
    }
    cJSON_Delete(json);
    if (call_retry_token(c, code) || call_retry_rate(c, code, res)) return;
    call_schedule(c, STEP_FINISH, 0);
}

static void call_on_step(evutil_socket_t fd, short what, void *arg) {
    struct openapi_call *c = arg;
    if (c->next == STEP_FINISH) { call_finish(c); return; }
    c->waiter.fn = call_on_token;
    c->waiter.arg = c;
    openapi_token_acquire(c->api, c->token_type, c->tenant_key, &c->waiter);
}

static void call_on_deadline(evutil_socket_t fd, short what, void *arg) {
    struct openapi_call *c = arg;
    char msg[64];
    if (c->next == STEP_FINISH && evtimer_pending(c->step, NULL)) return;
    snprintf(msg, sizeof msg, "timed out after %d ms", c->timeout_ms);
    openapi_error_set(&c->err, OPENAPI_E_TIMEOUT, 0, msg);
    cJSON_Delete(c->result);
    c->result = NULL;
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

static const char *req_invalid(const struct openapi *api, const struct openapi_req *r) {
    if (!method_name(r->method)) return "method must be GET, POST, PUT, PATCH or DELETE";
    if (!r->path || r->path[0] != '/' || !chars_ok(r->path, 2048, "?#"))
        return "path must start with '/' and hold printable characters only";
    if (r->query && !chars_ok(r->query, 8192, "#")) return "query must be encoded";
    if (r->tenant_key && (!*r->tenant_key || !chars_ok(r->tenant_key, OA_TENANT_MAX, "")))
        return "malformed tenant_key";
    if (r->token != OPENAPI_TOKEN_TENANT && r->token != OPENAPI_TOKEN_APP) return "unknown token type";
    if (api->marketplace && r->token == OPENAPI_TOKEN_TENANT && !r->tenant_key)
        return "a marketplace app needs a tenant_key for a tenant token";
    if (r->body_len && !r->body) return "body_len without a body";
    return NULL;
}

static char *url_build(const struct openapi *api, const struct openapi_req *r) {
    size_t d = strlen(api->domain), p = r->path ? strlen(r->path) : 0;
    size_t q = r->query && *r->query ? strlen(r->query) + 1 : 0;
    char *url = malloc(d + p + q + 1);
    if (!url) return NULL;
    memcpy(url, api->domain, d);
    if (p) memcpy(url + d, r->path, p);
    if (q) { url[d + p] = '?'; memcpy(url + d + p + 1, r->query, q - 1); }
    url[d + p + q] = '\0';
    return url;
}

static int call_fill(struct openapi_call *c, const struct openapi_req *r) {
    struct openapi *api = c->api;
    c->method = method_name(r->method);
    if (!c->method) c->method = "?";
    c->path_off = strlen(api->domain);
    c->path_len = r->path ? strlen(r->path) : 0;
    c->token_type = r->token;
    c->timeout_ms = r->timeout_ms > 0 ? r->timeout_ms : api->o.default_timeout_ms;
    c->rate_left = api->o.rate_retries;
    c->body_len = r->body ? r->body_len : 0;
    if (r->body && r->body_owned) c->body = (char *)r->body;
    else if (r->body && !(c->body = malloc(r->body_len ? r->body_len : 1))) return -1;
    else if (r->body) memcpy(c->body, r->body, r->body_len);
    if (r->tenant_key && !(c->tenant_key = strdup(r->tenant_key))) return -1;
    if (!(c->url = url_build(api, r))) return -1;
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
        c->where = CALL_ACTIVE;
        call_schedule(c, STEP_START, 0);
    } else {
        TAILQ_INSERT_TAIL(&api->queued, c, link);
        api->nqueued++;
        c->where = CALL_QUEUED;
    }
}

struct openapi_call *openapi_request(struct openapi *api, const struct openapi_req *req,
                                     openapi_done_fn done, void *arg) {
    struct openapi_call *c = calloc(1, sizeof *c);
    if (!c) {
        if (req->body_owned) free((char *)req->body);
        return NULL;
    }
    c->api = api;
    c->done = done;
    c->arg = arg;
    if (call_fill(c, req)) {
        if (req->body_owned && !c->body) free((char *)req->body);
        call_free(c);
        return NULL;
    }
    api->st.calls++;
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
    c->where = CALL_REJECTED;
    call_fail(c, code, bad);
    return c;
}

void openapi_call_cancel(struct openapi_call *c) {
    if (!c || c->finishing) return;
    struct openapi *api = c->api;
    int was_active = c->where == CALL_ACTIVE;
    call_detach(c);
    call_free(c);
    if (was_active) call_pump(api);
}

void *openapi_post_plain(struct openapi *api, const char *path, const char *body, size_t len,
                         http_done_fn done, void *arg) {
    char url[4096];
    if (snprintf(url, sizeof url, "%s%s", api->domain, path) >= (int)sizeof url) return NULL;
    const char *headers[] = { "Content-Type", "application/json; charset=utf-8", NULL };
    struct http_client_request req = { .method = "POST", .url = url, .headers = headers,
        .body = body, .body_len = len, .timeout_ms = api->o.token_timeout_ms,
        .max_response = api->o.max_response };
    return api->t.request(api->t.ctx, &req, done, arg);
}

static void options_fill(struct openapi_options *o, const struct openapi_options *in) {
    if (in) *o = *in;
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

struct openapi *openapi_new(struct event_base *base, const struct config *cfg,
                            const struct openapi_transport *t,
                            const struct openapi_options *opts) {
    if (!cfg->domain || !*cfg->domain || !cfg->app_id || !*cfg->app_id || !cfg->app_secret
        || !*cfg->app_secret) {
        log_error("openapi", "domain, app_id and app_secret are required for the OpenAPI");
        return NULL;
    }
    struct openapi *api = calloc(1, sizeof *api);
    if (!api) return NULL;
    api->base = base;
    api->t = *t;
    options_fill(&api->o, opts);
    api->marketplace = cfg->app_type == CONFIG_APP_MARKETPLACE;
    TAILQ_INIT(&api->fetches);
    TAILQ_INIT(&api->active);
    TAILQ_INIT(&api->queued);
    TAILQ_INIT(&api->rejected);
    api->domain = strdup(cfg->domain);
    api->app_id = strdup(cfg->app_id);
    api->app_secret = strdup(cfg->app_secret);
    api->state_dir = cfg->state_dir ? strdup(cfg->state_dir) : NULL;
    if (!api->domain || !api->app_id || !api->app_secret || (cfg->state_dir && !api->state_dir)) {
        openapi_free(api);
        return NULL;
    }
    size_t n = strlen(api->domain);
    while (n && api->domain[n - 1] == '/') api->domain[--n] = '\0';
    openapi_ticket_load(api);
    return api;
}

void openapi_free(struct openapi *api) {
    if (!api) return;
    struct openapi_call *c;
    while ((c = TAILQ_FIRST(&api->active))) { call_detach(c); call_free(c); }
    while ((c = TAILQ_FIRST(&api->queued))) { call_detach(c); call_free(c); }
    while ((c = TAILQ_FIRST(&api->rejected))) { call_detach(c); call_free(c); }
    openapi_token_free_all(api);
    openapi_ticket_free(api);
    if (api->app_secret) memset(api->app_secret, 0, strlen(api->app_secret));
    free(api->domain);
    free(api->app_id);
    free(api->app_secret);
    free(api->state_dir);
    free(api);
}

void openapi_get_stats(const struct openapi *api, struct openapi_stats *st) {
    *st = api->st;
    st->inflight = api->nactive;
    st->queued = api->nqueued;
    st->tokens = api->ntokens;
}
