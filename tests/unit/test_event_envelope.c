#include "event/envelope.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

static int parse(struct envelope *env, const char *json, char *err) {
    return envelope_parse(env, json, strlen(json), err, 128);
}

static void test_schema2_fixture(void) {
    size_t len;
    char *json = util_read_file("data/webhook/event.plain.json", 1 << 20, &len);
    CHECK(json != NULL);
    if (!json) return;
    struct envelope env;
    char err[128];
    CHECK_EQ_INT(envelope_parse(&env, json, len, err, sizeof err), 0);
    CHECK_EQ_INT(env.kind, ENVELOPE_V2);
    CHECK_EQ_STR(env.event_id, "f7984f25108f8137722bb63cee927e66");
    CHECK_EQ_STR(env.event_type, "im.message.receive_v1");
    CHECK_EQ_STR(env.token, "v-token-7c1e");
    CHECK_EQ_STR(env.tenant_key, "2ca1d211f64f6438");
    CHECK_EQ_STR(env.create_time, "1732406400000");
    CHECK_EQ_STR(env.message_id, "om_5ce6d572455d361153b7cb51da133945");
    CHECK_EQ_STR(env.chat_id, "oc_5ce6d572455d361153b7cb5xxfsdfsdfdsf");
    CHECK(env.challenge == NULL);
    envelope_free(&env);
    free(json);
}

static void test_not_nul_terminated(void) {
    const char json[] = "{\"schema\":\"2.0\",\"header\":{\"event_id\":\"e1\",\"event_type\":\"a.b_v1\"}}XYZ";
    struct envelope env;
    char err[128];
    CHECK_EQ_INT(envelope_parse(&env, json, sizeof json - 4, err, sizeof err), 0);
    CHECK_EQ_STR(env.event_id, "e1");
    envelope_free(&env);
}

static void test_message_id_only_for_receive(void) {
    struct envelope env;
    char err[128];
    CHECK_EQ_INT(parse(&env, "{\"schema\":\"2.0\",\"header\":{\"event_id\":\"e1\",\"event_type\":"
                             "\"im.message.recalled_v1\"},\"event\":{\"message\":{\"message_id\":"
                             "\"om_1\",\"chat_id\":\"oc_1\"}}}", err), 0);
    CHECK(env.message_id == NULL);
    CHECK_EQ_STR(env.chat_id, "oc_1");
    CHECK(env.tenant_key == NULL);
    envelope_free(&env);
}

static void test_schema1(void) {
    struct envelope env;
    char err[128];
    CHECK_EQ_INT(parse(&env, "{\"uuid\":\"u-1\",\"token\":\"tok\",\"ts\":\"1.5\",\"type\":"
                             "\"event_callback\",\"event\":{\"type\":\"message\",\"tenant_key\":"
                             "\"tk\",\"open_chat_id\":\"oc_9\"}}", err), 0);
    CHECK_EQ_INT(env.kind, ENVELOPE_V1);
    CHECK_EQ_STR(env.event_id, "u-1");
    CHECK_EQ_STR(env.event_type, "message");
    CHECK_EQ_STR(env.token, "tok");
    CHECK_EQ_STR(env.tenant_key, "tk");
    CHECK_EQ_STR(env.chat_id, "oc_9");
    CHECK(env.message_id == NULL);
    envelope_free(&env);
}

static void test_challenge(void) {
    size_t len;
    char *json = util_read_file("data/webhook/challenge.plain.json", 1 << 20, &len);
    CHECK(json != NULL);
    if (!json) return;
    struct envelope env;
    char err[128];
    CHECK_EQ_INT(envelope_parse(&env, json, len, err, sizeof err), 0);
    CHECK_EQ_INT(env.kind, ENVELOPE_CHALLENGE);
    CHECK_EQ_STR(env.challenge, "ajls384kdjx98XX");
    CHECK_EQ_STR(env.token, "v-token-7c1e");
    CHECK(env.event_id == NULL);
    envelope_free(&env);
    free(json);
}

static void expect_fail(const char *json, const char *why) {
    struct envelope env;
    char err[128] = "";
    CHECK_EQ_INT(parse(&env, json, err), -1);
    CHECK_EQ_STR(err, why);
    CHECK(env.root == NULL);
    envelope_free(&env);
}

static void test_malformed(void) {
    expect_fail("", "malformed JSON");
    expect_fail("{", "malformed JSON");
    expect_fail("{\"schema\":\"2.0\"} {}", "malformed JSON");
    expect_fail("[1,2]", "envelope is not a JSON object");
    expect_fail("\"x\"", "envelope is not a JSON object");
    expect_fail("{}", "missing schema");
    expect_fail("{\"schema\":\"3.0\",\"header\":{}}", "unknown schema");
    expect_fail("{\"schema\":2.0}", "missing schema");
}

static void test_missing_fields(void) {
    expect_fail("{\"schema\":\"2.0\"}", "missing header");
    expect_fail("{\"schema\":\"2.0\",\"header\":[]}", "missing header");
    expect_fail("{\"schema\":\"2.0\",\"header\":{\"event_type\":\"a.b_v1\"}}",
                "missing header.event_id");
    expect_fail("{\"schema\":\"2.0\",\"header\":{\"event_id\":\"\",\"event_type\":\"a.b_v1\"}}",
                "missing header.event_id");
    expect_fail("{\"schema\":\"2.0\",\"header\":{\"event_id\":7,\"event_type\":\"a.b_v1\"}}",
                "missing header.event_id");
    expect_fail("{\"schema\":\"2.0\",\"header\":{\"event_id\":\"e\"}}", "missing header.event_type");
    expect_fail("{\"type\":\"event_callback\",\"event\":{\"type\":\"message\"}}", "missing uuid");
    expect_fail("{\"type\":\"event_callback\",\"uuid\":\"u\"}", "missing event");
    expect_fail("{\"type\":\"event_callback\",\"uuid\":\"u\",\"event\":{}}", "missing event.type");
    expect_fail("{\"type\":\"url_verification\",\"token\":\"t\"}", "missing challenge");
    expect_fail("{\"type\":\"url_verification\",\"challenge\":1}", "missing challenge");
}

int main(void) {
    RUN(test_schema2_fixture);
    RUN(test_not_nul_terminated);
    RUN(test_message_id_only_for_receive);
    RUN(test_schema1);
    RUN(test_challenge);
    RUN(test_malformed);
    RUN(test_missing_fields);
    return test_report();
}
