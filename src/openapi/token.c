#include "openapi/openapi_int.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

/* One request to a token endpoint, shared by everyone waiting for that token. */
struct oa_fetch {
    TAILQ_ENTRY(oa_fetch) link;
    struct openapi *api;
    struct oa_token *tok;
    struct oa_waiters waiters;
    struct oa_waiter dep;          /* a marketplace tenant fetch waits for the app token */
    char *app_token;               /* the app token this tenant fetch used */
    void *http;
    int http_active;
    int retried;                   /* a refused app token was replaced once */
    struct event *ev;              /* completion runs from the loop, never inside a send */
    char *value;
    long expire_s;
    int failed;
    struct oa_error err;
};

static const char *token_name(enum openapi_token type) {
    return type == OPENAPI_TOKEN_APP ? "app_access_token" : "tenant_access_token";
}

const char *openapi_token_tenant(const struct openapi *api, enum openapi_token type,
                                 const char *tenant_key) {
    if (type == OPENAPI_TOKEN_APP || !api->marketplace) return "";
    return tenant_key ? tenant_key : "";
}

/* The key is (app_id, type, tenant_key); app_id is the instance's, hashed in anyway so a
 * shared cache keyed the same way stays correct. */
static unsigned token_hash(const struct openapi *api, enum openapi_token type,
                           const char *tenant) {
    uint32_t h = 2166136261u ^ (uint32_t)type;
    for (const char *p = api->app_id; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ 0xff) * 16777619u;
    for (const char *p = tenant; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    return h % OA_BUCKETS;
}

static struct oa_token *token_find(struct openapi *api, enum openapi_token type,
                                   const char *tenant) {
    struct oa_token *t = api->buckets[token_hash(api, type, tenant)];
    while (t && (t->type != type || strcmp(t->tenant_key, tenant) != 0)) t = t->next;
    return t;
}

static void token_remove(struct openapi *api, struct oa_token **slot) {
    struct oa_token *t = *slot;
    *slot = t->next;
    free(t->tenant_key);
    free(t->value);
    free(t);
    api->ntokens--;
}

/* Frees stale entries; when none is stale, the one closest to expiry. Entries with a
 * fetch in flight stay: their waiters point at them. */
static void token_evict(struct openapi *api) {
    uint64_t now = api->o.now_ms();
    struct oa_token **victim = NULL;
    for (int b = 0; b < OA_BUCKETS; b++) {
        struct oa_token **slot = &api->buckets[b];
        while (*slot) {
            struct oa_token *t = *slot;
            if (!t->fetch && (!t->value || t->fresh_until <= now)) { token_remove(api, slot); continue; }
            if (!t->fetch && (!victim || t->fresh_until < (*victim)->fresh_until)) victim = slot;
            slot = &t->next;
        }
    }
    if (api->ntokens >= api->o.max_tokens && victim) token_remove(api, victim);
}

static struct oa_token *token_insert(struct openapi *api, enum openapi_token type,
                                     const char *tenant) {
    if (api->ntokens >= api->o.max_tokens) token_evict(api);
    struct oa_token *t = calloc(1, sizeof *t);
    if (!t || !(t->tenant_key = strdup(tenant))) { free(t); return NULL; }
    t->type = type;
    unsigned h = token_hash(api, type, tenant);
    t->next = api->buckets[h];
    api->buckets[h] = t;
    api->ntokens++;
    return t;
}

void openapi_token_drop(struct openapi *api, enum openapi_token type, const char *tenant_key,
                        const char *value) {
    struct oa_token *t = token_find(api, type, openapi_token_tenant(api, type, tenant_key));
    if (t && t->value && (!value || strcmp(t->value, value) == 0)) {
        free(t->value);
        t->value = NULL;
    }
}

void openapi_token_cancel(struct oa_waiter *w) {
    if (!w->fetch) return;
    TAILQ_REMOVE(&w->fetch->waiters, w, link);
    w->fetch = NULL;
}

static void fetch_fail(struct oa_fetch *f, int code, const char *msg) {
    f->failed = 1;
    openapi_error_set(&f->err, code, 0, msg);
    event_active(f->ev, 0, 0);
}

static void fetch_on_http(void *arg, const struct http_client_response *res);

static void fetch_send(struct oa_fetch *f, const char *app_token) {
    struct openapi *api = f->api;
    cJSON *o = cJSON_CreateObject();
    const char *path;
    if (f->tok->type == OPENAPI_TOKEN_TENANT && api->marketplace) {
        path = "/open-apis/auth/v3/tenant_access_token";
        cJSON_AddStringToObject(o, "app_access_token", app_token);
        cJSON_AddStringToObject(o, "tenant_key", f->tok->tenant_key);
    } else if (api->marketplace && !api->ticket) {
        cJSON_Delete(o);
        fetch_fail(f, OPENAPI_E_NOTICKET, "no app_ticket yet; asked the platform to resend one");
        return;
    } else {
        cJSON_AddStringToObject(o, "app_id", api->app_id);
        cJSON_AddStringToObject(o, "app_secret", api->app_secret);
        if (api->marketplace) cJSON_AddStringToObject(o, "app_ticket", api->ticket);
        path = f->tok->type == OPENAPI_TOKEN_APP
            ? (api->marketplace ? "/open-apis/auth/v3/app_access_token"
                                : "/open-apis/auth/v3/app_access_token/internal")
            : "/open-apis/auth/v3/tenant_access_token/internal";
    }
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!body) { fetch_fail(f, OPENAPI_E_TRANSPORT, "out of memory"); return; }
    f->http_active = 1;
    void *h = openapi_post_plain(api, path, body, strlen(body), fetch_on_http, f);
    /* The body held the app secret: leave nothing of it in freed memory. */
    memset(body, 0, strlen(body));
    free(body);
    if (!h) { f->http_active = 0; fetch_fail(f, OPENAPI_E_TRANSPORT, "cannot start request"); }
    else if (f->http_active) f->http = h;
}

static void fetch_on_app_token(void *arg, const char *token, const struct oa_error *err) {
    struct oa_fetch *f = arg;
    if (err) {
        f->failed = 1;
        f->err = *err;
        event_active(f->ev, 0, 0);
        return;
    }
    free(f->app_token);
    if (!(f->app_token = strdup(token))) { fetch_fail(f, OPENAPI_E_TRANSPORT, "out of memory"); return; }
    fetch_send(f, token);
}

/* Refused ticket or app token: act on it, and say whether the fetch goes on. */
static int fetch_recover(struct oa_fetch *f, int code) {
    struct openapi *api = f->api;
    if (code == OPENAPI_CODE_TICKET_INVALID && api->marketplace) {
        openapi_ticket_drop(api);
        openapi_ticket_resend(api);
        return 0;
    }
    if (!api->marketplace || f->tok->type != OPENAPI_TOKEN_TENANT || f->retried
        || !openapi_code_is_token_invalid(code))
        return 0;
    f->retried = 1;
    openapi_token_drop(api, OPENAPI_TOKEN_APP, "", f->app_token);
    openapi_token_acquire(api, OPENAPI_TOKEN_APP, "", &f->dep);
    return 1;
}

static void fetch_on_http(void *arg, const struct http_client_response *res) {
    struct oa_fetch *f = arg;
    struct openapi *api = f->api;
    f->http_active = 0;
    f->http = NULL;
    const char *log_id = api->t.header(api->t.ctx, res, "X-Tt-Logid");
    openapi_copy_clean(f->err.log_id, sizeof f->err.log_id, log_id);
    if (res->status == 0) {
        openapi_answer_transport_error(res->error, &f->err);
        f->failed = 1;
        event_active(f->ev, 0, 0);
        return;
    }
    cJSON *json;
    int code = openapi_answer_parse(res->status, res->body, res->body_len, api->o.max_response,
                                    &json, &f->err);
    const char *tok = NULL;
    if (code == 0) tok = openapi_answer_token(json, token_name(f->tok->type), &f->expire_s, &f->err);
    if (tok) f->value = strdup(tok);
    cJSON_Delete(json);
    if (code != 0 && fetch_recover(f, code)) return;
    f->failed = !f->value;
    if (tok && !f->value) openapi_error_set(&f->err, OPENAPI_E_TRANSPORT, res->status, "out of memory");
    event_active(f->ev, 0, 0);
}

static void fetch_free(struct oa_fetch *f) {
    struct oa_waiter *w;
    while ((w = TAILQ_FIRST(&f->waiters))) openapi_token_cancel(w);
    openapi_token_cancel(&f->dep);
    if (f->http_active && f->http) f->api->t.cancel(f->api->t.ctx, f->http);
    TAILQ_REMOVE(&f->api->fetches, f, link);
    if (f->tok && f->tok->fetch == f) f->tok->fetch = NULL;
    event_free(f->ev);
    free(f->app_token);
    free(f->value);
    free(f);
}

static void fetch_log(const struct oa_fetch *f) {
    const char *tenant = f->tok->tenant_key;
    if (f->failed)
        log_warn("openapi", "%s fetch failed%s%s: code=%d msg=%s log_id=%s http=%d",
                 token_name(f->tok->type), *tenant ? " for tenant " : "", tenant,
                 f->err.code, f->err.msg, f->err.log_id, f->err.http_status);
    else
        log_debug("openapi", "%s fetched%s%s, expires in %ld s", token_name(f->tok->type),
                  *tenant ? " for tenant " : "", tenant, f->expire_s);
}

/* A refresh inside the margin failed: the current token still works until it expires,
 * so the platform being away for a while does not fail calls at once. */
static char *fetch_fallback(const struct oa_fetch *f, const struct oa_token *t) {
    if (!t->value || f->api->o.now_ms() >= t->valid_until) return NULL;
    log_warn("openapi", "%s refresh failed; using the current one until it expires",
             token_name(t->type));
    return strdup(t->value);
}

/* Caches the outcome, then answers every waiter; a waiter's callback may cancel others
 * or start new acquisitions, so the list is popped one at a time. */
static void fetch_on_complete(evutil_socket_t fd, short what, void *arg) {
    struct oa_fetch *f = arg;
    struct oa_token *t = f->tok;
    struct openapi *api = f->api;
    fetch_log(f);
    /* From here the entry may be evicted by what a waiter does; f forgets it. */
    t->fetch = NULL;
    f->tok = NULL;
    if (!f->failed) {
        char *copy = strdup(f->value);
        if (copy) {
            free(t->value);
            t->value = copy;
            t->fresh_until = api->o.now_ms() + openapi_answer_lifetime_ms(f->expire_s);
            t->valid_until = api->o.now_ms() + (uint64_t)f->expire_s * 1000;
        }
    }
    char *value = f->failed ? fetch_fallback(f, t) : f->value;
    struct oa_waiter *w;
    while ((w = TAILQ_FIRST(&f->waiters))) {
        openapi_token_cancel(w);
        w->fn(w->arg, value, value ? NULL : &f->err);
    }
    if (value != f->value) free(value);
    fetch_free(f);
}

static struct oa_fetch *fetch_start(struct openapi *api, struct oa_token *t) {
    struct oa_fetch *f = calloc(1, sizeof *f);
    if (!f || !(f->ev = event_new(api->base, -1, 0, fetch_on_complete, f))) { free(f); return NULL; }
    f->api = api;
    f->tok = t;
    TAILQ_INIT(&f->waiters);
    f->dep.fn = fetch_on_app_token;
    f->dep.arg = f;
    TAILQ_INSERT_TAIL(&api->fetches, f, link);
    t->fetch = f;
    api->st.token_fetches++;
    if (t->type == OPENAPI_TOKEN_TENANT && api->marketplace)
        openapi_token_acquire(api, OPENAPI_TOKEN_APP, "", &f->dep);
    else
        fetch_send(f, NULL);
    return f;
}

static void waiter_fail(struct oa_waiter *w, int code, const char *msg) {
    struct oa_error err = { 0 };
    openapi_error_set(&err, code, 0, msg);
    w->fn(w->arg, NULL, &err);
}

void openapi_token_acquire(struct openapi *api, enum openapi_token type,
                           const char *tenant_key, struct oa_waiter *w) {
    const char *tenant = openapi_token_tenant(api, type, tenant_key);
    if (api->marketplace && type == OPENAPI_TOKEN_TENANT && !*tenant) {
        waiter_fail(w, OPENAPI_E_INVAL, "a marketplace app needs a tenant_key for a tenant token");
        return;
    }
    struct oa_token *t = token_find(api, type, tenant);
    if (t && t->value && api->o.now_ms() < t->fresh_until) {
        w->fn(w->arg, t->value, NULL);
        return;
    }
    if (api->marketplace && type == OPENAPI_TOKEN_APP && !api->ticket && !(t && t->fetch)) {
        openapi_ticket_resend(api);
        waiter_fail(w, OPENAPI_E_NOTICKET, "no app_ticket yet; asked the platform to resend one");
        return;
    }
    if ((!t && !(t = token_insert(api, type, tenant))) || (!t->fetch && !fetch_start(api, t))) {
        waiter_fail(w, OPENAPI_E_TRANSPORT, "out of memory");
        return;
    }
    w->fetch = t->fetch;
    TAILQ_INSERT_TAIL(&t->fetch->waiters, w, link);
}

void openapi_token_free_all(struct openapi *api) {
    struct oa_fetch *f;
    while ((f = TAILQ_FIRST(&api->fetches))) fetch_free(f);
    for (int b = 0; b < OA_BUCKETS; b++)
        while (api->buckets[b]) token_remove(api, &api->buckets[b]);
}
