/* A fake Open Platform behind the openapi transport seam, for test_openapi.c and
 * test_openapi_token.c: issues tokens (tenant tokens name their tenant), checks tickets and
 * Bearer tokens, records every request, answers scripted replies first, and delivers
 * either inside request (sync) or from a libevent timer. */
#ifndef TEST_OPENAPI_FAKE_H
#define TEST_OPENAPI_FAKE_H

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/log.h"
#include "openapi/openapi.h"

#define FAKE_SECRET "s3cr3t-app-secret-XYZ"
#define FAKE_MAX 512

struct fake_req {
    char method[8], path[256], auth[256], body[512];
};

struct fake_token { char value[64], tenant[64]; int app, revoked; };

struct fake_script { int status; char body[600]; const char *reset; };

struct fake;
struct fake_call {
    struct fake *f;
    struct event *ev;
    http_done_fn done;
    void *arg;
    int status, business;
    char body[700];
    char log_id[32];
    const char *reset;
    struct fake_call *next;
};

struct fake {
    struct event_base *base;
    int sync, delay_ms, business_delay_ms;
    struct fake_req reqs[FAKE_MAX];
    int nreqs, serial, expire;
    struct fake_token toks[FAKE_MAX];
    int ntoks;
    char ticket[64];
    int resends, fetches_app, fetches_tenant, business, cancels;
    int fail_tokens;                    /* token endpoints answer an error */
    int outstanding_business, peak_business;
    struct fake_script script[16];
    int nscript, script_pos;
    struct fake_call *calls;
    uint64_t now;                       /* the injected expiry clock */
};

static struct fake *fake_cur;
/* Every token any fake issued in this process, for the log scan. */
static char fake_issued[4096][64];
static int fake_nissued;

static inline uint64_t fake_now(void) { return fake_cur->now; }

static inline void fake_script_add(struct fake *f, int status, const char *body, const char *reset) {
    struct fake_script *s = &f->script[f->nscript++];
    s->status = status;
    snprintf(s->body, sizeof s->body, "%s", body);
    s->reset = reset;
}

static const char *fake_issue(struct fake *f, int app, const char *tenant) {
    struct fake_token *t = &f->toks[f->ntoks++];
    f->serial++;
    if (app) snprintf(t->value, sizeof t->value, "a-tok-%d", f->serial);
    else snprintf(t->value, sizeof t->value, "t-%s-tok-%d", tenant, f->serial);
    snprintf(t->tenant, sizeof t->tenant, "%s", tenant);
    t->app = app;
    if (fake_nissued < 4096) snprintf(fake_issued[fake_nissued++], 64, "%s", t->value);
    return t->value;
}

static struct fake_token *fake_token_find(struct fake *f, const char *value) {
    for (int i = 0; value && i < f->ntoks; i++)
        if (strcmp(f->toks[i].value, value) == 0 && !f->toks[i].revoked) return &f->toks[i];
    return NULL;
}

static const char *jstr(cJSON *o, const char *k) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline void fake_token_answer(struct fake_call *c, int app, const char *tenant) {
    struct fake *f = c->f;
    snprintf(c->body, sizeof c->body, "{\"code\":0,\"msg\":\"ok\",\"%s\":\"%s\",\"expire\":%d}",
             app ? "app_access_token" : "tenant_access_token", fake_issue(f, app, tenant), f->expire);
}

static inline void fake_auth(struct fake_call *c, const char *path, cJSON *b) {
    struct fake *f = c->f;
    const char *id = jstr(b, "app_id"), *secret = jstr(b, "app_secret");
    int creds = id && secret && strcmp(id, "cli_test") == 0 && strcmp(secret, FAKE_SECRET) == 0;
    if (f->fail_tokens) {
        f->fetches_tenant++;
        c->status = 500;
        snprintf(c->body, sizeof c->body, "{\"code\":99991000,\"msg\":\"system busy\"}");
        return;
    }
    if (strcmp(path, "/open-apis/auth/v3/app_ticket/resend") == 0) {
        f->resends++;
        snprintf(c->body, sizeof c->body, "{\"code\":%d,\"msg\":\"ok\"}", creds ? 0 : 10014);
    } else if (strcmp(path, "/open-apis/auth/v3/tenant_access_token") == 0) {
        f->fetches_tenant++;
        struct fake_token *a = fake_token_find(f, jstr(b, "app_access_token"));
        const char *tenant = jstr(b, "tenant_key");
        if (!a || !a->app || !tenant)
            snprintf(c->body, sizeof c->body, "{\"code\":99991664,\"msg\":\"app token invalid\"}");
        else fake_token_answer(c, 0, tenant);
    } else if (!creds) {
        snprintf(c->body, sizeof c->body, "{\"code\":10014,\"msg\":\"app secret invalid\"}");
    } else if (strcmp(path, "/open-apis/auth/v3/app_access_token") == 0) {
        f->fetches_app++;
        const char *tk = jstr(b, "app_ticket");
        if (!tk || strcmp(tk, f->ticket) != 0)
            snprintf(c->body, sizeof c->body, "{\"code\":10012,\"msg\":\"app ticket invalid\"}");
        else fake_token_answer(c, 1, "");
    } else if (strcmp(path, "/open-apis/auth/v3/app_access_token/internal") == 0) {
        f->fetches_app++;
        fake_token_answer(c, 1, "");
    } else {
        f->fetches_tenant++;
        fake_token_answer(c, 0, "self");
    }
}

/* Scripted answers first; otherwise checks the Bearer token and names its tenant. */
static inline void fake_business(struct fake_call *c, const char *auth) {
    struct fake *f = c->f;
    c->business = 1;
    f->business++;
    if (++f->outstanding_business > f->peak_business) f->peak_business = f->outstanding_business;
    if (f->script_pos < f->nscript) {
        struct fake_script *s = &f->script[f->script_pos++];
        c->status = s->status;
        snprintf(c->body, sizeof c->body, "%s", s->body);
        c->reset = s->reset;
        return;
    }
    struct fake_token *t = auth && strncmp(auth, "Bearer ", 7) == 0 ? fake_token_find(f, auth + 7) : NULL;
    if (!t) {
        c->status = 401;
        snprintf(c->body, sizeof c->body, "{\"code\":99991663,\"msg\":\"invalid token\"}");
        return;
    }
    snprintf(c->body, sizeof c->body,
             "{\"code\":0,\"msg\":\"success\",\"data\":{\"tenant\":\"%s\",\"app\":%d}}",
             t->tenant, t->app);
}

static inline void fake_unlink(struct fake_call *c) {
    struct fake_call **p = &c->f->calls;
    while (*p != c) p = &(*p)->next;
    *p = c->next;
    if (c->business) c->f->outstanding_business--;
    if (c->ev) event_free(c->ev);
    free(c);
}

static inline void fake_deliver(struct fake_call *c) {
    struct http_client_response res = { .status = c->status, .body = c->body,
                                        .body_len = strlen(c->body), .priv = c };
    if (c->status == 0) { res.error = c->body; res.body = ""; res.body_len = 0; }
    http_done_fn done = c->done;
    void *arg = c->arg;
    /* The response must stay valid during done, so unlink after. */
    done(arg, &res);
    fake_unlink(c);
}

static inline void fake_on_timer(evutil_socket_t fd, short what, void *arg) { fake_deliver(arg); }

static void *fake_request(void *ctx, const struct http_client_request *req, http_done_fn done,
                          void *arg) {
    struct fake *f = ctx;
    struct fake_call *c = calloc(1, sizeof *c);
    c->f = f;
    c->done = done;
    c->arg = arg;
    c->status = 200;
    c->next = f->calls;
    f->calls = c;
    struct fake_req *r = &f->reqs[f->nreqs < FAKE_MAX ? f->nreqs++ : FAKE_MAX - 1];
    const char *path = strstr(req->url, "/open-apis/");
    snprintf(r->method, sizeof r->method, "%s", req->method);
    snprintf(r->path, sizeof r->path, "%s", path ? path : req->url);
    snprintf(r->body, sizeof r->body, "%.*s", (int)req->body_len, req->body ? req->body : "");
    r->auth[0] = '\0';
    for (const char *const *h = req->headers; h && h[0]; h += 2)
        if (strcmp(h[0], "Authorization") == 0) snprintf(r->auth, sizeof r->auth, "%s", h[1]);
    snprintf(c->log_id, sizeof c->log_id, "log-%d", f->nreqs);
    if (path && strncmp(path, "/open-apis/auth/", 16) == 0) {
        cJSON *b = cJSON_ParseWithLength(req->body, req->body_len);
        fake_auth(c, path, b);
        cJSON_Delete(b);
    } else {
        fake_business(c, r->auth[0] ? r->auth : NULL);
    }
    int delay = c->business && f->business_delay_ms ? f->business_delay_ms : f->delay_ms;
    if (f->sync && !(c->business && f->business_delay_ms)) {
        fake_deliver(c);
        return (void *)1;          /* already answered: never cancelled */
    }
    c->ev = evtimer_new(f->base, fake_on_timer, c);
    struct timeval tv = { delay / 1000, (delay % 1000) * 1000 };
    evtimer_add(c->ev, &tv);
    return c;
}

static inline void fake_cancel(void *ctx, void *call) {
    struct fake *f = ctx;
    f->cancels++;
    fake_unlink(call);
}

static const char *fake_header(void *ctx, const struct http_client_response *res,
                               const char *name) {
    const struct fake_call *c = res->priv;
    if (res->status == 0) return NULL;
    if (strcasecmp(name, "x-tt-logid") == 0) return c->log_id;
    if (strcasecmp(name, "x-ogw-ratelimit-reset") == 0) return c->reset;
    return NULL;
}

static struct fake *fake_new(int sync) {
    struct fake *f = calloc(1, sizeof *f);
    f->base = event_base_new();
    f->sync = sync;
    f->delay_ms = 1;
    f->expire = 7200;
    f->now = 1000000;
    snprintf(f->ticket, sizeof f->ticket, "tk-1");
    fake_cur = f;
    return f;
}

static inline void fake_free(struct fake *f) {
    while (f->calls) fake_unlink(f->calls);
    event_base_free(f->base);
    free(f);
}

static struct openapi *fake_api(struct fake *f, int marketplace, const char *state_dir,
                                const struct openapi_options *o) {
    struct openapi_transport t = { f, fake_request, fake_cancel, fake_header };
    struct openapi_options opts = { 0 };
    if (o) opts = *o;
    opts.domain = "http://fake.invalid/";
    opts.app_id = "cli_test";
    opts.app_secret = FAKE_SECRET;
    opts.marketplace = marketplace;
    opts.state_dir = state_dir;
    opts.now_ms = fake_now;
    return openapi_new(f->base, &t, &opts);
}

struct result {
    int done, code, http;
    char msg[256], log_id[64], tenant[64];
    int app;
    cJSON *json;
};

static inline void on_result(void *arg, cJSON *res, const struct openapi_error *err) {
    struct result *r = arg;
    r->done++;
    if (err) {
        r->code = err->code;
        r->http = err->http_status;
        snprintf(r->msg, sizeof r->msg, "%s", err->msg);
        snprintf(r->log_id, sizeof r->log_id, "%s", err->log_id);
        return;
    }
    cJSON *data = cJSON_GetObjectItemCaseSensitive(res, "data");
    const char *t = jstr(data, "tenant");
    snprintf(r->tenant, sizeof r->tenant, "%s", t ? t : "");
    r->app = cJSON_GetObjectItemCaseSensitive(data, "app") ? cJSON_GetObjectItemCaseSensitive(data, "app")->valueint : -1;
    r->json = res;
}

static struct openapi_call *call_tenant(struct openapi *api, const char *tenant, struct result *r) {
    memset(r, 0, sizeof *r);
    r->code = 12345;
    struct openapi_req req = { "POST", "/open-apis/im/v1/messages", "receive_id_type=chat_id",
                               "{\"receive_id\":\"oc_1\"}", 21, 0, tenant, OPENAPI_TOKEN_TENANT, 0,
                               NULL, 0 };
    return openapi_request(api, &req, on_result, r);
}

static inline void result_clear(struct result *r) {
    cJSON_Delete(r->json);
    r->json = NULL;
}

static const char *log_path(void) {
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/larkgw-openapi-test-%ld.log", (long)getpid());
    return path;
}

/* Everything the module logged, scanned for the secret and every token the fake issued. */
static inline int log_leaks(int *lines) {
    FILE *in = fopen(log_path(), "r");
    char line[4096];
    int leaks = 0;
    *lines = 0;
    while (in && fgets(line, sizeof line, in)) {
        (*lines)++;
        if (strstr(line, FAKE_SECRET) || strstr(line, "Bearer")) leaks++;
        for (int i = 0; i < fake_nissued; i++)
            if (strstr(line, fake_issued[i])) leaks++;
    }
    if (in) fclose(in);
    return leaks;
}

#endif
