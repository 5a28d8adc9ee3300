/* openapi over the real transport (openapi_transport_http + http_client) against an
 * in-process evhttp server on 127.0.0.1: URL, headers, body, log id and the rate-limit
 * header make it through the adapter. */
#include "openapi/openapi.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

static int business, token_fetches;
static char seen_auth[128], seen_type[128], seen_body[128], seen_uri[256];

static void reply(struct evhttp_request *req, int status, const char *body, const char *reset) {
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "X-Tt-Logid", "real-log-id");
    if (reset) evhttp_add_header(h, "x-ogw-ratelimit-reset", reset);
    struct evbuffer *out = evbuffer_new();
    evbuffer_add(out, body, strlen(body));
    evhttp_send_reply(req, status, "X", out);
    evbuffer_free(out);
}

static void copy_body(struct evhttp_request *req, char *dst, size_t size) {
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    if (n >= size) n = size - 1;
    evbuffer_copyout(in, dst, n);
    dst[n] = '\0';
}

static void serve(struct evhttp_request *req, void *arg) {
    const char *uri = evhttp_request_get_uri(req);
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    if (strcmp(uri, "/open-apis/auth/v3/tenant_access_token/internal") == 0) {
        token_fetches++;
        reply(req, 200, "{\"code\":0,\"tenant_access_token\":\"t-real-1\",\"expire\":7200}", NULL);
        return;
    }
    business++;
    snprintf(seen_uri, sizeof seen_uri, "%s", uri);
    const char *auth = evhttp_find_header(in, "Authorization");
    const char *type = evhttp_find_header(in, "Content-Type");
    snprintf(seen_auth, sizeof seen_auth, "%s", auth ? auth : "");
    snprintf(seen_type, sizeof seen_type, "%s", type ? type : "");
    copy_body(req, seen_body, sizeof seen_body);
    if (strncmp(uri, "/open-apis/err", 14) == 0)
        reply(req, 400, "{\"code\":230001,\"msg\":\"bad request\"}", NULL);
    else if (business == 1)
        reply(req, 429, "{\"code\":99991400,\"msg\":\"too many\"}", "0");
    else
        reply(req, 200, "{\"code\":0,\"msg\":\"success\",\"data\":{\"message_id\":\"om_1\"}}", NULL);
}

struct result { int done, code; char log_id[64], message_id[64]; };

static void on_done(void *arg, cJSON *res, const struct openapi_error *err) {
    struct result *r = arg;
    r->done++;
    if (err) {
        r->code = err->code;
        snprintf(r->log_id, sizeof r->log_id, "%s", err->log_id);
        return;
    }
    cJSON *id = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(res, "data"),
                                                 "message_id");
    snprintf(r->message_id, sizeof r->message_id, "%s", cJSON_IsString(id) ? id->valuestring : "");
    cJSON_Delete(res);
}

static void test_real_transport(void) {
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    CHECK(sock != NULL);
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&sa, &len);
    evhttp_set_gencb(http, serve, NULL);

    char domain[64];
    snprintf(domain, sizeof domain, "http://127.0.0.1:%d", ntohs(sa.sin_port));
    struct openapi_options o = { .domain = domain, .app_id = "cli_real",
                                 .app_secret = "real-secret" };
    struct http_client *client = http_client_new(base, NULL);
    struct openapi_transport t = openapi_transport_http(client);
    struct openapi *api = openapi_new(base, &t, &o);

    struct result r1 = { 0 }, r2 = { 0 };
    struct openapi_req req = { "POST", "/open-apis/im/v1/messages", "receive_id_type=chat_id",
                               "{\"receive_id\":\"oc_1\"}", 21, 0, NULL, OPENAPI_TOKEN_TENANT, 5000,
                               NULL, 0 };
    openapi_request(api, &req, on_done, &r1);
    struct openapi_req bad = { "GET", "/open-apis/err", NULL, NULL, 0, 0, NULL,
                               OPENAPI_TOKEN_TENANT, 5000, NULL, 0 };
    while (!r1.done) event_base_loop(base, EVLOOP_ONCE);
    CHECK_EQ_STR(r1.message_id, "om_1");
    CHECK_EQ_INT(business, 2);
    CHECK_EQ_INT(token_fetches, 1);
    CHECK_EQ_STR(seen_uri, "/open-apis/im/v1/messages?receive_id_type=chat_id");
    CHECK_EQ_STR(seen_auth, "Bearer t-real-1");
    CHECK_EQ_STR(seen_type, "application/json; charset=utf-8");
    CHECK_EQ_STR(seen_body, "{\"receive_id\":\"oc_1\"}");
    openapi_request(api, &bad, on_done, &r2);
    while (!r2.done) event_base_loop(base, EVLOOP_ONCE);
    CHECK_EQ_INT(r2.code, 230001);
    CHECK_EQ_STR(r2.log_id, "real-log-id");

    openapi_free(api);
    http_client_free(client);
    evhttp_free(http);
    event_base_free(base);
}

int main(void) {
    RUN(test_real_transport);
    return test_report();
}
