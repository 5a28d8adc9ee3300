/* Schedules across gateways (src/lua/jobs.c with net/redis_lease.c): two runtimes, each
 * with its own Redis client on one real redis-server, run each every-tick once between
 * them (the other counts it as elsewhere); with Redis gone each runs it alone, and when
 * Redis is back they share again. A lease Redis has not answered yet survives a reload
 * (the successor gets the answer) and dies quietly with a removed job or a freed
 * runtime: ASan would see an answer delivered into freed memory. Every wait is bounded. */
#include "test.h"
#include "test_lua_fixture.h"
#include "test_redis_fixture.h"

#include <event2/event.h>

#include "lua/runtime.h"
#include "net/redis.h"

#define BEAT "lark.every(0.2, function() end, { name = 'beat' })\n"

static struct event_base *base;

static void on_state(void *arg, int up, const char *reason) {
    (void)reason;
    *(int *)arg = up;
}

static struct redis *client(const struct redis_fixture *rf, int *up, int cmd_timeout_ms) {
    struct redis_options o = { rf->url, NULL, "t:", cmd_timeout_ms };
    struct redis *r = redis_new(base, &o);
    redis_on_state(r, on_state, up);
    CHECK(redis_fixture_wait(base, up, 5000));
    return r;
}

static struct runtime *gateway(struct fixture *fx, struct redis *r, const char *owner) {
    char err[512];
    struct runtime *rt = runtime_new(base, &fx->opts);
    runtime_set_redis(rt, r, owner);
    CHECK_EQ_INT(runtime_load(rt, err, sizeof err), 0);
    return rt;
}

static struct runtime_job_stats stats(struct runtime *rt) {
    struct runtime_job_stats s;
    runtime_get_job_stats(rt, &s);
    return s;
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* Runs the loop for ms. */
static void spin(int ms) {
    struct timeval tv = { 0, ms * 1000 };
    event_base_loopexit(base, &tv);
    event_base_loop(base, 0);
}

/* Runs the loop until the log has needle at least n times, or ms pass. */
static int wait_log_n(struct fixture *fx, const char *needle, int n, int ms) {
    uint64_t until = util_now_ms() + (uint64_t)ms;
    for (;;) {
        char *log = fx_log(fx);
        int got = count(log, needle);
        free(log);
        if (got >= n) return 1;
        if (util_now_ms() >= until) break;
        struct timeval tv = { 0, 20000 };
        event_base_loopexit(base, &tv);
        event_base_loop(base, EVLOOP_ONCE);
    }
    fprintf(stderr, "log has \"%s\" fewer than %d times\n", needle, n);
    return 0;
}

/* Ticks ("2024-05-06T10:00:00.200Z") named after each needle in the log from `from` on. */
static int ticks(const char *log, size_t from, const char *needle, char out[][32], int max) {
    int n = 0;
    for (const char *p = log + from; n < max && (p = strstr(p, needle)); p += strlen(needle)) {
        snprintf(out[n], sizeof out[n], "%.24s", p + strlen(needle));
        n++;
    }
    return n;
}

static int find(char list[][32], int n, const char *tick) {
    int hits = 0;
    for (int i = 0; i < n; i++) hits += strcmp(list[i], tick) == 0;
    return hits;
}

/* A PING answered means every earlier command on that connection was answered too. */
static void on_pong(void *arg, const redisReply *rep) { *(int *)arg = rep ? 1 : -1; }

static int ping(struct redis *r) {
    int got = 0;
    const char *argv[] = { "PING" };
    if (!redis_command(r, on_pong, &got, 1, argv, NULL)) return 0;
    redis_fixture_wait(base, &got, 5000);
    return got == 1;
}

static char runs[4096][32], taken[4096][32];

static void test_one_run_per_tick_then_alone_then_shared_again(void) {
    struct redis_fixture rf = { 0 };
    if (redis_fixture_start(&rf)) {
        CHECK(!"redis-server did not start (make deps installs it)");
        return;
    }
    struct fixture fx;
    fx_init(&fx);
    fx_write(&fx, "bot.lua", BEAT);
    base = event_base_new();
    int up_a = 0, up_b = 0;
    struct redis *ra = client(&rf, &up_a, 0), *rb = client(&rf, &up_b, 0);
    struct runtime *a = gateway(&fx, ra, "gw-a"), *b = gateway(&fx, rb, "gw-b");

    /* shared: each tick runs on one of them, the other hears it is taken */
    CHECK(wait_log_n(&fx, "job beat: the tick of ", 6, 10000));
    char *log = fx_log(&fx);
    size_t shared_end = strlen(log);
    int nr = ticks(log, 0, "job beat runs the tick of ", runs, 4096);
    int nt = ticks(log, 0, "job beat: the tick of ", taken, 4096);
    free(log);
    CHECK(nt >= 6);
    for (int i = 0; i < nr; i++) CHECK_EQ_INT(find(runs, nr, runs[i]), 1);
    for (int i = 0; i < nt; i++) {
        CHECK_EQ_INT(find(taken, nt, taken[i]), 1);
        /* the other one ran it (the newest tick's winner may not have heard yet) */
        if (i < nt - 1) CHECK_EQ_INT(find(runs, nr, taken[i]), 1);
    }
    struct runtime_job_stats sa = stats(a), sb = stats(b);
    CHECK(sa.elsewhere + sb.elsewhere >= (unsigned long long)nt);
    CHECK_EQ_INT(sa.alone + sb.alone, 0);
    char *json = runtime_jobs_json(a);
    CHECK_CONTAINS(json, "\"elsewhere\":");
    CHECK_CONTAINS(json, "\"alone\":0");
    free(json);

    /* Redis gone: both run the ticks, each warned it is alone */
    redis_fixture_kill(&rf);
    CHECK(wait_log_n(&fx, "Redis is unreachable, so the tick of ", 2, 10000));
    uint64_t until = util_now_ms() + 10000;
    while ((stats(a).alone < 3 || stats(b).alone < 3) && util_now_ms() < until)
        spin(50);
    CHECK(stats(a).alone >= 3 && stats(b).alone >= 3);
    log = fx_log(&fx);
    size_t alone_end = strlen(log);
    nr = ticks(log, shared_end, "job beat runs the tick of ", runs, 4096);
    free(log);
    int doubled = 0;
    for (int i = 0; i < nr; i++) doubled += find(runs, nr, runs[i]) == 2;
    CHECK(doubled >= 4);   /* ticks ran in both: availability over exactly-once */

    /* Redis back on the same port: the clients reconnect and the ticks are shared again */
    CHECK_EQ_INT(redis_fixture_start(&rf), 0);
    CHECK(redis_fixture_wait(base, &up_a, 10000) && redis_fixture_wait(base, &up_b, 10000));
    log = fx_log(&fx);
    int before = count(log + alone_end, "job beat: the tick of ");
    free(log);
    uint64_t back = util_now_ms() + 10000;
    for (;;) {
        log = fx_log(&fx);
        int now = count(log + alone_end, "job beat: the tick of ");
        free(log);
        if (now >= before + 3 || util_now_ms() >= back) {
            CHECK(now >= before + 3);
            break;
        }
        spin(50);
    }

    runtime_free(a);
    runtime_free(b);
    redis_free(ra);
    redis_free(rb);
    event_base_free(base);
    fx.rt = NULL;
    fx_free(&fx);
    redis_fixture_stop(&rf);
}

/* Waits until a tick of rt was skipped because Redis sits on the previous one's lease. */
static int wait_pending(struct runtime *rt) {
    unsigned long long skips = stats(rt).skips;
    uint64_t until = util_now_ms() + 10000;
    while (stats(rt).skips == skips && util_now_ms() < until) {
        struct timeval tv = { 0, 20000 };
        event_base_loopexit(base, &tv);
        event_base_loop(base, EVLOOP_ONCE);
    }
    return stats(rt).skips > skips;
}

static void test_pending_lease_across_reload_removal_and_free(void) {
    struct redis_fixture rf = { 0 };
    if (redis_fixture_start(&rf)) {
        CHECK(!"redis-server did not start (make deps installs it)");
        return;
    }
    struct fixture fx;
    char err[512];
    fx_init(&fx);
    fx_write(&fx, "bot.lua", "lark.every(0.2, function() print('beat ran') end, "
                             "{ name = 'beat' })\n");
    base = event_base_new();
    int up = 0;
    /* a stopped server must not be taken for a dead one while the test holds it */
    struct redis *r = client(&rf, &up, 60000);
    struct runtime *rt = gateway(&fx, r, "gw-a");
    CHECK(wait_log_n(&fx, "beat ran", 1, 10000));

    /* a reload while the tick's lease is unanswered: the successor gets the answer */
    kill(rf.pid, SIGSTOP);
    CHECK(wait_pending(rt));
    char pending[32][32], want[80];
    char *log = fx_log(&fx);
    CHECK_EQ_INT(ticks(log, 0, "Redis has not yet answered for the tick of ", pending, 32), 1);
    free(log);
    CHECK_EQ_INT(runtime_load(rt, err, sizeof err), 0);
    CHECK(fx_log_has(&fx, "1 job registered (1 carried over)"));
    kill(rf.pid, SIGCONT);
    snprintf(want, sizeof want, "job beat runs the tick of %s", pending[0]);
    CHECK(wait_log_n(&fx, want, 1, 10000));

    /* the job removed while its lease is unanswered: the answer goes nowhere */
    kill(rf.pid, SIGSTOP);
    CHECK(wait_pending(rt));
    fx_write(&fx, "bot.lua", "x = 1\n");
    CHECK_EQ_INT(runtime_load(rt, err, sizeof err), 0);
    CHECK_EQ_INT(stats(rt).jobs, 0);
    kill(rf.pid, SIGCONT);
    CHECK(ping(r));

    /* the jobs stopped (shutdown) while a lease is unanswered: that tick never runs */
    fx_write(&fx, "bot.lua", "lark.every(0.2, function() end, { name = 'beat' })\n");
    CHECK_EQ_INT(runtime_load(rt, err, sizeof err), 0);
    log = fx_log(&fx);
    size_t from = strlen(log);
    free(log);
    kill(rf.pid, SIGSTOP);
    CHECK(wait_pending(rt));
    log = fx_log(&fx);
    CHECK_EQ_INT(ticks(log, from, "Redis has not yet answered for the tick of ", pending, 32), 1);
    free(log);
    runtime_stop_jobs(rt);
    kill(rf.pid, SIGCONT);
    CHECK(ping(r));
    snprintf(want, sizeof want, "job beat runs the tick of %s", pending[0]);
    CHECK(fx_log_lacks(&fx, want));
    runtime_free(rt);

    /* a runtime freed while a lease is unanswered */
    rt = gateway(&fx, r, "gw-a");
    kill(rf.pid, SIGSTOP);
    CHECK(wait_pending(rt));
    runtime_free(rt);
    kill(rf.pid, SIGCONT);
    CHECK(ping(r));

    redis_free(r);
    event_base_free(base);
    fx.rt = NULL;
    fx_free(&fx);
    redis_fixture_stop(&rf);
}

int main(void) {
    (void)redis_fixture_wait_n;
    RUN(test_one_run_per_tick_then_alone_then_shared_again);
    RUN(test_pending_lease_across_reload_removal_and_free);
    return test_report();
}
