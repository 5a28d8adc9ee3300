#include "lua/jobs.h"

#include "base/log.h"
#include "lua/cron.h"
#include "lua/script.h"
#include "lua/tz.h"
#include "net/redis_lease.h"

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JOBS_MAX_PENDING 10000     /* lark.after jobs handlers may leave waiting */
#define JOBS_REARM_MS 60000        /* a clock step delays a run by at most this */
#define JOBS_LOG_EVERY_MS 10000    /* per job, for skip and failure lines */
/* A tick's lease lasts one period, but at least JOBS_LEASE_MIN_MS: a gateway whose timer
 * fires seconds late (a busy loop, a clock a little behind) must still find the tick
 * taken. At most a day: Redis keeps one key per tick. */
#define JOBS_LEASE_MIN_MS 10000
#define JOBS_LEASE_MAX_MS (24 * 3600 * 1000)

/* What a job keeps across reloads; shared by a job, its successor and its runs. */
struct job_state {
    unsigned refs;
    int running;
    int64_t run_started_ms;
    unsigned long long runs, failures, skips;
    int has_last, last_ok;
    int64_t last_ms;               /* when the last finished run started */
    double last_duration_ms;
    char last_err[256];
    unsigned long long elsewhere, alone;
    int64_t logged_ms;             /* rate limit of this job's log lines */
    unsigned suppressed;
};

struct job;

/* A tick waiting for Redis to say whether it is ours to run. It belongs to one job at a
 * time (a reload hands it to the successor, so the tick is neither lost nor run twice);
 * freeing the job gives the lease back and the answer is never delivered. */
struct job_tick {
    struct job *jb;
    struct redis_lease *lease;
    int64_t due_ms;
};

struct job {
    struct jobs *jobs;
    enum jobs_kind kind;
    char *name, *spec, *zone, *tenant_key;
    double seconds;
    struct cron cron;
    struct tz *tz;
    struct script *s;
    void *gen;
    int fn_ref;
    int from_handler;              /* a lark.after of a handler: gone once fired */
    int fired;                     /* a lark.after that ran */
    int64_t next_ms;               /* wall clock; 0: none */
    struct event *timer;
    struct job_tick *tick;         /* a lease asked for, not yet answered */
    struct job_state *st;
    struct job *next;
};

struct jobs {
    struct event_base *base;
    jobs_start_fn start;
    void *arg;
    struct job *serving, *staged;
    void *gen;                     /* the serving generation */
    size_t pending_after;          /* handler lark.after jobs not yet fired */
    int stopped;
    unsigned long long runs, failures, skips, elsewhere, alone;
    struct redis *redis;           /* ticks are leased on it; NULL: run here */
    char owner[100];               /* this gateway, in the leases' values */
    int64_t alone_logged_ms;       /* one "Redis is down" line per JOBS_LOG_EVERY_MS */
    unsigned alone_suppressed;
};

/* One run under way: keeps the state alive past its job (reload, removal). */
struct job_run {
    struct jobs *jobs;
    struct job_state *st;
    char *label;                   /* "script: job name", for log lines */
};

static int64_t jobs_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void state_unref(struct job_state *st) {
    if (st && --st->refs == 0) free(st);
}

/* The lease is given back: this gateway will not run the tick. */
static void job_tick_cancel(struct job *jb) {
    if (!jb->tick) return;
    redis_lease_release(jb->tick->lease);
    free(jb->tick);
    jb->tick = NULL;
}

static void job_free(struct job *jb) {
    if (!jb) return;
    if (jb->timer) event_free(jb->timer);
    job_tick_cancel(jb);
    if (jb->from_handler && !jb->fired) jb->jobs->pending_after--;
    tz_free(jb->tz);
    state_unref(jb->st);
    free(jb->name);
    free(jb->spec);
    free(jb->zone);
    free(jb->tenant_key);
    free(jb);
}

static void job_list_free(struct job *jb) {
    while (jb) {
        struct job *next = jb->next;
        job_free(jb);
        jb = next;
    }
}

/* The first due time after `from` (ms); 0 when there is none (a fired one-shot).
 * Every ticks are the multiples of the period since the epoch: each gateway, whenever
 * it loaded, computes the same ones, and a tick's time names its lease. */
static int64_t job_next_after(const struct job *jb, int64_t from) {
    if (jb->kind == JOBS_AFTER) return 0;
    if (jb->kind == JOBS_EVERY) {
        int64_t p = (int64_t)llround(jb->seconds * 1000);
        int64_t q = from >= 0 ? from / p : -((-from + p - 1) / p);  /* floor */
        return (q + 1) * p;
    }
    int64_t sec = cron_next(&jb->cron, jb->tz, from >= 0 ? from / 1000 : (from - 999) / 1000);
    return sec < 0 ? 0 : sec * 1000;
}

static void job_on_timer(evutil_socket_t fd, short what, void *arg);

static void job_arm(struct job *jb) {
    struct jobs *j = jb->jobs;
    if (!j->base || j->stopped || !jb->next_ms) return;
    if (!jb->timer && !(jb->timer = evtimer_new(j->base, job_on_timer, jb))) {
        log_error("jobs", "%s: job %s: cannot arm its timer (out of memory)", jb->s->name,
                  jb->name);
        return;
    }
    int64_t wait = jb->next_ms - jobs_now_ms();
    if (wait < 0) wait = 0;
    if (wait > JOBS_REARM_MS) wait = JOBS_REARM_MS;
    struct timeval tv = { (time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000 };
    evtimer_add(jb->timer, &tv);
}

/* At most one line per job every JOBS_LOG_EVERY_MS; the rest are counted. */
static int job_may_log(struct job_state *st, int64_t now, unsigned *suppressed) {
    if (st->logged_ms && now - st->logged_ms < JOBS_LOG_EVERY_MS) {
        st->suppressed++;
        return 0;
    }
    *suppressed = st->suppressed;
    st->suppressed = 0;
    st->logged_ms = now;
    return 1;
}

static void job_run_done(void *arg, int status, const char *body, size_t len) {
    struct job_run *r = arg;
    struct job_state *st = r->st;
    int64_t now = jobs_now_ms();
    unsigned suppressed;
    st->running = 0;
    st->has_last = 1;
    st->last_ok = status == 200;
    st->last_ms = st->run_started_ms;
    st->last_duration_ms = (double)(now - st->run_started_ms);
    st->runs++;
    r->jobs->runs++;
    if (!st->last_ok) {
        st->failures++;
        r->jobs->failures++;
        snprintf(st->last_err, sizeof st->last_err, "%.*s", (int)len, body);
        if (job_may_log(st, now, &suppressed))
            log_error("jobs", "%s failed: %.*s%s", r->label, (int)len, body,
                      suppressed ? " (and earlier lines suppressed)" : "");
    } else {
        st->last_err[0] = '\0';
    }
    state_unref(st);
    free(r->label);
    free(r);
}

/* "2024-05-06T10:00:00Z", or with_ms "2024-05-06T10:00:00.200Z" (a tick in log lines). */
static void jobs_time_text(int64_t ms, int with_ms, char *buf, size_t len) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char day[24];
    gmtime_r(&t, &tm);
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    if (with_ms) snprintf(buf, len, "%s.%03dZ", day, (int)(ms % 1000));
    else snprintf(buf, len, "%sZ", day);
}

static void job_start(struct job *jb, int64_t due, int64_t now) {
    struct jobs *j = jb->jobs;
    struct job_run *r = calloc(1, sizeof *r);
    size_t n = strlen(jb->s->name) + strlen(jb->name) + 8;
    char tick[40];
    if (r) r->label = malloc(n);
    if (!r || !r->label) {
        free(r);
        log_error("jobs", "%s: job %s: out of memory, run skipped", jb->s->name, jb->name);
        return;
    }
    snprintf(r->label, n, "%s: job %s", jb->s->name, jb->name);
    r->jobs = j;
    r->st = jb->st;
    jb->st->refs++;
    jb->st->running = 1;
    jb->st->run_started_ms = now;
    jobs_time_text(due, 1, tick, sizeof tick);
    log_debug("jobs", "%s: job %s runs the tick of %s", jb->s->name, jb->name, tick);
    const struct jobs_run run = { jb->gen, jb->s, jb->fn_ref, jb->name, jb->tenant_key };
    j->start(j->arg, &run, job_run_done, r);
}

static void job_skip(struct job *jb, int64_t now) {
    unsigned suppressed;
    char tick[40];
    jb->st->skips++;
    jb->jobs->skips++;
    if (!job_may_log(jb->st, now, &suppressed))
        return;
    if (jb->st->running) {
        log_warn("jobs", "%s: job %s skipped: its previous run (started %.1f s ago) is still "
                 "going%s", jb->s->name, jb->name,
                 (double)(now - jb->st->run_started_ms) / 1000,
                 suppressed ? " (and earlier lines suppressed)" : "");
        return;
    }
    jobs_time_text(jb->tick->due_ms, 1, tick, sizeof tick);
    log_warn("jobs", "%s: job %s skipped: Redis has not yet answered for the tick of %s%s",
             jb->s->name, jb->name, tick, suppressed ? " (and earlier lines suppressed)" : "");
}

/* Redis is down (or the lease could not be asked for): the tick runs here, and maybe on
 * every other gateway too. Warned at most once every JOBS_LOG_EVERY_MS for the table. */
static void job_run_alone(struct job *jb, int64_t due, int64_t now) {
    struct jobs *j = jb->jobs;
    jb->st->alone++;
    j->alone++;
    if (j->alone_logged_ms && now - j->alone_logged_ms < JOBS_LOG_EVERY_MS) {
        j->alone_suppressed++;
    } else {
        char tick[40];
        jobs_time_text(due, 1, tick, sizeof tick);
        log_warn("jobs", "%s: job %s: Redis is unreachable, so the tick of %s runs here "
                 "alone, and maybe on other gateways too%s", jb->s->name, jb->name, tick,
                 j->alone_suppressed ? " (and earlier lines suppressed)" : "");
        j->alone_logged_ms = now;
        j->alone_suppressed = 0;
    }
    job_start(jb, due, now);
}

static void job_on_lease(void *arg, enum redis_lease_result res) {
    struct job_tick *t = arg;
    struct job *jb = t->jb;
    int64_t now = jobs_now_ms(), due = t->due_ms;
    jb->tick = NULL;
    redis_lease_keep(t->lease);  /* a held tick stays taken until its ttl lapses */
    free(t);
    if (res == REDIS_LEASE_TAKEN) {
        char tick[40];
        jb->st->elsewhere++;
        jb->jobs->elsewhere++;
        jobs_time_text(due, 1, tick, sizeof tick);
        log_debug("jobs", "%s: job %s: the tick of %s is another gateway's", jb->s->name,
                  jb->name, tick);
    } else if (jb->st->running) {  /* a successor of another kind started one meanwhile */
        job_skip(jb, now);
    } else if (res == REDIS_LEASE_HELD) {
        job_start(jb, due, now);
    } else {
        job_run_alone(jb, due, now);
    }
}

/* One period (to the next tick), clamped to [JOBS_LEASE_MIN_MS, JOBS_LEASE_MAX_MS]. */
static int job_lease_ttl(const struct job *jb, int64_t due) {
    int64_t next = job_next_after(jb, due), ttl = next ? next - due : JOBS_LEASE_MIN_MS;
    if (ttl < JOBS_LEASE_MIN_MS) ttl = JOBS_LEASE_MIN_MS;
    if (ttl > JOBS_LEASE_MAX_MS) ttl = JOBS_LEASE_MAX_MS;
    return (int)ttl;
}

/* Asks Redis whether the tick due is ours: the gateway that takes its lease runs it. */
static void job_ask(struct job *jb, int64_t due, int64_t now) {
    struct jobs *j = jb->jobs;
    size_t n = strlen(jb->s->name) + strlen(jb->name) + 48;
    char *name = malloc(n);
    struct job_tick *t = name ? calloc(1, sizeof *t) : NULL;
    if (t) {
        snprintf(name, n, "sched:%s:%s:%lld", jb->s->name, jb->name, (long long)due);
        *t = (struct job_tick){ jb, NULL, due };
        jb->tick = t;  /* before acquiring: the answer never comes before it returns */
        t->lease = redis_lease_acquire(j->redis, name, j->owner, job_lease_ttl(jb, due), 0,
                                       job_on_lease, t);
    }
    free(name);
    if (t && t->lease) return;
    free(t);
    jb->tick = NULL;
    job_run_alone(jb, due, now);  /* out of memory: as if Redis were down */
}

static void job_unlink(struct job *jb) {
    for (struct job **pp = &jb->jobs->serving; *pp; pp = &(*pp)->next)
        if (*pp == jb) {
            *pp = jb->next;
            return;
        }
}

static void job_on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct job *jb = arg;
    struct jobs *j = jb->jobs;
    int64_t now = jobs_now_ms();
    if (j->stopped) return;
    if (now < jb->next_ms) {  /* a re-arm on the way, or the clock went back */
        job_arm(jb);
        return;
    }
    int64_t due = jb->next_ms;
    if (jb->st->running || jb->tick) job_skip(jb, now);
    else if (j->redis && jb->kind != JOBS_AFTER) job_ask(jb, due, now);
    else job_start(jb, due, now);
    if (jb->kind == JOBS_AFTER) {
        jb->fired = 1;
        jb->next_ms = 0;
        if (jb->from_handler) {  /* its run holds the function now */
            j->pending_after--;
            luaL_unref(jb->s->L, LUA_REGISTRYINDEX, jb->fn_ref);
            job_unlink(jb);
            jb->from_handler = 0;
            job_free(jb);
        }
        return;
    }
    /* runs missed while the loop was stuck are not replayed */
    jb->next_ms = job_next_after(jb, now);
    job_arm(jb);
}

struct jobs *jobs_new(struct event_base *base, jobs_start_fn start, void *arg) {
    struct jobs *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->base = base;
    j->start = start;
    j->arg = arg;
    return j;
}

void jobs_free(struct jobs *j) {
    if (!j) return;
    job_list_free(j->serving);
    job_list_free(j->staged);
    free(j);
}

void jobs_begin(struct jobs *j) {
    job_list_free(j->staged);
    j->staged = NULL;
}

void jobs_abort(struct jobs *j) { jobs_begin(j); }

void jobs_set_redis(struct jobs *j, struct redis *r, const char *owner) {
    j->redis = r;
    snprintf(j->owner, sizeof j->owner, "%s", owner ? owner : "");
}

void jobs_stop(struct jobs *j) {
    j->stopped = 1;
    for (struct job *jb = j->serving; jb; jb = jb->next) {
        if (jb->timer) evtimer_del(jb->timer);
        job_tick_cancel(jb);
    }
}

static const char *jobs_kind_name(enum jobs_kind k) {
    return k == JOBS_EVERY ? "every" : k == JOBS_CRON ? "cron" : "after";
}

/* Parses the schedule and finds the zone; -1 with err. */
static int job_schedule(struct job *jb, const struct jobs_def *d, char *err, size_t errlen) {
    if (d->kind != JOBS_CRON) {
        double lo = d->kind == JOBS_EVERY ? 0.1 : 0, hi = 366.0 * 86400;
        if (!(d->seconds >= lo && d->seconds <= hi)) {
            snprintf(err, errlen, "seconds between %g and %g expected, got %g", lo, hi,
                     d->seconds);
            return -1;
        }
        jb->seconds = d->seconds;
        return 0;
    }
    char why[200];
    if (cron_parse(d->spec, &jb->cron, why, sizeof why) < 0) {
        snprintf(err, errlen, "bad cron spec \"%.64s\": %s", d->spec, why);
        return -1;
    }
    const char *zone = d->zone, *env = getenv("TZ");
    if (!zone && !(env && *env)) {
        zone = "UTC";  /* built in: no zone file needed */
    } else if (!zone) {  /* the process's TZ, as the system reads it */
        zone = env + (*env == ':');
        if (!(jb->tz = tz_load(zone, why, sizeof why))) jb->tz = tz_posix(zone);
        if (!jb->tz) {
            snprintf(err, errlen, "TZ=%.64s is neither a zone nor a rule: pass opts.tz", zone);
            return -1;
        }
    } else if (!(jb->tz = tz_load(zone, why, sizeof why))) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    return (jb->zone = strdup(zone)) ? 0 : -1;
}

static struct job *job_find(struct job *list, const struct script *s, const char *name) {
    for (struct job *jb = list; jb; jb = jb->next)
        if (!jb->from_handler && strcmp(jb->s->name, s->name) == 0 && strcmp(jb->name, name) == 0)
            return jb;
    return NULL;
}

static struct job *job_new(struct jobs *j, const struct jobs_def *d, char *err, size_t errlen) {
    struct job *jb = calloc(1, sizeof *jb);
    if (jb) jb->st = calloc(1, sizeof *jb->st);
    if (!jb || !jb->st) {
        free(jb);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    jb->st->refs = 1;
    jb->jobs = j;
    jb->kind = d->kind;
    jb->s = d->s;
    jb->name = strdup(d->name);
    jb->spec = strdup(d->kind == JOBS_CRON ? d->spec : "");
    jb->tenant_key = d->tenant_key ? strdup(d->tenant_key) : NULL;
    if (!jb->name || !jb->spec || (d->tenant_key && !jb->tenant_key)) {
        snprintf(err, errlen, "out of memory");
        job_free(jb);
        return NULL;
    }
    if (job_schedule(jb, d, err, errlen) < 0) {
        job_free(jb);
        return NULL;
    }
    jb->fn_ref = d->fn_ref;
    int64_t now = jobs_now_ms();
    jb->next_ms = jb->kind == JOBS_AFTER ? now + (int64_t)llround(jb->seconds * 1000)
                                         : job_next_after(jb, now);
    return jb;
}

int jobs_add(struct jobs *j, const struct jobs_def *d, int in_handler, char *err,
             size_t errlen) {
    if (in_handler && d->s->gen != j->gen) {
        snprintf(err, errlen, "the scripts were reloaded: jobs of the retired generation "
                 "are cancelled");
        return -1;
    }
    if (in_handler && j->pending_after >= JOBS_MAX_PENDING) {
        snprintf(err, errlen, "too many lark.after jobs waiting (%d)", JOBS_MAX_PENDING);
        return -1;
    }
    if (!in_handler && job_find(j->staged, d->s, d->name)) {
        snprintf(err, errlen, "a job named \"%s\" is already registered in this script "
                 "(give each its own opts.name)", d->name);
        return -1;
    }
    struct job *jb = job_new(j, d, err, errlen);
    if (!jb) return -1;
    if (!in_handler) {  /* kept in registration order, for /admin/jobs */
        struct job **tail = &j->staged;
        while (*tail) tail = &(*tail)->next;
        *tail = jb;
        return 0;
    }
    jb->from_handler = 1;
    jb->gen = d->s->gen;
    j->pending_after++;
    jb->next = j->serving;
    j->serving = jb;
    job_arm(jb);
    return 0;
}

static int job_same_schedule(const struct job *a, const struct job *b) {
    return a->kind == b->kind && a->seconds == b->seconds && strcmp(a->spec, b->spec) == 0 &&
           strcmp(a->zone ? a->zone : "", b->zone ? b->zone : "") == 0;
}

/* The new job takes over the old one's state, and its due time if the schedule is the
 * same: the timer goes on as if no reload had happened. A tick whose lease Redis has
 * not answered yet becomes the new job's (run by its function if held). */
static void job_take_over(struct job *jb, struct job *old) {
    state_unref(jb->st);
    jb->st = old->st;
    jb->st->refs++;
    if (job_same_schedule(jb, old)) {
        jb->next_ms = old->next_ms;
        jb->fired = old->fired;
    }
    if (old->tick && jb->kind != JOBS_AFTER) {
        jb->tick = old->tick;
        jb->tick->jb = jb;
        old->tick = NULL;
    }
}

void jobs_commit(struct jobs *j, void *gen) {
    size_t carried = 0, n = 0, cancelled = j->pending_after;
    for (struct job *jb = j->staged; jb; jb = jb->next, n++) {
        jb->gen = gen;
        struct job *old = job_find(j->serving, jb->s, jb->name);
        if (old) {
            job_take_over(jb, old);
            carried++;
        }
    }
    job_list_free(j->serving);
    j->serving = j->staged;
    j->staged = NULL;
    j->gen = gen;
    for (struct job *jb = j->serving; jb; jb = jb->next) job_arm(jb);
    if (n || carried || cancelled)
        log_info("jobs", "%zu job%s registered (%zu carried over)%s", n, n == 1 ? "" : "s",
                 carried, cancelled ? "; pending lark.after jobs of handlers cancelled" : "");
}

void jobs_get_stats(const struct jobs *j, struct jobs_stats *out) {
    memset(out, 0, sizeof *out);
    for (const struct job *jb = j->serving; jb; jb = jb->next)
        if (!jb->fired) out->jobs++;
    out->runs = j->runs;
    out->failures = j->failures;
    out->skips = j->skips;
    out->elsewhere = j->elsewhere;
    out->alone = j->alone;
}

static void json_time(cJSON *o, const char *key, int64_t ms) {
    char buf[40];
    if (!ms) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    jobs_time_text(ms, 0, buf, sizeof buf);
    cJSON_AddStringToObject(o, key, buf);
}

static cJSON *job_json(const struct job *jb) {
    const struct job_state *st = jb->st;
    char spec[64];
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    if (jb->kind == JOBS_CRON) snprintf(spec, sizeof spec, "%s", jb->spec);
    else snprintf(spec, sizeof spec, "%g s", jb->seconds);
    cJSON_AddStringToObject(o, "script", jb->s->name);
    cJSON_AddStringToObject(o, "name", jb->name);
    cJSON_AddStringToObject(o, "kind", jobs_kind_name(jb->kind));
    cJSON_AddStringToObject(o, "spec", spec);
    if (jb->zone) cJSON_AddStringToObject(o, "tz", jb->zone);
    json_time(o, "next_run", jb->next_ms);
    cJSON_AddBoolToObject(o, "running", st->running);
    cJSON_AddNumberToObject(o, "runs", (double)st->runs);
    cJSON_AddNumberToObject(o, "failures", (double)st->failures);
    cJSON_AddNumberToObject(o, "skips", (double)st->skips);
    cJSON_AddNumberToObject(o, "elsewhere", (double)st->elsewhere);
    cJSON_AddNumberToObject(o, "alone", (double)st->alone);
    json_time(o, "last_run", st->has_last ? st->last_ms : 0);
    if (st->has_last) {
        cJSON_AddStringToObject(o, "last_result", st->last_ok ? "ok" : "failed");
        cJSON_AddNumberToObject(o, "last_duration_ms", st->last_duration_ms);
        if (!st->last_ok) cJSON_AddStringToObject(o, "last_error", st->last_err);
    } else {
        cJSON_AddNullToObject(o, "last_result");
    }
    return o;
}

char *jobs_json(const struct jobs *j) {
    cJSON *root = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(root, "jobs");
    for (const struct job *jb = j->serving; list && jb; jb = jb->next) {
        cJSON *o = job_json(jb);
        if (o) cJSON_AddItemToArray(list, o);
    }
    char *text = list ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}
