/* Schedules (src/lua/jobs.c, bind_jobs.c) through the runtime and a real event loop:
 * jobs run like handlers (limits, lark.api with their tenant key, errors logged with the
 * job's name and file:line), never overlap themselves, hand over on reload, stop when
 * removed; registration errors fail the load with file:line. Every wait is bounded. */
#include "test.h"
#include "test_lua_fixture.h"
#include "test_openapi_fake.h"

#include <event2/event.h>
#include <time.h>

#include "lua/runtime.h"

struct env {
    struct fixture fx;
    struct fake *f;
    struct openapi *api;
};

static void setup(struct env *e, const char *script) {
    fx_init(&e->fx);
    e->f = fake_new(0);
    e->api = fake_api(e->f, 1, NULL, NULL);
    openapi_set_app_ticket(e->api, "tk-1");
    if (script) fx_write(&e->fx, "bot.lua", script);
    e->fx.rt = runtime_new(e->f->base, &e->fx.opts);
    runtime_set_openapi(e->fx.rt, e->api);
}

static void teardown(struct env *e) {
    runtime_free(e->fx.rt);
    e->fx.rt = NULL;
    openapi_free(e->api);
    fake_free(e->f);
    fx_free(&e->fx);
}

static int load(struct env *e) {
    char err[512];
    return fx_load(&e->fx, err, sizeof err);
}

static struct runtime_job_stats stats(struct env *e) {
    struct runtime_job_stats s;
    runtime_get_job_stats(e->fx.rt, &s);
    return s;
}

/* Runs the loop until the log has needle, or max_ms (wall) passed; 1 if found. */
static int wait_log(struct env *e, const char *needle, int max_ms) {
    uint64_t end = util_now_ms() + (uint64_t)max_ms;
    while (util_now_ms() < end) {
        struct timeval tv = { 0, 20000 };
        event_base_loopexit(e->f->base, &tv);
        event_base_dispatch(e->f->base);
        char *log = fx_log(&e->fx);
        int found = strstr(log, needle) != NULL;
        free(log);
        if (found) return 1;
    }
    return fx_log_has(&e->fx, needle);  /* prints the log */
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static void test_every_runs_and_fails_with_name(void) {
    struct env e;
    setup(&e, "local n = 0\n"
              "lark.every(0.1, function()\n"
              "  n = n + 1\n"
              "  print('tick ' .. n .. ' event=' .. tostring(lark.event))\n"
              "  if n == 2 then error('boom') end\n"
              "end, { name = 'ticker' })\n");
    CHECK_EQ_INT(load(&e), 0);
    CHECK(wait_log(&e, "tick 3 event=nil", 5000));
    CHECK(fx_log_has(&e.fx, "bot.lua: job ticker failed: "));
    CHECK(fx_log_has(&e.fx, "bot.lua:5: boom"));
    struct runtime_job_stats s = stats(&e);
    CHECK(s.runs >= 3);
    CHECK_EQ_INT(s.failures, 1);
    CHECK_EQ_INT(s.jobs, 1);
    char *json = runtime_jobs_json(e.fx.rt);
    CHECK_CONTAINS(json, "\"name\":\"ticker\"");
    CHECK_CONTAINS(json, "\"kind\":\"every\"");
    CHECK_CONTAINS(json, "\"script\":\"bot.lua\"");
    CHECK_CONTAINS(json, "\"failures\":1");
    free(json);
    teardown(&e);
}

/* A run still going when the next is due is skipped, never doubled. */
static void test_no_overlap(void) {
    struct env e;
    setup(&e, "local active = 0\n"
              "lark.every(0.1, function()\n"
              "  if active > 0 then error('overlap') end\n"
              "  active = active + 1\n"
              "  lark.sleep(0.35)\n"
              "  active = active - 1\n"
              "  print('slow run done')\n"
              "end)\n");
    CHECK_EQ_INT(load(&e), 0);
    CHECK(wait_log(&e, "skipped: its previous run", 5000));
    CHECK(wait_log(&e, "slow run done", 5000));
    struct runtime_job_stats s = stats(&e);
    CHECK(s.skips >= 1);
    CHECK_EQ_INT(s.failures, 0);
    char *json = runtime_jobs_json(e.fx.rt);
    CHECK_CONTAINS(json, "\"name\":\"bot.lua:2\"");
    free(json);
    teardown(&e);
}

/* The successor takes over the state (counters, the run going on); removed jobs stop. */
static void test_reload_hand_over_and_removal(void) {
    struct env e;
    const char *script = "lark.every(0.1, function() print('beat') end, { name = 'beat' })\n";
    setup(&e, script);
    CHECK_EQ_INT(load(&e), 0);
    CHECK(wait_log(&e, "beat", 5000));
    unsigned long long before = stats(&e).runs;
    fx_write(&e.fx, "bot.lua", script);
    CHECK_EQ_INT(load(&e), 0);
    CHECK(fx_log_has(&e.fx, "1 job registered (1 carried over)"));
    char *json = runtime_jobs_json(e.fx.rt);
    char want[64];
    snprintf(want, sizeof want, "\"runs\":%llu", before);
    CHECK_CONTAINS(json, want);
    free(json);
    fx_write(&e.fx, "bot.lua", "x = 1\n");
    CHECK_EQ_INT(load(&e), 0);
    CHECK_EQ_INT(stats(&e).jobs, 0);
    json = runtime_jobs_json(e.fx.rt);
    CHECK_EQ_STR(json, "{\"jobs\":[]}");
    free(json);
    char *log = fx_log(&e.fx);
    int beats = count(log, "beat\n");
    free(log);
    CHECK(!wait_log(&e, "never logged", 400));
    log = fx_log(&e.fx);
    CHECK_EQ_INT(count(log, "beat\n"), beats);
    free(log);
    teardown(&e);
}

/* lark.after in a handler: runs once with the event's tenant; a reload cancels it. */
static void test_after_in_handler(void) {
    struct env e;
    setup(&e, "function on_p2_message_receive_v1(event)\n"
              "  local delay = tonumber(lark.store.get('delay') or 0.05)\n"
              "  assert(lark.after(delay, function()\n"
              "    local res = assert(lark.api.get('im/v1/chats'))\n"
              "    print('later tenant=' .. res.data.tenant)\n"
              "  end))\n"
              "end\n"
              "lark.cron('0 9 * * 1-5', function() end, { tz = 'Asia/Shanghai', "
              "tenant_key = 'tk9', name = 'standup' })\n");
    CHECK_EQ_INT(load(&e), 0);
    CHECK_EQ_INT(RUN_MSG(&e.fx), 200);
    CHECK(wait_log(&e, "later tenant=tk1", 5000));
    char *json = runtime_jobs_json(e.fx.rt);
    CHECK_CONTAINS(json, "\"spec\":\"0 9 * * 1-5\",\"tz\":\"Asia/Shanghai\"");
    CHECK_NOT_CONTAINS(json, "\"kind\":\"after\"");  /* fired: gone */
    free(json);
    /* a pending one goes with its generation */
    fx_write(&e.fx, "bot.lua", "function on_p2_message_receive_v1(event)\n"
                               "  assert(lark.after(30, function() print('too late') end))\n"
                               "end\n");
    CHECK_EQ_INT(load(&e), 0);
    CHECK_EQ_INT(RUN_MSG(&e.fx), 200);
    json = runtime_jobs_json(e.fx.rt);
    CHECK_CONTAINS(json, "\"kind\":\"after\"");
    free(json);
    CHECK_EQ_INT(load(&e), 0);
    CHECK(fx_log_has(&e.fx, "pending lark.after jobs of handlers cancelled"));
    json = runtime_jobs_json(e.fx.rt);
    CHECK_EQ_STR(json, "{\"jobs\":[]}");
    free(json);
    teardown(&e);
}

/* A job's tenant_key is what its lark.api calls use. */
static void test_job_tenant_key(void) {
    struct env e;
    setup(&e, "lark.after(0, function()\n"
              "  local res = assert(lark.api.get('im/v1/chats'))\n"
              "  print('job tenant=' .. res.data.tenant)\n"
              "end, { tenant_key = 'tk9' })\n");
    CHECK_EQ_INT(load(&e), 0);
    CHECK(wait_log(&e, "job tenant=tk9", 5000));
    teardown(&e);
}

/* Same limits as handlers: the CPU budget, and handler_max_s for one that waits. */
static void test_limits(void) {
    struct env e;
    fx_init(&e.fx);
    e.fx.opts.limits.handler_max_s = 1;
    e.f = fake_new(0);
    e.api = fake_api(e.f, 0, NULL, NULL);
    fx_write(&e.fx, "bot.lua", "lark.after(0, function() while true do end end, "
                               "{ name = 'spin' })\n"
                               "lark.after(0, function() lark.sleep(100) end, "
                               "{ name = 'sleepy' })\n");
    e.fx.rt = runtime_new(e.f->base, &e.fx.opts);
    CHECK_EQ_INT(load(&e), 0);
    CHECK(wait_log(&e, "job spin failed: ", 5000));
    CHECK(fx_log_has(&e.fx, "time budget spent"));
    CHECK(wait_log(&e, "job sleepy failed: killed: still running after "
                       "limits.handler_max_s = 1 s", 5000));
    CHECK_EQ_INT(stats(&e).failures, 2);
    teardown(&e);
}

static void check_load_error(const char *script, const char *want) {
    struct env e;
    char err[512] = "";
    setup(&e, script);
    CHECK_EQ_INT(runtime_load(e.fx.rt, err, sizeof err), -1);
    CHECK_CONTAINS(err, want);
    teardown(&e);
}

static void test_registration_errors(void) {
    check_load_error("\nlark.cron('0 25 * * *', function() end)\n",
                     "bot.lua:2: lark.cron: bad cron spec \"0 25 * * *\": hour");
    check_load_error("lark.cron('@daily', function() end, { tz = 'Mars/Base' })\n",
                     "bot.lua:1: lark.cron: unknown time zone \"Mars/Base\"");
    check_load_error("lark.every(0.01, function() end)\n",
                     "bot.lua:1: lark.every: seconds between 0.1");
    check_load_error("lark.every(1, function() end, { tz = 'UTC' })\n",
                     "bot.lua:1: lark.every: unknown option 'tz'");
    check_load_error("lark.after(1, 'nope')\n", "bad argument #2 to 'after'");
    check_load_error("for i = 1, 2 do lark.every(1, function() end) end\n",
                     "a job named \"bot.lua:1\" is already registered");
    check_load_error("function on_event() lark.every(1, function() end) end\n"
                     "lark.every(1, function() on_event() end)\n"
                     "error('top level fails')\n", "top level fails");
}

/* Without opts.tz, the zone is TZ's: an IANA name or a POSIX rule, else the load fails. */
static void test_zone_from_tz(void) {
    struct env e;
    setenv("TZ", "Nowhere/Land", 1);
    check_load_error("lark.cron('@daily', function() end)\n",
                     "bot.lua:1: lark.cron: TZ=Nowhere/Land is neither a zone nor a rule");
    setenv("TZ", ":Asia/Shanghai", 1);
    setup(&e, "lark.cron('0 9 * * *', function() end, { name = 'nine' })\n");
    CHECK_EQ_INT(load(&e), 0);
    char *json = runtime_jobs_json(e.fx.rt);
    CHECK_CONTAINS(json, "\"tz\":\"Asia/Shanghai\"");
    CHECK_CONTAINS(json, "T01:00:00Z");   /* 09:00 in Shanghai */
    free(json);
    teardown(&e);
    unsetenv("TZ");
}

/* lark.every in a handler raises; the failed load above kept no staged job. */
static void test_every_in_handler(void) {
    struct env e;
    setup(&e, "function on_p2_message_receive_v1(event)\n"
              "  lark.every(1, function() end)\n"
              "end\n");
    CHECK_EQ_INT(load(&e), 0);
    CHECK_EQ_INT(RUN_MSG(&e.fx), 500);
    CHECK(fx_log_has(&e.fx, "bot.lua:2: lark.every: only at a script's top level"));
    CHECK_EQ_INT(stats(&e).jobs, 0);
    teardown(&e);
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "2024-05-06T10:00:07Z": the next multiple of period_s after ms, as /admin/jobs says. */
static void next_tick_text(int64_t ms, int64_t period_s, char *buf, size_t len) {
    time_t t = (time_t)((ms / (period_s * 1000) + 1) * period_s);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The job's next run is the next multiple of its period since the epoch, whenever the
 * script loaded (a tick boundary passing during the load allows either side). */
static void check_next_tick(struct env *e, int64_t before, int64_t after, const char *spec,
                            int64_t period_s) {
    char *json = runtime_jobs_json(e->fx.rt);
    char a[80], b[80], ta[32], tb[32];
    next_tick_text(before, period_s, ta, sizeof ta);
    next_tick_text(after, period_s, tb, sizeof tb);
    snprintf(a, sizeof a, "\"spec\":\"%s\",\"next_run\":\"%s\"", spec, ta);
    snprintf(b, sizeof b, "\"spec\":\"%s\",\"next_run\":\"%s\"", spec, tb);
    CHECK_CONTAINS(json, strstr(json, a) ? a : b);
    free(json);
}

/* Every ticks are wall-clock multiples of the period, the same on every gateway; a
 * reload keeps the tick of an unchanged schedule and aligns a changed one afresh. */
static void test_every_ticks_are_aligned(void) {
    struct env e;
    setup(&e, "lark.every(7, function() end, { name = 'seven' })\n"
              "lark.every(3600, function() end, { name = 'hourly' })\n");
    int64_t before = wall_ms();
    CHECK_EQ_INT(load(&e), 0);
    int64_t after = wall_ms();
    check_next_tick(&e, before, after, "7 s", 7);
    check_next_tick(&e, before, after, "3600 s", 3600);
    char *json = runtime_jobs_json(e.fx.rt);
    CHECK_CONTAINS(json, ":00:00Z\"");   /* the hourly one: on the hour */
    free(json);
    /* no loop ran since: the carried tick is still the one computed at the first load */
    fx_write(&e.fx, "bot.lua", "lark.every(7, function() end, { name = 'seven' })\n"
                               "lark.every(11, function() end, { name = 'hourly' })\n");
    int64_t again = wall_ms();
    CHECK_EQ_INT(load(&e), 0);
    int64_t again_after = wall_ms();
    check_next_tick(&e, before, after, "7 s", 7);
    check_next_tick(&e, again, again_after, "11 s", 11);
    teardown(&e);
}

int main(void) {
    (void)call_tenant;  /* the fake's helper for direct OpenAPI calls; jobs use lark.api */
    RUN(test_every_runs_and_fails_with_name);
    RUN(test_no_overlap);
    RUN(test_reload_hand_over_and_removal);
    RUN(test_after_in_handler);
    RUN(test_job_tenant_key);
    RUN(test_limits);
    RUN(test_registration_errors);
    RUN(test_zone_from_tz);
    RUN(test_every_in_handler);
    RUN(test_every_ticks_are_aligned);
    return test_report();
}
