#include "net/redis.h"
#include "store/store_redis.h"
#include "test.h"
#include "test_redis_fixture.h"

struct got {
    int n;
    struct store_result res;
};

static void on_result(void *arg, struct store_result *res) {
    struct got *g = arg;
    g->n++;
    g->res = *res;
}

static void on_state(void *arg, int up, const char *reason) {
    (void)reason;
    *(int *)arg += up ? 1 : 100;
}

static struct event_base *base;
static struct store_redis *sr;

static struct store_result wait_for(struct store_req *q, struct got *g) {
    CHECK(q != NULL);
    CHECK(redis_fixture_wait(base, &g->n, 5000));
    return g->res;
}

static struct store_result get(const char *key) {
    struct got g = { 0 };
    int err = 0;
    return wait_for(store_redis_get(sr, key, strlen(key), on_result, &g, &err), &g);
}

static int set(const char *key, struct store_value v, double ttl) {
    struct got g = { 0 };
    int err = 0;
    return wait_for(store_redis_set(sr, key, strlen(key), &v, ttl, on_result, &g, &err), &g).err;
}

static void test_values_keep_their_types(void) {
    struct redis_fixture fx = { 0 };
    if (redis_fixture_start(&fx)) {
        CHECK(!"redis-server did not start (make deps installs it)");
        return;
    }
    base = event_base_new();
    struct redis_options o = { fx.url, NULL, "s:", 0 };
    struct redis *r = redis_new(base, &o);
    int ups = 0, err = 0;
    redis_on_state(r, on_state, &ups);
    CHECK(redis_fixture_wait(base, &ups, 5000));
    sr = store_redis_new(r, 64);
    struct store_value s = { STORE_STRING, { .s = "a\0b" }, 3 };
    CHECK_EQ_INT(set("str", s, 0), STORE_OK);
    struct store_result res = get("str");
    CHECK_EQ_INT(res.value.type, STORE_STRING);
    CHECK_EQ_INT(res.value.len, 3);
    CHECK(memcmp(res.value.u.s, "a\0b", 3) == 0);
    free((void *)res.value.u.s);
    CHECK_EQ_INT(set("int", (struct store_value){ STORE_INTEGER, { .i = -7 }, 0 }, 0), STORE_OK);
    res = get("int");
    CHECK_EQ_INT(res.value.type, STORE_INTEGER);
    CHECK_EQ_INT(res.value.u.i, -7);
    CHECK_EQ_INT(set("num", (struct store_value){ STORE_NUMBER, { .n = 0.1 }, 0 }, 0), STORE_OK);
    res = get("num");
    CHECK_EQ_INT(res.value.type, STORE_NUMBER);
    CHECK(res.value.u.n == 0.1);
    CHECK_EQ_INT(set("b", (struct store_value){ STORE_BOOLEAN, { .b = 1 }, 0 }, 0), STORE_OK);
    res = get("b");
    CHECK_EQ_INT(res.value.type, STORE_BOOLEAN);
    CHECK_EQ_INT(res.value.u.b, 1);
    CHECK_EQ_INT(get("absent").value.type, STORE_NIL);
    /* incr: integers only; an absent key counts from 0 */
    struct got g = { 0 };
    res = wait_for(store_redis_incr(sr, "int", 3, 10, on_result, &g, &err), &g);
    CHECK_EQ_INT(res.err, STORE_OK);
    CHECK_EQ_INT(res.integer, 3);
    g.n = 0;
    res = wait_for(store_redis_incr(sr, "str", 3, 1, on_result, &g, &err), &g);
    CHECK_EQ_INT(res.err, STORE_ETYPE);
    g.n = 0;
    res = wait_for(store_redis_incr(sr, "new", 3, 5, on_result, &g, &err), &g);
    CHECK_EQ_INT(res.integer, 5);
    /* bounds, delete, set nil */
    char big[80];
    memset(big, 'x', sizeof big);
    struct store_value bv = { STORE_STRING, { .s = big }, sizeof big };
    CHECK(store_redis_set(sr, "big", 3, &bv, 0, on_result, &g, &err) == NULL);
    CHECK_EQ_INT(err, STORE_ETOOBIG);
    g.n = 0;
    res = wait_for(store_redis_delete(sr, "new", 3, on_result, &g, &err), &g);
    CHECK_EQ_INT(res.integer, 1);
    CHECK_EQ_INT(set("b", (struct store_value){ STORE_NIL, { 0 }, 0 }, 0), STORE_OK);
    CHECK_EQ_INT(get("b").value.type, STORE_NIL);
    /* a TTL lapses */
    CHECK_EQ_INT(set("ttl", (struct store_value){ STORE_INTEGER, { .i = 1 }, 0 }, 0.05), STORE_OK);
    int never = 0;
    redis_fixture_wait(base, &never, 150);
    CHECK_EQ_INT(get("ttl").value.type, STORE_NIL);
    /* cancelled: never answered */
    g.n = 0;
    store_redis_cancel(store_redis_get(sr, "int", 3, on_result, &g, &err));
    redis_fixture_wait(base, &g.n, 100);
    CHECK_EQ_INT(g.n, 0);
    /* down: refused at once */
    redis_fixture_kill(&fx);
    CHECK(redis_fixture_wait_n(base, &ups, 100, 5000));
    CHECK(store_redis_get(sr, "int", 3, on_result, &g, &err) == NULL);
    CHECK_EQ_INT(err, STORE_EDOWN);
    CHECK_CONTAINS(store_strerror(err), "redis");
    store_redis_free(sr);
    redis_free(r);
    event_base_free(base);
    redis_fixture_stop(&fx);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    RUN(test_values_keep_their_types);
    return test_report();
}
