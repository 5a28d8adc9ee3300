/* The SSE parser: bytes in, events out, whatever the framing. */
#include "net/sse.h"

#include <stdlib.h>
#include <string.h>

#include "test.h"

/* Every event of the input, fed piece bytes at a time, as "event|data|id\n" lines. */
static char *collect(const char *input, size_t piece, int end) {
    static char out[8192];
    struct sse p;
    struct sse_event ev;
    size_t len = strlen(input), n = 0;
    out[0] = '\0';
    sse_init(&p, 1024);
    for (size_t off = 0; off <= len; off += piece) {
        size_t k = len - off < piece ? len - off : piece;
        if (off == len || off + k == len) {
            if (k) sse_feed(&p, input + off, k);
            if (end) sse_end(&p);
            off = len;
        } else if (sse_feed(&p, input + off, k) < 0) {
            off = len;
        }
        int rc;
        while ((rc = sse_next(&p, &ev)) == SSE_EVENT)
            n += (size_t)snprintf(out + n, sizeof out - n, "%s|%s|%s\n", ev.event, ev.data, ev.id);
        if (rc == SSE_ERROR) {
            snprintf(out + n, sizeof out - n, "ERROR %s\n", p.error);
            break;
        }
    }
    sse_free(&p);
    return out;
}

static void test_openai_stream_any_framing(void) {
    const char *in = "data: {\"a\":1}\n\ndata: {\"a\":2}\n\n: keep-alive\n\ndata: [DONE]\n\n";
    const char *want = "message|{\"a\":1}|\nmessage|{\"a\":2}|\nmessage|[DONE]|\n";
    for (size_t piece = 1; piece <= strlen(in); piece++)
        CHECK_EQ_STR(collect(in, piece, 1), want);
}

static void test_multiline_data_joined(void) {
    CHECK_EQ_STR(collect("data: one\ndata: two\ndata:three\n\n", 1, 1),
                 "message|one\ntwo\nthree|\n");
    CHECK_EQ_STR(collect("data\ndata\n\n", 3, 1), "message|\n|\n");
}

static void test_event_and_id_fields(void) {
    CHECK_EQ_STR(collect("event: delta\nid: 7\ndata: x\n\ndata: y\n\n", 2, 1),
                 "delta|x|7\nmessage|y|7\n");
    CHECK_EQ_STR(collect("id: 1\nevent: ping\n\ndata: z\n\n", 1, 1), "message|z|1\n");
}

static void test_line_endings(void) {
    const char *want = "message|a|\nmessage|b|\n";
    CHECK_EQ_STR(collect("data: a\r\n\r\ndata: b\r\n\r\n", 1, 1), want);
    CHECK_EQ_STR(collect("data: a\r\rdata: b\r\r", 1, 1), want);
    CHECK_EQ_STR(collect("data: a\n\rdata: b\r\n\n", 1, 1), want);
}

static void test_comments_and_unknown_fields_skipped(void) {
    CHECK_EQ_STR(collect(":hello\nfoo: bar\ndata: x\n: mid\n\n", 1, 1), "message|x|\n");
}

static void test_no_final_blank_line(void) {
    CHECK_EQ_STR(collect("data: a\n\ndata: [DONE]\n", 4, 1), "message|a|\nmessage|[DONE]|\n");
    CHECK_EQ_STR(collect("data: a\n\ndata: [DONE]", 4, 1), "message|a|\nmessage|[DONE]|\n");
    /* without the end of the stream, the last event is not complete yet */
    CHECK_EQ_STR(collect("data: a\n\ndata: [DONE]\n", 4, 0), "message|a|\n");
}

static void test_bounds(void) {
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "data: ", 6);
    CHECK_CONTAINS(collect(big, 100, 1), "ERROR event stream line too long");
    char many[4000] = "";
    for (int i = 0; i < 200; i++) strcat(many, "data: abcdefgh\n");
    CHECK_CONTAINS(collect(many, 7, 1), "ERROR event stream event too large");
}

static void test_retry_field(void) {
    struct sse p;
    struct sse_event ev;
    sse_init(&p, 0);
    sse_feed(&p, "retry: 1500\ndata: r\n\nretry: x\ndata: s\n\n", 39);
    CHECK_EQ_INT(sse_next(&p, &ev), SSE_EVENT);
    CHECK_EQ_INT(ev.retry_ms, 1500);
    CHECK_EQ_INT(sse_next(&p, &ev), SSE_EVENT);
    CHECK_EQ_INT(ev.retry_ms, -1);
    CHECK_EQ_INT(sse_next(&p, &ev), SSE_MORE);
    sse_free(&p);
}

int main(void) {
    RUN(test_openai_stream_any_framing);
    RUN(test_multiline_data_joined);
    RUN(test_event_and_id_fields);
    RUN(test_line_endings);
    RUN(test_comments_and_unknown_fields_skipped);
    RUN(test_no_final_blank_line);
    RUN(test_bounds);
    RUN(test_retry_field);
    return test_report();
}
