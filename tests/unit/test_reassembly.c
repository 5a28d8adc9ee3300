#include "proto/reassembly.h"

#include <stdlib.h>
#include <string.h>

#include "test.h"

static const struct reassembly_limits lim = {
    .max_sum = 16, .max_message = 100, .max_held = 150, .max_partials = 3, .timeout_ms = 5000
};

static int add(struct reassembly *r, const char *id, long long sum, long long seq,
               const char *data, uint64_t now, char **out) {
    unsigned char *o = NULL;
    size_t len = 0;
    int rc = reassembly_add(r, id, sum, seq, data, strlen(data), now, &o, &len);
    if (out) *out = (char *)o;
    else free(o);
    if (rc == REASM_COMPLETE) CHECK_EQ_INT(len, strlen((char *)o ? (char *)o : ""));
    return rc;
}

static void test_in_order_and_shuffled(void) {
    struct reassembly *r = reassembly_new(&lim);
    char *out = NULL;
    CHECK_EQ_INT(add(r, "a", 3, 0, "he", 0, NULL), REASM_PENDING);
    CHECK_EQ_INT(add(r, "a", 3, 1, "ll", 0, NULL), REASM_PENDING);
    CHECK_EQ_INT(add(r, "a", 3, 2, "o", 0, &out), REASM_COMPLETE);
    CHECK_EQ_STR(out, "hello");
    free(out);
    CHECK_EQ_INT(add(r, "b", 4, 3, "d", 0, NULL), REASM_PENDING);
    CHECK_EQ_INT(add(r, "b", 4, 1, "b", 0, NULL), REASM_PENDING);
    CHECK_EQ_INT(add(r, "b", 4, 0, "a", 0, NULL), REASM_PENDING);
    CHECK_EQ_INT(reassembly_held(r), 3);
    CHECK_EQ_INT(add(r, "b", 4, 2, "c", 0, &out), REASM_COMPLETE);
    CHECK_EQ_STR(out, "abcd");
    free(out);
    CHECK_EQ_INT(reassembly_pending(r), 0);
    CHECK_EQ_INT(reassembly_held(r), 0);
    reassembly_free(r);
}

static void test_whole(void) {
    struct reassembly *r = reassembly_new(&lim);
    char *out = NULL;
    CHECK_EQ_INT(add(r, "", 1, 0, "whole", 0, &out), REASM_COMPLETE);
    CHECK_EQ_STR(out, "whole");
    free(out);
    CHECK_EQ_INT(reassembly_pending(r), 0);
    reassembly_free(r);
}

static void test_bad_sum_seq(void) {
    struct reassembly *r = reassembly_new(&lim);
    CHECK_EQ_INT(add(r, "a", 0, 0, "x", 0, NULL), REASM_EBADSUM);
    CHECK_EQ_INT(add(r, "a", -3, 0, "x", 0, NULL), REASM_EBADSUM);
    CHECK_EQ_INT(add(r, "a", 17, 0, "x", 0, NULL), REASM_EBADSUM);
    CHECK_EQ_INT(add(r, "a", 2, 2, "x", 0, NULL), REASM_EBADSEQ);
    CHECK_EQ_INT(add(r, "a", 2, 5, "x", 0, NULL), REASM_EBADSEQ);
    CHECK_EQ_INT(add(r, "a", 2, -1, "x", 0, NULL), REASM_EBADSEQ);
    CHECK_EQ_INT(add(r, "", 2, 0, "x", 0, NULL), REASM_EBADID);
    CHECK_EQ_INT(add(r, NULL, 2, 0, "x", 0, NULL), REASM_EBADID);
    CHECK_EQ_INT(reassembly_pending(r), 0);
    reassembly_free(r);
}

static void test_sum_changes(void) {
    struct reassembly *r = reassembly_new(&lim);
    CHECK_EQ_INT(add(r, "a", 3, 0, "x", 0, NULL), REASM_PENDING);
    CHECK_EQ_INT(add(r, "a", 2, 1, "y", 0, NULL), REASM_ESUMCHANGED);
    CHECK_EQ_INT(reassembly_pending(r), 0);
    CHECK_EQ_INT(reassembly_held(r), 0);
    /* A whole message reusing the id of a partial one is just as inconsistent. */
    CHECK_EQ_INT(add(r, "b", 3, 0, "x", 0, NULL), REASM_PENDING);
    CHECK_EQ_INT(add(r, "b", 1, 0, "y", 0, NULL), REASM_ESUMCHANGED);
    CHECK_EQ_INT(reassembly_pending(r), 0);
    reassembly_free(r);
}

static void test_duplicate_fragment(void) {
    struct reassembly *r = reassembly_new(&lim);
    char *out = NULL;
    CHECK_EQ_INT(add(r, "a", 2, 0, "x", 0, NULL), REASM_PENDING);
    CHECK_EQ_INT(add(r, "a", 2, 0, "x", 0, NULL), REASM_EDUP);
    CHECK_EQ_INT(add(r, "a", 2, 1, "y", 0, &out), REASM_COMPLETE);
    CHECK_EQ_STR(out, "xy");
    free(out);
    reassembly_free(r);
}

static void test_timeout(void) {
    struct reassembly *r = reassembly_new(&lim);
    CHECK_EQ_INT(add(r, "old", 2, 0, "x", 1000, NULL), REASM_PENDING);
    CHECK_EQ_INT(add(r, "new", 2, 0, "y", 3000, NULL), REASM_PENDING);
    CHECK_EQ_INT(reassembly_expire(r, 5999), 0);
    CHECK_EQ_INT(reassembly_expire(r, 6000), 1);
    CHECK_EQ_INT(reassembly_pending(r), 1);
    CHECK_EQ_INT(reassembly_held(r), 1);
    /* The missing fragment arrives too late: it starts a fresh partial, not a message. */
    CHECK_EQ_INT(add(r, "old", 2, 1, "z", 6001, NULL), REASM_PENDING);
    CHECK_EQ_INT(reassembly_expire(r, 100000), 2);
    CHECK_EQ_INT(reassembly_pending(r), 0);
    CHECK_EQ_INT(reassembly_held(r), 0);
    reassembly_free(r);
}

static void test_message_too_big(void) {
    struct reassembly *r = reassembly_new(&lim);
    char big[101];
    memset(big, 'a', 100);
    big[100] = '\0';
    char *out = NULL;
    CHECK_EQ_INT(add(r, "w", 1, 0, big, 0, &out), REASM_COMPLETE);
    free(out);
    big[60] = '\0';
    CHECK_EQ_INT(add(r, "a", 2, 0, big, 0, NULL), REASM_PENDING);
    CHECK_EQ_INT(add(r, "a", 2, 1, big, 0, NULL), REASM_ETOOBIG);
    CHECK_EQ_INT(reassembly_pending(r), 0);
    CHECK_EQ_INT(reassembly_held(r), 0);
    reassembly_free(r);
}

static void test_memory_bound(void) {
    struct reassembly_limits tight = lim;
    tight.max_held = 100;
    struct reassembly *r = reassembly_new(&tight);
    char chunk[41];
    memset(chunk, 'a', 40);
    chunk[40] = '\0';
    CHECK_EQ_INT(add(r, "a", 3, 0, chunk, 0, NULL), REASM_PENDING);
    CHECK_EQ_INT(add(r, "b", 3, 0, chunk, 0, NULL), REASM_PENDING);
    CHECK_EQ_INT(reassembly_held(r), 80);
    /* 120 > max_held 100: refused, and message c holds nothing. */
    CHECK_EQ_INT(add(r, "c", 3, 0, chunk, 0, NULL), REASM_EFULL);
    CHECK_EQ_INT(reassembly_pending(r), 2);
    /* b would grow past the bound too: b is dropped, a stays. */
    CHECK_EQ_INT(add(r, "b", 3, 1, chunk, 0, NULL), REASM_EFULL);
    CHECK_EQ_INT(reassembly_pending(r), 1);
    CHECK_EQ_INT(reassembly_held(r), 40);
    reassembly_free(r);
}

static void test_partials_bound(void) {
    struct reassembly *r = reassembly_new(&lim);
    CHECK_EQ_INT(add(r, "a", 2, 0, "x", 0, NULL), REASM_PENDING);
    CHECK_EQ_INT(add(r, "b", 2, 0, "x", 0, NULL), REASM_PENDING);
    CHECK_EQ_INT(add(r, "c", 2, 0, "x", 0, NULL), REASM_PENDING);
    CHECK_EQ_INT(add(r, "d", 2, 0, "x", 0, NULL), REASM_EFULL);
    CHECK_EQ_INT(reassembly_pending(r), 3);
    /* Whole messages need no slot. */
    char *out = NULL;
    CHECK_EQ_INT(add(r, "e", 1, 0, "w", 0, &out), REASM_COMPLETE);
    free(out);
    reassembly_free(r);   /* frees the partials: ASan proves nothing leaks */
}

static void test_empty_fragments(void) {
    struct reassembly *r = reassembly_new(&lim);
    char *out = NULL;
    CHECK_EQ_INT(add(r, "a", 2, 1, "", 0, NULL), REASM_PENDING);
    CHECK_EQ_INT(add(r, "a", 2, 0, "", 0, &out), REASM_COMPLETE);
    CHECK_EQ_STR(out, "");
    free(out);
    reassembly_free(r);
}

int main(void) {
    RUN(test_in_order_and_shuffled);
    RUN(test_whole);
    RUN(test_bad_sum_seq);
    RUN(test_sum_changes);
    RUN(test_duplicate_fragment);
    RUN(test_timeout);
    RUN(test_message_too_big);
    RUN(test_memory_bound);
    RUN(test_partials_bound);
    RUN(test_empty_fragments);
    return test_report();
}
