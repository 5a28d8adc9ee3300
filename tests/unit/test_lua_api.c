/* lark.api, lark.im and lark.sleep (src/lua/bind_api.c, bind_sleep.c, lua/lark/im.lua)
 * against the fake platform of test_openapi_fake.h: a call parks the handler and the
 * event loop resumes it with res or nil, err; cancellation, the wall-time bound, and
 * the errors for calls made where they cannot yield. */
#include "test.h"
#include "test_lua_fixture.h"
#include "test_openapi_fake.h"

#include "lua/runtime.h"

struct env {
    struct fixture fx;
    struct fake *f;
    struct openapi *api;
};

static void setup(struct env *e, int marketplace, const char *script) {
    char err[512];
    fx_init(&e->fx);
    e->f = fake_new(0);
    e->api = fake_api(e->f, marketplace, NULL, NULL);
    if (marketplace) openapi_set_app_ticket(e->api, "tk-1");
    fx_write(&e->fx, "bot.lua", script);
    e->fx.rt = runtime_new(e->f->base, &e->fx.opts);
    runtime_set_openapi(e->fx.rt, e->api);
    CHECK_EQ_INT(fx_load(&e->fx, err, sizeof err), 0);
}

/* The runtime goes first: freeing it cancels the calls it still waits on. */
static void teardown(struct env *e) {
    runtime_free(e->fx.rt);
    e->fx.rt = NULL;
    openapi_free(e->api);
    fake_free(e->f);
    fx_free(&e->fx);
}

/* Runs one message event to its end through the loop; returns the status. */
static int run_msg(struct env *e) {
    RUN_MSG(&e->fx);
    event_base_dispatch(e->f->base);
    CHECK_EQ_INT(e->fx.calls, 1);
    return e->fx.status;
}

static const char *reply_script =
    "function on_p2_message_receive_v1(event)\n"
    "  local msg = event.event.message\n"
    "  local res, err = lark.im.reply(msg.message_id, 'text', { text = 'hi \"you\"' })\n"
    "  assert(res, tostring(err))\n"
    "  lark.log.info('reply code=' .. res.code .. ' tenant=' .. res.data.tenant)\n"
    "  local ok, r2 = pcall(lark.api.get, 'im/v1/chats', { query = { page_size = 20,\n"
    "    user_id_type = 'open_id', ids = { 'a b', 'c/d' } }, timeout = 5 })\n"
    "  assert(ok and r2.code == 0)\n"
    "  local r3 = lark.api.request{ method = 'patch', path = '/open-apis/x', body = '{\"raw\":1}' }\n"
    "  lark.log.info('all done ' .. r3.msg)\n"
    "  assert(lark.api.delete('y', { query = { q = ('a'):rep(3000), r = ('/'):rep(1000) } }))\n"
    "end\n";

static void test_reply_and_requests(void) {
    struct env e;
    setup(&e, 0, reply_script);
    CHECK_EQ_INT(RUN_MSG(&e.fx), 0);       /* parked: not answered yet */
    CHECK_EQ_INT(e.fx.calls, 0);
    event_base_dispatch(e.f->base);
    CHECK_EQ_INT(e.fx.calls, 1);
    CHECK_EQ_INT(e.fx.status, 200);
    CHECK(fx_log_has(&e.fx, "reply code=0 tenant=self"));
    CHECK(fx_log_has(&e.fx, "all done success"));
    CHECK_EQ_STR(e.f->reqs[1].method, "POST");
    CHECK_EQ_STR(e.f->reqs[1].path, "/open-apis/im/v1/messages/om_1/reply");
    cJSON *body = cJSON_Parse(e.f->reqs[1].body);
    CHECK_EQ_STR(jstr(body, "msg_type"), "text");
    CHECK_EQ_STR(jstr(body, "content"), "{\"text\":\"hi \\\"you\\\"\"}");
    cJSON_Delete(body);
    CHECK(strncmp(e.f->reqs[1].auth, "Bearer t-self-tok-", 18) == 0);
    CHECK_EQ_STR(e.f->reqs[2].method, "GET");
    CHECK_EQ_STR(e.f->reqs[2].path,
                 "/open-apis/im/v1/chats?ids=a%20b&ids=c%2Fd&page_size=20&user_id_type=open_id");
    CHECK_EQ_STR(e.f->reqs[3].method, "PATCH");
    CHECK_EQ_STR(e.f->reqs[3].path, "/open-apis/x");
    CHECK_EQ_STR(e.f->reqs[3].body, "{\"raw\":1}");
    CHECK_EQ_STR(e.f->reqs[4].method, "DELETE");
    CHECK(strncmp(e.f->reqs[4].path, "/open-apis/y?q=aaaa", 19) == 0);
    teardown(&e);
}

static const char *failing_script =
    "function on_p2_message_receive_v1(event)\n"
    "  local res, err = lark.im.send('chat_id', 'oc_1', 'text', '{\"text\":\"x\"}')\n"
    "  assert(res == nil)\n"
    "  lark.log.info('err', err.code, err.msg, err.log_id, err.http_status)\n"
    "  lark.log.info('text', err)\n"
    "  error(err)\n"
    "end\n";

/* A refused call is nil, err; error(err) fails the event with a readable line. */
static void test_failure_is_nil_err(void) {
    struct env e;
    setup(&e, 0, failing_script);
    fake_script_add(e.f, 400, "{\"code\":230001,\"msg\":\"bad content\"}", NULL);
    CHECK_EQ_INT(run_msg(&e), 500);
    CHECK(fx_log_has(&e.fx, "err 230001 bad content log-2 400"));
    CHECK(fx_log_has(&e.fx, "text OpenAPI error 230001: bad content (log_id log-2, HTTP 400)"));
    CHECK(fx_log_has(&e.fx, "bot.lua:6: OpenAPI error 230001: bad content (log_id log-2"));
    CHECK_EQ_STR(e.f->reqs[1].path, "/open-apis/im/v1/messages?receive_id_type=chat_id");
    teardown(&e);
}

static const char *tenant_script =
    "function on_event(event)\n"
    "  local a = lark.api.post('im/v1/messages', { query = 'receive_id_type=chat_id' })\n"
    "  local b = lark.api.post('im/v1/messages', { tenant_key = 'tk9' })\n"
    "  lark.log.info('tenants ' .. a.data.tenant .. ' ' .. b.data.tenant)\n"
    "end\n";

/* Marketplace: the event's own tenant by default (2.0 header, 1.0 event), or tenant_key. */
static void test_tenant_of_event(void) {
    struct env e;
    setup(&e, 1, tenant_script);
    CHECK_EQ_INT(run_msg(&e), 200);
    CHECK(fx_log_has(&e.fx, "tenants tk1 tk9"));
    fx_run(&e.fx, "{\"uuid\":\"u1\",\"type\":\"event_callback\",\"event\":{\"type\":\"message\","
                  "\"tenant_key\":\"tk-v1\"}}", "message", "on_p1_message_receive_v1");
    event_base_dispatch(e.f->base);
    CHECK_EQ_INT(e.fx.status, 200);
    CHECK(fx_log_has(&e.fx, "tenants tk-v1 tk9"));
    teardown(&e);
}

static const char *misuse_script =
    "local function try(f, ...) local ok, e = pcall(f, ...) lark.log.info('E', e) end\n"
    "function on_p2_message_receive_v1(event)\n"
    "  try(lark.api.get, 'x', { tenantkey = 'a' })\n"
    "  try(lark.api.request, { path = '/x', method = 'FETCH' })\n"
    "  try(lark.api.post, 'x', { body = print })\n"
    "  try(lark.api.get, 'x', { query = { a = { x = 1 } } })\n"
    "  try(lark.api.get, 'x', { timeout = -1 })\n"
    "  try(lark.api.get, 'x', { query = { q = ('\\xff'):rep(3000) } })\n"
    "  try(lark.im.reply, '../auth', 'text', 'x')\n"
    "  try(lark.im.send, 'chat_id', 'oc_1', 'text', 'x', { uid = 1 })\n"
    "  try(lark.sleep, -1)\n"
    "  local co = coroutine.wrap(function() return pcall(lark.api.get, 'x') end)\n"
    "  lark.log.info('C', select(2, co()))\n"
    "  co = coroutine.wrap(function() return pcall(lark.sleep, 0) end)\n"
    "  lark.log.info('C', select(2, co()))\n"
    "end\n";

/* Programming mistakes raise with a clear message; so does yielding where nothing
 * could resume (a coroutine the script made). No request is made. */
static void test_misuse(void) {
    struct env e;
    setup(&e, 0, misuse_script);
    CHECK_EQ_INT(run_msg(&e), 200);
    CHECK(fx_log_has(&e.fx, "bot.lua:1: lark.api: option 'method': GET, POST, PUT, PATCH or DELETE expected"));
    CHECK(fx_log_has(&e.fx, "lark.api: option 'body': table or string expected, got function"));
    CHECK(fx_log_has(&e.fx, "lark.api: query.a: a list of at most 64 values"));
    CHECK(fx_log_has(&e.fx, "bot.lua:1: lark.api: unknown option 'tenantkey'"));
    CHECK(fx_log_has(&e.fx, "lark.api: query: longer than 8192 bytes encoded"));
    CHECK(fx_log_has(&e.fx, "lark.api: option 'timeout': seconds in (0, 3600] expected"));
    CHECK(fx_log_has(&e.fx, "bad argument #1 to 'reply' (not a message id)"));
    CHECK(fx_log_has(&e.fx, "bad argument #5 to 'send' (unknown option 'uid')"));
    CHECK(fx_log_has(&e.fx, "(seconds between 0 and 86400 expected)"));
    CHECK(fx_log_has(&e.fx, "bot.lua:12: lark.api: only allowed in a handler (not at a "
                            "script's top level, nor in a coroutine the script created)"));
    CHECK(fx_log_has(&e.fx, "C lark.sleep: only allowed in a handler"));
    CHECK_EQ_INT(e.f->nreqs, 0);
    teardown(&e);
}

static void test_top_level_refused(void) {
    struct fixture fx;
    char err[512];
    fx_init(&fx);
    fx_write(&fx, "top.lua", "local res = lark.im.send('chat_id', 'oc_1', 'text', {text = 'x'})\n");
    CHECK_EQ_INT(fx_load(&fx, err, sizeof err), -1);
    CHECK_CONTAINS(err, "top.lua:1: lark.api: only allowed in a handler");
    if (!strstr(err, "top.lua:1: lark.api: only allowed in a handler")) fprintf(stderr, "%s\n", err);
    fx_free(&fx);
}

/* Regression: the query encoder kept raw pointers to the query's keys while a __len
 * could run script code, which removed a later key and collected it; the next lookup
 * read freed memory (ASan aborts here without the fix). Now every read is raw: __len
 * never runs, and the key stays readable. */
static const char *query_len_script =
    "function on_p2_message_receive_v1()\n"
    "  local key = ('k'):rep(48) .. 'z'\n"
    "  local q\n"
    "  q = { a = setmetatable({ 'one' }, { __len = function()\n"
    "    q[key] = nil; key = nil; collectgarbage(); collectgarbage()\n"
    "    lark.log.info('__len ran'); return 1 end }) }\n"
    "  q[key] = 'v'\n"
    "  local res, err = lark.api.get('x', { query = q })\n"
    "  lark.log.info('query call', res and res.code, err)\n"
    "end\n";

static void test_query_metamethods_do_not_run(void) {
    struct env e;
    setup(&e, 0, query_len_script);
    CHECK_EQ_INT(run_msg(&e), 200);
    CHECK(fx_log_has(&e.fx, "query call 0 nil"));
    CHECK(fx_log_lacks(&e.fx, "__len ran"));
    CHECK_EQ_STR(e.f->reqs[1].path, "/open-apis/x?a=one&kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkz=v");
    teardown(&e);
}

/* No credentials configured: nil, err at once, no yield. */
static void test_not_configured(void) {
    struct fixture fx;
    char err[512];
    fx_init(&fx);
    fx_write(&fx, "bot.lua", "function on_event()\n"
                             "  local res, err = lark.api.get('x')\n"
                             "  lark.log.info('nocfg', res, err.code, err.msg)\n"
                             "end\n");
    CHECK_EQ_INT(fx_load(&fx, err, sizeof err), 0);
    CHECK_EQ_INT(RUN_MSG(&fx), 200);
    CHECK(fx_log_has(&fx, "nocfg nil -1 the OpenAPI is not configured"));
    fx_free(&fx);
}

/* Freeing the runtime ends a parked handler: its call is cancelled, nothing resumes. */
static void test_cancel_on_free(void) {
    struct env e;
    setup(&e, 0, "function on_event()\n  lark.api.get('x')\n  lark.log.info('resumed')\nend\n");
    e.f->business_delay_ms = 60000;
    RUN_MSG(&e.fx);
    event_base_loop(e.f->base, EVLOOP_ONCE);   /* the token; the call goes out */
    while (e.f->business == 0 && event_base_loop(e.f->base, EVLOOP_ONCE) == 0) {}
    CHECK_EQ_INT(e.f->business, 1);
    CHECK_EQ_INT(e.fx.calls, 0);
    struct result r;  /* the loop is not blocked: another call comes and goes meanwhile */
    e.f->business_delay_ms = 0;
    call_tenant(e.api, NULL, &r);
    while (!r.done && event_base_loop(e.f->base, EVLOOP_ONCE) == 0) {}
    CHECK_EQ_INT(r.done, 1);
    CHECK_EQ_INT(r.code, 12345);
    result_clear(&r);
    CHECK_EQ_INT(e.fx.calls, 0);
    runtime_free(e.fx.rt);
    e.fx.rt = NULL;
    CHECK_EQ_INT(e.fx.calls, 1);
    CHECK_EQ_INT(e.fx.status, 500);
    CHECK_EQ_INT(e.f->cancels, 1);
    CHECK(fx_log_has(&e.fx, "handler failed: cancelled"));
    CHECK(fx_log_lacks(&e.fx, "resumed"));
    teardown(&e);
}

static void test_sleep_and_wall_bound(void) {
    struct env e;
    setup(&e, 0, "function on_event(event)\n"
                 "  lark.sleep(0.01)\n  lark.log.info('slept')\n"
                 "  if event.header.event_id == 'ev-test-1' then lark.sleep(30) end\n"
                 "  lark.log.info('woke')\nend\n");
    runtime_free(e.fx.rt);  /* it copied its options */
    e.fx.opts.limits.handler_max_s = 1;
    e.fx.rt = runtime_new(e.f->base, &e.fx.opts);
    runtime_set_openapi(e.fx.rt, e.api);
    char err[512];
    CHECK_EQ_INT(fx_load(&e.fx, err, sizeof err), 0);
    CHECK_EQ_INT(run_msg(&e), 500);
    CHECK(fx_log_has(&e.fx, "slept"));
    CHECK(fx_log_has(&e.fx, "handler failed: killed: still running after "
                            "limits.handler_max_s = 1 s"));
    CHECK(fx_log_lacks(&e.fx, "woke"));
    teardown(&e);
}

/* A call where Lua cannot yield (a sort comparator, a metamethod) stops the I/O it
 * started and raises; run_msg's loop runs dry, so a timer or answer left behind would
 * wake the finished task (a use-after-free under ASan). */
static void test_wait_across_c_call(void) {
    struct env e;
    setup(&e, 0, "local function cmp(f) return function(a, b) f() return a < b end end\n"
                 "function on_p2_message_receive_v1()\n"
                 "  local _, e1 = pcall(table.sort, {3, 1, 2}, cmp(function() lark.sleep(0) end))\n"
                 "  local _, e2 = pcall(table.sort, {3, 1, 2}, cmp(function() lark.api.get('x') end))\n"
                 "  lark.log.info('W1', e1)\n  lark.log.info('W2', e2)\n"
                 "end\n");
    CHECK_EQ_INT(run_msg(&e), 200);
    CHECK(fx_log_has(&e.fx, "bot.lua:3: this call cannot wait here"));
    CHECK(fx_log_has(&e.fx, "bot.lua:4: this call cannot wait here"));
    teardown(&e);
}

int main(void) {
    RUN(test_reply_and_requests);
    RUN(test_failure_is_nil_err);
    RUN(test_tenant_of_event);
    RUN(test_misuse);
    RUN(test_top_level_refused);
    RUN(test_query_metamethods_do_not_run);
    RUN(test_not_configured);
    RUN(test_cancel_on_free);
    RUN(test_sleep_and_wall_bound);
    RUN(test_wait_across_c_call);
    return test_report();
}
