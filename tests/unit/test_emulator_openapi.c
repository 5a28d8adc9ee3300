/* The emulator's OpenAPI endpoints called as functions (no sockets): token issue and
 * reuse, one token per tenant, invalidation codes, im validation codes, settings that
 * refuse bad input without changing anything. End to end: tests/integration. */
#include "test.h"

#include <stdlib.h>

#include "emulator/emu.h"
#include "emulator/emu_answer.h"
#include "emulator/emu_http.h"
#include "emulator/emu_im.h"
#include "emulator/emu_openapi.h"
#include "emulator/emu_token.h"

static struct emu *emu_new(void) {
    struct emu *e = calloc(1, sizeof *e);
    e->app_id = strdup("cli_test");
    e->app_secret = strdup("s3cret");
    CHECK_EQ_INT(emu_openapi_new(e), 0);
    CHECK_EQ_INT(emu_tokens_new(e), 0);
    return e;
}

static void emu_del(struct emu *e) {
    emu_openapi_free(e);
    emu_tokens_free(e);
    free(e->app_id);
    free(e->app_secret);
    free(e);
}

struct result {
    int status;
    long code;
    char token[64];                     /* the token in the answer, if any */
    char message_id[64];
};

/* One call the way emu_openapi.c routes it, minus recording and latency. */
static struct result call(struct emu *e, const char *path, const char *query, const char *body,
                          const char *token) {
    char *b = strdup(body);
    struct emu_req r = { .emu = e, .method = "POST", .path = path, .query = query,
                         .peer = "test", .body = b, .body_len = strlen(b) };
    cJSON *json = cJSON_Parse(body);
    struct emu_call c = { .emu = e, .r = &r, .body = json, .token = token,
                          .invalid_status = 401 };
    struct result res = { 0 };
    if (strncmp(path, "/open-apis/auth/", 16) == 0) {
        CHECK_EQ_INT(emu_token_endpoint(&c), 0);
    } else {
        long code = emu_token_check(&c, token);
        if (code) emu_call_answer(&c, c.invalid_status, code, "token");
        else CHECK_EQ_INT(emu_im_handle(&c), 0);
    }
    res.status = c.status;
    res.code = (long)cJSON_GetObjectItemCaseSensitive(c.answer, "code")->valuedouble;
    const char *fields[] = { "tenant_access_token", "app_access_token" };
    for (int i = 0; i < 2; i++) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(c.answer, fields[i]);
        if (cJSON_IsString(t)) snprintf(res.token, sizeof res.token, "%s", t->valuestring);
    }
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(c.answer, "data");
    const cJSON *mid = cJSON_GetObjectItemCaseSensitive(data, "message_id");
    if (cJSON_IsString(mid)) snprintf(res.message_id, sizeof res.message_id, "%s", mid->valuestring);
    cJSON_Delete(c.answer);
    cJSON_Delete(json);
    free(b);
    return res;
}

static const char creds[] = "{\"app_id\":\"cli_test\",\"app_secret\":\"s3cret\"}";
static const char internal[] = "/open-apis/auth/v3/tenant_access_token/internal";
static const char send_path[] = "/open-apis/im/v1/messages";

static int settings(struct emu *e, const char *json) {
    char err[192];
    cJSON *in = cJSON_Parse(json), *out = cJSON_CreateObject();
    int rc = emu_openapi_settings(e, in, NULL, err, sizeof err) ||
             emu_token_settings(e, in, NULL, err, sizeof err);
    if (!rc) {
        emu_openapi_settings(e, in, out, err, sizeof err);
        emu_token_settings(e, in, out, err, sizeof err);
    }
    cJSON_Delete(in);
    cJSON_Delete(out);
    return rc;
}

static struct result text_to(struct emu *e, const char *token) {
    return call(e, send_path, "receive_id_type=chat_id",
                "{\"receive_id\":\"oc_1\",\"msg_type\":\"text\",\"content\":\"{\\\"text\\\":\\\"hi\\\"}\"}",
                token);
}

static void test_credentials(void) {
    struct emu *e = emu_new();
    struct result r = call(e, internal, "", creds, NULL);
    CHECK_EQ_INT(r.code, 0);
    CHECK(strncmp(r.token, "t-", 2) == 0);
    r = call(e, internal, "", "{\"app_id\":\"cli_test\",\"app_secret\":\"nope\"}", NULL);
    CHECK_EQ_INT(r.code, 10014);
    CHECK_EQ_STR(r.token, "");
    CHECK_EQ_INT(call(e, internal, "", "{\"app_id\":\"cli_x\",\"app_secret\":\"s3cret\"}",
                      NULL).code, 10003);
    CHECK_EQ_INT(call(e, internal, "", "[1]", NULL).code, 10003);
    r = call(e, "/open-apis/auth/v3/app_access_token", "",
             "{\"app_id\":\"cli_test\",\"app_secret\":\"s3cret\",\"app_ticket\":\"forged\"}", NULL);
    CHECK_EQ_INT(r.code, 10012);
    emu_del(e);
}

static void test_reuse_then_refresh(void) {
    struct emu *e = emu_new();
    struct result a = call(e, internal, "", creds, NULL), b = call(e, internal, "", creds, NULL);
    CHECK_EQ_STR(a.token, b.token);
    CHECK_EQ_INT(settings(e, "{\"refresh_s\":7200}"), 0);
    struct result c = call(e, internal, "", creds, NULL);
    CHECK(strcmp(c.token, a.token) != 0);
    CHECK_EQ_INT(text_to(e, a.token).code, 0);          /* the older one stays valid */
    CHECK_EQ_INT(text_to(e, c.token).code, 0);
    emu_del(e);
}

static void test_tenant_tokens(void) {
    struct emu *e = emu_new();
    struct result app = call(e, "/open-apis/auth/v3/app_access_token/internal", "", creds, NULL);
    char body[256];
    snprintf(body, sizeof body, "{\"app_access_token\":\"%s\",\"tenant_key\":\"ta\"}", app.token);
    struct result ta = call(e, "/open-apis/auth/v3/tenant_access_token", "", body, NULL);
    snprintf(body, sizeof body, "{\"app_access_token\":\"%s\",\"tenant_key\":\"tb\"}", app.token);
    struct result tb = call(e, "/open-apis/auth/v3/tenant_access_token", "", body, NULL);
    CHECK_EQ_INT(ta.code, 0);
    CHECK_EQ_INT(tb.code, 0);
    CHECK(strcmp(ta.token, tb.token) != 0);
    CHECK_EQ_INT(settings(e, "{\"tenant_keys\":[\"ta\"]}"), 0);
    CHECK(call(e, "/open-apis/auth/v3/tenant_access_token", "", body, NULL).code != 0);
    snprintf(body, sizeof body, "{\"app_access_token\":\"%s\",\"tenant_key\":\"ta\"}", ta.token);
    CHECK_EQ_INT(call(e, "/open-apis/auth/v3/tenant_access_token", "", body, NULL).code,
                 99991664);                             /* a tenant token is no app token */
    CHECK_EQ_INT(text_to(e, app.token).code, 99991663); /* im wants a tenant token */
    emu_del(e);
}

static void test_invalidation(void) {
    struct emu *e = emu_new();
    struct result t = call(e, internal, "", creds, NULL);
    struct result a = call(e, "/open-apis/auth/v3/app_access_token/internal", "", creds, NULL);
    CHECK_EQ_INT(settings(e, "{\"invalidate\":{\"kind\":\"app\"}}"), 0);
    CHECK_EQ_INT(text_to(e, t.token).code, 0);
    struct emu_call c = { .emu = e };
    CHECK_EQ_INT(emu_token_check(&c, a.token), 99991664);
    CHECK_EQ_INT(emu_token_check(&c, "t-never-issued"), 99991671);
    CHECK_EQ_INT(settings(e, "{\"invalidate\":\"all\"}"), 0);
    struct result r = text_to(e, t.token);
    CHECK_EQ_INT(r.code, 99991663);
    CHECK_EQ_INT(r.status, 401);
    CHECK_EQ_INT(settings(e, "{\"invalidate\":\"all\",\"invalid_code\":99991671}"), 0);
    CHECK_EQ_INT(text_to(e, t.token).code, 99991671);
    struct result fresh = call(e, internal, "", creds, NULL);
    CHECK(strcmp(fresh.token, t.token) != 0);
    CHECK_EQ_INT(text_to(e, fresh.token).code, 0);
    emu_del(e);
}

static void test_im_codes(void) {
    static const struct { const char *path, *query, *body; long code; } cases[] = {
        { send_path, "receive_id_type=open_id",
          "{\"receive_id\":\"ou_1\",\"msg_type\":\"text\",\"content\":\"{\\\"text\\\":\\\"x\\\"}\"}", 0 },
        { send_path, "", "{\"receive_id\":\"oc_1\",\"msg_type\":\"text\",\"content\":\"{}\"}", 99992402 },
        { send_path, "receive_id_type=open_idx", "{}", 99992402 },
        { send_path, "receive_id_type=chat_id", "\"str\"", 99992402 },
        { send_path, "receive_id_type=chat_id",
          "{\"receive_id\":\"oc_1\",\"msg_type\":\"text\",\"content\":{}}", 99992402 },
        { send_path, "receive_id_type=chat_id",
          "{\"receive_id\":\"oc_1\",\"msg_type\":\"text\",\"content\":\"{\\\"t\\\":1}\"}", 230001 },
        { send_path, "receive_id_type=chat_id",
          "{\"receive_id\":\"oc_1\",\"msg_type\":\"post\",\"content\":\"[]\"}", 230001 },
        { send_path, "receive_id_type=chat_id",
          "{\"receive_id\":\"ou_1\",\"msg_type\":\"post\",\"content\":\"{}\"}", 230001 },
        { send_path, "receive_id_type=chat_id",
          "{\"receive_id\":\"oc_1\",\"msg_type\":\"fax\",\"content\":\"{}\"}", 230001 },
        { "/open-apis/im/v1/messages/om_1/reply", "",
          "{\"msg_type\":\"post\",\"content\":\"{}\"}", 0 },
        { "/open-apis/im/v1/messages/om_1/reply", "",
          "{\"msg_type\":\"post\",\"content\":\"{}\",\"reply_in_thread\":1}", 99992402 },
        { "/open-apis/im/v1/messages/x_1/reply", "", "{\"msg_type\":\"post\",\"content\":\"{}\"}",
          230001 },
    };
    struct emu *e = emu_new();
    struct result t = call(e, internal, "", creds, NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct result r = call(e, cases[i].path, cases[i].query, cases[i].body, t.token);
        if (r.code != cases[i].code) fprintf(stderr, "case %zu\n", i);
        CHECK_EQ_INT(r.code, cases[i].code);
        CHECK_EQ_INT(r.status, cases[i].code ? 400 : 200);
        CHECK(cases[i].code || strncmp(r.message_id, "om_", 3) == 0);
    }
    emu_del(e);
}

static void test_bad_settings_change_nothing(void) {
    static const char *const bad[] = {
        "{\"latency_ms\":-1}", "{\"latency_ms\":60001}", "{\"latency_ms\":1.5}",
        "{\"latency_paths\":{\"no-slash\":1}}", "{\"latency_paths\":[1]}",
        "{\"rate_limit\":{\"count\":-1}}", "{\"rate_limit\":{\"status\":401}}",
        "{\"rate_limit\":{\"path\":5}}", "{\"responses\":[{\"path\":\"/x\"}]}",
        "{\"responses\":{}}", "{\"invalid_status\":600}", "{\"expire_s\":0}",
        "{\"tenant_keys\":\"ta\"}", "{\"tenant_keys\":[\"\"]}", "{\"invalidate\":[]}",
        "{\"invalidate\":{\"kind\":\"user\"}}", "{\"internal_tenant_key\":\"\"}",
        "{\"ticket_delay_ms\":600001}", "{\"latency_ms\":5,\"expire_s\":-5}",
    };
    struct emu *e = emu_new();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (!settings(e, bad[i])) fprintf(stderr, "accepted: %s\n", bad[i]);
        CHECK(settings(e, bad[i]) != 0);
    }
    char err[192];
    cJSON *none = cJSON_CreateObject(), *out = cJSON_CreateObject();
    emu_openapi_settings(e, none, out, err, sizeof err);
    CHECK_EQ_INT((long)cJSON_GetObjectItemCaseSensitive(out, "latency_ms")->valuedouble, 0);
    cJSON_Delete(none);
    cJSON_Delete(out);
    emu_del(e);
}

int main(void) {
    RUN(test_credentials);
    RUN(test_reuse_then_refresh);
    RUN(test_tenant_tokens);
    RUN(test_invalidation);
    RUN(test_im_codes);
    RUN(test_bad_settings_change_nothing);
    return test_report();
}
