#include "openapi/openapi_token.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "net/redis.h"

#define TOKEN_MARGIN_MS (180 * 1000)
#define SHARED_LOCK_MS 5000        /* one gateway fetches; a dead one blocks no longer */
#define SHARED_POLL_MS 50
#define SHARED_WAIT_MS 3000        /* then the waiting gateways fetch themselves */

struct openapi_token_entry {
    struct openapi_token_entry *next;   /* hash chain */
    enum openapi_token type;
    char *tenant_key;              /* "" for app tokens and the self-built tenant token */
    char *value;                   /* NULL when none is cached */
    uint64_t fresh_until;          /* on the now_ms clock: refetch from here */
    uint64_t valid_until;          /* the platform's expiry: usable until here */
    struct openapi_token_fetch *fetch;  /* the one fetch in flight (single-flight), or NULL */
};

TAILQ_HEAD(token_waiters, openapi_token_waiter);

/* One request to a token endpoint, shared by everyone waiting for that token. */
struct openapi_token_fetch {
    TAILQ_ENTRY(openapi_token_fetch) link;
    struct openapi_tokens *tks;
    struct openapi_token_entry *tok;
    struct token_waiters waiters;
    struct openapi_token_waiter dep;    /* a marketplace tenant fetch waits for the app token */
    char *app_token;               /* the app token this tenant fetch used */
    struct openapi_wire_call wire;
    int retried;                   /* a refused app token was replaced once */
    struct event *ev;              /* completion runs from the loop, never inside a send */
    char *value;
    long expire_s;
    int failed;
    struct openapi_wire_error err;
    /* Shared through Redis (tks->redis): */
    struct redis_call *rcall;      /* a GET of the shared token, or the lock, in flight */
    struct event *poll_ev;         /* another gateway holds the lock: look again */
    uint64_t wait_start;
    int locked, shared_hit, ticket_asked;
    struct openapi_ticket_get tget;
};

static const char *token_name(enum openapi_token type) {
    return type == OPENAPI_TOKEN_APP ? "app_access_token" : "tenant_access_token";
}

/* The key of the self-built tenant token is "": the app has one tenant. */
static const char *token_tenant(const struct openapi_tokens *tks, enum openapi_token type,
                                const char *tenant_key) {
    if (type == OPENAPI_TOKEN_APP || !tks->marketplace) return "";
    return tenant_key ? tenant_key : "";
}

static int token_chars_ok(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7f) return 0;
    return n > 0 && n <= OPENAPI_WIRE_TOKEN_MAX;
}

const char *openapi_token_parse(const cJSON *json, const char *field, long *expire_s,
                                struct openapi_wire_error *err) {
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(json, field);
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(json, "expire");
    char msg[96];
    if (!cJSON_IsString(tok) || !token_chars_ok(tok->valuestring)) {
        snprintf(msg, sizeof msg, "token answer without a usable %s", field);
        openapi_wire_error_set(err, OPENAPI_E_TOKEN, 200, msg);
        return NULL;
    }
    if (!cJSON_IsNumber(exp) || exp->valuedouble < 0) {
        openapi_wire_error_set(err, OPENAPI_E_TOKEN, 200, "token answer without a usable expire");
        return NULL;
    }
    /* A day is far beyond the platform's 2 h; bounding it keeps the arithmetic sane. */
    *expire_s = exp->valuedouble > 86400 ? 86400 : (long)exp->valuedouble;
    return tok->valuestring;
}

uint64_t openapi_token_lifetime_ms(long expire_s) {
    uint64_t life = (uint64_t)(expire_s > 0 ? expire_s : 0) * 1000;
    return life > TOKEN_MARGIN_MS ? life - TOKEN_MARGIN_MS : life / 2;
}

/* The key is (app_id, type, tenant_key); app_id is the instance's, hashed in anyway so a
 * shared cache keyed the same way stays correct. */
static unsigned token_hash(const struct openapi_tokens *tks, enum openapi_token type,
                           const char *tenant) {
    uint32_t h = 2166136261u ^ (uint32_t)type;
    for (const char *p = tks->app_id; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ 0xff) * 16777619u;
    for (const char *p = tenant; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    return h % OPENAPI_TOKEN_BUCKETS;
}

static struct openapi_token_entry *token_find(struct openapi_tokens *tks,
                                              enum openapi_token type, const char *tenant) {
    struct openapi_token_entry *t = tks->buckets[token_hash(tks, type, tenant)];
    while (t && (t->type != type || strcmp(t->tenant_key, tenant) != 0)) t = t->next;
    return t;
}

static void token_remove(struct openapi_tokens *tks, struct openapi_token_entry **slot) {
    struct openapi_token_entry *t = *slot;
    *slot = t->next;
    free(t->tenant_key);
    free(t->value);
    free(t);
    tks->count--;
}

/* Frees stale entries; when none is stale, the one closest to expiry. Entries with a
 * fetch in flight stay: their waiters point at them. */
static void token_evict(struct openapi_tokens *tks) {
    uint64_t now = tks->now_ms();
    struct openapi_token_entry **victim = NULL;
    for (int b = 0; b < OPENAPI_TOKEN_BUCKETS; b++) {
        struct openapi_token_entry **slot = &tks->buckets[b];
        while (*slot) {
            struct openapi_token_entry *t = *slot;
            if (!t->fetch && (!t->value || t->fresh_until <= now)) {
                token_remove(tks, slot);
                continue;
            }
            if (!t->fetch && (!victim || t->fresh_until < (*victim)->fresh_until)) victim = slot;
            slot = &t->next;
        }
    }
    if (tks->count >= tks->max_tokens && victim) token_remove(tks, victim);
}

static struct openapi_token_entry *token_insert(struct openapi_tokens *tks,
                                                enum openapi_token type, const char *tenant) {
    if (tks->count >= tks->max_tokens) token_evict(tks);
    struct openapi_token_entry *t = calloc(1, sizeof *t);
    if (!t || !(t->tenant_key = strdup(tenant))) { free(t); return NULL; }
    t->type = type;
    unsigned h = token_hash(tks, type, tenant);
    t->next = tks->buckets[h];
    tks->buckets[h] = t;
    tks->count++;
    return t;
}

/* kind "token" or "lock:token"; -1 when it does not fit. */
static int shared_key(const struct openapi_tokens *tks, const char *kind,
                      enum openapi_token type, const char *tenant, char *out, size_t n) {
    int len = snprintf(out, n, "%s%s:%s:%s:%s", redis_prefix(tks->redis), kind, tks->app_id,
                       type == OPENAPI_TOKEN_APP ? "app" : "tenant", tenant);
    return len > 0 && (size_t)len < n ? 0 : -1;
}

/* Deletes the shared copy when it is still value (NULL: whatever it is). */
static void shared_drop(struct openapi_tokens *tks, enum openapi_token type, const char *tenant,
                        const char *value) {
    char key[600];
    if (!tks->redis || shared_key(tks, "token", type, tenant, key, sizeof key)) return;
    if (!value) {
        redis_send(tks->redis, 2, (const char *[]){ "DEL", key }, NULL);
        return;
    }
    redis_del_if(tks->redis, key, value);
}

void openapi_token_drop(struct openapi_tokens *tks, enum openapi_token type,
                        const char *tenant_key, const char *value) {
    shared_drop(tks, type, token_tenant(tks, type, tenant_key), value);
    struct openapi_token_entry *t = token_find(tks, type, token_tenant(tks, type, tenant_key));
    if (t && t->value && (!value || strcmp(t->value, value) == 0)) {
        free(t->value);
        t->value = NULL;
    }
}

void openapi_token_cancel(struct openapi_token_waiter *w) {
    if (!w->fetch) return;
    TAILQ_REMOVE(&w->fetch->waiters, w, link);
    w->fetch = NULL;
}

static void fetch_fail(struct openapi_token_fetch *f, int code, const char *msg) {
    f->failed = 1;
    openapi_wire_error_set(&f->err, code, 0, msg);
    event_active(f->ev, 0, 0);
}

static void fetch_on_answer(void *arg, struct openapi_wire_answer *ans);

/* Fills o and returns the endpoint for this token; NULL when it cannot be asked for yet
 * (a marketplace app without an app_ticket). */
static const char *fetch_body(struct openapi_token_fetch *f, const char *app_token, cJSON *o) {
    struct openapi_tokens *tks = f->tks;
    if (f->tok->type == OPENAPI_TOKEN_TENANT && tks->marketplace) {
        cJSON_AddStringToObject(o, "app_access_token", app_token);
        cJSON_AddStringToObject(o, "tenant_key", f->tok->tenant_key);
        return "/open-apis/auth/v3/tenant_access_token";
    }
    if (tks->marketplace && !tks->ticket->value) return NULL;
    cJSON_AddStringToObject(o, "app_id", tks->app_id);
    cJSON_AddStringToObject(o, "app_secret", tks->app_secret);
    if (tks->marketplace) cJSON_AddStringToObject(o, "app_ticket", tks->ticket->value);
    if (f->tok->type == OPENAPI_TOKEN_TENANT)
        return "/open-apis/auth/v3/tenant_access_token/internal";
    return tks->marketplace ? "/open-apis/auth/v3/app_access_token"
                            : "/open-apis/auth/v3/app_access_token/internal";
}

static void fetch_send(struct openapi_token_fetch *f, const char *app_token) {
    cJSON *o = cJSON_CreateObject();
    const char *path = fetch_body(f, app_token, o);
    if (!path) {
        cJSON_Delete(o);
        fetch_fail(f, OPENAPI_E_NOTICKET, "no app_ticket yet; asked the platform to resend one");
        return;
    }
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!body) { fetch_fail(f, OPENAPI_E_TRANSPORT, "out of memory"); return; }
    struct openapi_wire_req req = { "POST", path, NULL, body, strlen(body), f->tks->timeout_ms,
                                    NULL, 0, 0 };
    int rc = openapi_wire_send(f->tks->wire, &f->wire, &req, fetch_on_answer, f);
    /* The body held the app secret: leave nothing of it in freed memory. */
    memset(body, 0, strlen(body));
    free(body);
    if (rc) fetch_fail(f, OPENAPI_E_TRANSPORT, "cannot start request");
}

static void fetch_on_app_token(void *arg, const char *token, const struct openapi_wire_error *err) {
    struct openapi_token_fetch *f = arg;
    if (err) {
        f->failed = 1;
        f->err = *err;
        event_active(f->ev, 0, 0);
        return;
    }
    free(f->app_token);
    if (!(f->app_token = strdup(token))) {
        fetch_fail(f, OPENAPI_E_TRANSPORT, "out of memory");
        return;
    }
    fetch_send(f, token);
}

/* Refused ticket or app token: act on it, and say whether the fetch goes on. */
static int fetch_recover(struct openapi_token_fetch *f, const struct openapi_wire_answer *ans) {
    struct openapi_tokens *tks = f->tks;
    if (ans->err.code == OPENAPI_CODE_TICKET_INVALID && tks->marketplace) {
        openapi_ticket_drop(tks->ticket);
        openapi_ticket_resend(tks->ticket);
        return 0;
    }
    if (!tks->marketplace || f->tok->type != OPENAPI_TOKEN_TENANT || f->retried
        || !ans->token_invalid)
        return 0;
    f->retried = 1;
    openapi_token_drop(tks, OPENAPI_TOKEN_APP, "", f->app_token);
    openapi_token_acquire(tks, OPENAPI_TOKEN_APP, "", &f->dep);
    return 1;
}

static void fetch_on_answer(void *arg, struct openapi_wire_answer *ans) {
    struct openapi_token_fetch *f = arg;
    f->err = ans->err;
    const char *tok = NULL;
    if (ans->err.code == 0)
        tok = openapi_token_parse(ans->json, token_name(f->tok->type), &f->expire_s, &f->err);
    if (tok) f->value = strdup(tok);
    if (ans->err.code != 0 && fetch_recover(f, ans)) return;
    f->failed = !f->value;
    if (tok && !f->value)
        openapi_wire_error_set(&f->err, OPENAPI_E_TRANSPORT, ans->err.http_status, "out of memory");
    event_active(f->ev, 0, 0);
}

static void fetch_free(struct openapi_token_fetch *f) {
    struct openapi_token_waiter *w;
    redis_cancel(f->rcall);
    openapi_ticket_get_cancel(&f->tget);
    if (f->poll_ev) event_free(f->poll_ev);
    while ((w = TAILQ_FIRST(&f->waiters))) openapi_token_cancel(w);
    openapi_token_cancel(&f->dep);
    openapi_wire_cancel(&f->wire);
    TAILQ_REMOVE(&f->tks->inflight, f, link);
    if (f->tok && f->tok->fetch == f) f->tok->fetch = NULL;
    event_free(f->ev);
    free(f->app_token);
    free(f->value);
    free(f);
}

static void fetch_log(const struct openapi_token_fetch *f) {
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
static char *fetch_fallback(const struct openapi_token_fetch *f,
                            const struct openapi_token_entry *t) {
    if (!t->value || f->tks->now_ms() >= t->valid_until) return NULL;
    log_warn("openapi", "%s refresh failed; using the current one until it expires",
             token_name(t->type));
    return strdup(t->value);
}

/* The lock holder gives the cluster what it fetched, then the lock back. */
static void shared_publish(struct openapi_token_fetch *f) {
    char key[600], px[24];
    if (!f->locked) return;
    f->locked = 0;
    if (!f->failed && !f->shared_hit && f->expire_s > 0
        && shared_key(f->tks, "token", f->tok->type, f->tok->tenant_key, key, sizeof key) == 0) {
        snprintf(px, sizeof px, "%lld", (long long)f->expire_s * 1000);
        redis_send(f->tks->redis, 5, (const char *[]){ "SET", key, f->value, "PX", px }, NULL);
    }
    if (shared_key(f->tks, "lock:token", f->tok->type, f->tok->tenant_key, key, sizeof key) == 0)
        redis_send(f->tks->redis, 2, (const char *[]){ "DEL", key }, NULL);
}

/* Caches the outcome, then answers every waiter; a waiter's callback may cancel others
 * or start new acquisitions, so the list is popped one at a time. */
static void fetch_on_complete(evutil_socket_t fd, short what, void *arg) {
    struct openapi_token_fetch *f = arg;
    struct openapi_token_entry *t = f->tok;
    struct openapi_tokens *tks = f->tks;
    shared_publish(f);
    fetch_log(f);
    /* From here the entry may be evicted by what a waiter does; f forgets it. */
    t->fetch = NULL;
    f->tok = NULL;
    if (!f->failed) {
        char *copy = strdup(f->value);
        if (copy) {
            free(t->value);
            t->value = copy;
            t->fresh_until = tks->now_ms() + openapi_token_lifetime_ms(f->expire_s);
            t->valid_until = tks->now_ms() + (uint64_t)f->expire_s * 1000;
        }
    }
    char *value = f->failed ? fetch_fallback(f, t) : f->value;
    struct openapi_token_waiter *w;
    while ((w = TAILQ_FIRST(&f->waiters))) {
        openapi_token_cancel(w);
        w->fn(w->arg, value, value ? NULL : &f->err);
    }
    if (value != f->value) free(value);
    fetch_free(f);
}

static void fetch_on_ticket(void *arg) {
    struct openapi_token_fetch *f = arg;
    if (!f->tks->ticket->value) openapi_ticket_resend(f->tks->ticket);
    fetch_send(f, NULL);
}

/* From the platform: this gateway fetches the token itself. */
static void fetch_begin(struct openapi_token_fetch *f) {
    struct openapi_tokens *tks = f->tks;
    tks->fetches++;
    if (f->tok->type == OPENAPI_TOKEN_TENANT && tks->marketplace) {
        openapi_token_acquire(tks, OPENAPI_TOKEN_APP, "", &f->dep);
        return;
    }
    /* a ticket pushed to another gateway serves this one too */
    if (tks->marketplace && !tks->ticket->value && !f->ticket_asked) {
        f->ticket_asked = 1;
        if (openapi_ticket_fetch_shared(tks->ticket, &f->tget, fetch_on_ticket, f) == 0) return;
    }
    fetch_send(f, NULL);
}

static void shared_get(struct openapi_token_fetch *f);

static void shared_on_poll(evutil_socket_t fd, short what, void *arg) {
    shared_get(arg);
}

static void shared_poll(struct openapi_token_fetch *f) {
    struct timeval tv = { 0, SHARED_POLL_MS * 1000 };
    if (!f->poll_ev && !(f->poll_ev = evtimer_new(f->tks->base, shared_on_poll, f))) {
        fetch_begin(f);
        return;
    }
    evtimer_add(f->poll_ev, &tv);
}

/* In one step, so no gateway can miss a token published between two looks: the shared
 * token and its ms left, or else the fetch lock taken (1) or held by another (0). */
static const char look_script[] =
    "local v = redis.call('GET', KEYS[1]) "
    "if v then return {v, redis.call('PTTL', KEYS[1])} end "
    "if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end "
    "return 0";

static void shared_on_look(void *arg, const redisReply *rep) {
    struct openapi_token_fetch *f = arg;
    f->rcall = NULL;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2
        && rep->element[0]->type == REDIS_REPLY_STRING && token_chars_ok(rep->element[0]->str)
        && rep->element[1]->type == REDIS_REPLY_INTEGER && rep->element[1]->integer > 1000) {
        f->shared_hit = 1;
        f->value = strdup(rep->element[0]->str);
        f->expire_s = (long)(rep->element[1]->integer / 1000);
        if (!f->value) fetch_fail(f, OPENAPI_E_TRANSPORT, "out of memory");
        else event_active(f->ev, 0, 0);
        return;
    }
    if (rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 0) {
        /* another gateway is fetching it: look again, and fetch anyway after a bound */
        if (!f->wait_start) f->wait_start = util_now_ms();
        if (util_now_ms() - f->wait_start < SHARED_WAIT_MS) {
            shared_poll(f);
            return;
        }
    }
    f->locked = rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
    fetch_begin(f);
}

static void shared_get(struct openapi_token_fetch *f) {
    char key[600], lock[600], px[24];
    snprintf(px, sizeof px, "%d", SHARED_LOCK_MS);
    if (shared_key(f->tks, "token", f->tok->type, f->tok->tenant_key, key, sizeof key)
        || shared_key(f->tks, "lock:token", f->tok->type, f->tok->tenant_key, lock, sizeof lock)
        || !(f->rcall = redis_command(f->tks->redis, shared_on_look, f, 7, (const char *[]){
             "EVAL", look_script, "2", key, lock, f->tks->owner ? f->tks->owner : "larkgw",
             px }, NULL)))
        fetch_begin(f);
}

static struct openapi_token_fetch *fetch_start(struct openapi_tokens *tks,
                                               struct openapi_token_entry *t) {
    struct openapi_token_fetch *f = calloc(1, sizeof *f);
    if (!f || !(f->ev = event_new(tks->base, -1, 0, fetch_on_complete, f))) {
        free(f);
        return NULL;
    }
    f->tks = tks;
    f->tok = t;
    TAILQ_INIT(&f->waiters);
    f->dep.fn = fetch_on_app_token;
    f->dep.arg = f;
    TAILQ_INSERT_TAIL(&tks->inflight, f, link);
    t->fetch = f;
    if (tks->redis && redis_up(tks->redis)) shared_get(f);
    else fetch_begin(f);
    return f;
}

static void waiter_fail(struct openapi_token_waiter *w, int code, const char *msg) {
    struct openapi_wire_error err = { 0 };
    openapi_wire_error_set(&err, code, 0, msg);
    w->fn(w->arg, NULL, &err);
}

void openapi_token_acquire(struct openapi_tokens *tks, enum openapi_token type,
                           const char *tenant_key, struct openapi_token_waiter *w) {
    const char *tenant = token_tenant(tks, type, tenant_key);
    if (tks->marketplace && type == OPENAPI_TOKEN_TENANT && !*tenant) {
        waiter_fail(w, OPENAPI_E_INVAL, "a marketplace app needs a tenant_key for a tenant token");
        return;
    }
    struct openapi_token_entry *t = token_find(tks, type, tenant);
    if (t && t->value && tks->now_ms() < t->fresh_until) {
        w->fn(w->arg, t->value, NULL);
        return;
    }
    if (tks->marketplace && type == OPENAPI_TOKEN_APP && !tks->ticket->value && !(t && t->fetch)
        && !redis_up(tks->redis)) {
        openapi_ticket_resend(tks->ticket);
        waiter_fail(w, OPENAPI_E_NOTICKET, "no app_ticket yet; asked the platform to resend one");
        return;
    }
    if ((!t && !(t = token_insert(tks, type, tenant))) || (!t->fetch && !fetch_start(tks, t))) {
        waiter_fail(w, OPENAPI_E_TRANSPORT, "out of memory");
        return;
    }
    w->fetch = t->fetch;
    TAILQ_INSERT_TAIL(&t->fetch->waiters, w, link);
}

void openapi_token_init(struct openapi_tokens *tks) {
    memset(tks->buckets, 0, sizeof tks->buckets);
    tks->count = 0;
    tks->fetches = 0;
    TAILQ_INIT(&tks->inflight);
}

void openapi_token_free(struct openapi_tokens *tks) {
    struct openapi_token_fetch *f;
    while ((f = TAILQ_FIRST(&tks->inflight))) fetch_free(f);
    for (int b = 0; b < OPENAPI_TOKEN_BUCKETS; b++)
        while (tks->buckets[b]) token_remove(tks, &tks->buckets[b]);
}
