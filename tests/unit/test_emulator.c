/* The emulator's pure parts: envelope ids, the OpenAPI answer shape. Its HTTP server is net/http_server
 * (tests/unit/test_http_server*.c); the rest is tested end to end in tests/integration
 * (and the OpenAPI's endpoints in test_emulator_openapi.c). */
#include "test.h"

#include <stdlib.h>

#include "emulator/emu.h"
#include "emulator/emu_answer.h"
#include "emulator/emu_envelope.h"
#include "emulator/emu_http.h"

static void test_envelope_event_id(void) {
    cJSON *v2 = cJSON_Parse("{\"schema\":\"2.0\",\"header\":{\"event_id\":\"e1\"}}");
    cJSON *v1 = cJSON_Parse("{\"uuid\":\"u1\",\"event\":{}}");
    cJSON *none = cJSON_Parse("{\"header\":{\"event_id\":5}}");
    CHECK_EQ_STR(emu_envelope_event_id(v2), "e1");
    CHECK_EQ_STR(emu_envelope_event_id(v1), "u1");
    CHECK(emu_envelope_event_id(none) == NULL);
    cJSON_Delete(v2);
    cJSON_Delete(v1);
    cJSON_Delete(none);
}

/* Handlers called without a server (as test_emulator_openapi.c does) read the query
 * and find no headers. */
static void test_request_without_server(void) {
    struct emu_req r = { .method = "GET", .path = "/x", .query = "a=1&b=x%20y" };
    char v[16];
    CHECK_EQ_INT(emu_req_query(&r, "b", v, sizeof v), 0);
    CHECK_EQ_STR(v, "x y");
    CHECK_EQ_INT(emu_req_query(&r, "c", v, sizeof v), -1);
    CHECK(emu_req_header(&r, "Host") == NULL);
}

/* The platform's answer: {"code","msg"}, and on an error the log id in "error" too. */
static void test_call_answer(void) {
    struct emu_call c = { .log_id = "20261202093000ABCDEF" };
    CHECK(emu_call_answer(&c, 200, 0, "success") != NULL);
    char *ok = cJSON_PrintUnformatted(c.answer);
    CHECK_EQ_STR(ok, "{\"code\":0,\"msg\":\"success\"}");
    CHECK_EQ_INT(c.status, 200);
    cJSON *e = emu_call_answer(&c, 400, 10003, "invalid param");
    char *err = cJSON_PrintUnformatted(e);
    CHECK_EQ_STR(err, "{\"code\":10003,\"msg\":\"invalid param\","
                      "\"error\":{\"log_id\":\"20261202093000ABCDEF\"}}");
    CHECK_EQ_INT(c.status, 400);
    cJSON_free(ok);
    cJSON_free(err);
    cJSON_Delete(c.answer);
}

static void test_json_int(void) {
    cJSON *o = cJSON_Parse("{\"a\":5,\"b\":2.5,\"c\":\"5\",\"d\":99}");
    char err[96] = "";
    long v = -1;
    CHECK_EQ_INT(emu_json_int(o, "none", 0, 10, &v, err, sizeof err), 0);
    CHECK_EQ_INT(v, -1);
    CHECK_EQ_INT(emu_json_int(o, "a", 0, 10, &v, err, sizeof err), 1);
    CHECK_EQ_INT(v, 5);
    CHECK_EQ_INT(emu_json_int(o, "b", 0, 10, &v, err, sizeof err), -1);
    CHECK_EQ_STR(err, "'b' must be an integer in [0, 10]");
    CHECK_EQ_INT(emu_json_int(o, "c", 0, 10, &v, err, sizeof err), -1);
    CHECK_EQ_INT(emu_json_int(o, "d", 0, 10, &v, err, sizeof err), -1);
    CHECK_EQ_INT(v, 5);
    cJSON_Delete(o);
}

int main(void) {
    RUN(test_envelope_event_id);
    RUN(test_request_without_server);
    RUN(test_call_answer);
    RUN(test_json_int);
    return test_report();
}
