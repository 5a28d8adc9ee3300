/* The legacy card request URL as the platform drives it: a click is a POST of a flat
 * JSON object (open_id, open_message_id, open_chat_id, tenant_key, token, action), not
 * an event envelope, never encrypted, signed with X-Lark-Signature = hex SHA-1 of
 * timestamp, nonce, verification token and the body. Its answer (a card, a toast, {})
 * is given back to the control request that asked for the click. A callback's token
 * allows two delayed updates within 30 minutes. */
#include "emulator/emu_legacy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "crypto/crypto.h"
#include "emulator/emu.h"
#include "emulator/emu_answer.h"
#include "emulator/emu_envelope.h"
#include "emulator/emu_http.h"
#include "net/http_client.h"

#define ANSWER_MAX (1 << 20)
#define ANSWER_TIMEOUT_MS 3000
#define UPDATES_MAX 1000
#define UPDATES_PER_TOKEN 2
#define TOKEN_TTL_MS (30 * 60 * 1000)
#define CODE_FIELDS 99992402
#define CODE_TOKEN 200830           /* the emulator's code for a spent or stale token */

struct post {
    struct post *next;
    struct emu_legacy *owner;
    struct emu_req *r;              /* NULL once its connection went away */
    char token[40];
};

struct emu_legacy {
    struct http_client *http;
    struct post *posts;
    cJSON *updates;
    int nupdates;
};

static uint64_t wall_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static void post_unlink(struct post *p) {
    struct post **pp = &p->owner->posts;
    while (*pp && *pp != p) pp = &(*pp)->next;
    if (*pp) *pp = p->next;
}

static void post_dropped(struct emu_req *r, void *arg) {
    struct post *p = arg;
    (void)r;
    p->r = NULL;
}

static void post_done(void *arg, const struct http_client_response *res) {
    struct post *p = arg;
    post_unlink(p);
    if (p->r) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "status", res->status);
        cJSON *body = res->status ? cJSON_ParseWithLength(res->body, res->body_len) : NULL;
        if (!body) body = res->status ? cJSON_CreateString(res->body) : cJSON_CreateNull();
        cJSON_AddItemToObject(o, "body", body);
        cJSON_AddStringToObject(o, "token", p->token);
        if (res->error) cJSON_AddStringToObject(o, "error", res->error);
        emu_http_reply_json(p->r, 200, o);
    }
    free(p);
}

/* The card URL: the setting, else the webhook's scheme, host and port + /webhook/card. */
static int card_url(const struct emu *emu, char *out, size_t len) {
    if (emu->card_url) return snprintf(out, len, "%s", emu->card_url) < (int)len ? 0 : -1;
    const char *w = emu->webhook_url;
    if (!w || strncmp(w, "http://", 7) != 0) return -1;
    const char *slash = strchr(w + 7, '/');
    size_t host = slash ? (size_t)(slash - w) : strlen(w);
    return snprintf(out, len, "%.*s/webhook/card", (int)host, w) < (int)len ? 0 : -1;
}

static const char *str_or(const cJSON *body, const char *key, const char *def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
    return cJSON_IsString(v) ? v->valuestring : def;
}

/* The click the platform would post, with a fresh card token. */
static cJSON *click_of(const struct emu *emu, const cJSON *body, char token[40]) {
    char hex[33];
    emu_random_hex(hex, 16);
    snprintf(token, 40, "c-%s", hex);
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "app_id", emu->app_id);
    cJSON_AddStringToObject(c, "open_id", str_or(body, "open_id", "ou_emulator_user"));
    cJSON_AddStringToObject(c, "user_id", str_or(body, "user_id", "emulator_user"));
    cJSON_AddStringToObject(c, "open_message_id", str_or(body, "open_message_id", "om_emulator_card"));
    cJSON_AddStringToObject(c, "open_chat_id", str_or(body, "open_chat_id", "oc_emulator_chat"));
    cJSON_AddStringToObject(c, "tenant_key", str_or(body, "tenant_key", "tenant_emulator"));
    cJSON_AddStringToObject(c, "token", token);
    const cJSON *action = cJSON_GetObjectItemCaseSensitive(body, "action");
    cJSON *a = cJSON_IsObject(action) ? cJSON_Duplicate(action, 1) : cJSON_CreateObject();
    if (!cJSON_GetObjectItemCaseSensitive(a, "tag")) cJSON_AddStringToObject(a, "tag", "button");
    if (!cJSON_GetObjectItemCaseSensitive(a, "value")) cJSON_AddObjectToObject(a, "value");
    cJSON_AddItemToObject(c, "action", a);
    return c;
}

static void sign(const struct emu *emu, const char *ts, const char *nonce, const char *body,
                 char sig[41]) {
    const char *token = emu->verification_token ? emu->verification_token : "";
    size_t a = strlen(ts), b = strlen(nonce), c = strlen(token), d = strlen(body);
    char *buf = malloc(a + b + c + d + 1);
    unsigned char digest[CRYPTO_SHA1_LEN];
    sig[0] = '\0';
    if (!buf) return;
    memcpy(buf, ts, a);
    memcpy(buf + a, nonce, b);
    memcpy(buf + a + b, token, c);
    memcpy(buf + a + b + c, body, d);
    crypto_sha1(buf, a + b + c + d, digest);
    crypto_hex(digest, sizeof digest, sig);
    free(buf);
}

/* Sends the POST; an HTTP-ish status for the control answer, or 0 when sent. */
static int send_click(struct emu_legacy *lg, struct emu *emu, const cJSON *body,
                      struct post *p, const char *url) {
    const cJSON *event = cJSON_GetObjectItemCaseSensitive(body, "event");
    cJSON *click = cJSON_IsObject(event) ? cJSON_Duplicate(event, 1) : click_of(emu, body, p->token);
    char *text = cJSON_PrintUnformatted(click);
    cJSON_Delete(click);
    if (!text) return 500;
    const cJSON *ts_in = cJSON_GetObjectItemCaseSensitive(body, "timestamp");
    const cJSON *do_sign = cJSON_GetObjectItemCaseSensitive(body, "sign");
    char ts[24], nonce[33], sig[41];
    snprintf(ts, sizeof ts, "%lld", cJSON_IsNumber(ts_in) ? (long long)ts_in->valuedouble
                                                          : (long long)time(NULL));
    emu_random_hex(nonce, 16);
    sign(emu, ts, nonce, text, sig);
    const char *headers[] = {
        "Content-Type", "application/json; charset=utf-8", "User-Agent", "larkgw-emulator",
        cJSON_IsFalse(do_sign) ? NULL : "X-Lark-Request-Timestamp", ts,
        "X-Lark-Request-Nonce", nonce, "X-Lark-Signature", sig, NULL,
    };
    struct http_client_request req = { .method = "POST", .url = url, .headers = headers,
                                       .body = text, .body_len = strlen(text),
                                       .timeout_ms = ANSWER_TIMEOUT_MS, .max_response = ANSWER_MAX };
    int rc = http_client_request(lg->http, &req, post_done, p) ? 0 : 400;
    if (!rc) log_info(EMU_MODULE, "legacy card click -> %s", url);
    free(text);
    return rc;
}

void emu_legacy_post(struct emu_req *r, const cJSON *body) {
    struct emu *emu = r->emu;
    struct emu_legacy *lg = emu->legacy;
    char url[512];
    if (card_url(emu, url, sizeof url) < 0) {
        emu_http_reply_error(r, 400, "no card URL: set card_url or webhook in /_emu/settings");
        return;
    }
    if (!lg->http && !(lg->http = http_client_new(emu->base, NULL))) {
        emu_http_reply_error(r, 500, "out of memory");
        return;
    }
    struct post *p = calloc(1, sizeof *p);
    if (!p) {
        emu_http_reply_error(r, 500, "out of memory");
        return;
    }
    p->owner = lg;
    p->r = r;
    int rc = send_click(lg, emu, body, p, url);
    if (rc) {
        free(p);
        emu_http_reply_error(r, rc, rc == 400 ? "cannot post to the card URL %s" : "out of memory",
                             url);
        return;
    }
    p->next = lg->posts;
    lg->posts = p;
    emu_http_defer(r, post_dropped, p);
}

/* How often token was used, and when first; 0 uses: first_ms 0. */
static int token_uses(const struct emu_legacy *lg, const char *token, uint64_t *first_ms) {
    int n = 0;
    *first_ms = 0;
    for (const cJSON *it = lg->updates->child; it; it = it->next) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "token");
        if (!cJSON_IsString(t) || strcmp(t->valuestring, token) != 0) continue;
        if (!n++) *first_ms = (uint64_t)cJSON_GetObjectItemCaseSensitive(it, "received_ms")->valuedouble;
    }
    return n;
}

int emu_legacy_update(struct emu_call *c) {
    struct emu_legacy *lg = c->emu->legacy;
    if (strcmp(c->r->path, "/open-apis/interactive/v1/card/update") != 0) return -1;
    const cJSON *token = cJSON_GetObjectItemCaseSensitive(c->body, "token");
    const cJSON *card = cJSON_GetObjectItemCaseSensitive(c->body, "card");
    if (strcmp(c->r->method, "POST") != 0) return -1;
    if (!cJSON_IsString(token) || strncmp(token->valuestring, "c-", 2) != 0 || !cJSON_IsObject(card)) {
        emu_call_answer(c, 400, CODE_FIELDS, "field validation failed: token (\"c-...\") and "
                        "card (an object) are required");
        return 0;
    }
    uint64_t first, now = wall_ms();
    int uses = token_uses(lg, token->valuestring, &first);
    if (uses >= UPDATES_PER_TOKEN || (uses && now - first > TOKEN_TTL_MS)) {
        emu_call_answer(c, 400, CODE_TOKEN, "the card token is spent or expired");
        return 0;
    }
    if (lg->nupdates >= UPDATES_MAX) {
        cJSON_Delete(cJSON_DetachItemFromArray(lg->updates, 0));
        lg->nupdates--;
    }
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "token", token->valuestring);
    cJSON_AddItemToObject(rec, "card", cJSON_Duplicate(card, 1));
    cJSON_AddNumberToObject(rec, "received_ms", (double)now);
    cJSON_AddItemToArray(lg->updates, rec);
    lg->nupdates++;
    emu_call_answer(c, 200, 0, "success");
    return 0;
}

cJSON *emu_legacy_updates(struct emu *emu) { return cJSON_Duplicate(emu->legacy->updates, 1); }

int emu_legacy_new(struct emu *emu) {
    struct emu_legacy *lg = calloc(1, sizeof *lg);
    if (!lg || !(lg->updates = cJSON_CreateArray())) {
        free(lg);
        return -1;
    }
    emu->legacy = lg;
    return 0;
}

void emu_legacy_free(struct emu *emu) {
    struct emu_legacy *lg = emu->legacy;
    if (!lg) return;
    http_client_free(lg->http);     /* cancels the posts: their done never runs */
    while (lg->posts) {
        struct post *p = lg->posts;
        lg->posts = p->next;
        free(p);
    }
    cJSON_Delete(lg->updates);
    free(lg);
    emu->legacy = NULL;
}
