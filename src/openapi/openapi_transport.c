#include "openapi/openapi.h"

static void *http_request(void *ctx, const struct http_client_request *req, http_done_fn done,
                          void *arg) {
    return http_client_request(ctx, req, done, arg);
}

static void http_cancel(void *ctx, void *call) { http_call_cancel(call); }

static const char *http_header(void *ctx, const struct http_client_response *res,
                               const char *name) {
    return http_client_header(res, name);
}

struct openapi_transport openapi_transport_http(struct http_client *client) {
    struct openapi_transport t = { client, http_request, http_cancel, http_header };
    return t;
}
