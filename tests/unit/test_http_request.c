/* net/http_request: the request head parser, bytes in, results out (framing,
 * keep-alive, every refusal and its status), the query helpers. The server around it:
 * test_http_server.c. */
#include "test.h"

#include <stdlib.h>

#include "net/http_request.h"

static int parse_max(const char *text, size_t max_body, struct http_request *r, char **copy) {
    *copy = strdup(text);
    return http_request_parse(*copy, strlen(text), max_body, r);
}

static int parse(const char *text, struct http_request *r, char **copy) {
    return parse_max(text, 1000, r, copy);
}

static void test_head_ok(void) {
    struct http_request r;
    char *c;
    CHECK_EQ_INT(parse("POST /callback/ws/endpoint?a=1&b=x%20y HTTP/1.1\r\n"
                       "Host: 127.0.0.1\r\nlocale:  zh \r\nContent-Length: 12\r\n"
                       "X-Empty:\r\n\r\n", &r, &c), 0);
    CHECK_EQ_STR(r.method, "POST");
    CHECK_EQ_STR(r.path, "/callback/ws/endpoint");
    CHECK_EQ_STR(r.query, "a=1&b=x%20y");
    CHECK_EQ_INT(r.minor, 1);
    CHECK_EQ_INT(r.nheaders, 4);
    CHECK_EQ_STR(http_request_header(&r, "LOCALE"), "zh");
    CHECK_EQ_STR(http_request_header(&r, "x-empty"), "");
    CHECK(http_request_header(&r, "missing") == NULL);
    CHECK_EQ_INT(r.content_length, 12);
    CHECK_EQ_INT(r.keep_alive, 1);
    CHECK_EQ_INT(r.expect_continue, 0);
    free(c);
    CHECK_EQ_INT(parse("GET / HTTP/1.0\r\n\r\n", &r, &c), 0);
    CHECK_EQ_STR(r.query, "");
    CHECK_EQ_INT(r.minor, 0);
    CHECK_EQ_INT(r.nheaders, 0);
    CHECK_EQ_INT(r.content_length, 0);
    free(c);
}

static void test_head_errors(void) {
    static const struct { const char *text; int status; } cases[] = {
        { "GET / HTTP/1.1\r\n\r\n", 0 },
        { "GET / HTTP/1.1\n\r\n", 400 },                  /* bare LF */
        { "GET / HTTP/1.1\r\nA: b\nC: d\r\n\r\n", 400 },  /* bare LF inside */
        { "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", 400 },     /* bare CR */
        { "GET /\r\n\r\n", 400 },                         /* no version */
        { "GARBAGE\r\n\r\n", 400 },
        { "GET  / HTTP/1.1\r\n\r\n", 400 },               /* empty token */
        { "GET / HTTP/1.1 \r\n\r\n", 400 },               /* trailing space */
        { "GET x HTTP/1.1\r\n\r\n", 400 },                /* not origin-form */
        { "GET http://h/ HTTP/1.1\r\n\r\n", 400 },        /* absolute-form: not ours */
        { "GET /a\x01 HTTP/1.1\r\n\r\n", 400 },
        { "GET / FOO/1.1\r\n\r\n", 400 },
        { "GET / HTTP/1.x\r\n\r\n", 400 },
        { "GET / HTTP/2.0\r\n\r\n", 505 },
        { "GET / HTTP/1.10\r\n\r\n", 505 },
        { "GET / HTTP/0.9\r\n\r\n", 505 },
        { "BREW / HTTP/1.1\r\n\r\n", 501 },
        { "get / HTTP/1.1\r\n\r\n", 501 },
        { "TRACE / HTTP/1.1\r\n\r\n", 501 },
        { "G@T / HTTP/1.1\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\n: empty\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nA: b\r\n folded: x\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nName : x\r\n\r\n", 400 },    /* space before the colon */
        { "GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nA: b\x1b[0m\r\n\r\n", 400 }, /* controls in a value */
        { "GET / HTTP/1.1\r\nA: caf\xc3\xa9\t!\r\n\r\n", 0 }, /* obs-text, tab: fine */
        { "GET / HTTP/1.1\r\n", 400 },                    /* not a whole head */
        { "\r\n\r\n", 400 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_request r;
        char *c;
        int got = parse(cases[i].text, &r, &c);
        if (got != cases[i].status) fprintf(stderr, "case %zu: \"%s\"\n", i, cases[i].text);
        CHECK_EQ_INT(got, cases[i].status);
        if (got) CHECK(r.error != NULL);
        free(c);
    }
}

static void test_nul_byte(void) {
    char head[] = "GET / HTTP/1.1\r\nA: b\0c\r\n\r\n";
    struct http_request r;
    CHECK_EQ_INT(http_request_parse(head, sizeof head - 1, 10, &r), 400);
}

static void test_too_many_headers(void) {
    char text[4096] = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < HTTP_REQUEST_MAX_HEADERS; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "h%d: v\r\n", i);
    strcat(text, "\r\n");
    struct http_request r;
    char *c;
    CHECK_EQ_INT(parse(text, &r, &c), 0);
    free(c);
    strcpy(text + strlen(text) - 2, "one-more: v\r\n\r\n");
    CHECK_EQ_INT(parse(text, &r, &c), 431);
    free(c);
}

static void test_framing(void) {
    static const struct { const char *head; int status; long len; } cases[] = {
        { "POST / HTTP/1.1\r\n\r\n", 0, 0 },
        { "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 0, 0 },
        { "POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n", 0, 1000 },
        { "POST / HTTP/1.1\r\ncontent-length: 7\r\nContent-Length: 7\r\n\r\n", 0, 7 },
        { "POST / HTTP/1.1\r\nContent-Length: 7\r\nContent-Length: 8\r\n\r\n", 400, 0 },
        { "POST / HTTP/1.1\r\nContent-Length: 7, 7\r\n\r\n", 400, 0 },
        { "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, 0 },
        { "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 400, 0 },
        { "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400, 0 },
        { "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400, 0 },
        { "POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n", 413, 0 },
        { "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413, 0 },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501, 0 },
        { "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 501, 0 },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", 501, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_request r;
        char *c;
        int got = parse(cases[i].head, &r, &c);
        if (got != cases[i].status) fprintf(stderr, "case %zu: \"%s\"\n", i, cases[i].head);
        CHECK_EQ_INT(got, cases[i].status);
        if (!got) CHECK_EQ_INT(r.content_length, cases[i].len);
        free(c);
    }
    struct http_request r;
    char *c;
    CHECK_EQ_INT(parse_max("POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\n", 0, &r, &c), 413);
    CHECK_EQ_STR(r.error, "body too large");
    free(c);
}

static void test_keep_alive_and_expect(void) {
    static const struct { const char *head; int keep_alive, expect; } cases[] = {
        { "GET / HTTP/1.1\r\n\r\n", 1, 0 },
        { "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 0, 0 },
        { "GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n", 0, 0 },
        { "GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", 1, 0 },
        { "GET / HTTP/1.0\r\n\r\n", 0, 0 },
        { "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1, 0 },
        { "POST / HTTP/1.1\r\nExpect: 100-Continue\r\n\r\n", 1, 1 },
        { "POST / HTTP/1.1\r\nExpect: something-else\r\n\r\n", 1, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_request r;
        char *c;
        CHECK_EQ_INT(parse(cases[i].head, &r, &c), 0);
        if (r.keep_alive != cases[i].keep_alive) fprintf(stderr, "case %zu\n", i);
        CHECK_EQ_INT(r.keep_alive, cases[i].keep_alive);
        CHECK_EQ_INT(r.expect_continue, cases[i].expect);
        free(c);
    }
}

static void test_header_tokens(void) {
    struct http_request r;
    char *c;
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nConnection: keep-alive,  Upgrade \r\n"
                       "Upgrade: websocket\r\nConnection: x\r\n\r\n", &r, &c), 0);
    CHECK(http_request_header_has_token(&r, "connection", "upgrade"));
    CHECK(http_request_header_has_token(&r, "Connection", "x"));
    CHECK(!http_request_header_has_token(&r, "Connection", "grade"));
    CHECK(http_request_header_has_token(&r, "Upgrade", "WebSocket"));
    CHECK(!http_request_header_has_token(&r, "Missing", "x"));
    free(c);
}

static void test_url_decode(void) {
    char out[16];
    CHECK_EQ_INT(http_url_decode("a%20b+c%2Fd", 11, out, sizeof out), 7);
    CHECK_EQ_STR(out, "a b c/d");
    CHECK_EQ_INT(http_url_decode("%zz%4", 5, out, sizeof out), 5);   /* bad escapes kept */
    CHECK_EQ_STR(out, "%zz%4");
    CHECK_EQ_INT(http_url_decode("abcd", 4, out, 4), -1);            /* no room for the NUL */
    CHECK_EQ_INT(http_url_decode("abc", 3, out, 4), 3);
    CHECK_EQ_INT(http_url_decode("", 0, out, sizeof out), 0);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_INT(http_url_decode("", 0, out, 0), -1);
}

static void test_query_param(void) {
    char v[16];
    const char *q = "a=1&b=x%20y&empty=&c";
    CHECK_EQ_INT(http_query_param(q, "b", v, sizeof v), 0);
    CHECK_EQ_STR(v, "x y");
    CHECK_EQ_INT(http_query_param(q, "a", v, sizeof v), 0);
    CHECK_EQ_STR(v, "1");
    CHECK_EQ_INT(http_query_param(q, "empty", v, sizeof v), 0);
    CHECK_EQ_STR(v, "");
    CHECK_EQ_INT(http_query_param(q, "c", v, sizeof v), -1);         /* no '=' */
    CHECK_EQ_INT(http_query_param(q, "d", v, sizeof v), -1);
    CHECK_EQ_INT(http_query_param(q, "b", v, 3), -1);                /* too long for out */
    CHECK_EQ_INT(http_query_param("", "a", v, sizeof v), -1);
}

int main(void) {
    RUN(test_head_ok);
    RUN(test_head_errors);
    RUN(test_nul_byte);
    RUN(test_too_many_headers);
    RUN(test_framing);
    RUN(test_keep_alive_and_expect);
    RUN(test_header_tokens);
    RUN(test_url_decode);
    RUN(test_query_param);
    return test_report();
}
