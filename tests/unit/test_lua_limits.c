/* Limits per state and per event (src/lua/limits.c, limits_lib.c): each attack fails
 * its own event with one log line naming the script and the limit, the state goes on
 * serving, and its memory comes back. */
#include "test.h"
#include "test_lua_fixture.h"

#define LIMIT_EVENT "bad.lua: event ev-test-1 (im.message.receive_v1): handler failed: "

static void fx_limits(struct fixture *fx) {
    fx_init(fx);
    fx->opts.limits.max_recursion = 100;
    fx->opts.limits.max_coroutines = 50;
}

static void add_mem(void *arg, const char *name, size_t bytes) {
    if (strcmp(name, "bad.lua") == 0) *(size_t *)arg = bytes;
}

static size_t bad_mem(struct fixture *fx) {
    size_t bytes = 0;
    runtime_foreach_script(fx->rt, add_mem, &bytes);
    return bytes;
}

static int count_lines(struct fixture *fx, const char *needle) {
    char *log = fx_log(fx);
    int n = 0;
    for (const char *p = log; (p = strstr(p, needle)); p++) n++;
    free(log);
    return n;
}

/* The attack runs on the first event only; the second must answer 200 from the same
 * state, whose memory is back near where it started. */
static void attack(const char *body, const char *limit_msg) {
    struct fixture fx;
    char err[512], script[4096];
    fx_limits(&fx);
    snprintf(script, sizeof script,
             "runs = 0\nfunction on_event(event)\n  runs = runs + 1\n"
             "  if runs == 1 then\n%s\n  end\n  lark.log.info('served', runs)\nend\n", body);
    fx_write(&fx, "bad.lua", script);
    fx_write(&fx, "good.lua", "function on_event() lark.log.info('good ran') end\n");
    CHECK_EQ_INT(fx_load(&fx, err, sizeof err), 0);
    size_t before = bad_mem(&fx);
    CHECK_EQ_INT(RUN_MSG(&fx), 500);
    CHECK(fx_log_has(&fx, LIMIT_EVENT));
    CHECK(fx_log_has(&fx, limit_msg));
    CHECK_EQ_INT(count_lines(&fx, limit_msg), 1);
    CHECK_EQ_INT(count_lines(&fx, "handler failed"), 1);
    CHECK(fx_log_has(&fx, "good ran"));
    size_t after = bad_mem(&fx);
    if (after > before + (256u << 10))
        fprintf(stderr, "memory not back: %zu bytes before, %zu after (%s)\n", before, after, body);
    CHECK(after <= before + (256u << 10));
    CHECK_EQ_INT(RUN_MSG(&fx), 200);
    CHECK(fx_log_has(&fx, "served 2"));
    fx_free(&fx);
}

#define TIME "time budget spent (limits.handler_timeout_ms = 200)"
#define MEM "not enough memory (limits.memory_mb = 16)"
#define DEPTH "recursion too deep (limits.max_recursion = 100)"
#define COROS "too many coroutines (limits.max_coroutines = 50)"

static void test_time_and_memory(void) {
    attack("local t = {} while true do t[#t + 1] = {} end", MEM);
    attack("local t = {} for i = 1, 1e5 do t[i] = {i} end while true do end", TIME);
    attack("local s = string.rep('x', 2^31)", MEM);
    attack("local s = ('x'):rep(1 << 40, ',')", MEM);
    attack("local s = string.rep('x', math.maxinteger)", MEM);
}

/* Stock string.rep("", n) loops n times over nothing, and table.* loop as far as a
 * __len or an index says, on absent keys that cost no memory: hours in C. */
static void test_c_loops(void) {
    attack("local s = string.rep('', 1 << 62) assert(s == '') while true do end", TIME);
    attack("table.insert(setmetatable({}, {__len = function() return math.maxinteger - 1 end}), 1, 'x')",
           TIME);
    attack("table.remove(setmetatable({}, {__len = function() return math.maxinteger end}), 1)", TIME);
    attack("table.move({}, 1, 1 << 60, 2)", TIME);
    attack("table.concat(setmetatable({}, {__index = table.concat}), '', 1, 1 << 60)", TIME);
    attack("local t = {} for i = 1, 60 do t = {t, t} end lark.json.encode(t)", TIME);
}

static void test_patterns(void) {
    attack("string.rep('a', 5000):find('.-.-.-.-.-.-b')", TIME);
    attack("local s = string.rep('a', 5000) s:match('(.-)(.-)(.-)(.-)(.-)(.-)b')", TIME);
    attack("for m in string.rep('a', 5000):gmatch('.-.-.-.-.-.-b') do end", TIME);
    attack("string.gsub(string.rep('a', 5000), '.-.-.-.-.-.-b', 'x')", TIME);
    attack("string.find(string.rep('a', 5000), '(.*)*.*.*.*b')", TIME);
    /* pcall does not keep it: the next line dies */
    attack("local ok = pcall(string.find, string.rep('a', 5000), '.-.-.-.-.-.-b')\n"
           "lark.log.info('survived the pattern')", TIME);
}

static void test_recursion(void) {
    attack("local function f(n) return 1 + f(n + 1) end f(1)", DEPTH);
    attack("local function f() local t = {f()} return t end f()", DEPTH);
    attack("local f f = function(n) return pcall(f, n + 1) end f(1) while true do end", TIME);
    attack("local co = coroutine.wrap(function() local function f(n) return 1 + f(n) end f(1) end) co()",
           DEPTH);
}

static void test_coroutines(void) {
    attack("local keep = {} for i = 1, 1e6 do\n"
           "  keep[i] = coroutine.create(function() coroutine.yield() end)\n"
           "  coroutine.resume(keep[i]) end", COROS);
    attack("while true do coroutine.wrap(function() end)() end", COROS);
    attack("local function bomb() return coroutine.wrap(function() bomb()() end) end bomb()()", COROS);
}

/* Under the limits, everything works as in stock Lua 5.4, and the limits are per event. */
static void test_within_limits(void) {
    struct fixture fx;
    char err[512];
    fx_limits(&fx);
    fx_write(&fx, "ok.lua",
             "local made = {}\n"
             "for i = 1, 40 do made[i] = coroutine.wrap(function() return i end) end\n"
             "function on_event()\n"
             "  for i = 1, 40 do assert(coroutine.wrap(function() return i end)() == i) end\n"
             "  local function g(n) if n == 0 then return 0 end return 1 + g(n - 1) end\n"
             "  assert(g(60) == 60)\n"
             "  assert(string.rep('ab', 3, ',') == 'ab,ab,ab' and string.rep('x', 0) == '')\n"
             "  assert(string.rep('', 5, '-') == '----' and ('z'):rep(2) == 'zz')\n"
             "  assert(table.concat({1, 'b', 3}, '+') == '1+b+3' and table.concat({}) == '')\n"
             "  assert(table.concat({'a', 'b', 'c'}, '', 2, 3) == 'bc')\n"
             "  assert(not pcall(table.concat, {1, {}, 3}))\n"
             "  local t = {1, 2, 3} table.insert(t, 'x') table.insert(t, 1, 'y')\n"
             "  assert(table.concat(t, ',') == 'y,1,2,3,x')\n"
             "  assert(table.remove(t) == 'x' and table.remove(t, 1) == 'y' and #t == 3)\n"
             "  assert(not pcall(table.insert, t, 9, 'z') and not pcall(table.insert, t, 1, 2, 3))\n"
             "  assert(table.remove({}) == nil)\n"
             "  local m = table.move({1, 2, 3}, 1, 3, 2) assert(table.concat(m, ',') == '1,1,2,3')\n"
             "  local d = table.move({1, 2, 3}, 1, 3, 1, {}) assert(#d == 3)\n"
             "  assert(('hello world'):find('o w') == 5 and ('k=v'):match('(%w+)=(%w+)') == 'k')\n"
             "  assert(select(2, ('aaa'):gsub('a', 'b')) == 3)\n"
             "  assert(lark.json.decode(string.rep(' ', 1 << 20) .. '1') == nil)\n"
             "  return {n = #made}\n"
             "end\n");
    CHECK_EQ_INT(fx_load(&fx, err, sizeof err), 0);
    CHECK_EQ_INT(RUN_MSG(&fx), 200);
    CHECK_EQ_STR(fx.body, "{\"n\":40}");
    CHECK_EQ_INT(RUN_MSG(&fx), 200);
    fx_free(&fx);
}

/* The top level has the same limits; a script that breaks one does not load. */
static void test_top_level(void) {
    struct fixture fx;
    char err[512];
    fx_limits(&fx);
    fx_write(&fx, "a.lua", "local s = ('a'):rep(5000) s:find('.-.-.-.-.-.-b')\n");
    CHECK_EQ_INT(fx_load(&fx, err, sizeof err), -1);
    CHECK_CONTAINS(err, "/a.lua:1: " TIME);
    fx_write(&fx, "a.lua", "for i = 1, 51 do coroutine.create(print) end\n");
    CHECK_EQ_INT(fx_load(&fx, err, sizeof err), -1);
    CHECK_CONTAINS(err, "/a.lua:1: " COROS);
    fx_write(&fx, "a.lua", "local function f() return 1 + f() end\nf()\n");
    CHECK_EQ_INT(fx_load(&fx, err, sizeof err), -1);
    CHECK_CONTAINS(err, "/a.lua:1: " DEPTH);
    fx_free(&fx);
}

/* A line printed through lark.log is bounded, whatever the script hands it. */
static void test_log_bounded(void) {
    struct fixture fx;
    char err[512];
    fx_init(&fx);
    fx_write(&fx, "a.lua", "function on_event() lark.log.info('big', string.rep('y', 1 << 20)) end\n");
    CHECK_EQ_INT(fx_load(&fx, err, sizeof err), 0);
    CHECK_EQ_INT(RUN_MSG(&fx), 200);
    char *log = fx_log(&fx);
    CHECK(strlen(log) < 4000);
    CHECK_CONTAINS(log, "yyyy... (truncated)");
    free(log);
    fx_free(&fx);
}

int main(void) {
    RUN(test_time_and_memory);
    RUN(test_c_loops);
    RUN(test_patterns);
    RUN(test_recursion);
    RUN(test_coroutines);
    RUN(test_within_limits);
    RUN(test_top_level);
    RUN(test_log_bounded);
    return test_report();
}
