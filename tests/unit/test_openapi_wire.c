/* The wire module: the answer envelope decoded once (bytes in, results out), and one
 * request through a scripted transport: log id, rate-limit header, transport errors,
 * answers delivered inside send, cancellation. */
#include <string.h>

#include "test.h"
#include "openapi/openapi_wire.h"

static int decode(int status, const char *body, struct openapi_wire_answer *ans) {
    memset(ans, 0, sizeof *ans);
    return openapi_wire_decode(status, body, strlen(body), 256, ans);
}

static void test_decode_success(void) {
    struct openapi_wire_answer a;
    CHECK_EQ_INT(decode(200, "{\"code\":0,\"msg\":\"success\",\"data\":{\"x\":1}}", &a), 0);
    CHECK_EQ_INT(a.err.code, 0);
    CHECK_EQ_INT(a.err.http_status, 200);
    CHECK(cJSON_GetObjectItemCaseSensitive(a.json, "data") != NULL);
    CHECK(!a.token_invalid && !a.rate_limited);
    cJSON_Delete(a.json);
}

static void test_decode_not_json(void) {
    struct openapi_wire_answer a;
    CHECK_EQ_INT(decode(200, "<html>gateway</html>", &a), OPENAPI_E_BADANSWER);
    CHECK_EQ_STR(a.err.msg, "answer is not a JSON object");
    CHECK(a.json == NULL);
    CHECK_EQ_INT(decode(502, "<html>bad gateway</html>", &a), OPENAPI_E_HTTP);
    CHECK_EQ_INT(a.err.http_status, 502);
    CHECK_EQ_STR(a.err.msg, "HTTP 502, answer is not a JSON object");
    CHECK_EQ_INT(decode(200, "[1,2]", &a), OPENAPI_E_BADANSWER);
    CHECK_EQ_INT(decode(200, "", &a), OPENAPI_E_BADANSWER);
}

static void test_decode_code(void) {
    struct openapi_wire_answer a;
    CHECK_EQ_INT(decode(200, "{\"msg\":\"no code\"}", &a), OPENAPI_E_BADANSWER);
    cJSON_Delete(a.json);
    CHECK_EQ_INT(decode(200, "{\"code\":1.5}", &a), OPENAPI_E_BADANSWER);
    cJSON_Delete(a.json);
    CHECK_EQ_INT(decode(400, "{\"code\":0}", &a), OPENAPI_E_HTTP);
    CHECK_CONTAINS(a.err.msg, "code 0 with an error status");
    cJSON_Delete(a.json);
    CHECK_EQ_INT(decode(200, "{\"code\":230001,\"msg\":\"bad\\nline\"}", &a), 230001);
    CHECK_EQ_STR(a.err.msg, "bad line");
    CHECK(a.json != NULL);
    cJSON_Delete(a.json);
}

/* The token codes come with 200, 400 or 401: the body says, never the status alone. */
static void test_decode_token_and_rate(void) {
    struct openapi_wire_answer a;
    int codes[] = { 99991663, 99991664, 99991671 };
    int statuses[] = { 200, 400, 401 };
    for (int i = 0; i < 3; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"code\":%d,\"msg\":\"invalid\"}", codes[i]);
        CHECK_EQ_INT(decode(statuses[i], body, &a), codes[i]);
        CHECK(a.token_invalid);
        cJSON_Delete(a.json);
    }
    CHECK_EQ_INT(decode(401, "unauthorized", &a), OPENAPI_E_HTTP);
    CHECK(!a.token_invalid);
    CHECK_EQ_INT(decode(429, "", &a), OPENAPI_CODE_RATE_LIMITED);
    CHECK(a.rate_limited);
    CHECK_EQ_INT(decode(400, "{\"code\":99991400,\"msg\":\"slow down\"}", &a), 99991400);
    CHECK(a.rate_limited);
    cJSON_Delete(a.json);
}

static void test_decode_too_big(void) {
    struct openapi_wire_answer a = { 0 };
    char big[300];
    memset(big, ' ', sizeof big);
    CHECK_EQ_INT(openapi_wire_decode(200, big, sizeof big, 256, &a), OPENAPI_E_TOOBIG);
    CHECK_CONTAINS(a.err.msg, "300 bytes");
}

/* A transport that answers what the test set, inside request or never. */
struct script {
    struct http_client_response res;
    const char *log_id, *reset;
    int sync, requests, cancels;
    char url[256], auth[128];
    http_done_fn done;
    void *arg;
};

static void *script_request(void *ctx, const struct http_client_request *req,
                            http_done_fn done, void *arg) {
    struct script *s = ctx;
    s->requests++;
    snprintf(s->url, sizeof s->url, "%s", req->url);
    s->auth[0] = '\0';
    for (const char *const *h = req->headers; h[0]; h += 2)
        if (strcmp(h[0], "Authorization") == 0) snprintf(s->auth, sizeof s->auth, "%s", h[1]);
    s->done = done;
    s->arg = arg;
    if (s->sync) done(arg, &s->res);
    return s;
}

static void script_cancel(void *ctx, void *call) { ((struct script *)ctx)->cancels++; }

static const char *script_header(void *ctx, const struct http_client_response *res,
                                 const char *name) {
    struct script *s = ctx;
    if (strcmp(name, "X-Tt-Logid") == 0) return s->log_id;
    if (strcmp(name, "x-ogw-ratelimit-reset") == 0) return s->reset;
    return NULL;
}

struct got { int n; struct openapi_wire_answer ans; };

static void on_answer(void *arg, struct openapi_wire_answer *ans) {
    struct got *g = arg;
    g->n++;
    g->ans = *ans;
    g->ans.json = NULL;
}

static void wire_setup(struct openapi_wire *w, struct script *s) {
    struct openapi_transport t = { s, script_request, script_cancel, script_header };
    CHECK_EQ_INT(openapi_wire_init(w, &t, "http://peer.invalid//", 4096), 0);
}

static void test_send_sync_answer(void) {
    struct script s = { .sync = 1, .log_id = "log-\n1", .reset = "3" };
    s.res.status = 400;
    s.res.body = "{\"code\":99991400,\"msg\":\"limited\"}";
    s.res.body_len = strlen(s.res.body);
    struct openapi_wire w;
    struct openapi_wire_call wc = { 0 };
    struct got g = { 0 };
    wire_setup(&w, &s);
    struct openapi_wire_req req = { "GET", "/open-apis/x?a=1", "t-123", NULL, 0, 1000, NULL, 0, 0 };
    CHECK_EQ_INT(openapi_wire_send(&w, &wc, &req, on_answer, &g), 0);
    CHECK_EQ_INT(g.n, 1);
    CHECK(!wc.active);
    CHECK_EQ_STR(s.url, "http://peer.invalid/open-apis/x?a=1");
    CHECK_EQ_STR(s.auth, "Bearer t-123");
    CHECK_EQ_INT(g.ans.err.code, 99991400);
    CHECK_EQ_STR(g.ans.err.log_id, "log- 1");
    CHECK_EQ_INT(g.ans.reset_ms, 3000);
    openapi_wire_cancel(&wc);
    CHECK_EQ_INT(s.cancels, 0);
    openapi_wire_free(&w);
}

static void test_send_transport_errors(void) {
    static const struct { const char *why; int code; } cases[] = {
        { "timeout", OPENAPI_E_TIMEOUT }, { "tls: handshake failed", OPENAPI_E_TRANSPORT },
        { "connection reset", OPENAPI_E_TRANSPORT }, { "answer too large", OPENAPI_E_TOOBIG },
        { NULL, OPENAPI_E_TRANSPORT },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct script s = { 0 };
        s.res.error = cases[i].why;
        struct openapi_wire w;
        struct openapi_wire_call wc = { 0 };
        struct got g = { 0 };
        wire_setup(&w, &s);
        struct openapi_wire_req req = { "POST", "/open-apis/auth", NULL, "{}", 2, 1000, NULL, 0, 0 };
        CHECK_EQ_INT(openapi_wire_send(&w, &wc, &req, on_answer, &g), 0);
        CHECK(wc.active);
        CHECK_EQ_STR(s.auth, "");
        s.done(s.arg, &s.res);
        CHECK_EQ_INT(g.n, 1);
        CHECK_EQ_INT(g.ans.err.code, cases[i].code);
        CHECK_EQ_INT(g.ans.err.http_status, 0);
        CHECK_EQ_STR(g.ans.err.msg, cases[i].why ? cases[i].why : "no answer");
        CHECK(!g.ans.token_invalid && !g.ans.rate_limited);
        openapi_wire_free(&w);
    }
}

static void test_send_cancel(void) {
    struct script s = { 0 };
    struct openapi_wire w;
    struct openapi_wire_call wc = { 0 };
    struct got g = { 0 };
    wire_setup(&w, &s);
    struct openapi_wire_req req = { "GET", "/open-apis/x", "t", NULL, 0, 1000, NULL, 0, 0 };
    CHECK_EQ_INT(openapi_wire_send(&w, &wc, &req, on_answer, &g), 0);
    openapi_wire_cancel(&wc);
    openapi_wire_cancel(&wc);
    CHECK_EQ_INT(s.cancels, 1);
    CHECK_EQ_INT(g.n, 0);
    openapi_wire_free(&w);
}

int main(void) {
    RUN(test_decode_success);
    RUN(test_decode_not_json);
    RUN(test_decode_code);
    RUN(test_decode_token_and_rate);
    RUN(test_decode_too_big);
    RUN(test_send_sync_answer);
    RUN(test_send_transport_errors);
    RUN(test_send_cancel);
    return test_report();
}
