/* The OpenAPI request path against a fake platform (test_openapi_fake.h); the core cases
 * run twice, with answers delivered from timers and synchronously inside request. */
#include "test.h"
#include "test_openapi_fake.h"

static int sync_mode;

static struct fake *setup(struct openapi **api, const struct openapi_options *o) {
    struct fake *f = fake_new(sync_mode);
    *api = fake_api(f, 0, NULL, o);
    return f;
}

static void teardown(struct fake *f, struct openapi *api) {
    openapi_free(api);
    fake_free(f);
}

static int log_has(const char *needle) {
    FILE *in = fopen(log_path(), "r");
    char line[4096];
    int found = 0;
    while (in && !found && fgets(line, sizeof line, in)) found = strstr(line, needle) != NULL;
    if (in) fclose(in);
    return found;
}

static void test_cache(void) {
    struct openapi *api;
    struct fake *f = setup(&api, NULL);
    struct result r1, r2;
    CHECK(call_tenant(api, "ignored-for-self-built", &r1) != NULL);
    event_base_dispatch(f->base);
    CHECK(call_tenant(api, NULL, &r2) != NULL);
    event_base_dispatch(f->base);
    CHECK_EQ_INT(r1.done, 1);
    CHECK_EQ_INT(r2.done, 1);
    CHECK_EQ_STR(r1.tenant, "self");
    CHECK_EQ_STR(r2.tenant, "self");
    CHECK_EQ_INT(f->fetches_tenant, 1);
    CHECK_EQ_INT(f->business, 2);
    CHECK_EQ_STR(f->reqs[0].path, "/open-apis/auth/v3/tenant_access_token/internal");
    CHECK_EQ_STR(f->reqs[1].path, "/open-apis/im/v1/messages?receive_id_type=chat_id");
    CHECK_EQ_STR(f->reqs[1].body, "{\"receive_id\":\"oc_1\"}");
    CHECK(strncmp(f->reqs[1].auth, "Bearer t-self-tok-", 18) == 0);
    CHECK_EQ_STR(f->reqs[2].auth, f->reqs[1].auth);
    result_clear(&r1);
    result_clear(&r2);
    teardown(f, api);
}

static void test_single_flight(void) {
    struct openapi *api;
    struct fake *f = setup(&api, NULL);
    struct result r[10];
    for (int i = 0; i < 10; i++) call_tenant(api, NULL, &r[i]);
    CHECK_EQ_INT(r[0].done, 0);      /* never answered from inside openapi_request */
    event_base_dispatch(f->base);
    CHECK_EQ_INT(f->fetches_tenant, 1);
    for (int i = 0; i < 10; i++) {
        CHECK_EQ_INT(r[i].done, 1);
        CHECK_EQ_STR(r[i].tenant, "self");
        result_clear(&r[i]);
    }
    teardown(f, api);
}

/* The platform refuses the token with a code in the body, whatever the status. */
static void check_refused(int status, int code) {
    struct openapi *api;
    struct fake *f = setup(&api, NULL);
    char body[128];
    snprintf(body, sizeof body, "{\"code\":%d,\"msg\":\"token invalid\"}", code);
    fake_script_add(f, status, body, NULL);
    struct result r;
    call_tenant(api, NULL, &r);
    event_base_dispatch(f->base);
    CHECK_EQ_INT(r.done, 1);
    CHECK_EQ_STR(r.tenant, "self");
    CHECK_EQ_INT(f->fetches_tenant, 2);
    CHECK_EQ_INT(f->business, 2);
    CHECK(strcmp(f->reqs[1].auth, f->reqs[3].auth) != 0);
    result_clear(&r);
    teardown(f, api);
}

static void test_refused_token_retried(void) {
    check_refused(200, OPENAPI_CODE_TENANT_TOKEN_INVALID);
    check_refused(400, OPENAPI_CODE_TOKEN_INVALID);
    check_refused(401, OPENAPI_CODE_TENANT_TOKEN_INVALID);
    check_refused(200, OPENAPI_CODE_APP_TOKEN_INVALID);
}

static void test_refused_token_retried_once(void) {
    struct openapi *api;
    struct fake *f = setup(&api, NULL);
    fake_script_add(f, 200, "{\"code\":99991671,\"msg\":\"token invalid\"}", NULL);
    fake_script_add(f, 200, "{\"code\":99991671,\"msg\":\"token invalid\"}", NULL);
    struct result r;
    call_tenant(api, NULL, &r);
    event_base_dispatch(f->base);
    CHECK_EQ_INT(r.done, 1);
    CHECK_EQ_INT(r.code, OPENAPI_CODE_TOKEN_INVALID);
    CHECK_EQ_INT(r.http, 200);
    CHECK_EQ_STR(r.msg, "token invalid");
    CHECK_EQ_STR(r.log_id, "log-4");
    CHECK_EQ_INT(f->business, 2);
    CHECK_EQ_INT(f->fetches_tenant, 2);
    teardown(f, api);
}

static void test_rate_limited(void) {
    struct openapi_options o = { .rate_wait_max_ms = 3000 };
    struct openapi *api;
    struct fake *f = setup(&api, &o);
    fake_script_add(f, 429, "{\"code\":99991400,\"msg\":\"too many\"}", "0");
    fake_script_add(f, 400, "{\"code\":99991400,\"msg\":\"too many\"}", "0");
    fake_script_add(f, 429, "<html>slow down</html>", NULL);
    struct result r;
    call_tenant(api, NULL, &r);
    event_base_dispatch(f->base);
    CHECK_EQ_INT(r.done, 1);
    CHECK_EQ_STR(r.tenant, "self");
    CHECK_EQ_INT(f->business, 4);
    CHECK_EQ_INT(f->fetches_tenant, 1);
    CHECK(log_has("rate limited (log_id log-2); retrying in 0 ms"));
    CHECK(log_has("rate limited (log_id log-4); retrying in 1000 ms"));
    result_clear(&r);
    teardown(f, api);
}

static void test_rate_wait_bounded(void) {
    struct openapi_options o = { .rate_wait_max_ms = 30 };
    struct openapi *api;
    struct fake *f = setup(&api, &o);
    fake_script_add(f, 429, "{\"code\":99991400,\"msg\":\"too many\"}", "3600");
    fake_script_add(f, 429, "{\"code\":99991400,\"msg\":\"too many\"}", NULL);
    struct result r;
    call_tenant(api, NULL, &r);
    event_base_dispatch(f->base);
    CHECK_EQ_STR(r.tenant, "self");
    CHECK(log_has("rate limited (log_id log-2); retrying in 30 ms"));
    CHECK(log_has("rate limited (log_id log-3); retrying in 30 ms"));
    result_clear(&r);
    teardown(f, api);
}

static void test_rate_limit_exhausted(void) {
    struct openapi_options o = { .rate_wait_max_ms = 3000 };
    struct openapi *api;
    struct fake *f = setup(&api, &o);
    for (int i = 0; i < 5; i++)
        fake_script_add(f, 429, "{\"code\":99991400,\"msg\":\"too many\"}", "0");
    struct result r;
    call_tenant(api, NULL, &r);
    event_base_dispatch(f->base);
    CHECK_EQ_INT(r.done, 1);
    CHECK_EQ_INT(r.code, OPENAPI_CODE_RATE_LIMITED);
    CHECK_EQ_INT(r.http, 429);
    CHECK_EQ_STR(r.msg, "too many");
    CHECK_EQ_STR(r.log_id, "log-5");
    CHECK_EQ_INT(f->business, 4);
    teardown(f, api);
}

static void check_error(int status, const char *body, int code, const char *msg) {
    struct openapi_options o = { .max_response = 256 };
    struct openapi *api;
    struct fake *f = setup(&api, &o);
    fake_script_add(f, status, body, NULL);
    struct result r;
    call_tenant(api, NULL, &r);
    event_base_dispatch(f->base);
    CHECK_EQ_INT(r.done, 1);
    CHECK_EQ_INT(r.code, code);
    CHECK_EQ_INT(r.http, status);
    CHECK_EQ_STR(r.msg, msg);
    CHECK_EQ_STR(r.log_id, status ? "log-2" : "");
    CHECK_EQ_INT(f->business, 1);
    teardown(f, api);
}

static void test_errors(void) {
    char big[400];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "{\"code\":0}", 10);
    check_error(400, "{\"code\":230001,\"msg\":\"bad\\nreceive_id\"}", 230001, "bad receive_id");
    check_error(200, "<html>hello</html>", OPENAPI_E_BADANSWER, "answer is not a JSON object");
    check_error(200, "{\"msg\":\"x\"}", OPENAPI_E_BADANSWER, "answer has no integer code");
    check_error(502, "<html>bad gateway</html>", OPENAPI_E_HTTP, "HTTP 502, answer is not a JSON object");
    check_error(200, big, OPENAPI_E_TOOBIG, "answer of 399 bytes exceeds the 256 byte bound");
    check_error(0, "connection refused", OPENAPI_E_TRANSPORT, "connection refused");
    check_error(0, "response too large", OPENAPI_E_TOOBIG, "response too large");
}

static void test_timeout(void) {
    struct openapi *api;
    struct fake *f = setup(&api, NULL);
    f->business_delay_ms = 60000;
    struct result r;
    struct openapi_req req = { "GET", "/open-apis/im/v1/chats", NULL, NULL, 0, 0, NULL,
                               OPENAPI_TOKEN_TENANT, 50, NULL, 0 };
    memset(&r, 0, sizeof r);
    openapi_request(api, &req, on_result, &r);
    event_base_dispatch(f->base);
    CHECK_EQ_INT(r.done, 1);
    CHECK_EQ_INT(r.code, OPENAPI_E_TIMEOUT);
    CHECK_EQ_STR(r.msg, "timed out after 50 ms");
    CHECK_EQ_INT(f->cancels, 1);
    teardown(f, api);
}

static void test_cancel(void) {
    struct openapi *api;
    struct fake *f = setup(&api, NULL);
    struct result r[3];
    struct openapi_call *c[3];
    for (int i = 0; i < 3; i++) c[i] = call_tenant(api, NULL, &r[i]);
    openapi_call_cancel(c[0]);
    event_base_loop(f->base, EVLOOP_ONCE);    /* the others now wait on the token fetch */
    openapi_call_cancel(c[1]);
    event_base_dispatch(f->base);
    CHECK_EQ_INT(r[0].done, 0);
    CHECK_EQ_INT(r[1].done, 0);
    CHECK_EQ_INT(r[2].done, 1);
    CHECK_EQ_STR(r[2].tenant, "self");
    CHECK_EQ_INT(f->fetches_tenant, 1);
    result_clear(&r[2]);
    teardown(f, api);
}

/* Every waiter gone: the fetch still completes and fills the cache. */
static void test_cancel_keeps_fetch(void) {
    struct openapi *api;
    struct fake *f = setup(&api, NULL);
    f->sync = 0;
    struct result r[2];
    struct openapi_call *c = call_tenant(api, NULL, &r[0]);
    event_base_loop(f->base, EVLOOP_ONCE);
    openapi_call_cancel(c);
    event_base_dispatch(f->base);
    CHECK_EQ_INT(r[0].done, 0);
    CHECK_EQ_INT(f->fetches_tenant, 1);
    CHECK_EQ_INT(f->cancels, 0);
    call_tenant(api, NULL, &r[1]);
    event_base_dispatch(f->base);
    CHECK_EQ_STR(r[1].tenant, "self");
    CHECK_EQ_INT(f->fetches_tenant, 1);
    result_clear(&r[1]);
    teardown(f, api);
}

static void test_cancel_in_flight(void) {
    struct openapi *api;
    struct fake *f = setup(&api, NULL);
    f->business_delay_ms = 60000;
    struct result r;
    struct openapi_call *c = call_tenant(api, NULL, &r);
    while (f->business == 0) event_base_loop(f->base, EVLOOP_ONCE);
    openapi_call_cancel(c);
    event_base_dispatch(f->base);
    CHECK_EQ_INT(r.done, 0);
    CHECK_EQ_INT(f->cancels, 1);
    teardown(f, api);
}

static void test_bounded_concurrency(void) {
    struct openapi_options o = { .max_inflight = 2, .max_queue = 3 };
    struct openapi *api;
    struct fake *f = setup(&api, &o);
    f->business_delay_ms = 5;
    struct result r[6];
    for (int i = 0; i < 6; i++) call_tenant(api, NULL, &r[i]);
    struct openapi_stats st;
    openapi_get_stats(api, &st);
    CHECK_EQ_INT(st.inflight, 2);
    CHECK_EQ_INT(st.queued, 3);
    event_base_dispatch(f->base);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ_STR(r[i].tenant, "self");
        result_clear(&r[i]);
    }
    CHECK_EQ_INT(r[5].done, 1);
    CHECK_EQ_INT(r[5].code, OPENAPI_E_BUSY);
    CHECK(f->peak_business <= 2);
    CHECK_EQ_INT(f->business, 5);
    teardown(f, api);
}

static void check_invalid(const char *method, const char *path, const char *query) {
    struct openapi *api;
    struct fake *f = setup(&api, NULL);
    struct openapi_req req = { method, path, query, NULL, 0, 0, NULL, OPENAPI_TOKEN_TENANT, 0, NULL, 0 };
    struct result r;
    memset(&r, 0, sizeof r);
    CHECK(openapi_request(api, &req, on_result, &r) != NULL);
    CHECK_EQ_INT(r.done, 0);
    event_base_dispatch(f->base);
    CHECK_EQ_INT(r.done, 1);
    CHECK_EQ_INT(r.code, OPENAPI_E_INVAL);
    CHECK_EQ_INT(f->nreqs, 0);
    teardown(f, api);
}

static void test_invalid_requests(void) {
    check_invalid("BREW", "/open-apis/x", NULL);
    check_invalid(NULL, "/open-apis/x", NULL);
    check_invalid("GET", "open-apis/x", NULL);
    check_invalid("GET", "/open-apis/x y", NULL);
    check_invalid("GET", "/open-apis/x\r\nHost: evil", NULL);
    check_invalid("GET", "/open-apis/x?a=1", NULL);
    check_invalid("GET", "/open-apis/x", "a=1#frag");
}

static void test_app_token_and_owned_body(void) {
    struct openapi *api;
    struct fake *f = setup(&api, NULL);
    char *body = strdup("{\"k\":1}");
    struct openapi_req req = { "PATCH", "/open-apis/x/v1/y", NULL, body, strlen(body), 1, NULL,
                               OPENAPI_TOKEN_APP, 0, NULL, 0 };
    struct result r;
    memset(&r, 0, sizeof r);
    openapi_request(api, &req, on_result, &r);
    event_base_dispatch(f->base);
    CHECK_EQ_INT(r.app, 1);
    CHECK_EQ_INT(f->fetches_app, 1);
    CHECK_EQ_INT(f->fetches_tenant, 0);
    CHECK_EQ_STR(f->reqs[0].path, "/open-apis/auth/v3/app_access_token/internal");
    CHECK_EQ_STR(f->reqs[1].method, "PATCH");
    CHECK_EQ_STR(f->reqs[1].body, "{\"k\":1}");
    CHECK(strncmp(f->reqs[1].auth, "Bearer a-tok-", 13) == 0);
    result_clear(&r);
    teardown(f, api);
}

/* Calls still pending at free: no callback, nothing leaked (ASan checks). */
static void test_free_with_calls_pending(void) {
    struct openapi *api;
    struct fake *f = setup(&api, NULL);
    struct result r[3];
    call_tenant(api, NULL, &r[0]);
    call_tenant(api, NULL, &r[1]);
    struct openapi_req bad = { "BREW", "/x", NULL, NULL, 0, 0, NULL, OPENAPI_TOKEN_TENANT, 0, NULL, 0 };
    openapi_request(api, &bad, on_result, &r[2]);
    event_base_loop(f->base, EVLOOP_ONCE);
    openapi_free(api);
    event_base_dispatch(f->base);
    CHECK_EQ_INT(r[0].done + r[1].done, 0);
    fake_free(f);
}

static void test_no_secret_in_log(void) {
    int lines;
    int leaks = log_leaks(&lines);
    CHECK_EQ_INT(leaks, 0);
    CHECK(lines > 10);
    CHECK(fake_nissued > 10);
}

struct raw_result {
    int done, code;
    char bytes[64];
    size_t len;
};

static void on_raw(void *arg, const struct openapi_raw *raw, const struct openapi_error *err) {
    struct raw_result *r = arg;
    r->done++;
    r->code = err ? err->code : 0;
    if (raw && raw->len < sizeof r->bytes) {
        memcpy(r->bytes, raw->body, raw->len);
        r->len = raw->len;
    }
}

/* openapi_request_raw: bytes out for a binary answer (after a refused token, retried like
 * any call); a JSON error is an error. */
static void test_raw_answers(void) {
    struct openapi *api;
    struct fake *f = setup(&api, NULL);
    struct openapi_req req = { "GET", "/open-apis/im/v1/messages/om_1/resources/k", "type=file",
                               NULL, 0, 0, NULL, OPENAPI_TOKEN_TENANT, 0, NULL, 0 };
    struct raw_result r[2];
    memset(r, 0, sizeof r);
    fake_script_add(f, 200, "{\"code\":99991663,\"msg\":\"token invalid\"}", NULL);
    fake_script_add(f, 200, "PNG\x01" "bytes", NULL);
    openapi_request_raw(api, &req, on_raw, &r[0]);
    event_base_dispatch(f->base);
    CHECK_EQ_INT(r[0].done, 1);
    CHECK_EQ_INT(r[0].code, 0);
    CHECK(r[0].len == 9 && memcmp(r[0].bytes, "PNG\x01" "bytes", 9) == 0);
    CHECK_EQ_INT(f->fetches_tenant, 2);
    fake_script_add(f, 400, "{\"code\":234003,\"msg\":\"File not in msg.\"}", NULL);
    openapi_request_raw(api, &req, on_raw, &r[1]);
    event_base_dispatch(f->base);
    CHECK_EQ_INT(r[1].done, 1);
    CHECK_EQ_INT(r[1].code, 234003);
    CHECK_EQ_INT(r[1].len, 0);
    teardown(f, api);
}

static void run_core(void) {
    RUN(test_cache);
    RUN(test_single_flight);
    RUN(test_refused_token_retried);
    RUN(test_refused_token_retried_once);
    RUN(test_errors);
    RUN(test_cancel);
    RUN(test_bounded_concurrency);
    RUN(test_raw_answers);
}

int main(void) {
    unlink(log_path());
    log_setup(LOG_LEVEL_DEBUG, LOG_FORMAT_TEXT, log_path());
    run_core();
    sync_mode = 1;
    run_core();
    sync_mode = 0;
    RUN(test_rate_limited);
    RUN(test_rate_wait_bounded);
    RUN(test_rate_limit_exhausted);
    RUN(test_timeout);
    RUN(test_cancel_keeps_fetch);
    RUN(test_cancel_in_flight);
    RUN(test_invalid_requests);
    RUN(test_app_token_and_owned_body);
    RUN(test_free_with_calls_pending);
    RUN(test_no_secret_in_log);
    log_close();
    unlink(log_path());
    return test_report();
}
