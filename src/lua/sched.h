/* The scheduler: owns every handler coroutine, runs it through ONE resume funnel
 * (a static in sched.c, the only caller of lua_resume), bills its CPU time against a budget and
 * parks it while it waits for I/O. Private to src/lua/.
 *
 * A task's life: the runtime creates it (sched_task_new), builds its coroutine inside a
 * protected call (sched_newthread, then moving the handler and its arguments onto the
 * thread), then calls sched_start. The funnel maps lua_resume's status to one
 * enum sched_status; for every status but SCHED_YIELDED it calls the task's on_end
 * exactly once, and on_end must call sched_task_free.
 *
 * A yielding binding (lark.api.*, lark.sleep) does, on the handler's thread:
 *     struct sched_task *t = sched_current(L);     NULL: not allowed here, raise
 *     ... validate arguments, start the I/O or timer ...
 *     return sched_suspend(L, &(struct sched_wait){ push_fn, cancel_fn, ctx });
 * When the I/O ends, its libevent callback records the outcome in ctx and calls
 * sched_wake(t): the coroutine is resumed and, first thing inside it (a lua_yieldk
 * continuation, so a raise there is an ordinary handler error), push_fn(co, ctx) pushes
 * the binding's results (e.g. res or nil, err) and returns how many.
 * sched_cancel(t) (reload, shutdown, handler_max_s) calls cancel_fn(ctx) first, so
 * nothing fires into a dead coroutine, then ends the task with SCHED_CANCELLED.
 * Time spent yielded is not billed: the budget (limits.handler_timeout_ms) counts
 * running time only. */
#ifndef LARKGW_LUA_SCHED_H
#define LARKGW_LUA_SCHED_H

#include <lua.h>

struct script;
struct sched;
struct event_base;
struct openapi;
struct bind_http;

enum sched_status {
    SCHED_DONE,       /* returned: its results are on t->co (t->nres of them) */
    SCHED_YIELDED,    /* parked in a binding, waiting for sched_wake */
    SCHED_ERROR,      /* raised: t->err holds "file:line: message" */
    SCHED_TIMEOUT,    /* spent its time budget (t->err says where) */
    SCHED_NOMEM,      /* hit the state's memory cap */
    SCHED_CANCELLED,  /* sched_cancel */
};

struct sched_wait {
    int (*push)(lua_State *co, void *arg);  /* pushes the results, returns their count; required */
    void (*cancel)(void *arg);              /* stops the pending operation */
    void *arg;
};

struct sched_task;
typedef void (*sched_end_fn)(struct sched_task *t, enum sched_status st);

struct sched_task {
    struct sched *sched;
    struct script *script;
    lua_State *co;
    int co_ref, event_ref;       /* registry anchors, LUA_NOREF when unset */
    long budget_ms;              /* running time left */
    struct sched_wait wait;      /* set while yielded */
    struct sched_wait woken;     /* between sched_wake and the push step */
    sched_end_fn on_end;
    void *arg;                   /* the owner's */
    int index;                   /* the owner's */
    const char *event_id;        /* for log lines; owned by the owner */
    const char *tenant_key;      /* the event's, lark.api's default; owned by the owner */
    int nres;
    int entry_status;            /* how the handler's base pcall ended */
    int coroutines;              /* created by this event, for limits.max_coroutines */
    char err[512];
    struct sched_task *prev, *next;  /* every live task, for sched_cancel_all */
};

/* msgh is the message handler of each handler's base pcall: it turns the error value
 * into the text t->err gets ("file:line: message"); it runs with hooks off, so it must
 * call no Lua code. NULL: the error value is kept when it is a string. */
struct sched *sched_new(lua_CFunction msgh);

/* What yielding bindings start their I/O on; the runtime fills it. A NULL member makes
 * the bindings that need it fail cleanly (nil, err) instead of yielding. */
struct sched_io {
    struct event_base *base;
    struct openapi *api;
    struct bind_http *http;    /* lark.http */
};
struct sched_io *sched_io(struct sched *sc);
/* Cancels every live task (their on_end runs), then frees the scheduler. */
void sched_free(struct sched *sc);

/* A task for script s with a budget of budget_ms; NULL when out of memory. */
struct sched_task *sched_task_new(struct sched *sc, struct script *s, long budget_ms,
                                  sched_end_fn on_end, void *arg);
/* Unanchors the coroutine and the event and frees t. */
void sched_task_free(struct sched_task *t);

/* Inside a protected call on s->L: creates t's coroutine, anchors it, returns it.
 * Raises on memory errors. The caller then pushes the handler and its arguments. */
lua_State *sched_newthread(lua_State *L, struct sched_task *t);

/* First run: the handler and its nargs arguments are on t->co. */
enum sched_status sched_start(struct sched_task *t, int nargs);

/* The running task when L is its own coroutine (a binding may yield), else NULL. */
struct sched_task *sched_current(lua_State *L);
/* Parks the running task until sched_wake (a binding's `return sched_suspend(...)`).
 * Named so as not to shadow libc's sched_yield(2), which sanitizers call. */
int sched_suspend(lua_State *L, const struct sched_wait *w);
/* Resumes a parked task: w.push runs first inside it; then as sched_start. */
void sched_wake(struct sched_task *t);
/* t->err, when the caller set it first, is kept as the reason ("killed: ..."). */
void sched_cancel(struct sched_task *t);

#endif
