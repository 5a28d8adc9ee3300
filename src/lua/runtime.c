#include "lua/runtime.h"

#include "base/log.h"
#include "base/util.h"
#include "lua/bind.h"
#include "lua/embedded.h"
#include "lua/jobs.h"
#include "lua/json.h"
#include "lua/sched.h"
#include "lua/script.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char body_success[] = "{\"msg\":\"success\"}";
static const char body_failed[] = "{\"msg\":\"handler failed\"}";

/* All scripts' states as loaded together. A reload builds a new one; the old one is
 * freed when the last run using it ends (refs counts runs, plus one while serving). */
struct generation {
    struct script **scripts;
    size_t n;
    unsigned refs;
    struct generation *next;  /* in rt->retired */
};

struct runtime {
    struct event_base *base;
    struct runtime_options opts;
    struct sched *sched;
    struct generation *current, *retired;
    struct store *store;        /* lark.store: the gateway's, else own_store */
    struct store *own_store;    /* made on first load when nobody set one (check, tests) */
    struct jobs *jobs;          /* lark.every/cron/after of the serving generation */
    const struct bind_vars_options *vars;   /* lark.vars of the next generation */
};

/* One event's trip through every script of a generation. */
struct run {
    struct runtime *rt;
    struct generation *gen;
    runtime_done_fn done;
    void *arg;
    int pending, failed;
    int job;                    /* a schedule's run: no body; the error goes to done */
    char *job_err;
    size_t body_rank;           /* of the answer taken: catch-all or not, then script order */
    char *body;
    size_t body_len;
    char *event_id, *event_type, *tenant_key;
    struct sched_task **tasks;  /* by script index: the ones parked in a binding */
    unsigned char *catchall;    /* by script index: 1 when on_event handles the event */
    size_t ntasks;
    uint64_t started_ms;
    struct event *wall;         /* limits.handler_max_s; armed at the first yield */
};

static void gen_free(struct generation *g) {
    if (!g) return;
    for (size_t i = 0; i < g->n; i++) script_close(g->scripts[i]);
    free(g->scripts);
    free(g);
}

static void gen_unref(struct runtime *rt, struct generation *g) {
    if (--g->refs) return;
    log_debug("lua", "a retired generation of %zu script%s closed: its last handler ended",
              g->n, g->n == 1 ? "" : "s");
    for (struct generation **pp = &rt->retired; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    gen_free(g);
}

static void runtime_start_job(void *arg, const struct jobs_run *job, runtime_done_fn done,
                              void *done_arg);

struct runtime *runtime_new(struct event_base *base, const struct runtime_options *opts) {
    struct runtime *rt = calloc(1, sizeof *rt);
    if (!rt) return NULL;
    rt->base = base;
    rt->opts = *opts;
    rt->vars = opts->vars;
    rt->sched = sched_new(bind_error_handler);
    if (!rt->sched) {
        free(rt);
        return NULL;
    }
    sched_io(rt->sched)->base = base;
    rt->jobs = jobs_new(base, runtime_start_job, rt);
    if (!rt->jobs) {
        sched_free(rt->sched);
        free(rt);
        return NULL;
    }
    return rt;
}

static int lua_path_has(const char *dir, const char *file) {
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", dir, file);
    return n > 0 && (size_t)n < sizeof path && access(path, R_OK) == 0;
}

/* With lua_path set, every part of the Lua half of lark built in must be there too
 * (lark/init.lua, the entry, named first): a missing one would otherwise fail handlers
 * one by one, long after the start. */
static int check_lua_path(const char *dir, char *err, size_t errlen) {
    const char *missing = lua_path_has(dir, "lark/init.lua") ? NULL : "lark/init.lua";
    for (const struct embedded_file *f = embedded_files; !missing && f->path; f++)
        if (!lua_path_has(dir, f->path)) missing = f->path;
    if (!missing) return 0;
    snprintf(err, errlen, "lua_path %s has no readable %s: the Lua half of lark is "
             "incomplete there (unset lua_path to use the copy built in)", dir, missing);
    return -1;
}

void runtime_set_openapi(struct runtime *rt, struct openapi *api) {
    sched_io(rt->sched)->api = api;
}

void runtime_set_http(struct runtime *rt, struct bind_http *http) {
    sched_io(rt->sched)->http = http;
}

void runtime_set_redis(struct runtime *rt, struct redis *r, const char *owner) {
    jobs_set_redis(rt->jobs, r, owner);
}

void runtime_set_vars(struct runtime *rt, const struct bind_vars_options *vars) {
    rt->vars = vars;
}

void runtime_free(struct runtime *rt) {
    if (!rt) return;
    sched_free(rt->sched);     /* job runs end first: their done callbacks count */
    jobs_free(rt->jobs);
    gen_free(rt->current);
    while (rt->retired) {
        struct generation *g = rt->retired;
        rt->retired = g->next;
        gen_free(g);
    }
    store_free(rt->own_store);
    free(rt);
}

size_t runtime_script_count(const struct runtime *rt) {
    return rt->current ? rt->current->n : 0;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_script(const char *dir, const char *name) {
    size_t n = strlen(name);
    if (name[0] == '.' || n < 5 || strcmp(name + n - 4, ".lua") != 0) return 0;
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The *.lua names of dir, sorted; -1 with err when dir cannot be read. */
static int list_scripts(const char *dir, char ***out, size_t *count, char *err, size_t errlen) {
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "scripts: cannot open %s: %s", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_script(dir, e->d_name)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) break;
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name))) break;
        n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_names);
    *out = names;
    *count = n;
    return 0;
}

void runtime_set_store(struct runtime *rt, struct store *store) { rt->store = store; }

static struct store *runtime_store(struct runtime *rt) {
    if (!rt->store && !rt->own_store)
        rt->own_store = store_new(rt->opts.store_max_entries, rt->opts.store_max_bytes, NULL);
    return rt->store ? rt->store : rt->own_store;
}

void runtime_foreach_script(const struct runtime *rt, runtime_script_fn fn, void *arg) {
    const struct generation *g = rt->current;
    for (size_t i = 0; g && i < g->n; i++) fn(arg, g->scripts[i]->name, g->scripts[i]->mem_used);
}

size_t runtime_retired_count(const struct runtime *rt) {
    size_t n = 0;
    for (const struct generation *g = rt->retired; g; g = g->next) n++;
    return n;
}

static struct generation *gen_load(struct runtime *rt, char *err, size_t errlen) {
    const char *dir = rt->opts.scripts ? rt->opts.scripts : ".";
    const char *lua_dir = rt->opts.lua_path;
    char **names;
    size_t n;
    if (lua_dir && check_lua_path(lua_dir, err, errlen) < 0) return NULL;
    if (list_scripts(dir, &names, &n, err, errlen) < 0) return NULL;
    struct generation *g = calloc(1, sizeof *g);
    if (g && n) g->scripts = calloc(n, sizeof *g->scripts);
    if (!g || (n && !g->scripts)) {
        snprintf(err, errlen, "scripts: out of memory");
        free(g);
        g = NULL;
    }
    for (size_t i = 0; g && i < n; i++) {
        const struct script_args a = { &rt->opts.limits, dir, names[i], lua_dir,
                                       runtime_store(rt), rt->vars, rt->jobs };
        g->scripts[i] = script_open(&a, err, errlen);
        if (!g->scripts[i]) {
            gen_free(g);
            g = NULL;
            break;
        }
        g->scripts[i]->gen = g;
        lua_gc(g->scripts[i]->L, LUA_GCCOLLECT);  /* each generation starts without garbage */
        log_debug("lua", "%s loaded: its state uses %.1f KiB", names[i],
                  (double)lua_gc(g->scripts[i]->L, LUA_GCCOUNT) +
                  lua_gc(g->scripts[i]->L, LUA_GCCOUNTB) / 1024.0);
        g->n++;
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (g) g->refs = 1;
    return g;
}

int runtime_load(struct runtime *rt, char *err, size_t errlen) {
    jobs_begin(rt->jobs);
    struct generation *g = gen_load(rt, err, errlen);
    if (!g) {
        jobs_abort(rt->jobs);
        return -1;
    }
    struct generation *old = rt->current;
    rt->current = g;
    jobs_commit(rt->jobs, g);  /* while the old generation is still open */
    if (old) {
        old->next = rt->retired;
        rt->retired = old;
        gen_unref(rt, old);
    }
    log_info("lua", "%zu script%s loaded from %s (the Lua half of lark: %s)", g->n,
             g->n == 1 ? "" : "s", rt->opts.scripts ? rt->opts.scripts : ".",
             rt->opts.lua_path ? rt->opts.lua_path : "built in");
    return 0;
}

int runtime_check(const struct runtime_options *opts, char *err, size_t errlen) {
    struct runtime *rt = runtime_new(NULL, opts);
    if (!rt) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = runtime_load(rt, err, errlen);
    runtime_free(rt);
    return rc;
}

static void run_finish(struct run *r) {
    if (r->failed && r->job_err) r->done(r->arg, 500, r->job_err, strlen(r->job_err));
    else if (r->failed) r->done(r->arg, 500, body_failed, sizeof body_failed - 1);
    else if (r->body) r->done(r->arg, 200, r->body, r->body_len);
    else r->done(r->arg, 200, body_success, sizeof body_success - 1);
    if (r->gen) gen_unref(r->rt, r->gen);
    if (r->wall) event_free(r->wall);
    free(r->body);
    free(r->job_err);
    free(r);
}

/* The first result, if a table, becomes the answer (card callbacks). Handlers finish in
 * any order, so the answer kept is the one of best rank: a specific handler outranks an
 * on_event catch-all, then the script first by file name wins. */
static void take_body(struct run *r, struct sched_task *t) {
    struct script *s = t->script;
    lua_State *co = t->co, *L = s->L;
    size_t rank = (size_t)r->catchall[t->index] * r->ntasks + (size_t)t->index;
    if (t->nres < 1 || !lua_istable(co, -t->nres) || (r->body && rank >= r->body_rank))
        return;
    lua_settop(co, -t->nres);
    if (!lua_checkstack(L, 2)) return;
    lua_xmove(co, L, 1);
    size_t len;
    char *buf = json_encode(L, -1, &len);
    char *copy = buf ? malloc(len + 1) : NULL;
    if (!copy) {
        log_error("lua", "%s: event %s (%s): the returned table is not JSON: %s", s->name,
                  r->event_id, r->event_type, buf ? "out of memory" : lua_tostring(L, -1));
        r->failed = 1;
    } else {
        memcpy(copy, buf, len);
        copy[len] = '\0';
        free(r->body);
        r->body = copy;
        r->body_len = len;
        r->body_rank = rank;
    }
    json_buffer_free(L, buf);
    lua_settop(L, 0);
}

static void task_end(struct sched_task *t, enum sched_status st) {
    struct run *r = t->arg;
    if (r->job) {
        /* the jobs table logs it, with the job's name and a rate limit */
        if (st != SCHED_DONE && !r->job_err) r->job_err = strdup(t->err);
        if (st != SCHED_DONE) r->failed = 1;
    } else if (st == SCHED_DONE) {
        take_body(r, t);
    } else {
        log_error("lua", "%s: event %s (%s): handler failed: %s", t->script->name, r->event_id,
                  r->event_type, t->err);
        r->failed = 1;
    }
    r->tasks[t->index] = NULL;
    sched_task_free(t);
    if (--r->pending == 0) run_finish(r);
}

/* Wall time is bounded for handlers that wait (the CPU budget bounds the others). */
static void run_on_wall(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct run *r = arg;
    int max_s = r->rt->opts.limits.handler_max_s;
    r->pending++;  /* r lives until every task is ended */
    for (size_t i = 0; i < r->ntasks; i++) {
        struct sched_task *t = r->tasks[i];
        if (!t) continue;
        snprintf(t->err, sizeof t->err, "killed: still running after limits.handler_max_s = %d s",
                 max_s);
        sched_cancel(t);
    }
    if (--r->pending == 0) run_finish(r);
}

static void run_arm_wall(struct run *r) {
    struct runtime *rt = r->rt;
    if (r->wall || !rt->base) return;
    int64_t left = (int64_t)rt->opts.limits.handler_max_s * 1000
                   - (int64_t)(util_now_ms() - r->started_ms);
    if (left < 0) left = 0;
    struct timeval tv = { (time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000 };
    r->wall = evtimer_new(rt->base, run_on_wall, r);
    if (r->wall) evtimer_add(r->wall, &tv);
}

struct prep {
    struct script *s;
    struct sched_task *t;
    const struct runtime_event *ev;  /* NULL: a job, fn_ref its function */
    int fn_ref;
    int found;                  /* 0, or the SCRIPT_HANDLER_* kind (a job: specific) */
    int nargs;
};

/* The verification token proves an event came from the platform; the dispatcher has
 * checked it. Scripts never need it, and a debug print of the event would log it. */
static void strip_token(lua_State *L, int event) {
    lua_pushnil(L);
    lua_setfield(L, event, "token");            /* schema 1.0 */
    if (lua_getfield(L, event, "header") == LUA_TTABLE) {
        lua_pushnil(L);
        lua_setfield(L, -2, "token");           /* schema 2.0 */
    }
    lua_pop(L, 1);
}

/* Under pcall on the script's main thread: everything here may run out of memory. */
static int prepare(lua_State *L) {
    struct prep *p = lua_touserdata(L, 1);
    if (!p->ev) {
        if (lua_rawgeti(L, LUA_REGISTRYINDEX, p->fn_ref) != LUA_TFUNCTION) return 0;
        lua_State *co = sched_newthread(L, p->t);
        lua_xmove(L, co, 1);
        p->found = SCRIPT_HANDLER_SPECIFIC;
        return 0;
    }
    int kind = script_push_handler(p->s, p->ev->event_type, p->ev->handler_name);
    if (!kind) return 0;
    lua_State *co = sched_newthread(L, p->t);
    json_push(L, p->ev->root);
    if (lua_istable(L, -1)) strip_token(L, lua_gettop(L));
    lua_pushvalue(L, -1);
    p->t->event_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_xmove(L, co, 2);
    p->found = kind;
    p->nargs = 1;
    return 0;
}

static void run_script(struct run *r, struct script *s, int index, const struct runtime_event *ev,
                       int fn_ref) {
    struct sched_task *t = sched_task_new(r->rt->sched, s,
                                          r->rt->opts.limits.handler_timeout_ms, task_end, r);
    if (!t) {
        r->failed = 1;
        return;
    }
    t->index = index;
    t->event_id = r->event_id;
    t->tenant_key = r->tenant_key[0] ? r->tenant_key : NULL;
    struct prep p = { s, t, ev, fn_ref, 0, 0 };
    lua_pushcfunction(s->L, prepare);
    lua_pushlightuserdata(s->L, &p);
    if (lua_pcall(s->L, 1, 0, 0) != LUA_OK) {
        log_error("lua", "%s: event %s (%s): cannot start the handler: %s", s->name, r->event_id,
                  r->event_type, lua_tostring(s->L, -1));
        lua_settop(s->L, 0);
        r->failed = 1;
        p.found = 0;
    }
    if (!p.found) {
        sched_task_free(t);
        return;
    }
    r->catchall[index] = p.found == SCRIPT_HANDLER_CATCHALL;
    r->pending++;
    if (sched_start(t, p.nargs) == SCHED_YIELDED) {
        r->tasks[index] = t;
        run_arm_wall(r);
    }
}

/* lark.api's default tenant: header.tenant_key (schema 2.0) or event.tenant_key (1.0). */
static const char *tenant_of(const cJSON *root) {
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(root, "header");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(h, "tenant_key");
    if (!cJSON_IsString(k)) {
        h = cJSON_GetObjectItemCaseSensitive(root, "event");
        k = cJSON_GetObjectItemCaseSensitive(h, "tenant_key");
    }
    return cJSON_IsString(k) ? k->valuestring : "";
}

/* A run of ntasks handlers; its strings are copied. NULL when out of memory. */
static struct run *run_new(struct runtime *rt, size_t ntasks, const char *id, const char *type,
                           const char *tenant, runtime_done_fn done, void *arg) {
    size_t idlen = strlen(id), typelen = strlen(type), tklen = strlen(tenant);
    struct run *r = calloc(1, sizeof *r + ntasks * (sizeof *r->tasks + 1) + idlen + typelen
                              + tklen + 3);
    if (!r) return NULL;
    r->tasks = (struct sched_task **)(r + 1);
    r->ntasks = ntasks;
    r->catchall = (unsigned char *)(r->tasks + ntasks);
    r->event_id = (char *)(r->catchall + ntasks);
    r->event_type = r->event_id + idlen + 1;
    r->tenant_key = r->event_type + typelen + 1;
    memcpy(r->event_id, id, idlen + 1);
    memcpy(r->event_type, type, typelen + 1);
    memcpy(r->tenant_key, tenant, tklen + 1);
    r->started_ms = util_now_ms();
    r->rt = rt;
    r->done = done;
    r->arg = arg;
    return r;
}

void runtime_run(struct runtime *rt, const struct runtime_event *ev, runtime_done_fn done,
                 void *arg) {
    size_t ntasks = rt->current ? rt->current->n : 0;
    struct run *r = run_new(rt, ntasks, ev->event_id ? ev->event_id : "", ev->event_type,
                            tenant_of(ev->root), done, arg);
    if (!r) {
        done(arg, 500, body_failed, sizeof body_failed - 1);
        return;
    }
    /* the run holds itself open until every handler has started */
    r->pending = 1;
    struct generation *g = rt->current;
    if (g) {
        r->gen = g;
        g->refs++;
        for (size_t i = 0; i < g->n; i++) run_script(r, g->scripts[i], (int)i, ev, LUA_NOREF);
    }
    if (--r->pending == 0) run_finish(r);
}

/* A job's run is a run of one handler, its function, on the generation it came from:
 * same funnel, budget, handler_max_s and cancellation as events. */
static void runtime_start_job(void *arg, const struct jobs_run *job, runtime_done_fn done,
                              void *done_arg) {
    struct runtime *rt = arg;
    static const char nomem[] = "out of memory";
    struct run *r = run_new(rt, 1, job->name, "job", job->tenant_key ? job->tenant_key : "",
                            done, done_arg);
    if (!r) {
        done(done_arg, 500, nomem, sizeof nomem - 1);
        return;
    }
    r->job = 1;
    r->pending = 1;
    r->gen = job->gen;
    r->gen->refs++;
    run_script(r, job->s, 0, NULL, job->fn_ref);
    if (--r->pending == 0) run_finish(r);
}

char *runtime_jobs_json(const struct runtime *rt) { return jobs_json(rt->jobs); }

void runtime_get_job_stats(const struct runtime *rt, struct runtime_job_stats *out) {
    struct jobs_stats js;
    jobs_get_stats(rt->jobs, &js);
    out->jobs = js.jobs;
    out->runs = js.runs;
    out->failures = js.failures;
    out->skips = js.skips;
    out->elsewhere = js.elsewhere;
    out->alone = js.alone;
}

void runtime_stop_jobs(struct runtime *rt) { jobs_stop(rt->jobs); }
