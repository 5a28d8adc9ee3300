#include "lua/sched.h"

#include "base/util.h"
#include "lua/limits.h"
#include "lua/runtime.h"
#include "lua/script.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sched {
    struct sched_task *tasks;
    struct sched_io io;
    lua_CFunction msgh;
};

static int plain_msgh(lua_State *L) {
    if (!lua_isstring(L, 1))
        lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    return 1;
}

struct sched *sched_new(lua_CFunction msgh) {
    struct sched *sc = calloc(1, sizeof *sc);
    if (sc) sc->msgh = msgh ? msgh : plain_msgh;
    return sc;
}

struct sched_io *sched_io(struct sched *sc) { return &sc->io; }

void sched_free(struct sched *sc) {
    if (!sc) return;
    while (sc->tasks) sched_cancel(sc->tasks);
    free(sc);
}

struct sched_task *sched_task_new(struct sched *sc, struct script *s, long budget_ms,
                                  sched_end_fn on_end, void *arg) {
    struct sched_task *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->sched = sc;
    t->script = s;
    t->co_ref = t->event_ref = LUA_NOREF;
    t->budget_ms = budget_ms;
    t->on_end = on_end;
    t->arg = arg;
    t->next = sc->tasks;
    if (sc->tasks) sc->tasks->prev = t;
    sc->tasks = t;
    return t;
}

void sched_task_free(struct sched_task *t) {
    struct script *s = t->script;
    lua_State *L = s->L;
    if (t->wait.cancel) t->wait.cancel(t->wait.arg);   /* nothing may wake a freed task */
    if (t->co && lua_resetthread(t->co) == LUA_OK && s->nidle < SCRIPT_IDLE_THREADS) {
        s->idle[s->nidle].co = t->co;
        s->idle[s->nidle++].ref = t->co_ref;
    } else {
        luaL_unref(L, LUA_REGISTRYINDEX, t->co_ref);
    }
    luaL_unref(L, LUA_REGISTRYINDEX, t->event_ref);
    if (t->prev) t->prev->next = t->next;
    else t->sched->tasks = t->next;
    if (t->next) t->next->prev = t->prev;
    free(t);
    /* after a limit, give the memory back now (the dead thread is unanchored above) */
    if (s->limit_hit) {
        s->limit_hit = 0;
        lua_gc(L, LUA_GCCOLLECT);
    }
}

static int entry(lua_State *L);

lua_State *sched_newthread(lua_State *L, struct sched_task *t) {
    struct script *s = script_of(L);
    lua_State *co;
    if (s->nidle) {
        s->nidle--;
        co = s->idle[s->nidle].co;
        t->co_ref = s->idle[s->nidle].ref;
    } else {
        co = lua_newthread(L);
        lua_getfield(L, LUA_REGISTRYINDEX, SCRIPT_HANDLER_THREADS);
        lua_pushvalue(L, -2);
        lua_pushboolean(L, 1);
        lua_rawset(L, -3);
        lua_pop(L, 1);
        t->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    t->co = co;
    lua_pushcfunction(co, entry);  /* a new thread has LUA_MINSTACK free slots */
    return co;
}

/* Runs the handler under a pcall at the base of its coroutine, then re-raises: an error
 * thrown by the time-limit hook leaves Lua's "hooks allowed" flag off until a pcall
 * catches it, and without this catch the coroutine's pending __close handlers would
 * run, unkillable, when the thread is reset. */
static int entry_k(lua_State *L, int status, lua_KContext ctx) {
    (void)ctx;
    if (status == LUA_OK || status == LUA_YIELD) {
        lua_remove(L, 1);
        return lua_gettop(L);
    }
    struct sched_task *t = script_of(L)->current;
    if (t) t->entry_status = status;
    return lua_error(L);
}

static int entry(lua_State *L) {
    lua_pushcfunction(L, script_of(L)->current->sched->msgh);
    lua_insert(L, 1);
    int status = lua_pcallk(L, lua_gettop(L) - 2, LUA_MULTRET, 1, 0, entry_k);
    return entry_k(L, status, 0);
}

static void format_error(struct sched_task *t, int status) {
    lua_State *co = t->co;
    const char *msg = lua_tostring(co, -1);
    if (status == LUA_ERRMEM || t->entry_status == LUA_ERRMEM)
        snprintf(t->err, sizeof t->err, "not enough memory (limits.memory_mb = %d)",
                 t->script->limits->memory_mb);
    else
        snprintf(t->err, sizeof t->err, "%s", msg ? msg : "(error without a message)");
}

static enum sched_status map_status(struct sched_task *t, int status) {
    struct script *s = t->script;
    if (status == LUA_OK) return SCHED_DONE;
    if (status == LUA_YIELD) {
        if (t->wait.push) return SCHED_YIELDED;
        /* coroutine.yield on the handler's own thread: nobody would ever wake it */
        snprintf(t->err, sizeof t->err, "%s: attempt to yield from a handler outside a "
                 "coroutine", s->name);
        return SCHED_ERROR;
    }
    format_error(t, status);
    if (status == LUA_ERRMEM || t->entry_status == LUA_ERRMEM) return SCHED_NOMEM;
    return s->timed_out ? SCHED_TIMEOUT : SCHED_ERROR;
}

static enum sched_status sched_resume(struct sched_task *t, int nargs) {
    struct script *s = t->script;
    s->current = t;
    s->timed_out = 0;
    s->limit_hit = 0;
    limits_budget_start(s, t->budget_ms);
    limits_arm(t->co);
    int nres = 0;
    int status = lua_resume(t->co, s->L, nargs, &nres);
    t->budget_ms -= limits_budget_used(s);
    s->current = NULL;
    t->nres = nres;
    enum sched_status st = map_status(t, status);
    if (st == SCHED_NOMEM) s->limit_hit = 1;
    if (st != SCHED_YIELDED) t->on_end(t, st);
    return st;
}

enum sched_status sched_start(struct sched_task *t, int nargs) {
    return sched_resume(t, nargs + 1);
}

struct sched_task *sched_current(lua_State *L) {
    struct sched_task *t = script_of(L)->current;
    return t && t->co == L ? t : NULL;
}

/* Runs inside the resumed coroutine, so whatever push raises (memory) is the handler's
 * error like any other, never a panic. */
static int resume_push(lua_State *L, int status, lua_KContext ctx) {
    (void)status;
    struct sched_task *t = (struct sched_task *)ctx;
    struct sched_wait w = t->woken;
    memset(&t->woken, 0, sizeof t->woken);
    return w.push ? w.push(L, w.arg) : 0;
}

int sched_suspend(lua_State *L, const struct sched_wait *w) {
    struct sched_task *t = sched_current(L);
    if (!t || !lua_isyieldable(L)) {
        /* the binding already started its I/O: stop it, or it would wake a dead task */
        if (w->cancel) w->cancel(w->arg);
        return luaL_error(L, t ? "this call cannot wait here (inside a metamethod, a "
                                 "table.sort comparator or a gsub callback)"
                               : "this call is only allowed in a handler, outside coroutines");
    }
    t->wait = *w;
    return lua_yieldk(L, 0, (lua_KContext)t, resume_push);
}

void sched_wake(struct sched_task *t) {
    t->woken = t->wait;
    memset(&t->wait, 0, sizeof t->wait);
    sched_resume(t, 0);
}

void sched_cancel(struct sched_task *t) {
    struct sched_wait w = t->wait;
    memset(&t->wait, 0, sizeof t->wait);
    if (w.cancel) w.cancel(w.arg);
    if (!t->err[0]) snprintf(t->err, sizeof t->err, "cancelled");
    t->on_end(t, SCHED_CANCELLED);
}
