/* net/http_response: the answer formatter, bytes out only (status lines and reasons,
 * the header block, Connection, extra headers, buffers too small, the JSON message
 * body with escaping and cutting). The server around it: test_http_server.c. */
#include "test.h"

#include "net/http_response.h"

static void test_reasons(void) {
    CHECK_EQ_STR(http_response_reason(200), "OK");
    CHECK_EQ_STR(http_response_reason(404), "Not Found");
    CHECK_EQ_STR(http_response_reason(413), "Content Too Large");
    CHECK_EQ_STR(http_response_reason(503), "Service Unavailable");
    CHECK_EQ_STR(http_response_reason(299), "OK");
    CHECK_EQ_STR(http_response_reason(418), "Client Error");
    CHECK_EQ_STR(http_response_reason(599), "Server Error");
}

static void test_date(void) {
    char d[HTTP_RESPONSE_DATE_LEN];
    http_response_date(784111777, d, sizeof d);     /* the RFC's own example */
    CHECK_EQ_STR(d, "Sun, 06 Nov 1994 08:49:37 GMT");
    char tiny[4] = "xyz";
    http_response_date(784111777, tiny, sizeof tiny);
    CHECK_EQ_STR(tiny, "");
}

static void test_head(void) {
    struct http_response r = { .status = 200, .date = "D", .content_length = 7 };
    char out[512];
    size_t n = http_response_head(&r, out, sizeof out);
    CHECK_EQ_STR(out, "HTTP/1.1 200 OK\r\nDate: D\r\nContent-Type: application/json\r\n"
                      "Content-Length: 7\r\n\r\n");
    CHECK_EQ_INT(n, strlen(out));
    r = (struct http_response){ .status = 405, .date = "D", .ctype = "text/plain",
                                .content_length = 0, .connection = "close",
                                .headers = "Allow: POST\r\n" };
    http_response_head(&r, out, sizeof out);
    CHECK_EQ_STR(out, "HTTP/1.1 405 Method Not Allowed\r\nDate: D\r\nContent-Type: text/plain\r\n"
                      "Content-Length: 0\r\nConnection: close\r\nAllow: POST\r\n\r\n");
    r.connection = "keep-alive";
    r.headers = NULL;
    http_response_head(&r, out, sizeof out);
    CHECK_CONTAINS(out, "\r\nConnection: keep-alive\r\n\r\n");
}

static void test_head_too_small(void) {
    struct http_response r = { .status = 200, .date = "D", .content_length = 1 };
    char full[256], small[16];
    size_t need = http_response_head(&r, full, sizeof full);
    size_t n = http_response_head(&r, small, sizeof small);
    CHECK_EQ_INT(n, need);                  /* the length it needs, like snprintf */
    CHECK(n >= sizeof small);
    char exact[256];
    CHECK_EQ_INT(http_response_head(&r, exact, need + 1), need);
    CHECK_EQ_STR(exact, full);
}

static void test_json_msg(void) {
    char out[64];
    size_t n = http_response_json_msg("body too large", out, sizeof out);
    CHECK_EQ_STR(out, "{\"msg\":\"body too large\"}");
    CHECK_EQ_INT(n, strlen(out));
    http_response_json_msg("a\"b\\c\nd", out, sizeof out);
    CHECK_EQ_STR(out, "{\"msg\":\"a\\\"b\\\\c\\u000ad\"}");
    char longmsg[200];
    memset(longmsg, 'x', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    n = http_response_json_msg(longmsg, out, sizeof out);
    CHECK(n < sizeof out);
    CHECK_EQ_INT(strlen(out), n);
    CHECK(strncmp(out, "{\"msg\":\"xxx", 11) == 0);
    CHECK(strcmp(out + n - 2, "\"}") == 0);
    /* cutting never splits an escape */
    char ctl[100];
    memset(ctl, '\x01', sizeof ctl - 1);
    ctl[sizeof ctl - 1] = '\0';
    n = http_response_json_msg(ctl, out, sizeof out);
    CHECK(n < sizeof out);
    CHECK(strcmp(out + n - 8, "\\u0001\"}") == 0);
}

int main(void) {
    RUN(test_reasons);
    RUN(test_date);
    RUN(test_head);
    RUN(test_head_too_small);
    RUN(test_json_msg);
    return test_report();
}
