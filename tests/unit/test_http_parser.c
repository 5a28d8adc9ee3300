/* The response parser as a streaming reader uses it: the body drained as it comes is
 * still bounded as a whole, and a body framed by the connection's end says so. */
#include "net/http_parser.h"

#include <event2/buffer.h>
#include <string.h>

#include "test.h"

static int feed(struct http_parser *p, struct evbuffer *in, const char *text) {
    evbuffer_add(in, text, strlen(text));
    return http_parser_feed(p, in);
}

static void test_drained_body_still_bounded(void) {
    struct http_parser p;
    struct evbuffer *in = evbuffer_new();
    http_parser_init(&p, 10, 0);
    CHECK_EQ_INT(feed(&p, in, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
                 HTTP_PARSER_MORE);
    CHECK(http_parser_headers_done(&p));
    CHECK_EQ_INT(feed(&p, in, "6\r\nabcdef\r\n"), HTTP_PARSER_MORE);
    evbuffer_drain(p.body, evbuffer_get_length(p.body));       /* a reader took it */
    CHECK_EQ_INT(p.body_total, 6);
    CHECK_EQ_INT(feed(&p, in, "6\r\nghijkl\r\n"), HTTP_PARSER_ERROR);
    CHECK_EQ_STR(p.error, "response too large");
    http_parser_free(&p);
    /* the same with a Content-Length: done at the length, whatever was drained */
    http_parser_init(&p, 10, 0);
    evbuffer_drain(in, evbuffer_get_length(in));
    CHECK_EQ_INT(feed(&p, in, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nabcd"),
                 HTTP_PARSER_MORE);
    evbuffer_drain(p.body, 4);
    CHECK_EQ_INT(feed(&p, in, "efgh"), HTTP_PARSER_DONE);
    CHECK_EQ_INT(evbuffer_get_length(p.body), 4);
    http_parser_free(&p);
    evbuffer_free(in);
}

static void test_until_eof(void) {
    struct http_parser p;
    struct evbuffer *in = evbuffer_new();
    http_parser_init(&p, 100, 0);
    CHECK(!http_parser_until_eof(&p));
    CHECK_EQ_INT(feed(&p, in, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata"),
                 HTTP_PARSER_MORE);
    CHECK(http_parser_until_eof(&p));
    CHECK_EQ_INT(http_parser_eof(&p), HTTP_PARSER_DONE);
    CHECK(!http_parser_until_eof(&p));
    http_parser_free(&p);
    http_parser_init(&p, 100, 0);
    CHECK_EQ_INT(feed(&p, in, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"), HTTP_PARSER_MORE);
    CHECK(!http_parser_until_eof(&p));
    http_parser_free(&p);
    evbuffer_free(in);
}

int main(void) {
    RUN(test_drained_body_still_bounded);
    RUN(test_until_eof);
    return test_report();
}
