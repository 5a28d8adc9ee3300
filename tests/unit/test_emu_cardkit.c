/* The emulator's cards called as functions (no sockets): card entities, their sequence
 * and element checks, streaming mode, sending an entity once, PATCH of card messages,
 * and the 10/s budget of one card. End to end: tests/integration/test_emulator_cardkit.py. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/util.h"
#include "emulator/emu.h"
#include "emulator/emu_answer.h"
#include "emulator/emu_cardkit.h"
#include "emulator/emu_http.h"
#include "emulator/emu_openapi.h"

static struct emu *emu_new(void) {
    struct emu *e = calloc(1, sizeof *e);
    e->app_id = strdup("cli_0123456789abcdef");
    CHECK_EQ_INT(emu_openapi_new(e), 0);
    CHECK_EQ_INT(emu_cards_new(e), 0);
    return e;
}

static void emu_del(struct emu *e) {
    emu_cards_free(e);
    emu_openapi_free(e);
    free(e->app_id);
    free(e);
}

/* One call with a tenant token of tenant "t1" (or an app token); the answer's code, and
 * its data.card_id or data.message_id into out. */
static long call(struct emu *e, const char *method, const char *path, const char *query,
                 const char *body, int app_token, char *out, size_t outlen) {
    struct emu_req r = { .emu = e, .method = method, .path = path, .query = query,
                         .peer = "test", .body = body, .body_len = strlen(body) };
    cJSON *json = cJSON_Parse(body);
    struct emu_call c = { .emu = e, .r = &r, .body = json, .token = "t",
                          .token_kind = app_token ? EMU_TOKEN_APP : EMU_TOKEN_TENANT,
                          .tenant_key = "t1", .invalid_status = 400 };
    CHECK_EQ_INT(emu_cardkit_handle(&c), 0);
    long code = (long)cJSON_GetObjectItemCaseSensitive(c.answer, "code")->valuedouble;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(c.answer, "data");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(data, "card_id");
    if (!id) id = cJSON_GetObjectItemCaseSensitive(data, "message_id");
    if (out && cJSON_IsString(id)) snprintf(out, outlen, "%s", id->valuestring);
    cJSON_Delete(c.answer);
    cJSON_Delete(json);
    return code;
}

static const char card_json[] =
    "{\"type\":\"card_json\",\"data\":\"{\\\"schema\\\":\\\"2.0\\\",\\\"config\\\":"
    "{\\\"streaming_mode\\\":true,\\\"update_multi\\\":true},\\\"body\\\":{\\\"elements\\\":"
    "[{\\\"tag\\\":\\\"markdown\\\",\\\"element_id\\\":\\\"answer\\\","
    "\\\"content\\\":\\\"\\\"}]}}\"}";

static void create(struct emu *e, char id[32]) {
    CHECK_EQ_INT(call(e, "POST", "/open-apis/cardkit/v1/cards", "", card_json, 0, id, 32), 0);
}

static long content(struct emu *e, const char *id, const char *element, int seq) {
    char path[160], body[96];
    snprintf(path, sizeof path, "/open-apis/cardkit/v1/cards/%s/elements/%s/content", id, element);
    snprintf(body, sizeof body, "{\"content\":\"text %d\",\"sequence\":%d}", seq, seq);
    return call(e, "PUT", path, "", body, 0, NULL, 0);
}

static void test_sequence_and_elements(void) {
    struct emu *e = emu_new();
    char id[32] = "";
    create(e, id);
    CHECK(strlen(id) == 19);
    CHECK_EQ_INT(content(e, id, "answer", 1), 0);
    CHECK_EQ_INT(content(e, id, "answer", 1), 300317);
    CHECK_EQ_INT(content(e, id, "answer", 0), 10002);
    CHECK_EQ_INT(content(e, id, "other", 2), 300305);
    CHECK_EQ_INT(content(e, "7000000000000000000", "answer", 2), 200740);
    CHECK_EQ_INT(content(e, id, "answer", 5), 0);
    char path[96];
    snprintf(path, sizeof path, "/open-apis/cardkit/v1/cards/%s/settings", id);
    CHECK_EQ_INT(call(e, "PATCH", path, "", "{\"settings\":\"{\\\"config\\\":"
                      "{\\\"streaming_mode\\\":false}}\",\"sequence\":6}", 0, NULL, 0), 0);
    CHECK_EQ_INT(content(e, id, "answer", 7), 300309);
    CHECK_EQ_INT(call(e, "PATCH", path, "", "{\"settings\":\"{}\",\"sequence\":7}", 1, NULL, 0),
                 99991663);
    emu_del(e);
}

static void test_card_json_checks(void) {
    struct emu *e = emu_new();
    static const char *const bad[][2] = {
        { "{\"type\":\"card_json\",\"data\":\"[1]\"}", "200220" },
        { "{\"type\":\"card_json\",\"data\":"
          "\"{\\\"elements\\\":[{\\\"element_id\\\":\\\"_x\\\"}]}\"}", "10002" },
        { "{\"type\":\"card_json\",\"data\":"
          "\"{\\\"config\\\":{\\\"streaming_mode\\\":true}}\"}", "300302" },
        { "{\"type\":\"template\",\"data\":\"{}\"}", "10002" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(call(e, "POST", "/open-apis/cardkit/v1/cards", "", bad[i][0], 0, NULL, 0),
                     atol(bad[i][1]));
    emu_del(e);
}

static void test_entity_sent_once_and_patch(void) {
    struct emu *e = emu_new();
    char id[32] = "", mid[64] = "", body[160];
    create(e, id);
    snprintf(body, sizeof body, "{\"msg_type\":\"interactive\",\"content\":\"{\\\"type\\\":"
             "\\\"card\\\",\\\"data\\\":{\\\"card_id\\\":\\\"%s\\\"}}\"}", id);
    const char *reply = "/open-apis/im/v1/messages/om_1/reply";
    CHECK_EQ_INT(call(e, "POST", reply, "", body, 0, mid, sizeof mid), 0);
    CHECK(strncmp(mid, "om_", 3) == 0);
    CHECK_EQ_INT(call(e, "POST", reply, "", body, 0, NULL, 0), 230001);
    char path[96];
    snprintf(path, sizeof path, "/open-apis/im/v1/messages/%s", mid);
    const char *multi = "{\"content\":\"{\\\"config\\\":{\\\"update_multi\\\":true}}\"}";
    CHECK_EQ_INT(call(e, "PATCH", path, "", multi, 0, NULL, 0), 0);
    CHECK_EQ_INT(call(e, "PATCH", path, "", "{\"content\":\"{}\"}", 0, NULL, 0), 230001);
    CHECK_EQ_INT(call(e, "PATCH", "/open-apis/im/v1/messages/om_none", "", multi, 0, NULL, 0),
                 230001);
    emu_del(e);
}

static void test_ten_operations_per_second(void) {
    struct emu *e = emu_new();
    char id[32] = "";
    create(e, id);
    uint64_t start = util_now_ms();
    long codes[12];
    for (int i = 0; i < 12; i++) codes[i] = content(e, id, "answer", i + 1);
    int refused = 0;
    for (int i = 0; i < 12; i++) {
        CHECK(codes[i] == 0 || codes[i] == 99991400);
        refused += codes[i] == 99991400;
    }
    /* 13 operations with the create: within one second, three are refused */
    if (util_now_ms() - start < 1000) CHECK_EQ_INT(refused, 3);
    emu_del(e);
}

int main(void) {
    RUN(test_sequence_and_elements);
    RUN(test_card_json_checks);
    RUN(test_entity_sent_once_and_patch);
    RUN(test_ten_operations_per_second);
    return test_report();
}
