/* ingress/webhook_legacy: the legacy card URL's SHA-1 signature, its timestamp window,
 * the unsigned challenge, and the envelope a click becomes. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "event/dispatch.h"
#include "ingress/webhook_legacy.h"
#include "test.h"

#define TOKEN "v-token-7c1e"
#define NOW 1732406400LL

static const char click[] =
    "{\"open_id\":\"ou_1\",\"open_message_id\":\"om_1\",\"open_chat_id\":\"oc_1\","
    "\"tenant_key\":\"tenant_a\",\"token\":\"c-abc\",\"action\":{\"tag\":\"button\","
    "\"value\":{\"k\":\"v\"}}}";

static void sign(const char *ts, const char *nonce, const char *token, const char *body,
                 char out[41]) {
    char buf[4096];
    unsigned char d[CRYPTO_SHA1_LEN];
    int n = snprintf(buf, sizeof buf, "%s%s%s%s", ts, nonce, token, body);
    crypto_sha1(buf, (size_t)n, d);
    crypto_hex(d, sizeof d, out);
}

static int verify(const char *ts, const char *nonce, const char *sig, const char *body,
                  struct webhook_legacy_verdict *v) {
    struct webhook_input in = { body, strlen(body), ts, nonce, sig, NOW };
    return webhook_legacy_verify(TOKEN, 300, &in, v);
}

static void test_signed_click_becomes_an_envelope(void) {
    char sig[41];
    struct webhook_legacy_verdict v;
    sign("1732406400", "n1", TOKEN, click, sig);
    CHECK_EQ_INT(verify("1732406400", "n1", sig, click, &v), 0);
    CHECK_EQ_INT(v.flags, 0);
    cJSON *env = v.json ? cJSON_ParseWithLength(v.json, v.json_len) : NULL;
    const cJSON *h = cJSON_GetObjectItem(env, "header");
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(env, "schema")), "2.0");
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(h, "event_type")), "card.action.legacy");
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(h, "token")), TOKEN);
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(h, "tenant_key")), "tenant_a");
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(h, "create_time")), "1732406400000");
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(h, "event_id"));
    CHECK(id && strncmp(id, "legacy_", 7) == 0 && strlen(id) == 39);
    const cJSON *e = cJSON_GetObjectItem(env, "event");
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e, "token")), "c-abc");
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(
                     cJSON_GetObjectItem(cJSON_GetObjectItem(e, "action"), "value"), "k")), "v");
    cJSON_Delete(env);
    free(v.json);
    /* the same request again: the same id (a retry is a duplicate); another nonce: not */
    struct webhook_legacy_verdict again, other;
    char sig2[41];
    sign("1732406400", "n2", TOKEN, click, sig2);
    CHECK_EQ_INT(verify("1732406400", "n1", sig, click, &again), 0);
    CHECK_EQ_INT(verify("1732406400", "n2", sig2, click, &other), 0);
    CHECK(again.json && strstr(again.json, id ? "legacy_" : "?"));
    CHECK(other.json && again.json && strcmp(other.json, again.json) != 0);
    free(again.json);
    free(other.json);
}

static void test_refusals(void) {
    char sig[41], upper[41];
    struct webhook_legacy_verdict v;
    sign("1732406400", "n1", TOKEN, click, sig);
    CHECK_EQ_INT(verify("1732406400", "n1", sig, "{\"x\":1}", &v), 401);     /* other body */
    CHECK_EQ_STR(v.reason, "bad signature");
    sign("1732406400", "n1", "another-token", click, upper);
    CHECK_EQ_INT(verify("1732406400", "n1", upper, click, &v), 401);
    CHECK_EQ_INT(verify("1732406400", "n1", "abc", click, &v), 401);
    for (int i = 0; i < 40; i++) upper[i] = (char)(sig[i] >= 'a' ? sig[i] - 32 : sig[i]);
    upper[40] = '\0';
    CHECK_EQ_INT(verify("1732406400", "n1", upper, click, &v), 401);          /* hex is lower case */
    char stale[41];
    sign("1732406000", "n1", TOKEN, click, stale);
    CHECK_EQ_INT(verify("1732406000", "n1", stale, click, &v), 401);
    CHECK_CONTAINS(v.reason, "webhook.max_skew_s");
    CHECK_EQ_INT(verify("+1732406400", "n1", sig, click, &v), 401);
    struct webhook_input partial = { click, strlen(click), "1732406400", NULL, sig, NOW };
    CHECK_EQ_INT(webhook_legacy_verify(TOKEN, 300, &partial, &v), 401);
    CHECK(v.json == NULL);
}

static void test_body_shapes(void) {
    char sig[41];
    struct webhook_legacy_verdict v;
    static const char *const bad[] = { "{oops", "[1]", "{\"schema\":\"2.0\"}",
                                       "{\"encrypt\":\"abc\"}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sign("1732406400", "n", TOKEN, bad[i], sig);
        CHECK_EQ_INT(verify("1732406400", "n", sig, bad[i], &v), 400);
        CHECK(v.json == NULL);
    }
    struct webhook_input empty = { "", 0, NULL, NULL, NULL, NOW };
    CHECK_EQ_INT(webhook_legacy_verify(TOKEN, 300, &empty, &v), 400);
    static const char ch[] = "{\"type\":\"url_verification\",\"challenge\":\"c1\"}";
    sign("1732406400", "n", TOKEN, ch, sig);
    CHECK_EQ_INT(verify("1732406400", "n", sig, ch, &v), 0);
    CHECK(v.json && v.json_len == strlen(ch) && memcmp(v.json, ch, v.json_len) == 0);
    free(v.json);
}

static void test_unsigned_is_challenge_only(void) {
    static const char ch[] = "{\"type\":\"url_verification\",\"challenge\":\"c\",\"token\":\"t\"}";
    struct webhook_legacy_verdict v;
    struct webhook_input in = { ch, strlen(ch), NULL, NULL, NULL, NOW };
    CHECK_EQ_INT(webhook_legacy_verify(NULL, 300, &in, &v), 0);
    CHECK_EQ_INT(v.flags, EVENT_CHALLENGE_ONLY);
    CHECK(v.json && v.json_len == strlen(ch) && memcmp(v.json, ch, v.json_len) == 0);
    free(v.json);
    struct webhook_input unsigned_click = { click, strlen(click), NULL, NULL, NULL, NOW };
    CHECK_EQ_INT(webhook_legacy_verify(TOKEN, 300, &unsigned_click, &v), 401);
    CHECK(v.json == NULL);
}

int main(void) {
    RUN(test_signed_click_becomes_an_envelope);
    RUN(test_refusals);
    RUN(test_body_shapes);
    RUN(test_unsigned_is_challenge_only);
    return test_report();
}
