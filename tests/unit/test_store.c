#include <stdlib.h>

#include "store/store.h"
#include "test.h"

static uint64_t fake_now;
static uint64_t fake_clock(void) { return fake_now; }

static struct store_value str(const char *s) {
    struct store_value v = { .type = STORE_STRING, .u.s = s, .len = strlen(s) };
    return v;
}

static void test_set_get_types(void) {
    struct store *s = store_new(100, 1 << 20, fake_clock);
    struct store_value v = str("hello"), out;
    CHECK_EQ_INT(store_set(s, "k", 1, &v, 0), STORE_OK);
    store_get(s, "k", 1, &out);
    CHECK_EQ_INT(out.type, STORE_STRING);
    CHECK_EQ_STR(out.u.s, "hello");
    free((void *)out.u.s);
    struct store_value n = { .type = STORE_NUMBER, .u.n = 2.5 };
    store_set(s, "n", 1, &n, 0);
    store_get(s, "n", 1, &out);
    CHECK(out.type == STORE_NUMBER && out.u.n == 2.5);
    struct store_value b = { .type = STORE_BOOLEAN, .u.b = 0 };
    store_set(s, "b", 1, &b, 0);
    store_get(s, "b", 1, &out);
    CHECK(out.type == STORE_BOOLEAN && out.u.b == 0);
    store_get(s, "absent", 6, &out);
    CHECK_EQ_INT(out.type, STORE_NIL);
    CHECK_EQ_INT(store_delete(s, "k", 1), 1);
    CHECK_EQ_INT(store_delete(s, "k", 1), 0);
    CHECK_EQ_INT(store_count(s), 2);
    store_free(s);
}

static void test_ttl(void) {
    fake_now = 1000;
    struct store *s = store_new(100, 1 << 20, fake_clock);
    struct store_value v = str("x"), out;
    store_set(s, "k", 1, &v, 2);
    fake_now += 1999;
    store_get(s, "k", 1, &out);
    CHECK_EQ_INT(out.type, STORE_STRING);
    free((void *)out.u.s);
    fake_now += 1;
    store_get(s, "k", 1, &out);
    CHECK_EQ_INT(out.type, STORE_NIL);
    CHECK_EQ_INT(store_count(s), 0);
    store_free(s);
}

static void test_incr(void) {
    struct store *s = store_new(100, 1 << 20, fake_clock);
    int64_t r = 0;
    CHECK_EQ_INT(store_incr(s, "c", 1, 5, &r), STORE_OK);
    CHECK_EQ_INT(r, 5);
    CHECK_EQ_INT(store_incr(s, "c", 1, -2, &r), STORE_OK);
    CHECK_EQ_INT(r, 3);
    struct store_value v = str("text");
    store_set(s, "t", 1, &v, 0);
    CHECK_EQ_INT(store_incr(s, "t", 1, 1, &r), STORE_ETYPE);
    store_free(s);
}

static void test_bounds(void) {
    fake_now = 0;
    struct store *s = store_new(3, 4096, fake_clock);
    struct store_value v = str("v");
    CHECK_EQ_INT(store_set(s, "a", 1, &v, 1), STORE_OK);
    CHECK_EQ_INT(store_set(s, "b", 1, &v, 0), STORE_OK);
    CHECK_EQ_INT(store_set(s, "c", 1, &v, 0), STORE_OK);
    CHECK_EQ_INT(store_set(s, "d", 1, &v, 0), STORE_EFULL);
    CHECK_EQ_INT(store_set(s, "c", 1, &v, 0), STORE_OK);   /* replacing is not growing */
    fake_now = 5000;                                         /* "a" expired: room again */
    CHECK_EQ_INT(store_set(s, "d", 1, &v, 0), STORE_OK);
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    struct store_value bv = str(big);
    CHECK_EQ_INT(store_set(s, "b", 1, &bv, 0), STORE_ETOOBIG);
    store_free(s);
}

static void test_many_keys_grow(void) {
    struct store *s = store_new(100000, 64 << 20, fake_clock);
    char key[32];
    int64_t r;
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(key, sizeof key, "key-%d", i);
        CHECK_EQ_INT(store_incr(s, key, (size_t)n, i, &r), STORE_OK);
    }
    CHECK_EQ_INT(store_count(s), 5000);
    CHECK_EQ_INT(store_incr(s, "key-4321", 8, 0, &r), STORE_OK);
    CHECK_EQ_INT(r, 4321);
    store_free(s);
}

int main(void) {
    RUN(test_set_get_types);
    RUN(test_ttl);
    RUN(test_incr);
    RUN(test_bounds);
    RUN(test_many_keys_grow);
    return test_report();
}
