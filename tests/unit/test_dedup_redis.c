#include "event/dedup_redis.h"
#include "net/redis.h"
#include "test.h"
#include "test_redis_fixture.h"

struct verdict {
    int n;
    enum dedup_verdict v;
};

static void on_verdict(void *arg, enum dedup_verdict v) {
    struct verdict *s = arg;
    s->n++;
    s->v = v;
}

static void on_state(void *arg, int up, const char *reason) {
    (void)reason;
    *(int *)arg += up ? 1 : 100;
}

/* Claims and waits for the verdict; the claim is returned for dedup_redis_finish. */
static struct dedup_claim *claim(struct event_base *base, struct dedup_redis *dr,
                                 const char *id, const char *msg, enum dedup_verdict *v) {
    struct verdict s = { 0 };
    struct dedup_claim *c = dedup_redis_claim(dr, id, msg, on_verdict, &s);
    CHECK(c != NULL);
    CHECK_EQ_INT(s.n, 0);
    CHECK(redis_fixture_wait(base, &s.n, 5000));
    *v = s.v;
    return c;
}

static void test_claim_mark_release(void) {
    struct redis_fixture fx = { 0 };
    if (redis_fixture_start(&fx)) {
        CHECK(!"redis-server did not start (make deps installs it)");
        return;
    }
    struct event_base *base = event_base_new();
    struct redis_options o = { fx.url, NULL, "d:", 0 };
    struct redis *r = redis_new(base, &o);
    int ups = 0;
    redis_on_state(r, on_state, &ups);
    CHECK(redis_fixture_wait(base, &ups, 5000));
    struct dedup_redis *a = dedup_redis_new(r, "gw-a", 60000, 100);
    struct dedup_redis *b = dedup_redis_new(r, "gw-b", 60000, 100);
    enum dedup_verdict v;
    struct dedup_claim *ca = claim(base, a, "ev1", "om1", &v);
    CHECK_EQ_INT(v, DEDUP_VERDICT_NEW);
    /* held by a: busy for b, by its event id or by its message id alone */
    dedup_redis_finish(claim(base, b, "ev1", NULL, &v), 0);
    CHECK_EQ_INT(v, DEDUP_VERDICT_BUSY);
    dedup_redis_finish(claim(base, b, "ev2", "om1", &v), 0);
    CHECK_EQ_INT(v, DEDUP_VERDICT_BUSY);
    dedup_redis_finish(ca, 1);
    dedup_redis_finish(claim(base, b, "ev1", NULL, &v), 0);
    CHECK_EQ_INT(v, DEDUP_VERDICT_DONE);
    dedup_redis_finish(claim(base, b, "ev3", "om1", &v), 0);
    CHECK_EQ_INT(v, DEDUP_VERDICT_DONE);
    /* a failure releases: the retry is new, wherever it lands */
    dedup_redis_finish(claim(base, a, "ev4", NULL, &v), 0);
    CHECK_EQ_INT(v, DEDUP_VERDICT_NEW);
    struct dedup_claim *cb = claim(base, b, "ev4", NULL, &v);
    CHECK_EQ_INT(v, DEDUP_VERDICT_NEW);
    dedup_redis_finish(cb, 1);
    /* cancelled before its verdict: nothing is held afterwards */
    struct verdict s = { 0 };
    dedup_redis_finish(dedup_redis_claim(a, "ev5", NULL, on_verdict, &s), 0);
    dedup_redis_finish(claim(base, b, "ev5", NULL, &v), 1);
    CHECK_EQ_INT(v, DEDUP_VERDICT_NEW);
    CHECK_EQ_INT(s.n, 0);
    /* down: no claim, decide in memory */
    redis_fixture_kill(&fx);
    CHECK(redis_fixture_wait_n(base, &ups, 100, 5000));
    CHECK(dedup_redis_claim(a, "ev6", NULL, on_verdict, &s) == NULL);
    dedup_redis_free(a);
    dedup_redis_free(b);
    redis_free(r);
    event_base_free(base);
    redis_fixture_stop(&fx);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    RUN(test_claim_mark_release);
    return test_report();
}
