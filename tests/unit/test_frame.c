#include "proto/frame.h"

#include <stdlib.h>
#include <string.h>

#include "test.h"

static uint8_t *make_frame(const char *type, const char *payload, size_t *len) {
    Pbbp2__Header h1 = PBBP2__HEADER__INIT, h2 = PBBP2__HEADER__INIT;
    h1.key = "type";
    h1.value = (char *)type;
    h2.key = "message_id";
    h2.value = "m1";
    Pbbp2__Header *hs[2] = { &h1, &h2 };
    frame_t f = PBBP2__FRAME__INIT;
    f.seqid = 42;
    f.logid = 7;
    f.service = 9;
    f.method = FRAME_DATA;
    f.n_headers = 2;
    f.headers = hs;
    if (payload) {
        f.has_payload = 1;
        f.payload.data = (uint8_t *)payload;
        f.payload.len = strlen(payload);
    }
    return frame_encode(&f, len);
}

static void test_round_trip(void) {
    size_t len;
    uint8_t *buf = make_frame("event", "{\"a\":1}", &len);
    const char *why = "unset";
    frame_t *f = frame_decode(buf, len, 1024, &why);
    CHECK(f != NULL);
    CHECK(why == NULL);
    CHECK_EQ_INT(f->seqid, 42);
    CHECK_EQ_INT(f->logid, 7);
    CHECK_EQ_INT(f->service, 9);
    CHECK_EQ_INT(f->method, FRAME_DATA);
    CHECK_EQ_STR(frame_header(f, "type"), "event");
    CHECK_EQ_STR(frame_header(f, "message_id"), "m1");
    CHECK(frame_header(f, "sum") == NULL);
    CHECK_EQ_INT(f->payload.len, 7);
    CHECK(memcmp(f->payload.data, "{\"a\":1}", 7) == 0);
    frame_free(f);
    free(buf);
}

static void test_size_bound(void) {
    size_t len;
    uint8_t *buf = make_frame("event", "0123456789", &len);
    const char *why = NULL;
    CHECK(frame_decode(buf, len, len - 1, &why) == NULL);
    CHECK_EQ_STR(why, "frame too large");
    free(buf);
}

static void test_missing_required(void) {
    /* SeqID=1, LogID=2, service=3, no method: a required field is missing. */
    const uint8_t no_method[] = { 0x08, 0x01, 0x10, 0x02, 0x18, 0x03 };
    const char *why = NULL;
    CHECK(frame_decode(no_method, sizeof no_method, 1024, &why) == NULL);
    CHECK(why != NULL);
    /* A header without its value. */
    const uint8_t bad_header[] = { 0x08, 0x01, 0x10, 0x02, 0x18, 0x03, 0x20, 0x01,
                                   0x2a, 0x03, 0x0a, 0x01, 'k' };
    CHECK(frame_decode(bad_header, sizeof bad_header, 1024, &why) == NULL);
    /* All four required fields, nothing else: fine. */
    const uint8_t minimal[] = { 0x08, 0x01, 0x10, 0x02, 0x18, 0x03, 0x20, 0x00 };
    frame_t *f = frame_decode(minimal, sizeof minimal, 1024, &why);
    CHECK(f != NULL);
    if (f) CHECK_EQ_INT(f->n_headers, 0);
    frame_free(f);
}

static void test_unknown_field_kept_in_ack(void) {
    /* required fields + unknown field 15 (varint 5) */
    const uint8_t buf[] = { 0x08, 0x01, 0x10, 0x02, 0x18, 0x03, 0x20, 0x01, 0x78, 0x05 };
    frame_t *f = frame_decode(buf, sizeof buf, 1024, NULL);
    CHECK(f != NULL);
    if (!f) return;
    size_t len;
    uint8_t *ack = frame_build_ack(f, 200, NULL, 0, 3, &len);
    CHECK(ack != NULL);
    CHECK(memmem(ack, len, "\x78\x05", 2) != NULL);
    free(ack);
    frame_free(f);
}

/* An over-long tag varint names field 0: protobuf-c would keep it and write back a
 * bare 0 no decoder takes, so the frame is refused (at the top level and in a header). */
static void test_field_zero_refused(void) {
    const uint8_t top[] = { 0x08, 0x01, 0x10, 0x02, 0x18, 0x03, 0x20, 0x01, 0x80, 0x00, 0x05 };
    const uint8_t in_header[] = { 0x08, 0x01, 0x10, 0x02, 0x18, 0x03, 0x20, 0x01,
                                  0x2a, 0x09, 0x0a, 0x01, 'k', 0x12, 0x01, 'v', 0x80, 0x00, 0x05 };
    const char *why = NULL;
    CHECK(frame_decode(top, sizeof top, 1024, &why) == NULL);
    CHECK_CONTAINS(why, "field number 0");
    CHECK(frame_decode(in_header, sizeof in_header, 1024, &why) == NULL);
    CHECK_CONTAINS(why, "field number 0");
}

static void test_garbage(void) {
    const uint8_t junk[][6] = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
                                { 0x0a, 0x7f, 0x00, 0x00, 0x00, 0x00 },
                                { 0x2a, 0x05, 0x0a, 0x01, 'k', 0x12 } };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        CHECK(frame_decode(junk[i], sizeof junk[i], 1024, NULL) == NULL);
    CHECK(frame_decode((const uint8_t *)"", 0, 1024, NULL) == NULL);
}

/* Thousands of minimal headers: decoding would cost ~25x the input. */
static void test_header_bomb(void) {
    size_t n = 20000, len = 8 + n * 6;
    uint8_t *buf = malloc(len), *p = buf;
    const uint8_t head[] = { 0x08, 0x01, 0x10, 0x02, 0x18, 0x03, 0x20, 0x01 };
    memcpy(p, head, 8);
    p += 8;
    for (size_t i = 0; i < n; i++, p += 6)
        memcpy(p, "\x2a\x04\x0a\x00\x12\x00", 6);
    const char *why = NULL;
    CHECK(frame_decode(buf, len, len, &why) == NULL);
    CHECK_CONTAINS(why, "budget");
    free(buf);
}

static void test_ping(void) {
    size_t len;
    uint8_t *buf = frame_build_ping(456, &len);
    frame_t *f = frame_decode(buf, len, 1024, NULL);
    CHECK(f != NULL);
    if (f) {
        CHECK_EQ_INT(f->seqid, 0);
        CHECK_EQ_INT(f->logid, 0);
        CHECK_EQ_INT(f->service, 456);
        CHECK_EQ_INT(f->method, FRAME_CONTROL);
        CHECK_EQ_INT(f->n_headers, 1);
        CHECK_EQ_STR(frame_header(f, "type"), "ping");
        CHECK(!f->has_payload || f->payload.len == 0);
    }
    frame_free(f);
    free(buf);
}

static frame_t *ack_of(const char *body, int code, unsigned long rt) {
    size_t len, alen;
    uint8_t *buf = make_frame("card", "{\"big\":\"payload\"}", &len);
    frame_t *req = frame_decode(buf, len, 1024, NULL);
    uint8_t *ack = frame_build_ack(req, code, body, body ? strlen(body) : 0, rt, &alen);
    frame_t *f = frame_decode(ack, alen, 4096, NULL);
    frame_free(req);
    free(ack);
    free(buf);
    return f;
}

static void test_ack(void) {
    frame_t *f = ack_of("{\"toast\":{\"content\":\"ok\"}}", 200, 12);
    CHECK(f != NULL);
    if (!f) return;
    CHECK_EQ_INT(f->seqid, 42);
    CHECK_EQ_INT(f->logid, 7);
    CHECK_EQ_INT(f->service, 9);
    CHECK_EQ_INT(f->method, FRAME_DATA);
    CHECK_EQ_INT(f->n_headers, 3);
    CHECK_EQ_STR(frame_header(f, "type"), "card");
    CHECK_EQ_STR(frame_header(f, "message_id"), "m1");
    CHECK_EQ_STR(frame_header(f, "biz_rt"), "12");
    char payload[256] = "";
    memcpy(payload, f->payload.data, f->payload.len);
    CHECK_EQ_STR(payload, "{\"code\":200,\"headers\":{},"
                          "\"data\":\"eyJ0b2FzdCI6eyJjb250ZW50Ijoib2sifX0=\"}");
    frame_free(f);

    f = ack_of(NULL, 500, 0);
    CHECK(f != NULL);
    if (!f) return;
    memset(payload, 0, sizeof payload);
    memcpy(payload, f->payload.data, f->payload.len);
    CHECK_EQ_STR(payload, "{\"code\":500,\"headers\":{}}");
    CHECK_EQ_STR(frame_header(f, "biz_rt"), "0");
    frame_free(f);
}

static void test_ack_replaces_biz_rt(void) {
    const uint8_t buf[] = { 0x08, 0x01, 0x10, 0x02, 0x18, 0x03, 0x20, 0x01,
                            0x2a, 0x0b, 0x0a, 0x06, 'b', 'i', 'z', '_', 'r', 't', 0x12, 0x01, '9' };
    frame_t *req = frame_decode(buf, sizeof buf, 1024, NULL);
    CHECK(req != NULL);
    if (!req) return;
    size_t len;
    uint8_t *ack = frame_build_ack(req, 200, "x", 1, 5, &len);
    frame_t *f = frame_decode(ack, len, 1024, NULL);
    CHECK(f && f->n_headers == 1);
    if (f) CHECK_EQ_STR(frame_header(f, "biz_rt"), "5");
    frame_free(f);
    frame_free(req);
    free(ack);
}

static void test_header_int(void) {
    const uint8_t buf[] = { 0x08, 0x01, 0x10, 0x02, 0x18, 0x03, 0x20, 0x01,
                            0x2a, 0x08, 0x0a, 0x03, 's', 'u', 'm', 0x12, 0x01, '4',
                            0x2a, 0x08, 0x0a, 0x03, 's', 'e', 'q', 0x12, 0x01, 'x' };
    frame_t *f = frame_decode(buf, sizeof buf, 1024, NULL);
    CHECK(f != NULL);
    if (!f) return;
    long long v = -1;
    CHECK_EQ_INT(frame_header_int(f, "sum", &v), 0);
    CHECK_EQ_INT(v, 4);
    CHECK_EQ_INT(frame_header_int(f, "seq", &v), -1);
    CHECK_EQ_INT(frame_header_int(f, "nope", &v), -1);
    frame_drop_payload(f);
    CHECK(!f->has_payload);
    frame_free(f);
}

int main(void) {
    RUN(test_round_trip);
    RUN(test_size_bound);
    RUN(test_missing_required);
    RUN(test_unknown_field_kept_in_ack);
    RUN(test_field_zero_refused);
    RUN(test_garbage);
    RUN(test_header_bomb);
    RUN(test_ping);
    RUN(test_ack);
    RUN(test_ack_replaces_biz_rt);
    RUN(test_header_int);
    return test_report();
}
