/* The emulator's pure parts: the HTTP request head parser, Content-Length, query
 * parameters, percent-decoding, envelope ids. The rest is tested end to end in
 * tests/integration (and the OpenAPI's endpoints in test_emulator_openapi.c). */
#include "test.h"

#include <stdlib.h>

#include "emulator/emu.h"

static int parse(const char *text, struct emu_req *r, char **copy) {
    memset(r, 0, sizeof *r);
    *copy = strdup(text);
    return emu_http_parse_head(*copy, strlen(text), r);
}

static void test_head_ok(void) {
    struct emu_req r;
    char *c;
    CHECK_EQ_INT(parse("POST /callback/ws/endpoint?a=1&b=x%20y HTTP/1.1\r\n"
                       "Host: 127.0.0.1\r\nlocale:  zh \r\nContent-Length: 12\r\n\r\n", &r, &c), 0);
    CHECK_EQ_STR(r.method, "POST");
    CHECK_EQ_STR(r.path, "/callback/ws/endpoint");
    CHECK_EQ_STR(r.query, "a=1&b=x%20y");
    CHECK_EQ_STR(r.version, "HTTP/1.1");
    CHECK_EQ_INT(r.nheaders, 3);
    CHECK_EQ_STR(emu_req_header(&r, "LOCALE"), "zh");
    CHECK(emu_req_header(&r, "missing") == NULL);
    CHECK_EQ_INT(emu_http_body_length(&r, 100), 12);
    CHECK_EQ_INT(emu_http_body_length(&r, 11), -413);
    char v[16];
    CHECK_EQ_INT(emu_req_query(&r, "b", v, sizeof v), 0);
    CHECK_EQ_STR(v, "x y");
    CHECK_EQ_INT(emu_req_query(&r, "a", v, sizeof v), 0);
    CHECK_EQ_STR(v, "1");
    CHECK_EQ_INT(emu_req_query(&r, "c", v, sizeof v), -1);
    CHECK_EQ_INT(emu_req_query(&r, "b", v, 3), -1);   /* too long for out */
    free(c);
}

static void test_head_errors(void) {
    static const struct { const char *text; int status; } cases[] = {
        { "GET / HTTP/1.1\r\n\r\n", 0 },
        { "GET / HTTP/1.1\n\r\n", 400 },                  /* bare LF */
        { "GET /\r\n\r\n", 400 },                         /* no version */
        { "GET  / HTTP/1.1\r\n\r\n", 400 },               /* empty token */
        { "GET x HTTP/1.1\r\n\r\n", 400 },                /* not origin-form */
        { "GET / HTTP/2.0\r\n\r\n", 505 },
        { "GET / HTTP/1.10\r\n\r\n", 505 },
        { "GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\n: empty\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\n folded: x\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\n", 400 },                    /* not a whole head */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct emu_req r;
        char *c;
        int got = parse(cases[i].text, &r, &c);
        if (got != cases[i].status)
            fprintf(stderr, "case %zu: \"%s\"\n", i, cases[i].text);
        CHECK_EQ_INT(got, cases[i].status);
        free(c);
    }
}

static void test_too_many_headers(void) {
    char text[4096] = "GET / HTTP/1.1\r\n";
    for (int i = 0; i <= EMU_MAX_HEADERS; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "h%d: v\r\n", i);
    strcat(text, "\r\n");
    struct emu_req r;
    char *c;
    CHECK_EQ_INT(parse(text, &r, &c), 431);
    free(c);
}

static void test_body_length(void) {
    static const struct { const char *head; long want; } cases[] = {
        { "POST / HTTP/1.1\r\n\r\n", 0 },
        { "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 0 },
        { "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", -400 },
        { "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", -400 },
        { "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", -400 },
        { "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", -413 },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", -501 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct emu_req r;
        char *c;
        CHECK_EQ_INT(parse(cases[i].head, &r, &c), 0);
        CHECK_EQ_INT(emu_http_body_length(&r, 1000), cases[i].want);
        free(c);
    }
}

static void test_url_decode(void) {
    char out[16];
    CHECK_EQ_INT(emu_url_decode("a%20b+c%2Fd", 11, out, sizeof out), 7);
    CHECK_EQ_STR(out, "a b c/d");
    CHECK_EQ_INT(emu_url_decode("%zz%4", 5, out, sizeof out), 5);   /* bad escapes kept */
    CHECK_EQ_STR(out, "%zz%4");
    CHECK_EQ_INT(emu_url_decode("abcd", 4, out, 4), -1);            /* no room for the NUL */
    CHECK_EQ_INT(emu_url_decode("", 0, out, sizeof out), 0);
    CHECK_EQ_STR(out, "");
}

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

int main(void) {
    RUN(test_head_ok);
    RUN(test_head_errors);
    RUN(test_too_many_headers);
    RUN(test_body_length);
    RUN(test_url_decode);
    RUN(test_envelope_event_id);
    return test_report();
}
