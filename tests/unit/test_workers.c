#include <stdlib.h>

#include "app/workers.h"
#include "test.h"

/* Every connection goes to exactly one worker, the first ones taking the remainder. */
static void test_share_splits_every_connection(void) {
    CHECK_EQ_INT(workers_share(3, 0, 2), 2);
    CHECK_EQ_INT(workers_share(3, 1, 2), 1);
    CHECK_EQ_INT(workers_share(1, 0, 1), 1);
    CHECK_EQ_INT(workers_share(1, 1, 2), 0);
    for (int n = 1; n <= 8; n++)
        for (int c = 1; c <= 50; c++) {
            int sum = 0;
            for (int i = 0; i < n; i++) sum += workers_share(c, i, n);
            CHECK_EQ_INT(sum, c);
        }
    CHECK_EQ_INT(workers_share(4, 2, 2), 0);
    CHECK_EQ_INT(workers_share(4, -1, 2), 0);
}

static void test_backoff_doubles_up_to_ten_seconds(void) {
    CHECK_EQ_INT(workers_backoff_ms(0), 100);
    CHECK_EQ_INT(workers_backoff_ms(1), 100);
    CHECK_EQ_INT(workers_backoff_ms(2), 200);
    CHECK_EQ_INT(workers_backoff_ms(3), 400);
    CHECK_EQ_INT(workers_backoff_ms(7), 6400);
    CHECK_EQ_INT(workers_backoff_ms(8), 10000);
    CHECK_EQ_INT(workers_backoff_ms(1000), 10000);
}

static void test_role_from_env(void) {
    struct worker_role r = { -1, -1, -1 };
    unsetenv("LARKGW_WORKER");
    CHECK_EQ_INT(workers_role_from_env(&r), 0);
    setenv("LARKGW_WORKER", "1/2/7", 1);
    CHECK_EQ_INT(workers_role_from_env(&r), 1);
    CHECK_EQ_INT(r.index, 1);
    CHECK_EQ_INT(r.count, 2);
    CHECK_EQ_INT(r.fd, 7);
    CHECK(getenv("LARKGW_WORKER") == NULL);
    static const char *const bad[] = { "2/2/7", "0/0/7", "0/65/7", "0/2/1", "0/2/7x", "x" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("LARKGW_WORKER", bad[i], 1);
        CHECK_EQ_INT(workers_role_from_env(&r), 0);
    }
}

int main(void) {
    RUN(test_share_splits_every_connection);
    RUN(test_backoff_doubles_up_to_ten_seconds);
    RUN(test_role_from_env);
    return test_report();
}
