#include "ingress/webhook_legacy.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "crypto/crypto.h"
#include "event/dispatch.h"
#include "ingress/webhook_verify.h"

#define SHA1_HEX_LEN (2 * CRYPTO_SHA1_LEN)
#define EVENT_ID_HEX 32

static int refuse(struct webhook_legacy_verdict *out, int status, const char *reason) {
    out->reason = reason;
    return status;
}

/* hex SHA-1 of the parts one after another, into want (SHA1_HEX_LEN + 1); -1 out of
 * memory. The parts are joined in one buffer: crypto/ hashes one buffer at a time. */
static int sha1_hex(const char *const parts[], const size_t lens[], int n, char *want) {
    size_t total = 0;
    for (int i = 0; i < n; i++) total += lens[i];
    char *buf = malloc(total ? total : 1);
    if (!buf) return -1;
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        if (lens[i]) memcpy(buf + at, parts[i], lens[i]);
        at += lens[i];
    }
    unsigned char digest[CRYPTO_SHA1_LEN];
    crypto_sha1(buf, total, digest);
    crypto_hex(digest, sizeof digest, want);
    free(buf);
    return 0;
}

static int check_signature(const char *token, int max_skew_s, const struct webhook_input *in,
                           struct webhook_legacy_verdict *out) {
    long long ts;
    if (webhook_verify_parse_timestamp(in->timestamp, &ts) < 0)
        return refuse(out, 401, "malformed X-Lark-Request-Timestamp");
    long long skew = in->now > ts ? in->now - ts : ts - in->now;
    if (max_skew_s > 0 && skew > max_skew_s)
        return refuse(out, 401, "stale X-Lark-Request-Timestamp (outside webhook.max_skew_s)");
    if (strlen(in->signature) != SHA1_HEX_LEN) return refuse(out, 401, "bad signature");
    const char *parts[] = { in->timestamp, in->nonce, token, in->body };
    const size_t lens[] = { strlen(in->timestamp), strlen(in->nonce), strlen(token), in->len };
    char want[SHA1_HEX_LEN + 1];
    if (sha1_hex(parts, lens, 4, want) < 0) return refuse(out, 503, "out of memory");
    if (!crypto_equal(want, in->signature, SHA1_HEX_LEN)) return refuse(out, 401, "bad signature");
    return 0;
}

/* A retry of one request carries the same timestamp and nonce: the same id, so the
 * dispatcher drops it as a duplicate; two clicks never share both. */
static void event_id_of(const struct webhook_input *in, char *id, size_t idlen) {
    const char *parts[] = { in->timestamp, "\n", in->nonce };
    const size_t lens[] = { strlen(in->timestamp), 1, strlen(in->nonce) };
    char hex[SHA1_HEX_LEN + 1];
    if (sha1_hex(parts, lens, 3, hex) < 0) hex[0] = '\0';
    snprintf(id, idlen, "legacy_%.*s", EVENT_ID_HEX, hex);
}

static void copy_string(cJSON *to, const char *name, const cJSON *from, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, key);
    if (cJSON_IsString(v)) cJSON_AddStringToObject(to, name, v->valuestring);
}

/* The click inside a schema 2.0 envelope, so the dispatcher treats it like any event:
 * header.token carries the verification token (the signature proved it; the runtime
 * strips it before scripts see the event). Takes body. */
static char *envelope_of(cJSON *body, const char *token, const struct webhook_input *in,
                         size_t *len) {
    char id[64], ms[32];
    event_id_of(in, id, sizeof id);
    snprintf(ms, sizeof ms, "%s000", in->timestamp);
    cJSON *env = cJSON_CreateObject();
    if (!env) {
        cJSON_Delete(body);
        return NULL;
    }
    cJSON *h = cJSON_AddObjectToObject(env, "header");
    cJSON_AddStringToObject(env, "schema", "2.0");
    cJSON_AddStringToObject(h, "event_id", id);
    cJSON_AddStringToObject(h, "event_type", WEBHOOK_LEGACY_EVENT_TYPE);
    cJSON_AddStringToObject(h, "create_time", ms);
    cJSON_AddStringToObject(h, "token", token);
    copy_string(h, "tenant_key", body, "tenant_key");
    copy_string(h, "app_id", body, "app_id");
    cJSON_AddItemToObject(env, "event", body);
    char *text = cJSON_PrintUnformatted(env);
    cJSON_Delete(env);
    if (text) *len = strlen(text);
    return text;
}

static int pass_as_is(const struct webhook_input *in, unsigned flags,
                      struct webhook_legacy_verdict *out) {
    if (!(out->json = malloc(in->len))) return refuse(out, 503, "out of memory");
    memcpy(out->json, in->body, in->len);
    out->json_len = in->len;
    out->flags = flags;
    return 0;
}

static int is_challenge(const cJSON *root) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
    return cJSON_IsString(type) && strcmp(type->valuestring, "url_verification") == 0;
}

int webhook_legacy_verify(const char *token, int max_skew_s, const struct webhook_input *in,
                          struct webhook_legacy_verdict *out) {
    memset(out, 0, sizeof *out);
    if (!token) token = "";
    if (in->len == 0) return refuse(out, 400, "empty body");
    int present = !!in->timestamp + !!in->nonce + !!in->signature;
    /* The platform does not sign url_verification; the dispatcher checks its token. */
    if (present == 0) {
        cJSON *root = util_json_parse_one(in->body, in->len);
        int challenge = is_challenge(root);
        cJSON_Delete(root);
        if (!challenge) return refuse(out, 401, "unsigned request (only url_verification is)");
        return pass_as_is(in, EVENT_CHALLENGE_ONLY, out);
    }
    if (present < 3) return refuse(out, 401, "incomplete signature headers");
    int rc = check_signature(token, max_skew_s, in, out);
    if (rc) return rc;
    cJSON *root = util_json_parse_one(in->body, in->len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return refuse(out, 400, "body is not a JSON object");
    }
    if (is_challenge(root)) {
        cJSON_Delete(root);
        return pass_as_is(in, 0, out);
    }
    if (cJSON_GetObjectItemCaseSensitive(root, "schema")
        || cJSON_GetObjectItemCaseSensitive(root, "encrypt")) {
        cJSON_Delete(root);
        return refuse(out, 400, "an event envelope on the card URL (events go to webhook.path)");
    }
    if (!(out->json = envelope_of(root, token, in, &out->json_len)))
        return refuse(out, 503, "out of memory");
    return 0;
}
