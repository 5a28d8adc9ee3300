#include "test.h"
#include "test_lua_fixture.h"

#include <sys/stat.h>

static void load_ok(struct fixture *fx) {
    char err[512];
    CHECK_EQ_INT(fx_load(fx, err, sizeof err), 0);
}

static void test_conventional_handler_runs(void) {
    struct fixture fx;
    fx_init(&fx);
    fx_write(&fx, "a.lua",
             "function on_p2_message_receive_v1(event)\n"
             "  lark.log.info('got', event.header.event_id, event.event.message.message_id)\n"
             "end\n");
    load_ok(&fx);
    CHECK_EQ_INT(RUN_MSG(&fx), 200);
    CHECK_EQ_INT(fx.calls, 1);
    CHECK_EQ_STR(fx.body, "{\"msg\":\"success\"}");
    CHECK(fx_log_has(&fx, "a.lua [ev-test-1]: got ev-test-1 om_1"));
    fx_free(&fx);
}

/* lark.on beats the conventional name, which beats on_event. */
static void test_lookup_order(void) {
    struct fixture fx;
    fx_init(&fx);
    fx_write(&fx, "1.lua",
             "lark.on('im.message.receive_v1', function() lark.log.info('one: lark.on') end)\n"
             "function on_p2_message_receive_v1() lark.log.info('one: conventional') end\n"
             "function on_event() lark.log.info('one: on_event') end\n");
    fx_write(&fx, "2.lua",
             "function on_p2_message_receive_v1() lark.log.info('two: conventional') end\n"
             "function on_event() lark.log.info('two: on_event') end\n");
    fx_write(&fx, "3.lua", "function on_event(e) lark.log.info('three: on_event', e.header and e.header.event_type) end\n");
    fx_write(&fx, "4.lua", "local x = 1\n");
    fx_write(&fx, "5.lua", "on_p2_message_receive_v1 = 'not a function'\n"
                           "function on_event() lark.log.info('five: on_event') end\n");
    load_ok(&fx);
    CHECK_EQ_INT(RUN_MSG(&fx), 200);
    CHECK(fx_log_has(&fx, "one: lark.on"));
    CHECK(fx_log_lacks(&fx, "one: conventional"));
    CHECK(fx_log_lacks(&fx, "one: on_event"));
    CHECK(fx_log_has(&fx, "two: conventional"));
    CHECK(fx_log_lacks(&fx, "two: on_event"));
    CHECK(fx_log_has(&fx, "three: on_event im.message.receive_v1"));
    CHECK(fx_log_has(&fx, "five: on_event"));
    /* schema 1.0 type through lark.on, other scripts fall back to on_event */
    fx_write(&fx, "1.lua", "lark.on('message', function(e) lark.log.info('v1 via lark.on', e.uuid) end)\n");
    load_ok(&fx);
    CHECK_EQ_INT(fx_run(&fx, "{\"uuid\":\"u7\",\"type\":\"event_callback\",\"event\":{\"type\":\"message\"}}",
                        "message", "on_p1_message_receive_v1"), 200);
    CHECK(fx_log_has(&fx, "v1 via lark.on u7"));
    fx_free(&fx);
}

static void test_error_is_500_with_position(void) {
    struct fixture fx;
    fx_init(&fx);
    fx_write(&fx, "a.lua", "function on_event() lark.log.info('a ran') end\n");
    fx_write(&fx, "b.lua", "\n\nfunction on_event(e)\n  local t = nil\n  return t.x\nend\n");
    fx_write(&fx, "c.lua", "function on_event() lark.log.info('c ran') end\n");
    fx_write(&fx, "d.lua", "function on_event() error({code = 1}) end\n");
    load_ok(&fx);
    CHECK_EQ_INT(RUN_MSG(&fx), 500);
    CHECK_EQ_STR(fx.body, "{\"msg\":\"handler failed\"}");
    CHECK(fx_log_has(&fx, "a ran"));
    CHECK(fx_log_has(&fx, "c ran"));
    CHECK(fx_log_has(&fx, "b.lua: event ev-test-1 (im.message.receive_v1): handler failed: "));
    CHECK(fx_log_has(&fx, "/b.lua:5: attempt to index a nil value (local 't')"));
    CHECK(fx_log_has(&fx, "/d.lua:1: (error object is a table value)"));
    fx_free(&fx);
}

static void test_table_return_is_body(void) {
    struct fixture fx;
    fx_init(&fx);
    fx_write(&fx, "a.lua", "function on_event() return true end\n");
    fx_write(&fx, "b.lua", "function on_event() return {toast = {type = 'info', content = 'ok \"q\"'},"
                           " n = 3, list = {1, 2.5, 'x', false}} end\n");
    fx_write(&fx, "c.lua", "function on_event() return {second = true} end\n");
    load_ok(&fx);
    CHECK_EQ_INT(RUN_MSG(&fx), 200);
    cJSON *body = cJSON_Parse(fx.body);
    CHECK(body != NULL);
    CHECK(cJSON_GetObjectItem(body, "second") == NULL);
    cJSON *toast = cJSON_GetObjectItem(body, "toast");
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(toast, "content")), "ok \"q\"");
    CHECK_EQ_INT(cJSON_GetObjectItem(body, "n")->valueint, 3);
    cJSON *list = cJSON_GetObjectItem(body, "list");
    CHECK_EQ_INT(cJSON_GetArraySize(list), 4);
    CHECK(cJSON_GetArrayItem(list, 1)->valuedouble == 2.5);
    CHECK(cJSON_IsFalse(cJSON_GetArrayItem(list, 3)));
    cJSON_Delete(body);
    /* a table that is not JSON fails the event */
    fx_write(&fx, "a.lua", "function on_event() return {f = print} end\n");
    load_ok(&fx);
    CHECK_EQ_INT(RUN_MSG(&fx), 500);
    CHECK(fx_log_has(&fx, "the returned table is not JSON: cannot encode a function"));
    fx_free(&fx);
}

static void test_event_fields_and_api(void) {
    struct fixture fx;
    fx_init(&fx);
    fx_write(&fx, "a.lua",
             "function on_p2_message_receive_v1(event)\n"
             "  assert(event.schema == '2.0')\n"
             "  assert(event.header.tenant_key == 'tk1')\n"
             "  assert(lark.event == event, 'lark.event is the current event')\n"
             "  local c = lark.json.decode(event.event.message.content)\n"
             "  assert(c.text == '@_user_1 hi there')\n"
             "  assert(lark.message.text(event) == 'hi there')\n"
             "  local s = lark.json.encode({a = {1, 2}, b = lark.json.null})\n"
             "  assert(s == '{\"a\":[1,2],\"b\":null}' or s == '{\"b\":null,\"a\":[1,2]}', s)\n"
             "  local v, err = lark.json.decode('{bad')\n"
             "  assert(v == nil and err == 'invalid JSON')\n"
             "  local d = lark.json.decode('{\"x\":null,\"y\":[1,null,3],\"z\":1.5,\"i\":7}')\n"
             "  assert(d.x == nil and d.y[3] == 3 and d.y[2] == nil and d.z == 1.5)\n"
             "  assert(math.type(d.i) == 'integer')\n"
             "  assert(type(lark.now()) == 'number' and lark.now() > 1.6e9)\n"
             "  print('printed', 1, nil)\n"
             "  lark.log.warn('line1\\nline2')\n"
             "  return {ok = true}\n"
             "end\n"
             "assert(lark.event == nil)\n");
    load_ok(&fx);
    CHECK_EQ_INT(RUN_MSG(&fx), 200);
    CHECK_EQ_STR(fx.body, "{\"ok\":true}");
    CHECK(fx_log_has(&fx, "INFO  lua: a.lua [ev-test-1]: printed\t1\tnil"));
    CHECK(fx_log_has(&fx, "WARN  lua: a.lua [ev-test-1]: line1\\nline2"));
    fx_free(&fx);
}

static void test_load_errors(void) {
    struct fixture fx;
    char err[512];
    fx_init(&fx);
    fx_write(&fx, "good.lua", "function on_event() lark.log.info('good v1') end\n");
    CHECK_EQ_INT(fx_load(&fx, err, sizeof err), 0);
    fx_write(&fx, "good.lua", "function on_event() lark.log.info('good v2') end\n");
    fx_write(&fx, "syntax.lua", "function on_event(\n  x = \nend\n");
    CHECK_EQ_INT(fx_load(&fx, err, sizeof err), -1);
    CHECK_CONTAINS(err, "/syntax.lua:2: ')' expected near '='");
    /* the serving generation stays */
    CHECK_EQ_INT(RUN_MSG(&fx), 200);
    CHECK(fx_log_has(&fx, "good v1"));
    CHECK(fx_log_lacks(&fx, "good v2"));
    fx_write(&fx, "syntax.lua", "local a = 1\nerror('broken at load')\n");
    CHECK_EQ_INT(fx_load(&fx, err, sizeof err), -1);
    CHECK_CONTAINS(err, "/syntax.lua:2: broken at load");
    CHECK_EQ_INT(runtime_check(&fx.opts, err, sizeof err), -1);
    CHECK_CONTAINS(err, "/syntax.lua:2: broken at load");
    fx_write(&fx, "syntax.lua", "while true do end\n");
    CHECK_EQ_INT(fx_load(&fx, err, sizeof err), -1);
    CHECK_CONTAINS(err, "/syntax.lua:1: time budget spent");
    fx_write(&fx, "syntax.lua", "return 1\n");
    CHECK_EQ_INT(fx_load(&fx, err, sizeof err), 0);
    CHECK_EQ_INT(runtime_check(&fx.opts, err, sizeof err), 0);
    CHECK_EQ_INT(runtime_script_count(fx.rt), 2);
    CHECK_EQ_INT(RUN_MSG(&fx), 200);
    CHECK(fx_log_has(&fx, "good v2"));
    /* the runtime copied its options: a directory that cannot be read, in a new one */
    fx.opts.scripts = "/nonexistent/dir";
    CHECK_EQ_INT(runtime_check(&fx.opts, err, sizeof err), -1);
    CHECK_CONTAINS(err, "/nonexistent/dir");
    fx.opts.scripts = fx.dir;
    fx_free(&fx);
}

/* Globals defined at load keep state across events; new ones in a handler raise. */
static void test_globals(void) {
    struct fixture fx;
    fx_init(&fx);
    fx_write(&fx, "a.lua",
             "count = 0\n"
             "function on_event()\n"
             "  count = count + 1\n"
             "  lark.log.info('count', count)\n"
             "  if count == 2 then typo_global = 1 end\n"
             "end\n");
    load_ok(&fx);
    CHECK_EQ_INT(RUN_MSG(&fx), 200);
    CHECK_EQ_INT(RUN_MSG(&fx), 500);
    CHECK(fx_log_has(&fx, "count 2"));
    CHECK(fx_log_has(&fx, "/a.lua:5: assignment to undeclared global 'typo_global'"));
    CHECK_EQ_INT(RUN_MSG(&fx), 200);
    CHECK(fx_log_has(&fx, "count 3"));
    fx_free(&fx);
}

/* Scripts are separate states: one script's globals are not another's. */
static void test_isolation(void) {
    struct fixture fx;
    fx_init(&fx);
    fx_write(&fx, "a.lua", "secret = 42\nstring.upper = nil\nfunction on_event() end\n");
    fx_write(&fx, "b.lua", "function on_event() assert(secret == nil)\n"
                           "  assert(_G.secret == nil) assert(string.upper('x') == 'X') end\n");
    load_ok(&fx);
    CHECK_EQ_INT(RUN_MSG(&fx), 200);
    fx_free(&fx);
}

static void test_require(void) {
    struct fixture fx;
    fx_init(&fx);
    fx_write(&fx, "helper.lua", "local M = {}\nfunction M.twice(x) return 2 * x end\n"
                                "leaked = true\nreturn M\n");
    fx_write(&fx, "main.lua",
             "local h = require('helper')\n"
             "assert(require('helper') == h)\n"
             "assert(leaked == nil, 'module globals stay in the module')\n"
             "assert(require('lark') == lark)\n"
             "assert(require('lark.message') == lark.message)\n"
             "assert(require('string') == string)\n"
             "function on_event() lark.log.info('twice', h.twice(21)) end\n");
    load_ok(&fx);
    CHECK_EQ_INT(RUN_MSG(&fx), 200);
    CHECK(fx_log_has(&fx, "twice 42"));
    fx_free(&fx);
}

/* Without lua_path the Lua half of lark is the copy compiled in: lark.im and
 * lark.message work with no lua/ anywhere, require finds them, and an error raised in
 * lark.im points at the script's line. */
static void test_lark_built_in(void) {
    struct fixture fx;
    fx_init(&fx);
    fx.opts.lua_path = NULL;
    fx_write(&fx, "a.lua",
             "assert(require('lark.im') == lark.im)\n"
             "function on_p2_message_receive_v1(event)\n"
             "  local res, err = lark.im.reply(event.event.message.message_id, 'text',\n"
             "                                 { text = lark.message.text(event) })\n"
             "  lark.log.info('built in', res, err.msg)\n"
             "  lark.im.reply(42)\n"
             "end\n");
    load_ok(&fx);
    CHECK_EQ_INT(RUN_MSG(&fx), 500);
    CHECK(fx_log_has(&fx, "the Lua half of lark: built in"));
    CHECK(fx_log_has(&fx, "built in nil the OpenAPI is not configured"));
    CHECK(fx_log_has(&fx, "a.lua:6: bad argument #1 to 'reply'"));
    fx_free(&fx);
}

/* A lua_path that lacks a part of the Lua half of lark is a load error (the daemon's
 * start fails), never a warning followed by failing handlers. */
static void test_lua_path_incomplete(void) {
    struct fixture fx;
    char err[512], dir[128], sub[160];
    fx_init(&fx);
    snprintf(dir, sizeof dir, "%s.lua", fx.dir);
    snprintf(sub, sizeof sub, "%s/lark", dir);
    CHECK_EQ_INT(mkdir(dir, 0700), 0);
    CHECK_EQ_INT(mkdir(sub, 0700), 0);
    fx.opts.lua_path = dir;
    fx_write(&fx, "a.lua", "function on_event() end\n");
    CHECK_EQ_INT(fx_load(&fx, err, sizeof err), -1);
    CHECK_CONTAINS(err, "has no readable lark/init.lua");
    CHECK_EQ_INT(runtime_check(&fx.opts, err, sizeof err), -1);
    CHECK_CONTAINS(err, dir);
    rmdir(sub);
    rmdir(dir);
    fx_free(&fx);
}

/* A coroutine.yield straight from a handler has nobody to resume it: it fails. */
static void test_bare_yield(void) {
    struct fixture fx;
    fx_init(&fx);
    fx_write(&fx, "a.lua", "function on_event()\n"
                           "  local co = coroutine.wrap(function() coroutine.yield(1) return 2 end)\n"
                           "  assert(co() == 1 and co() == 2)\n"
                           "  coroutine.yield()\n"
                           "end\n");
    load_ok(&fx);
    CHECK_EQ_INT(RUN_MSG(&fx), 500);
    CHECK(fx_log_has(&fx, "attempt to yield from a handler outside a coroutine"));
    fx_free(&fx);
}

static void test_echo_example(void) {
    struct fixture fx;
    char err[512];
    fx_init(&fx);
    const char *src = getenv("LARKGW_SRC");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/scripts/examples", src ? src : "..");
    fx.opts.scripts = dir;
    CHECK_EQ_INT(fx_load(&fx, err, sizeof err), 0);
    /* no OpenAPI here: the replies fail, and a failed reply answers 500 (redelivery);
     * test_openapi_examples.py runs them against the emulator */
    CHECK_EQ_INT(RUN_MSG(&fx), 500);
    CHECK(fx_log_has(&fx, "echo.lua"));
    CHECK(fx_log_has(&fx, "not configured"));
    CHECK_EQ_INT(fx_run(&fx, "{\"schema\":\"2.0\",\"header\":{\"event_type\":\"im.chat.updated_v1\"}}",
                        "im.chat.updated_v1", "on_p2_chat_updated_v1"), 200);
    CHECK(fx_log_has(&fx, "event im.chat.updated_v1 received"));
    fx.opts.scripts = fx.dir;
    fx_free(&fx);
}

int main(void) {
    RUN(test_conventional_handler_runs);
    RUN(test_lookup_order);
    RUN(test_error_is_500_with_position);
    RUN(test_table_return_is_body);
    RUN(test_event_fields_and_api);
    RUN(test_load_errors);
    RUN(test_globals);
    RUN(test_isolation);
    RUN(test_require);
    RUN(test_lark_built_in);
    RUN(test_lua_path_incomplete);
    RUN(test_bare_yield);
    RUN(test_echo_example);
    return test_report();
}
