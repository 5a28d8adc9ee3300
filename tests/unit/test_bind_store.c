/* lark.store (src/lua/bind_store.c) over src/store: types, errors as values, bounds,
 * shared by scripts, kept across reloads. */
#include "test.h"
#include "test_lua_fixture.h"

#include "store/store.h"

static void load_ok(struct fixture *fx) {
    char err[512];
    CHECK_EQ_INT(fx_load(fx, err, sizeof err), 0);
}

static void test_types(void) {
    struct fixture fx;
    fx_init(&fx);
    fx_write(&fx, "a.lua",
             "local s = lark.store\n"
             "assert(s.set('boot', 'loaded at top level') == true)\n"
             "function on_event()\n"
             "  assert(s.get('boot') == 'loaded at top level')\n"
             "  assert(s.get('missing') == nil)\n"
             "  assert(s.set('str', 'a\\0b') and s.get('str') == 'a\\0b')\n"
             "  assert(s.set('int', 42) and math.type(s.get('int')) == 'integer' and s.get('int') == 42)\n"
             "  assert(s.set('flt', 2.5) and math.type(s.get('flt')) == 'float' and s.get('flt') == 2.5)\n"
             "  assert(s.set('yes', true) and s.get('yes') == true)\n"
             "  assert(s.set('no', false) and s.get('no') == false)\n"
             "  assert(s.set('int', 'now a string') and s.get('int') == 'now a string')\n"
             "  assert(s.set('yes', nil) and s.get('yes') == nil)\n"
             "  assert(s.delete('no') == true and s.delete('no') == false and s.get('no') == nil)\n"
             "  assert(s.incr('n') == 1 and s.incr('n', 10) == 11 and s.incr('n', -12) == -1)\n"
             "  local v, err = s.incr('str')\n"
             "  assert(v == nil and err == 'value is not an integer', err)\n"
             "  assert(s.set('ttl', 'x', 60) and s.get('ttl') == 'x')\n"
             "  local ok, e = pcall(s.set, 'k', {})\n"
             "  assert(not ok and e:find('bad argument #2 to .- %(string, number, boolean or nil expected, got table%)'), e)\n"
             "  ok, e = pcall(s.set, 'k', 1, -1) assert(not ok and e:find('bad argument #3'), e)\n"
             "  ok, e = pcall(s.incr, 'n', 1.5) assert(not ok and e:find('bad argument #2'), e)\n"
             "  ok, e = pcall(s.get) assert(not ok and e:find('bad argument #1'), e)\n"
             "  assert(not pcall(s.set, 'f', print))\n"
             "end\n");
    load_ok(&fx);
    CHECK_EQ_INT(RUN_MSG(&fx), 200);
    CHECK(fx_log_lacks(&fx, "handler failed"));
    fx_free(&fx);
}

static void test_bounds(void) {
    struct fixture fx;
    fx_init(&fx);
    fx.opts.store_max_entries = 3;
    fx.opts.store_max_bytes = 4096;
    fx_write(&fx, "a.lua",
             "local s = lark.store\n"
             "function on_event()\n"
             "  assert(s.set('a', 1) and s.set('b', 2) and s.set('c', 3))\n"
             "  local ok, err = s.set('d', 4)\n"
             "  assert(ok == nil and err == 'store is full (store.max_entries / store.max_bytes)', err)\n"
             "  ok, err = s.incr('e')\n"
             "  assert(ok == nil and err:find('store is full'), err)\n"
             "  assert(s.set('a', 'replacing is fine') and s.delete('c') and s.set('d', 4))\n"
             "  ok, err = s.set('big', string.rep('x', 5000))\n"
             "  assert(ok == nil and err == 'value larger than store.max_bytes', err)\n"
             "  ok, err = s.set('a', string.rep('x', 4000))\n"
             "  assert(ok == nil and err:find('store is full'), err)\n"
             "  assert(s.get('a') == 'replacing is fine')\n"
             "end\n");
    load_ok(&fx);
    CHECK_EQ_INT(RUN_MSG(&fx), 200);
    fx_free(&fx);
}

/* Scripts run in name order: a.lua writes, b.lua reads in the same event. The values
 * outlive a reload, and the store is the one the gateway hands the runtime. */
static void test_shared_and_reload(void) {
    struct fixture fx;
    fx_init(&fx);
    struct store *st = store_new(100, 1 << 20, NULL);
    fx.rt = runtime_new(NULL, &fx.opts);
    runtime_set_store(fx.rt, st);
    fx_write(&fx, "a.lua", "function on_event() assert(lark.store.incr('hits') >= 1) end\n");
    fx_write(&fx, "b.lua", "function on_event() lark.log.info('b sees', lark.store.get('hits')) end\n");
    load_ok(&fx);
    CHECK_EQ_INT(RUN_MSG(&fx), 200);
    CHECK(fx_log_has(&fx, "b sees 1"));
    fx_write(&fx, "b.lua", "function on_event() lark.log.info('new b sees', lark.store.get('hits')) end\n");
    load_ok(&fx);
    CHECK_EQ_INT(RUN_MSG(&fx), 200);
    CHECK(fx_log_has(&fx, "new b sees 2"));
    struct store_value v;
    store_get(st, "hits", 4, &v);
    CHECK_EQ_INT(v.type, STORE_INTEGER);
    CHECK_EQ_INT(v.u.i, 2);
    fx_free(&fx);
    store_free(st);
}

int main(void) {
    RUN(test_types);
    RUN(test_bounds);
    RUN(test_shared_and_reload);
    return test_report();
}
