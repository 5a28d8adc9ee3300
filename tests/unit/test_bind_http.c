/* lark.http and lark.vars through the runtime: the allow-list and the address check
 * after DNS (names from a hosts file given to lark.http's resolver), answers and errors
 * as Lua sees them, the in-flight bound, and lark.vars read-only. */
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "lua/bind_http.h"
#include "lua/bind_http_int.h"
#include "lua/bind_vars.h"
#include "test.h"
#include "test_lua_fixture.h"

static struct event_base *base;
static int port;

static void serve(struct evhttp_request *req, void *arg) {
    struct evbuffer *out = evbuffer_new();
    evbuffer_add_printf(out, "{\"path\":\"%s\"}", evhttp_request_get_uri(req));
    evhttp_add_header(evhttp_request_get_output_headers(req), "X-Answer", "yes");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

static const char script[] =
    "function on_p2_message_receive_v1(event)\n"
    "  local function show(res, err)\n"
    "    if not res then return err.code .. ' ' .. err.msg end\n"
    "    return res.status .. ' ' .. res.headers['x-answer'] .. ' ' .. res:json().path\n"
    "  end\n"
    "  local out = {}\n"
    "  for _, host in ipairs({ 'exact.internal.test', 'sub.wild.test', 'elsewhere.test' }) do\n"
    "    out[#out + 1] = show(lark.http.get('http://' .. host .. ':' .. lark.vars.port .. '/p'))\n"
    "  end\n"
    "  return { results = out }\n"
    "end\n";

/* Runs the one handler of the scripts written so far to its end. */
static void run(struct fixture *fx) {
    RUN_MSG(fx);
    uint64_t deadline = util_now_ms() + 8000;
    while (!fx->calls && util_now_ms() < deadline) event_base_loop(base, EVLOOP_ONCE);
}

static struct bind_http *setup(struct fixture *fx, const char *const *allow, size_t n,
                               struct bind_vars_options *vars) {
    char err[256];
    struct bind_http_options o = { .allow = allow, .nallow = n, .timeout_s = 5,
                                   .max_body = 1 << 20, .max_in_flight = 8,
                                   .max_per_script = 8 };
    struct bind_http *h = bind_http_new(base, &o, err, sizeof err);
    CHECK(h != NULL);
    char hosts[] = "/tmp/larkgw-hosts-XXXXXX";
    FILE *f = fdopen(mkstemp(hosts), "w");
    fprintf(f, "127.0.0.1 exact.internal.test sub.wild.test\n");
    fclose(f);
    CHECK_EQ_INT(evdns_base_load_hosts(http_client_dns(h->client), hosts), 0);
    unlink(hosts);
    fx->rt = runtime_new(base, &fx->opts);
    runtime_set_http(fx->rt, h);
    runtime_set_vars(fx->rt, vars);
    return h;
}

static void test_allow_and_private_addresses(void) {
    struct fixture fx;
    fx_init(&fx);
    char port_text[16], err[256];
    snprintf(port_text, sizeof port_text, "%d", port);
    const char *triples[] = { "port", "n", port_text };
    struct bind_vars_options vars = { triples, 1 };
    const char *allow[] = { "exact.internal.test", "*.wild.test" };
    struct bind_http *h = setup(&fx, allow, 2, &vars);
    fx_write(&fx, "h.lua", script);
    CHECK_EQ_INT(fx_load(&fx, err, sizeof err), 0);
    run(&fx);
    CHECK_EQ_INT(fx.status, 200);
    fprintf(stderr, "  %s\n", fx.body);
    /* listed exactly: loopback allowed; by a wildcard: refused after DNS; else unlisted */
    CHECK_CONTAINS(fx.body, "\"200 yes /p\"");
    CHECK_CONTAINS(fx.body, "\"private_address the host resolves to an internal address\"");
    CHECK_CONTAINS(fx.body, "elsewhere.test:");
    CHECK_CONTAINS(fx.body, "is not in http.allow");
    CHECK(fx_log_has(&fx, "http: GET sub.wild.test:"));
    CHECK_EQ_INT(h->in_flight, 0);
    fx_free(&fx);
    bind_http_free(h);
}

static void test_vars_read_only(void) {
    struct fixture fx;
    fx_init(&fx);
    char err[256];
    const char *triples[] = { "url", "s", "https://x/v1", "n", "n", "2.5", "on", "b", "true",
                              "count", "n", "7" };
    struct bind_vars_options vars = { triples, 4 };
    struct bind_http *h = setup(&fx, NULL, 0, &vars);
    fx_write(&fx, "v.lua",
             "local at_top = lark.vars.url\n"
             "function on_p2_message_receive_v1(event)\n"
             "  local ok, e = pcall(function() lark.vars.url = 'x' end)\n"
             "  local n = 0\n"
             "  for k in pairs(lark.vars) do n = n + 1 end\n"
             "  return { top = at_top, n = lark.vars.n, on = lark.vars.on, count = n,\n"
             "           int = math.type(lark.vars.count), refused = not ok and tostring(e) }\n"
             "end\n");
    CHECK_EQ_INT(fx_load(&fx, err, sizeof err), 0);
    run(&fx);
    CHECK_CONTAINS(fx.body, "\"top\":\"https://x/v1\"");
    CHECK_CONTAINS(fx.body, "\"n\":2.5");
    CHECK_CONTAINS(fx.body, "\"on\":true");
    CHECK_CONTAINS(fx.body, "\"count\":4");
    CHECK_CONTAINS(fx.body, "\"int\":\"integer\"");
    CHECK_CONTAINS(fx.body, "lark.vars is read-only");
    fx_free(&fx);
    bind_http_free(h);
}

static void test_misuse_raises(void) {
    struct fixture fx;
    fx_init(&fx);
    char err[256];
    const char *allow[] = { "localhost" };
    struct bind_http *h = setup(&fx, allow, 1, NULL);
    fx_write(&fx, "m.lua",
             "function on_p2_message_receive_v1(event)\n"
             "  local out = {}\n"
             "  local u = 'http://localhost/'\n"
             "  for i, f in ipairs({\n"
             "    function() return lark.http.get('ftp://localhost/') end,\n"
             "    function() return lark.http.get(u, { headers = { Host = 'x' } }) end,\n"
             "    function() return lark.http.get(u, { headers = { A = 'b\\r\\nC: d' } }) end,\n"
             "    function() return lark.http.post(u, { body = 'x', json = {} }) end,\n"
             "    function() return lark.http.request{ url = u, method = 'BREW' } end,\n"
             "    function() return lark.http.get(u, { max_body = 1 << 30 }) end,\n"
             "    function() return lark.http.get(u, { json = { f = print } }) end,\n"
             "  }) do\n"
             "    local ok, e = pcall(f)\n"
             "    out[i] = ok and 'ok' or tostring(e)\n"
             "  end\n"
             "  return { out = out }\n"
             "end\n");
    CHECK_EQ_INT(fx_load(&fx, err, sizeof err), 0);
    run(&fx);
    CHECK_CONTAINS(fx.body, "an http:// or https:// URL expected");
    CHECK_CONTAINS(fx.body, "'Host' is set by lark.http");
    CHECK_CONTAINS(fx.body, "has a line break");
    CHECK_CONTAINS(fx.body, "exclude each other");
    CHECK_CONTAINS(fx.body, "GET, POST, PUT");
    CHECK_CONTAINS(fx.body, "option 'max_body'");
    CHECK_CONTAINS(fx.body, "option 'json'");
    CHECK_NOT_CONTAINS(fx.body, "\"ok\"");
    CHECK_EQ_INT(h->in_flight, 0);
    fx_free(&fx);
    bind_http_free(h);
}

int main(void) {
    base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    evhttp_set_gencb(http, serve, NULL);
    struct evhttp_bound_socket *s = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    getsockname(evhttp_bound_socket_get_fd(s), (struct sockaddr *)&sin, &len);
    port = ntohs(sin.sin_port);
    RUN(test_allow_and_private_addresses);
    RUN(test_vars_read_only);
    RUN(test_misuse_raises);
    evhttp_free(http);
    event_base_free(base);
    return test_report();
}
