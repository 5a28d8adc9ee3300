#include "net/redis.h"
#include "net/redis_lease.h"
#include "test.h"
#include "test_redis_fixture.h"

static void test_url_parse(void) {
    struct redis_url u;
    char err[256];
    CHECK_EQ_INT(redis_url_parse("redis://127.0.0.1:6380/3", &u, err, sizeof err), 0);
    CHECK_EQ_STR(u.host, "127.0.0.1");
    CHECK_EQ_INT(u.port, 6380);
    CHECK_EQ_INT(u.db, 3);
    CHECK_EQ_STR(u.password, "");
    CHECK_EQ_INT(redis_url_parse("redis://:pw@cache", &u, err, sizeof err), 0);
    CHECK_EQ_STR(u.host, "cache");
    CHECK_EQ_INT(u.port, 6379);
    CHECK_EQ_STR(u.password, "pw");
    CHECK_EQ_STR(u.user, "");
    CHECK_EQ_INT(redis_url_parse("redis://app:p@ss@[::1]:7000/", &u, err, sizeof err), 0);
    CHECK_EQ_STR(u.user, "app");
    CHECK_EQ_STR(u.password, "p@ss");
    CHECK_EQ_STR(u.host, "::1");
    CHECK_EQ_INT(u.port, 7000);
    CHECK_EQ_INT(redis_url_parse("rediss://h:6380", &u, err, sizeof err), -1);
    CHECK_CONTAINS(err, "TLS");
    CHECK_EQ_INT(redis_url_parse("http://h", &u, err, sizeof err), -1);
    CHECK_EQ_INT(redis_url_parse("redis://", &u, err, sizeof err), -1);
    CHECK_EQ_INT(redis_url_parse("redis://h/x", &u, err, sizeof err), -1);
    CHECK_EQ_INT(redis_url_parse("redis://:secret-pw@h:99999", &u, err, sizeof err), -1);
    CHECK_NOT_CONTAINS(err, "secret-pw");
}

struct seen {
    int replies, nulls, ups, downs;
    long long integer;
    char str[64];
};

static void on_reply(void *arg, const redisReply *r) {
    struct seen *s = arg;
    s->replies++;
    if (!r) {
        s->nulls++;
        return;
    }
    if (r->type == REDIS_REPLY_INTEGER) s->integer = r->integer;
    if (r->type == REDIS_REPLY_STRING) snprintf(s->str, sizeof s->str, "%s", r->str);
}

static void on_state(void *arg, int up, const char *reason) {
    struct seen *s = arg;
    if (up) s->ups++;
    else s->downs++;
    (void)reason;
}

static int not_started(const char *name) {
    fprintf(stderr, "%s: redis-server did not start\n", name);
    CHECK(!"redis-server did not start (make deps installs it)");
    return 1;
}

static void test_commands_outage_and_reconnect(void) {
    struct redis_fixture fx = { 0 };
    if (redis_fixture_start(&fx) && not_started(__func__)) return;
    struct event_base *base = event_base_new();
    struct redis_options o = { fx.url, NULL, "t:", 500 };
    struct redis *r = redis_new(base, &o);
    struct seen s = { 0 };
    redis_on_state(r, on_state, &s);
    CHECK(!redis_up(r));
    CHECK_EQ_STR(redis_down_reason(r), "connecting");
    CHECK(redis_fixture_wait(base, &s.ups, 5000));
    CHECK(redis_up(r));
    CHECK(redis_down_reason(r) == NULL);
    CHECK(redis_command(r, on_reply, &s, 3, (const char *[]){ "SET", "t:k", "v" }, NULL));
    CHECK(redis_command(r, on_reply, &s, 2, (const char *[]){ "INCR", "t:n" }, NULL));
    struct redis_call *c = redis_command(r, on_reply, &s, 2, (const char *[]){ "GET", "t:k" },
                                         NULL);
    CHECK(c != NULL);
    CHECK(redis_fixture_wait_n(base, &s.replies, 3, 5000));
    CHECK_EQ_STR(s.str, "v");
    CHECK_EQ_INT(s.integer, 1);
    /* a cancelled call is never answered */
    int before = s.replies;
    redis_cancel(redis_command(r, on_reply, &s, 1, (const char *[]){ "PING" }, NULL));
    redis_fixture_kill(&fx);
    CHECK(redis_fixture_wait(base, &s.downs, 5000));
    CHECK_EQ_INT(s.replies, before);
    CHECK(!redis_up(r));
    CHECK(redis_command(r, on_reply, &s, 1, (const char *[]){ "PING" }, NULL) == NULL);
    CHECK_EQ_INT(redis_send(r, 1, (const char *[]){ "PING" }, NULL), -1);
    CHECK(redis_fixture_start(&fx) == 0);
    CHECK(redis_fixture_wait_n(base, &s.ups, 2, 10000));
    CHECK_EQ_INT(s.ups, 2);
    struct redis_stats st;
    redis_get_stats(r, &st);
    CHECK_EQ_INT(st.connects, 2);
    CHECK_EQ_INT(st.disconnects, 1);
    CHECK_EQ_INT(st.up, 1);
    /* freeing with a command in flight answers it with NULL */
    s.nulls = 0;
    CHECK(redis_command(r, on_reply, &s, 3, (const char *[]){ "BLPOP", "t:none", "5" }, NULL));
    redis_free(r);
    CHECK_EQ_INT(s.nulls, 1);
    event_base_free(base);
    redis_fixture_stop(&fx);
}

struct lease_seen {
    int n;
    enum redis_lease_result res;
};

static void on_lease(void *arg, enum redis_lease_result res) {
    struct lease_seen *s = arg;
    s->n++;
    s->res = res;
}

static void test_lease(void) {
    struct redis_fixture fx = { 0 };
    if (redis_fixture_start(&fx) && not_started(__func__)) return;
    struct event_base *base = event_base_new();
    struct redis_options o = { fx.url, NULL, "t:", 0 };
    struct redis *r = redis_new(base, &o);
    struct seen s = { 0 };
    redis_on_state(r, on_state, &s);
    CHECK(redis_fixture_wait(base, &s.ups, 5000));
    struct lease_seen a = { 0 }, b = { 0 }, c = { 0 };
    struct redis_lease *la = redis_lease_acquire(r, "job:1", "gw-a", 10000, 0, on_lease, &a);
    CHECK_EQ_INT(a.n, 0);                       /* never inside the call */
    CHECK(redis_fixture_wait(base, &a.n, 5000));
    CHECK_EQ_INT(a.res, REDIS_LEASE_HELD);
    struct redis_lease *lb = redis_lease_acquire(r, "job:1", "gw-b", 10000, 0, on_lease, &b);
    CHECK(redis_fixture_wait(base, &b.n, 5000));
    CHECK_EQ_INT(b.res, REDIS_LEASE_TAKEN);
    redis_lease_release(lb);
    /* a poller gets it once the holder gives it back */
    struct redis_lease *lc = redis_lease_acquire(r, "job:1", "gw-c", 10000, 10, on_lease, &c);
    redis_fixture_wait(base, &c.n, 100);
    CHECK_EQ_INT(c.n, 0);
    redis_lease_release(la);
    CHECK(redis_fixture_wait(base, &c.n, 5000));
    CHECK_EQ_INT(c.res, REDIS_LEASE_HELD);
    redis_lease_keep(lc);             /* stays taken until its ttl */
    struct lease_seen e = { 0 };
    struct redis_lease *le = redis_lease_acquire(r, "job:1", "gw-e", 10000, 0, on_lease, &e);
    CHECK(redis_fixture_wait(base, &e.n, 5000));
    CHECK_EQ_INT(e.res, REDIS_LEASE_TAKEN);
    redis_lease_release(le);
    /* down: answered DOWN, from the loop */
    redis_fixture_kill(&fx);
    CHECK(redis_fixture_wait(base, &s.downs, 5000));
    struct lease_seen d = { 0 };
    struct redis_lease *ld = redis_lease_acquire(r, "job:2", "gw-a", 1000, 10, on_lease, &d);
    CHECK_EQ_INT(d.n, 0);
    CHECK(redis_fixture_wait(base, &d.n, 5000));
    CHECK_EQ_INT(d.res, REDIS_LEASE_DOWN);
    redis_lease_release(ld);
    redis_free(r);
    event_base_free(base);
    redis_fixture_stop(&fx);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    RUN(test_url_parse);
    RUN(test_commands_outage_and_reconnect);
    RUN(test_lease);
    return test_report();
}
