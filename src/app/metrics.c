#include "app/metrics.h"

#include <event2/buffer.h>
#include <stddef.h>
#include <string.h>

#include "event/dispatch.h"
#include "ingress/ws_pool.h"
#include "lua/runtime.h"
#include "net/redis.h"
#include "openapi/openapi.h"

/* Every stat a scrape may read, taken once so the text is one consistent picture. */
struct metrics_snapshot {
    struct dispatcher_stats events;
    struct openapi_stats openapi;
    struct ws_pool_stats ws;
    struct { unsigned long long scripts, retired; } lua;
    struct redis_stats redis;
    struct runtime_job_stats jobs;
};

enum metrics_source { METRICS_EVENTS, METRICS_OPENAPI, METRICS_WS, METRICS_LUA, METRICS_REDIS,
                      METRICS_JOBS };

/* A metric is a field of one source's stats: where it is and how wide (int or 64 bit). */
struct metric {
    const char *name, *type, *help;
    enum metrics_source source;
    size_t offset, size;
};

#define FIELD(src, f) src, offsetof(struct metrics_snapshot, f), \
    sizeof(((struct metrics_snapshot *)0)->f)
#define EV(f) FIELD(METRICS_EVENTS, events.f)
#define API(f) FIELD(METRICS_OPENAPI, openapi.f)
#define WS(f) FIELD(METRICS_WS, ws.f)
#define LUA(f) FIELD(METRICS_LUA, lua.f)
#define RDS(f) FIELD(METRICS_REDIS, redis.f)
#define JOBS(f) FIELD(METRICS_JOBS, jobs.f)

static const struct metric metrics[] = {
    { "larkgw_events_received_total", "counter",
      "Events received, duplicates included", EV(received) },
    { "larkgw_events_handled_total", "counter",
      "Events answered 200 (handlers done, challenges, app tickets)", EV(handled) },
    { "larkgw_events_duplicate_total", "counter",
      "Events already seen, answered without running", EV(duplicates) },
    { "larkgw_events_failed_total", "counter",
      "Events whose handlers failed (raised, killed, out of time)", EV(failed) },
    { "larkgw_events_rejected_total", "counter",
      "Events refused (bad token or body, queue full, draining)", EV(rejected) },
    { "larkgw_events_in_flight", "gauge",
      "Events accepted and not finished", EV(in_flight) },
    { "larkgw_events_acked_at_deadline_total", "counter",
      "Events acknowledged before their handler finished", EV(acked_at_deadline) },
    { "larkgw_events_late_failures_total", "counter",
      "Events acknowledged at the deadline whose handler then failed", EV(late_failures) },
    { "larkgw_events_waiting_for_chat", "gauge",
      "Events waiting for their chat's previous event", EV(waiting) },
    { "larkgw_events_busy_total", "counter",
      "Events another gateway was running, answered busy so the platform retries",
      EV(busy) },
    { "larkgw_events_dedup_alone_total", "counter",
      "Events deduplicated in this gateway's memory only, Redis being down", EV(dedup_alone) },
    { "larkgw_openapi_calls_total", "counter",
      "OpenAPI calls made", API(calls) },
    { "larkgw_openapi_failures_total", "counter",
      "OpenAPI calls that failed", API(failures) },
    { "larkgw_openapi_retries_total", "counter",
      "OpenAPI calls retried", API(retries) },
    { "larkgw_openapi_token_fetches_total", "counter",
      "Access tokens fetched", API(token_fetches) },
    { "larkgw_openapi_in_flight", "gauge",
      "OpenAPI calls under way", API(inflight) },
    { "larkgw_ws_connections", "gauge",
      "Long connections configured", WS(connections) },
    { "larkgw_ws_open", "gauge",
      "Long connections open", WS(open) },
    { "larkgw_ws_connects_total", "counter",
      "Long connections established", WS(connects) },
    { "larkgw_ws_disconnects_total", "counter",
      "Long connections lost or closed", WS(disconnects) },
    { "larkgw_ws_discovery_failures_total", "counter",
      "Endpoint discoveries that failed", WS(discovery_failures) },
    { "larkgw_ws_handshake_failures_total", "counter",
      "WebSocket handshakes that failed", WS(handshake_failures) },
    { "larkgw_ws_events_total", "counter",
      "Events received on long connections", WS(events) },
    { "larkgw_ws_acks_total", "counter",
      "Acknowledgements sent", WS(acks) },
    { "larkgw_ws_acks_failed_total", "counter",
      "Acknowledgements of failed handlers", WS(acks_failed) },
    { "larkgw_ws_acks_dropped_total", "counter",
      "Acknowledgements lost with their connection", WS(acks_dropped) },
    { "larkgw_ws_bad_frames_total", "counter",
      "Frames that did not decode", WS(bad_frames) },
    { "larkgw_ws_bad_fragments_total", "counter",
      "Fragmented messages dropped", WS(bad_fragments) },
    { "larkgw_lua_scripts", "gauge",
      "Scripts in the serving generation", LUA(scripts) },
    { "larkgw_lua_retired_generations", "gauge",
      "Replaced generations still finishing handlers", LUA(retired) },
    { "larkgw_redis_up", "gauge",
      "1 while the Redis connection is up (shared state), 0 while this gateway is alone",
      RDS(up) },
    { "larkgw_redis_commands_total", "counter",
      "Redis commands sent", RDS(commands) },
    { "larkgw_redis_failures_total", "counter",
      "Redis commands that failed or were lost with their connection", RDS(failures) },
    { "larkgw_redis_connects_total", "counter",
      "Redis connections established", RDS(connects) },
    { "larkgw_redis_disconnects_total", "counter",
      "Redis connections lost", RDS(disconnects) },
    { "larkgw_jobs", "gauge",
      "Scheduled jobs (lark.every, lark.cron, lark.after) still to run", JOBS(jobs) },
    { "larkgw_job_runs_total", "counter",
      "Scheduled job runs finished, failed ones included", JOBS(runs) },
    { "larkgw_job_failures_total", "counter",
      "Scheduled job runs that raised, ran out of time or were killed", JOBS(failures) },
    { "larkgw_job_skips_total", "counter",
      "Scheduled runs skipped because the previous run was still going", JOBS(skips) },
    { "larkgw_job_elsewhere_total", "counter",
      "Scheduled ticks another gateway ran (it held the tick's lease in Redis)",
      JOBS(elsewhere) },
    { "larkgw_job_alone_total", "counter",
      "Scheduled ticks run here without a lease, Redis being down (others may run them too)",
      JOBS(alone) },
};

static unsigned long long metrics_value(const struct metrics_snapshot *snap,
                                        const struct metric *m) {
    const char *p = (const char *)snap + m->offset;
    if (m->size == sizeof(int)) {
        int v;
        memcpy(&v, p, sizeof v);
        return v < 0 ? 0 : (unsigned long long)v;
    }
    unsigned long long v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Label values escape backslash, quote and newline, as the text format wants. */
static void metrics_script(void *arg, const char *name, size_t bytes) {
    struct evbuffer *out = arg;
    evbuffer_add_printf(out, "larkgw_lua_memory_bytes{script=\"");
    for (const char *c = name; *c; c++) {
        if (*c == '\\' || *c == '"') evbuffer_add_printf(out, "\\%c", *c);
        else if (*c == '\n') evbuffer_add(out, "\\n", 2);
        else evbuffer_add(out, c, 1);
    }
    evbuffer_add_printf(out, "\"} %zu\n", bytes);
}

void metrics_write(const struct metrics_sources *src, struct evbuffer *out) {
    struct metrics_snapshot snap;
    memset(&snap, 0, sizeof snap);
    dispatcher_get_stats(src->disp, &snap.events);
    if (src->api) openapi_get_stats(src->api, &snap.openapi);
    if (src->ws) ws_pool_get_stats(src->ws, &snap.ws);
    snap.lua.scripts = runtime_script_count(src->rt);
    snap.lua.retired = runtime_retired_count(src->rt);
    if (src->redis) redis_get_stats(src->redis, &snap.redis);
    runtime_get_job_stats(src->rt, &snap.jobs);
    for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++) {
        const struct metric *m = &metrics[i];
        if ((m->source == METRICS_OPENAPI && !src->api) || (m->source == METRICS_WS && !src->ws)
            || (m->source == METRICS_REDIS && !src->redis))
            continue;
        evbuffer_add_printf(out, "# HELP %s %s.\n# TYPE %s %s\n%s %llu\n", m->name, m->help,
                            m->name, m->type, m->name, metrics_value(&snap, m));
    }
    evbuffer_add_printf(out, "# HELP larkgw_lua_memory_bytes Bytes a script's state uses.\n"
                             "# TYPE larkgw_lua_memory_bytes gauge\n");
    runtime_foreach_script(src->rt, metrics_script, out);
}
