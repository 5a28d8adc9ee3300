#include "event/dedup.h"
#include "test.h"

static uint64_t fake_now;
static uint64_t fake_clock(void *arg) {
    (void)arg;
    return fake_now;
}

static void test_insert_and_duplicate(void) {
    fake_now = 1000;
    struct dedup *d = dedup_new(60, 100, fake_clock, NULL);
    uint64_t a = dedup_key(d, "id", "ev-a"), b = dedup_key(d, "id", "ev-b");
    CHECK(a != b);
    CHECK(a != 0);
    CHECK(dedup_key(d, "id", "x") != dedup_key(d, "msg", "x"));
    CHECK_EQ_INT(dedup_insert(d, a), 0);
    CHECK_EQ_INT(dedup_insert(d, a), 1);
    CHECK_EQ_INT(dedup_insert(d, b), 0);
    CHECK_EQ_INT(dedup_count(d), 2);
    CHECK(dedup_contains(d, a));
    dedup_free(d);
}

static void test_ttl_expiry(void) {
    fake_now = 5000;
    struct dedup *d = dedup_new(10, 100, fake_clock, NULL);
    uint64_t a = dedup_key(d, "id", "a");
    dedup_insert(d, a);
    fake_now += 9999;                       /* just under the TTL: still there */
    CHECK_EQ_INT(dedup_insert(d, a), 1);
    fake_now += 2001;                       /* past TTL + the rounding second */
    CHECK(!dedup_contains(d, a));
    CHECK_EQ_INT(dedup_count(d), 0);
    CHECK_EQ_INT(dedup_insert(d, a), 0);    /* a new delivery, handled again */
    dedup_free(d);
}

static void test_bound_evicts_oldest(void) {
    fake_now = 0;
    struct dedup *d = dedup_new(3600, 3000, fake_clock, NULL);
    char id[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "ev-%d", i);
        CHECK_EQ_INT(dedup_insert(d, dedup_key(d, "id", id)), 0);
    }
    CHECK_EQ_INT(dedup_count(d), 3000);
    CHECK(!dedup_contains(d, dedup_key(d, "id", "ev-0")));
    CHECK(!dedup_contains(d, dedup_key(d, "id", "ev-1999")));
    CHECK(dedup_contains(d, dedup_key(d, "id", "ev-2000")));
    CHECK(dedup_contains(d, dedup_key(d, "id", "ev-4999")));
    dedup_free(d);
}

static void test_remove(void) {
    fake_now = 0;
    struct dedup *d = dedup_new(3600, 4, fake_clock, NULL);
    uint64_t k[6];
    for (int i = 0; i < 6; i++) k[i] = dedup_key(d, "id", (char[]){ (char)('a' + i), 0 });
    for (int i = 0; i < 4; i++) dedup_insert(d, k[i]);
    dedup_remove(d, k[1]);
    dedup_remove(d, k[1]);                  /* twice: a no-op */
    CHECK(!dedup_contains(d, k[1]));
    CHECK_EQ_INT(dedup_count(d), 3);
    CHECK_EQ_INT(dedup_insert(d, k[1]), 0); /* full ring: a is evicted */
    CHECK(!dedup_contains(d, k[0]));
    CHECK(dedup_contains(d, k[1]));
    CHECK(dedup_contains(d, k[2]));
    CHECK_EQ_INT(dedup_insert(d, k[4]), 0);
    CHECK_EQ_INT(dedup_insert(d, k[5]), 0);
    CHECK_EQ_INT(dedup_count(d), 4);
    CHECK(dedup_contains(d, k[5]) && dedup_contains(d, k[4]) && dedup_contains(d, k[1]));
    CHECK(!dedup_contains(d, k[2]) || !dedup_contains(d, k[3]));
    dedup_remove(d, k[0]);                  /* already evicted: a no-op */
    dedup_free(d);
}

static void test_expiry_with_growth(void) {
    fake_now = 0;
    struct dedup *d = dedup_new(1, 100000, fake_clock, NULL);
    char id[32];
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 3000; i++) {
            snprintf(id, sizeof id, "r%d-%d", round, i);
            CHECK_EQ_INT(dedup_insert(d, dedup_key(d, "id", id)), 0);
        }
        CHECK_EQ_INT(dedup_count(d), 3000);  /* this round; earlier rounds expired */
        fake_now += 2000;
    }
    CHECK(!dedup_contains(d, dedup_key(d, "id", "r4-0")));
    dedup_free(d);
}

int main(void) {
    RUN(test_insert_and_duplicate);
    RUN(test_ttl_expiry);
    RUN(test_bound_evicts_oldest);
    RUN(test_remove);
    RUN(test_expiry_with_growth);
    return test_report();
}
