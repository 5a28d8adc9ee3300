/* The scheduler's yield / wake / cancel seam, driven by a test binding the way the
 * yielding bindings (lark.api.*, lark.sleep) use it. */
#include "test.h"
#include "test_lua_fixture.h"

#include <lauxlib.h>

#include "lua/bind.h"
#include "lua/json.h"
#include "lua/sched.h"
#include "lua/script.h"

struct op {
    struct sched_task *task;
    int cancelled, result;
};
static struct op op;

static int push_result(lua_State *co, void *arg) {
    struct op *o = arg;
    lua_pushinteger(co, o->result);
    lua_pushliteral(co, "woken");
    return 2;
}

static void cancel_op(void *arg) { ((struct op *)arg)->cancelled = 1; }

static int test_wait(lua_State *L) {
    struct sched_task *t = sched_current(L);
    if (!t) return luaL_error(L, "test_wait is only allowed in a handler, outside coroutines");
    op.task = t;
    return sched_suspend(L, &(struct sched_wait){ push_result, cancel_op, &op });
}

static enum sched_status ended;
static int ended_calls;
static char ended_err[512];
static void on_end(struct sched_task *t, enum sched_status st) {
    ended = st;
    ended_calls++;
    snprintf(ended_err, sizeof ended_err, "%s", st == SCHED_DONE ? "" : t->err);
    if (st == SCHED_DONE && t->nres == 1 && lua_isinteger(t->co, -1))
        op.result = (int)lua_tointeger(t->co, -1);
    sched_task_free(t);
}

struct prep {
    struct script *s;
    struct sched_task *t;
    cJSON *root;
};

static int prepare(lua_State *L) {
    struct prep *p = lua_touserdata(L, 1);
    if (!script_push_handler(p->s, "im.message.receive_v1", "on_p2_message_receive_v1"))
        return luaL_error(L, "no handler");
    lua_State *co = sched_newthread(L, p->t);
    json_push(L, p->root);
    lua_pushvalue(L, -1);
    p->t->event_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_xmove(L, co, 2);
    return 0;
}

static struct sched_task *start(struct sched *sc, struct script *s, long budget_ms) {
    cJSON *root = cJSON_Parse(MSG_EVENT);
    struct sched_task *t = sched_task_new(sc, s, budget_ms, on_end, NULL);
    struct prep p = { s, t, root };
    lua_pushcfunction(s->L, prepare);
    lua_pushlightuserdata(s->L, &p);
    CHECK_EQ_INT(lua_pcall(s->L, 1, 0, 0), LUA_OK);
    cJSON_Delete(root);
    t->event_id = "ev-sched";
    ended_calls = 0;
    return t;
}

static struct script *open_script(struct fixture *fx, const char *text) {
    char err[512];
    fx_write(fx, "s.lua", text);
    const struct script_args a = { .limits = &fx->opts.limits, .dir = fx->dir, .file = "s.lua" };
    struct script *s = script_open(&a, err, sizeof err);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    lua_rawgeti(s->L, LUA_REGISTRYINDEX, s->builtins_ref);
    lua_pushcfunction(s->L, test_wait);
    lua_setfield(s->L, -2, "test_wait");
    lua_pop(s->L, 1);
    return s;
}

static void test_yield_and_wake(void) {
    struct fixture fx;
    fx_init(&fx);
    struct script *s = open_script(&fx,
        "function on_p2_message_receive_v1(e)\n"
        "  local n, word = test_wait()\n"
        "  lark.log.info('resumed', n, word, lark.event.header.event_id)\n"
        "  local ok, err = coroutine.wrap(function() return pcall(test_wait) end)()\n"
        "  assert(not ok and err:find('only allowed'), err)\n"
        "  return n * 2\n"
        "end\n");
    struct sched *sc = sched_new(bind_error_handler);
    struct sched_task *t = start(sc, s, 1000);
    CHECK_EQ_INT(sched_start(t, 1), SCHED_YIELDED);
    CHECK_EQ_INT(ended_calls, 0);
    CHECK(op.task == t);
    op.result = 21;
    sched_wake(t);
    CHECK_EQ_INT(ended_calls, 1);
    CHECK_EQ_INT(ended, SCHED_DONE);
    CHECK_EQ_INT(op.result, 42);
    CHECK(fx_log_has(&fx, "s.lua [ev-sched]: resumed 21 woken ev-test-1"));
    sched_free(sc);
    script_close(s);
    fx_free(&fx);
}

static void test_cancel(void) {
    struct fixture fx;
    fx_init(&fx);
    struct script *s = open_script(&fx,
        "function on_p2_message_receive_v1(e)\n"
        "  local x <close> = setmetatable({}, {__close = function() lark.log.info('closed') end})\n"
        "  test_wait()\n"
        "  lark.log.info('must not run')\n"
        "end\n");
    struct sched *sc = sched_new(bind_error_handler);
    op.cancelled = 0;
    struct sched_task *t = start(sc, s, 1000);
    CHECK_EQ_INT(sched_start(t, 1), SCHED_YIELDED);
    sched_cancel(t);
    CHECK_EQ_INT(op.cancelled, 1);
    CHECK_EQ_INT(ended, SCHED_CANCELLED);
    CHECK(fx_log_has(&fx, "closed"));
    CHECK(fx_log_lacks(&fx, "must not run"));
    /* sched_free cancels whatever is still parked */
    op.cancelled = 0;
    t = start(sc, s, 1000);
    CHECK_EQ_INT(sched_start(t, 1), SCHED_YIELDED);
    sched_free(sc);
    CHECK_EQ_INT(op.cancelled, 1);
    CHECK_EQ_INT(ended_calls, 1);
    script_close(s);
    fx_free(&fx);
}

/* The budget bills running time only, and a spent budget kills the next slice. */
static void test_budget(void) {
    struct fixture fx;
    fx_init(&fx);
    struct script *s = open_script(&fx,
        "function on_p2_message_receive_v1(e)\n"
        "  test_wait()\n"
        "  local x = 0 for i = 1, 1000 do x = x + i end\n"
        "  test_wait()\n"
        "  while true do end\n"
        "end\n");
    struct sched *sc = sched_new(bind_error_handler);
    struct sched_task *t = start(sc, s, 250);
    CHECK_EQ_INT(sched_start(t, 1), SCHED_YIELDED);
    usleep(400 * 1000);  /* parked longer than the whole budget: not billed */
    sched_wake(t);
    CHECK_EQ_INT(ended_calls, 0);
    CHECK(t->budget_ms > 0);
    sched_wake(t);
    CHECK_EQ_INT(ended_calls, 1);
    CHECK_EQ_INT(ended, SCHED_TIMEOUT);
    CHECK_CONTAINS(ended_err, "s.lua:5: time budget spent");
    sched_free(sc);
    script_close(s);
    fx_free(&fx);
}

int main(void) {
    RUN(test_yield_and_wake);
    RUN(test_cancel);
    RUN(test_budget);
    return test_report();
}
