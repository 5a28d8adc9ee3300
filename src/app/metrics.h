/* The /metrics text (Prometheus text format 0.0.4): one table row per metric, each with
 * its help line and type, read from the modules' stats at the time of the scrape. */
#ifndef LARKGW_APP_METRICS_H
#define LARKGW_APP_METRICS_H

struct evbuffer;
struct dispatcher;
struct openapi;
struct ws_pool;
struct runtime;
struct redis;

/* What a scrape reads; api, ws and redis may be NULL (their metrics are left out). */
struct metrics_sources {
    const struct dispatcher *disp;
    const struct openapi *api;
    const struct ws_pool *ws;
    const struct runtime *rt;
    const struct redis *redis;    /* NULL without redis.url */
};

/* Appends every metric, then larkgw_lua_memory_bytes{script="..."} per script. */
void metrics_write(const struct metrics_sources *src, struct evbuffer *out);

#endif
