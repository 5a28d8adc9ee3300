/* Schedules: the jobs lark.every, lark.cron and lark.after register, their timers, and
 * the hand-over from one generation of scripts to the next. Private to src/lua/.
 *
 * A job never runs code of its own: when it is due it asks the runtime (start_fn) to run
 * its function exactly like an event handler (same scheduler funnel, CPU budget,
 * handler_max_s, memory cap, cancel at shutdown), and learns the outcome through done.
 *
 * - No overlap: a job due while its previous run is still going skips this time (counted
 *   and logged); a run missed while the process was down or the loop was stuck is not
 *   replayed.
 * - Reload: a loading generation's registrations are staged (jobs_begin, jobs_add) and
 *   replace the serving ones at once (jobs_commit). A new job with the same script and
 *   name as an old one takes over its state: its next due time when the schedule is
 *   unchanged (so no double run and no gap), its run still going (so no overlap across
 *   the reload) and its counters. Old jobs without a successor stop; lark.after jobs made
 *   by handlers belong to their generation and are cancelled with it.
 * - Times are wall-clock; timers are re-armed at least every minute, so a step of the
 *   system clock delays a run by at most that. lark.every ticks fall on multiples of
 *   the period since the epoch, so every gateway computes the same tick times.
 * - Across gateways (jobs_set_redis): an every/cron tick runs on the one gateway that
 *   takes the lease "sched:<script>:<job name>:<tick ms>" in Redis; the others count it
 *   as run elsewhere. While Redis is down each gateway runs the tick itself (warned,
 *   counted as alone): availability over exactly-once. lark.after jobs take no lease.
 *   "No overlap" holds per gateway: a run outlasting its period elsewhere does not stop
 *   the next tick from running here. */
#ifndef LARKGW_LUA_JOBS_H
#define LARKGW_LUA_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "lua/runtime.h"

struct event_base;
struct redis;
struct script;
struct jobs;

enum jobs_kind { JOBS_EVERY, JOBS_CRON, JOBS_AFTER };

/* One registration, as a binding read it. Strings are copied; fn_ref (a reference in
 * the script's registry) passes to the jobs table, which unrefs it when a lark.after of
 * a handler has fired. */
struct jobs_def {
    enum jobs_kind kind;
    double seconds;          /* every, after */
    const char *spec;        /* cron */
    const char *zone;        /* cron: an IANA name; NULL: $TZ, else UTC */
    const char *name;        /* unique per script among top-level registrations */
    const char *tenant_key;  /* lark.api's default; NULL: the app's own */
    struct script *s;
    int fn_ref;
};

/* What the runtime needs to start one run. */
struct jobs_run {
    void *gen;               /* the generation the script belongs to */
    struct script *s;
    int fn_ref;
    const char *name, *tenant_key;
};
/* Runs the job's function like a handler; done is called once, at once or later, with
 * 200, or 500 and "file:line: message" as the body. */
typedef void (*jobs_start_fn)(void *arg, const struct jobs_run *run, runtime_done_fn done,
                              void *done_arg);

/* base NULL (larkgw check): registrations are validated, nothing is ever armed. */
struct jobs *jobs_new(struct event_base *base, jobs_start_fn start, void *arg);
/* Stops every timer, gives back the leases still asked for, and frees the table; runs
 * still going keep what they need. */
void jobs_free(struct jobs *j);

/* Every/cron ticks are leased on r from now on, owner naming this gateway in the lease
 * (copied). r must outlive the table. NULL: each tick runs here, as without Redis. */
void jobs_set_redis(struct jobs *j, struct redis *r, const char *owner);

/* A generation starts loading: top-level registrations from now on are staged. */
void jobs_begin(struct jobs *j);
/* Registers d. At a script's top level (in_handler 0) it is staged; in a handler (only
 * JOBS_AFTER) it joins the serving jobs at once, when s is of the serving generation.
 * 0, or -1 with the reason in err: a bad spec, zone or duration, a duplicate name, a
 * retired generation, too many pending jobs. On -1, fn_ref is still the caller's. */
int jobs_add(struct jobs *j, const struct jobs_def *d, int in_handler, char *err,
             size_t errlen);
/* The generation gen loaded: its staged jobs replace the serving ones and are armed. */
void jobs_commit(struct jobs *j, void *gen);
/* Loading failed: the staged jobs are dropped (their scripts are already closed). */
void jobs_abort(struct jobs *j);
/* Shutdown: no job starts any more (leases still asked for are given back); runs still
 * going end as handlers do. */
void jobs_stop(struct jobs *j);

struct jobs_stats {
    unsigned long long jobs;      /* serving jobs (one-shots that fired excluded) */
    unsigned long long runs, failures, skips;  /* since the start */
    unsigned long long elsewhere; /* ticks whose lease another gateway held */
    unsigned long long alone;     /* ticks run here without a lease, Redis being down */
};
void jobs_get_stats(const struct jobs *j, struct jobs_stats *out);

/* {"jobs":[{script, name, kind, spec, tz, next_run, running, runs, failures, skips,
 * elsewhere, alone, last_run, last_result, last_error, last_duration_ms}]} for GET
 * /admin/jobs, malloc'd
 * (free()); NULL when out of memory. */
char *jobs_json(const struct jobs *j);

#endif
