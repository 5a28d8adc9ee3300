/* Access tokens and app tickets: self-built apps get tokens from
 * app_id + app_secret; marketplace apps need an app_ticket the platform pushed (by
 * webhook, after app_ticket/resend or a control call) for their app_access_token, then
 * one tenant_access_token per tenant key. Asking again with more than refresh_s left
 * returns the same token, else a new one; older ones stay valid until they expire or
 * a test invalidates them. */
#include "emulator/emu_token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <event2/event.h>

#include "base/log.h"
#include "base/util.h"
#include "emulator/emu.h"
#include "emulator/emu_answer.h"
#include "emulator/emu_deliver.h"
#include "emulator/emu_envelope.h"
#include "emulator/emu_http.h"

#define TOKENS_MAX 4096
#define TENANTS_MAX 256
#define TICKETS_MAX 16
#define TICKET_DELAY_MAX_MS 600000

struct token {
    char value[43];                     /* "t-" or "a-" and 40 hex digits */
    char tenant_key[EMU_TENANT_KEY_MAX + 1];
    enum emu_token_kind kind;           /* EMU_TOKEN_NONE: slot unused */
    uint64_t seq, expires_ms;           /* monotonic */
    long invalid_code;                  /* 0: valid until expires_ms */
};

struct emu_tokens {
    struct token *tokens;
    uint64_t next_seq;
    long expire_s, refresh_s, ticket_delay_ms;
    char internal_tenant[EMU_TENANT_KEY_MAX + 1];
    cJSON *tenant_keys;                 /* strings; NULL: every tenant key is installed */
    char tickets[TICKETS_MAX][33];
    unsigned nticket;
    struct event *push_timer;           /* app_ticket/resend's delayed push */
};

static long kind_code(enum emu_token_kind kind) {
    return kind == EMU_TOKEN_APP ? 99991664 : 99991663;
}

static struct token *token_find(struct emu_tokens *t, const char *value) {
    for (int i = 0; i < TOKENS_MAX; i++)
        if (t->tokens[i].kind && strcmp(t->tokens[i].value, value) == 0) return &t->tokens[i];
    return NULL;
}

/* The newest valid token of (kind, tenant), or NULL. */
static struct token *token_current(struct emu_tokens *t, enum emu_token_kind kind,
                                   const char *tenant, uint64_t now) {
    struct token *best = NULL;
    for (int i = 0; i < TOKENS_MAX; i++) {
        struct token *k = &t->tokens[i];
        if (k->kind == kind && !k->invalid_code && k->expires_ms > now &&
            strcmp(k->tenant_key, tenant) == 0 && (!best || k->seq > best->seq))
            best = k;
    }
    return best;
}

/* A free slot, or the one expiring first (it becomes an unknown token). */
static struct token *token_slot(struct emu_tokens *t) {
    struct token *oldest = &t->tokens[0];
    for (int i = 0; i < TOKENS_MAX; i++) {
        if (!t->tokens[i].kind) return &t->tokens[i];
        if (t->tokens[i].expires_ms < oldest->expires_ms) oldest = &t->tokens[i];
    }
    return oldest;
}

/* The token to answer for (kind, tenant) and the seconds it has left. */
static const struct token *token_issue(struct emu_tokens *t, enum emu_token_kind kind,
                                       const char *tenant, long *expire) {
    uint64_t now = util_now_ms();
    struct token *k = token_current(t, kind, tenant, now);
    if (!k || k->expires_ms - now <= (uint64_t)t->refresh_s * 1000) {
        k = token_slot(t);
        memset(k, 0, sizeof *k);
        k->kind = kind;
        k->value[0] = kind == EMU_TOKEN_APP ? 'a' : 't';
        k->value[1] = '-';
        emu_random_hex(k->value + 2, 20);
        snprintf(k->tenant_key, sizeof k->tenant_key, "%s", tenant);
        k->seq = ++t->next_seq;
        k->expires_ms = now + (uint64_t)t->expire_s * 1000;
    }
    *expire = (long)((k->expires_ms - now) / 1000);
    return k;
}

long emu_token_check(struct emu_call *c, const char *value) {
    struct token *k = token_find(c->emu->tokens, value);
    if (!k) return 99991671;
    if (k->invalid_code) return k->invalid_code;
    if (k->expires_ms <= util_now_ms()) return kind_code(k->kind);
    c->token_kind = k->kind;
    snprintf(c->tenant_key, sizeof c->tenant_key, "%s", k->tenant_key);
    return 0;
}

static const char *body_string(const struct emu_call *c, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->body, name);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static int invalid_param(struct emu_call *c, const char *what) {
    char msg[128];
    snprintf(msg, sizeof msg, "invalid param: %s", what);
    emu_call_answer(c, 400, 10003, msg);
    return -1;
}

/* The app's credentials in the body; -1 after an error answer. */
static int check_app(struct emu_call *c) {
    const char *id = body_string(c, "app_id"), *secret = body_string(c, "app_secret");
    if (!id || !secret) return invalid_param(c, "app_id and app_secret are required");
    if (strcmp(id, c->emu->app_id) != 0) return invalid_param(c, "no app with this app_id");
    if (strcmp(secret, c->emu->app_secret) != 0) {
        emu_call_answer(c, 400, 10014, "app secret invalid");
        return -1;
    }
    return 0;
}

static void answer_token(struct emu_call *c, const char *msg, const char *field,
                         enum emu_token_kind kind, const char *tenant) {
    long expire;
    const struct token *k = token_issue(c->emu->tokens, kind, tenant, &expire);
    cJSON *a = emu_call_answer(c, 200, 0, msg);
    cJSON_AddStringToObject(a, field, k->value);
    cJSON_AddNumberToObject(a, "expire", (double)expire);
}

static int ticket_known(struct emu_tokens *t, const char *ticket) {
    for (unsigned i = 0; i < TICKETS_MAX && i < t->nticket; i++)
        if (strcmp(t->tickets[i], ticket) == 0) return 1;
    return 0;
}

static void marketplace_app_token(struct emu_call *c) {
    const char *ticket = body_string(c, "app_ticket");
    if (check_app(c)) return;
    if (!ticket) {
        invalid_param(c, "app_ticket is required");
    } else if (!ticket_known(c->emu->tokens, ticket)) {
        emu_call_answer(c, 400, 10012, "app ticket invalid");
    } else {
        answer_token(c, "success", "app_access_token", EMU_TOKEN_APP, "");
    }
}

static int tenant_installed(const struct emu_tokens *t, const char *tenant) {
    if (!t->tenant_keys) return 1;
    for (const cJSON *it = t->tenant_keys->child; it; it = it->next)
        if (strcmp(it->valuestring, tenant) == 0) return 1;
    return 0;
}

static void marketplace_tenant_token(struct emu_call *c) {
    const char *app = body_string(c, "app_access_token"), *tenant = body_string(c, "tenant_key");
    struct token *k = app ? token_find(c->emu->tokens, app) : NULL;
    if (!app || !tenant) {
        invalid_param(c, "app_access_token and tenant_key are required");
    } else if (!k || k->kind != EMU_TOKEN_APP || k->invalid_code ||
               k->expires_ms <= util_now_ms()) {
        emu_call_answer(c, c->invalid_status, k && k->invalid_code ? k->invalid_code : 99991664,
                        "app access token invalid");
    } else if (strlen(tenant) > EMU_TENANT_KEY_MAX ||
               !tenant_installed(c->emu->tokens, tenant)) {
        invalid_param(c, "tenant_key: the app is not installed in this tenant");
    } else {
        answer_token(c, "success", "tenant_access_token", EMU_TOKEN_TENANT, tenant);
    }
}

static void push_fire(evutil_socket_t fd, short what, void *arg) {
    struct emu *emu = arg;
    char ticket[33], message_id[33];
    int status = emu_ticket_push(emu, EMU_DELIVER_WEBHOOK, ticket, message_id);
    if (status)
        log_warn(EMU_MODULE, "app_ticket/resend: cannot push the ticket (%s)",
                 status == 400 ? "no webhook URL" : "delivery refused");
}

static void ticket_resend(struct emu_call *c) {
    struct emu_tokens *t = c->emu->tokens;
    if (check_app(c)) return;
    emu_call_answer(c, 200, 0, "success");
    if (!t->push_timer && !(t->push_timer = evtimer_new(c->emu->base, push_fire, c->emu))) return;
    /* one push pending at a time: resends within the delay share it */
    if (evtimer_pending(t->push_timer, NULL)) return;
    struct timeval tv = { t->ticket_delay_ms / 1000, (t->ticket_delay_ms % 1000) * 1000 };
    evtimer_add(t->push_timer, &tv);
}

int emu_token_endpoint(struct emu_call *c) {
    static const char v3[] = "/open-apis/auth/v3/";
    struct emu_tokens *t = c->emu->tokens;
    if (strncmp(c->r->path, v3, sizeof v3 - 1) != 0 || strcmp(c->r->method, "POST") != 0)
        return -1;
    const char *p = c->r->path + sizeof v3 - 1;
    if (strcmp(p, "tenant_access_token/internal") == 0) {
        if (!check_app(c))
            answer_token(c, "ok", "tenant_access_token", EMU_TOKEN_TENANT, t->internal_tenant);
    } else if (strcmp(p, "app_access_token/internal") == 0) {
        if (!check_app(c)) answer_token(c, "ok", "app_access_token", EMU_TOKEN_APP, "");
    } else if (strcmp(p, "app_access_token") == 0) {
        marketplace_app_token(c);
    } else if (strcmp(p, "tenant_access_token") == 0) {
        marketplace_tenant_token(c);
    } else if (strcmp(p, "app_ticket/resend") == 0) {
        ticket_resend(c);
    } else {
        return -1;
    }
    return 0;
}

int emu_ticket_push(struct emu *emu, enum emu_delivery how, char ticket[33],
                    char message_id[33]) {
    struct emu_tokens *t = emu->tokens;
    char uuid[33], ts[32];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    snprintf(ts, sizeof ts, "%lld.%06ld", (long long)tv.tv_sec, (long)tv.tv_usec);
    emu_random_hex(uuid, 16);
    emu_random_hex(ticket, 16);
    cJSON *env = cJSON_CreateObject(), *ev;
    cJSON_AddStringToObject(env, "uuid", uuid);
    cJSON_AddStringToObject(env, "token", emu->verification_token ? emu->verification_token : "");
    cJSON_AddStringToObject(env, "ts", ts);
    cJSON_AddStringToObject(env, "type", "event_callback");
    ev = cJSON_AddObjectToObject(env, "event");
    cJSON_AddStringToObject(ev, "type", "app_ticket");
    cJSON_AddStringToObject(ev, "app_id", emu->app_id);
    cJSON_AddStringToObject(ev, "app_ticket", ticket);
    struct emu_event_spec spec = { .payload = cJSON_PrintUnformatted(env), .event_id = uuid,
                                   .frame_type = "event", .delivery = how, .fragments = 1,
                                   .retries = emu->retries, .sign = -1, .encrypt = -1 };
    cJSON_Delete(env);
    if (!spec.payload) return 500;
    spec.len = strlen(spec.payload);
    int status = emu_deliver_submit(emu, &spec, message_id);
    free(spec.payload);
    if (status) return status;
    memcpy(t->tickets[t->nticket++ % TICKETS_MAX], ticket, 33);
    log_info(EMU_MODULE, "app_ticket pushed as message_id %s (%s)", message_id,
             how == EMU_DELIVER_WS ? "ws" : "webhook");
    return 0;
}

int emu_ticket_revoke(struct emu *emu) {
    struct emu_tokens *t = emu->tokens;
    int n = t->nticket < TICKETS_MAX ? (int)t->nticket : TICKETS_MAX;
    memset(t->tickets, 0, sizeof t->tickets);
    t->nticket = 0;
    return n;
}

/* Invalidates the tokens `which` names: "all", one token, or {"kind", "tenant_key"}. */
static int invalidate(struct emu_tokens *t, const cJSON *which, long code) {
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(which, "kind");
    const cJSON *tenant = cJSON_GetObjectItemCaseSensitive(which, "tenant_key");
    int all = cJSON_IsString(which) && strcmp(which->valuestring, "all") == 0, n = 0;
    for (int i = 0; i < TOKENS_MAX; i++) {
        struct token *k = &t->tokens[i];
        if (!k->kind) continue;
        if (cJSON_IsString(which) && !all && strcmp(which->valuestring, k->value) != 0) continue;
        if (cJSON_IsString(kind) && strcmp(kind->valuestring,
                                           k->kind == EMU_TOKEN_APP ? "app" : "tenant") != 0)
            continue;
        if (cJSON_IsString(tenant) && strcmp(tenant->valuestring, k->tenant_key) != 0) continue;
        k->invalid_code = code ? code : kind_code(k->kind);
        n++;
    }
    return n;
}

static int check_invalidate(const cJSON *v, char *err, size_t errlen) {
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(v, "kind");
    const cJSON *tenant = cJSON_GetObjectItemCaseSensitive(v, "tenant_key");
    if (cJSON_IsString(v) ||
        (cJSON_IsObject(v) && (!kind || (cJSON_IsString(kind) &&
                                         (!strcmp(kind->valuestring, "tenant") ||
                                          !strcmp(kind->valuestring, "app")))) &&
         (!tenant || cJSON_IsString(tenant))))
        return 0;
    snprintf(err, errlen, "'invalidate' must be \"all\", a token, or {\"kind\": \"tenant\"|"
             "\"app\", \"tenant_key\": \"...\"}");
    return -1;
}

static int check_tenants(const cJSON *v, char *err, size_t errlen) {
    int ok = cJSON_IsNull(v) || (cJSON_IsArray(v) && cJSON_GetArraySize(v) <= TENANTS_MAX);
    for (const cJSON *it = ok && v->child ? v->child : NULL; it; it = it->next)
        ok &= cJSON_IsString(it) && it->valuestring[0] &&
              strlen(it->valuestring) <= EMU_TENANT_KEY_MAX;
    if (!ok)
        snprintf(err, errlen, "'tenant_keys' must be null or an array of at most %d non-empty "
                 "strings of at most %d bytes", TENANTS_MAX, EMU_TENANT_KEY_MAX);
    return ok ? 0 : -1;
}

static void token_settings_out(const struct emu_tokens *t, cJSON *out) {
    cJSON_AddNumberToObject(out, "expire_s", (double)t->expire_s);
    cJSON_AddNumberToObject(out, "refresh_s", (double)t->refresh_s);
    cJSON_AddNumberToObject(out, "ticket_delay_ms", (double)t->ticket_delay_ms);
    cJSON_AddStringToObject(out, "internal_tenant_key", t->internal_tenant);
    cJSON_AddItemToObject(out, "tenant_keys", t->tenant_keys ? cJSON_Duplicate(t->tenant_keys, 1)
                                                             : cJSON_CreateNull());
}

int emu_token_settings(struct emu *emu, const cJSON *in, cJSON *out, char *err, size_t errlen) {
    struct emu_tokens *t = emu->tokens;
    long expire = t->expire_s, refresh = t->refresh_s, delay = t->ticket_delay_ms, code = 0;
    const cJSON *tenants = cJSON_GetObjectItemCaseSensitive(in, "tenant_keys");
    const cJSON *internal = cJSON_GetObjectItemCaseSensitive(in, "internal_tenant_key");
    const cJSON *inv = cJSON_GetObjectItemCaseSensitive(in, "invalidate");
    err[0] = '\0';
    if (emu_json_int(in, "expire_s", 1, 86400, &expire, err, errlen) < 0 ||
        emu_json_int(in, "refresh_s", 0, 86400, &refresh, err, errlen) < 0 ||
        emu_json_int(in, "ticket_delay_ms", 0, TICKET_DELAY_MAX_MS, &delay, err, errlen) < 0 ||
        emu_json_int(in, "invalid_code", 1, 2147483647L, &code, err, errlen) < 0 ||
        (tenants && check_tenants(tenants, err, errlen)) ||
        (inv && check_invalidate(inv, err, errlen)))
        return -1;
    if (internal && (!cJSON_IsString(internal) || !internal->valuestring[0] ||
                     strlen(internal->valuestring) > EMU_TENANT_KEY_MAX)) {
        snprintf(err, errlen, "'internal_tenant_key' must be a non-empty string of at most %d "
                 "bytes", EMU_TENANT_KEY_MAX);
        return -1;
    }
    if (!out) return 0;
    t->expire_s = expire;
    t->refresh_s = refresh;
    t->ticket_delay_ms = delay;
    if (internal) snprintf(t->internal_tenant, sizeof t->internal_tenant, "%s",
                           internal->valuestring);
    if (tenants) {
        cJSON_Delete(t->tenant_keys);
        t->tenant_keys = cJSON_IsNull(tenants) ? NULL : cJSON_Duplicate(tenants, 1);
    }
    token_settings_out(t, out);
    if (inv) cJSON_AddNumberToObject(out, "invalidated", invalidate(t, inv, code));
    return 0;
}

static int by_seq(const void *a, const void *b) {
    const struct token *x = *(const struct token *const *)a, *y = *(const struct token *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static cJSON *token_json(const struct token *k, uint64_t now) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "token", k->value);
    cJSON_AddStringToObject(o, "kind", k->kind == EMU_TOKEN_APP ? "app" : "tenant");
    cJSON_AddItemToObject(o, "tenant_key", k->kind == EMU_TOKEN_APP
                                               ? cJSON_CreateNull()
                                               : cJSON_CreateString(k->tenant_key));
    long left = k->expires_ms > now ? (long)((k->expires_ms - now) / 1000) : 0;
    long code = k->invalid_code ? k->invalid_code
                                : k->expires_ms > now ? 0 : kind_code(k->kind);
    cJSON_AddNumberToObject(o, "expires_in_s", (double)left);
    cJSON_AddBoolToObject(o, "valid", code == 0);
    cJSON_AddNumberToObject(o, "code", (double)code);
    return o;
}

cJSON *emu_token_list(struct emu *emu) {
    struct emu_tokens *t = emu->tokens;
    const struct token **list = malloc(TOKENS_MAX * sizeof *list);
    cJSON *out = cJSON_CreateArray();
    size_t n = 0;
    uint64_t now = util_now_ms();
    for (int i = 0; list && i < TOKENS_MAX; i++)
        if (t->tokens[i].kind) list[n++] = &t->tokens[i];
    if (n) qsort(list, n, sizeof *list, by_seq);
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(out, token_json(list[i], now));
    free(list);
    return out;
}

int emu_tokens_new(struct emu *emu) {
    struct emu_tokens *t = calloc(1, sizeof *t);
    if (!t || !(t->tokens = calloc(TOKENS_MAX, sizeof *t->tokens))) {
        free(t);
        return -1;
    }
    t->expire_s = 7200;
    t->refresh_s = 1800;
    t->ticket_delay_ms = 1000;
    snprintf(t->internal_tenant, sizeof t->internal_tenant, "tenant_emulator");
    emu->tokens = t;
    return 0;
}

void emu_tokens_free(struct emu *emu) {
    struct emu_tokens *t = emu->tokens;
    if (!t) return;
    if (t->push_timer) event_free(t->push_timer);
    cJSON_Delete(t->tenant_keys);
    free(t->tokens);
    free(t);
    emu->tokens = NULL;
}
