/* lark.sleep(seconds): parks the handler's coroutine on a timer; other events go on. */
#include "lua/bind.h"
#include "lua/sched.h"

#include <event2/event.h>
#include <lauxlib.h>
#include <stdlib.h>

#define SLEEP_MAX_S 86400

struct sleep_wait {
    struct event *timer;
    struct sched_task *t;
};

static int push_nothing(lua_State *co, void *arg) {
    (void)co;
    struct sleep_wait *w = arg;
    event_free(w->timer);
    free(w);
    return 0;
}

static void cancel_sleep(void *arg) {
    struct sleep_wait *w = arg;
    event_free(w->timer);
    free(w);
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct sleep_wait *w = arg;
    sched_wake(w->t);
}

int bind_sleep(lua_State *L) {
    lua_Number s = luaL_checknumber(L, 1);
    luaL_argcheck(L, s >= 0 && s <= SLEEP_MAX_S, 1, "seconds between 0 and 86400 expected");
    struct sched_task *t = sched_current(L);
    if (!t)
        return luaL_error(L, "lark.sleep: only allowed in a handler (not at a script's top "
                          "level, nor in a coroutine the script created)");
    struct event_base *base = sched_io(t->sched)->base;
    if (!base) return luaL_error(L, "lark.sleep: no event loop (checking scripts offline?)");
    struct sleep_wait *w = malloc(sizeof *w);
    if (!w || !(w->timer = evtimer_new(base, on_timer, w))) {
        free(w);
        return luaL_error(L, "lark.sleep: out of memory");
    }
    w->t = t;
    long long us = (long long)(s * 1e6);
    struct timeval tv = { (time_t)(us / 1000000), (suseconds_t)(us % 1000000) };
    evtimer_add(w->timer, &tv);
    return sched_suspend(L, &(struct sched_wait){ push_nothing, cancel_sleep, w });
}
