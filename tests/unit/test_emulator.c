/* The emulator's pure parts: envelope ids. Its HTTP server is net/http_server
 * (tests/unit/test_http_server*.c); the rest is tested end to end in tests/integration
 * (and the OpenAPI's endpoints in test_emulator_openapi.c). */
#include "test.h"

#include <stdlib.h>

#include "emulator/emu.h"
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

int main(void) {
    RUN(test_envelope_event_id);
    RUN(test_request_without_server);
    return test_report();
}
