/* The Lua runtime: one sandboxed lua_State per script in the scripts directory, a
 * fresh coroutine per handler invocation, handler lookup: lark.on(type), then
 * the conventional global name, then on_event.
 * The dispatcher is its only caller on the event path. */
#ifndef LARKGW_LUA_RUNTIME_H
#define LARKGW_LUA_RUNTIME_H

#include <stddef.h>

struct event_base;
struct runtime;
struct cJSON;
struct openapi;
struct redis;
struct store;
struct bind_http;
struct bind_vars_options;

/* What each script's state may use (the limits.* keys of the config). */
struct runtime_limits {
    int memory_mb;            /* the allocator's cap per state; 0: none */
    int handler_timeout_ms;   /* running time per event (and per top level) */
    int handler_max_s;        /* wall time per event, waits included */
    int max_recursion;        /* Lua call depth; 0: Lua's own bound */
    int max_coroutines;       /* created per event; 0: no bound */
    int upload_max_mb;        /* lark.api.upload's body; 0: 30 */
    int download_max_mb;      /* lark.api.download's default max_bytes; 0: 20 */
};

struct runtime_options {
    const char *scripts;      /* the directory of *.lua bot units; NULL: "." */
    const char *lua_path;     /* the Lua half of lark on disk (development); NULL: the
                                 copy compiled into the binary */
    struct runtime_limits limits;
    size_t store_max_entries, store_max_bytes;  /* the store made when none is set */
    const struct bind_vars_options *vars;       /* lark.vars (NULL: empty) */
};

/* Nothing is loaded yet. opts is copied; its strings must outlive the runtime. base may
 * be NULL (check, tests). */
struct runtime *runtime_new(struct event_base *base, const struct runtime_options *opts);
/* Cancels whatever still runs (its done callbacks fire with 500), then frees. */
void runtime_free(struct runtime *rt);

/* The OpenAPI client lark.api uses (NULL: calls answer nil, err). It must outlive the
 * runtime: freeing the runtime cancels the calls still pending. */
void runtime_set_openapi(struct runtime *rt, struct openapi *api);

/* What lark.http calls go through (NULL: they answer nil, err). It must outlive the
 * runtime, like the OpenAPI client. */
void runtime_set_http(struct runtime *rt, struct bind_http *http);

/* lark.vars for the generations loaded from now on (NULL: empty); v and its strings
 * must stay valid while they serve. */
void runtime_set_vars(struct runtime *rt, const struct bind_vars_options *vars);

/* The Redis shared with the other gateways: every/cron ticks then run on the one gateway
 * that takes the tick's lease (owner names this gateway in it; copied). r must outlive
 * the runtime. Unset or NULL: every tick runs here. */
void runtime_set_redis(struct runtime *rt, struct redis *r, const char *owner);

/* The store behind lark.store, shared by every script and kept across reloads; it must
 * outlive the runtime. Unset, the runtime makes its own from opts->store_* on first load. */
void runtime_set_store(struct runtime *rt, struct store *store);

/* Loads (or reloads) every *.lua of opts->scripts into a new generation of states. On
 * any compile error or top-level raise, returns -1 with "file:line: message" in err and
 * keeps the generation that was serving. With opts->lua_path set, a part of the Lua half
 * of lark missing there is such an error too (the first load is the daemon's start). */
int runtime_load(struct runtime *rt, char *err, size_t errlen);

/* For `larkgw check`: compiles and initialises every script in a throwaway runtime;
 * -1 with "file:line: message" in err on the first failure. */
int runtime_check(const struct runtime_options *opts, char *err, size_t errlen);

/* One event, as the dispatcher parsed it. */
struct runtime_event {
    const struct cJSON *root;   /* the whole envelope: what handlers get as `event`, less
                                   the verification token (header.token, 1.0's token),
                                   which scripts never see */
    const char *event_id;       /* for log lines */
    const char *event_type;     /* lark.on key */
    const char *handler_name;   /* the conventional global, NULL when the type has none */
};

/* status is 200 or 500; body is valid only during the call. */
typedef void (*runtime_done_fn)(void *arg, int status, const char *body, size_t len);

/* Runs the handler of every script that has one, each in its own coroutine, and calls
 * done exactly once when all have finished: at once (before runtime_run returns) when
 * they all ran to the end, later when one waited on I/O (lark.api, lark.sleep); a
 * handler still waiting limits.handler_max_s after the start is killed (logged, 500). The answer is 500
 * {"msg":"handler failed"} if any raised (the log line carries file:line, the script
 * and the event id), else a returned table as JSON (a specific handler's outranks an
 * on_event catch-all's; among equals the first script by file name wins), else 200
 * {"msg":"success"}; no handler anywhere is a success too. ev is not referenced after
 * runtime_run returns. */
void runtime_run(struct runtime *rt, const struct runtime_event *ev, runtime_done_fn done,
                 void *arg);

/* Scripts in the serving generation. */
size_t runtime_script_count(const struct runtime *rt);

/* Calls fn for each script of the serving generation with the bytes its state uses. */
typedef void (*runtime_script_fn)(void *arg, const char *name, size_t bytes);
void runtime_foreach_script(const struct runtime *rt, runtime_script_fn fn, void *arg);

/* Generations replaced by a reload and still finishing their handlers. */
size_t runtime_retired_count(const struct runtime *rt);

/* Schedules (lark.every/cron/after) of the serving generation, as JSON for GET
 * /admin/jobs: {"jobs":[{script, name, kind, spec, tz, next_run, running, runs,
 * failures, skips, elsewhere, alone, last_run, last_result, last_error,
 * last_duration_ms}]}. malloc'd (free()), NULL when out of memory. */
char *runtime_jobs_json(const struct runtime *rt);

struct runtime_job_stats {
    unsigned long long jobs;                   /* registered and still to run */
    unsigned long long runs, failures, skips;  /* since the start */
    unsigned long long elsewhere;  /* ticks another gateway ran (it held the lease) */
    unsigned long long alone;      /* ticks run here without a lease, Redis being down */
};
void runtime_get_job_stats(const struct runtime *rt, struct runtime_job_stats *out);

/* Shutdown: no job starts any more (runs under way end like handlers). */
void runtime_stop_jobs(struct runtime *rt);

#endif
