#include "openapi/openapi_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void copy_clean(char *dst, size_t size, const char *src) {
    size_t n = 0;
    for (; src && *src && n + 1 < size; src++) {
        unsigned char c = (unsigned char)*src;
        dst[n++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    dst[n] = '\0';
}

void openapi_wire_error_set(struct openapi_wire_error *err, int code, int http_status,
                            const char *msg) {
    err->code = code;
    err->http_status = http_status;
    copy_clean(err->msg, sizeof err->msg, msg);
}

static int code_is_token_invalid(int code) {
    return code == OPENAPI_CODE_TENANT_TOKEN_INVALID || code == OPENAPI_CODE_APP_TOKEN_INVALID
        || code == OPENAPI_CODE_TOKEN_INVALID;
}

/* No HTTP answer: the transport's reason says which local code it is. */
static void transport_error(const char *why, struct openapi_wire_error *err) {
    if (!why || !*why) why = "no answer";
    int code = OPENAPI_E_TRANSPORT;
    if (strcmp(why, "timeout") == 0) code = OPENAPI_E_TIMEOUT;
    else if (strstr(why, "too large")) code = OPENAPI_E_TOOBIG;
    openapi_wire_error_set(err, code, 0, why);
}

/* An answer without a usable code: an HTTP status may still say what happened. */
static int answer_without_code(int status, const char *what, struct openapi_wire_error *err) {
    char msg[96];
    if (status == 429) {
        openapi_wire_error_set(err, OPENAPI_CODE_RATE_LIMITED, status, "rate limited (HTTP 429)");
        return OPENAPI_CODE_RATE_LIMITED;
    }
    if (status < 200 || status > 299) {
        snprintf(msg, sizeof msg, "HTTP %d, %s", status, what);
        openapi_wire_error_set(err, OPENAPI_E_HTTP, status, msg);
        return OPENAPI_E_HTTP;
    }
    openapi_wire_error_set(err, OPENAPI_E_BADANSWER, status, what);
    return OPENAPI_E_BADANSWER;
}

static int decode_body(int http_status, const char *body, size_t len, size_t max,
                       struct openapi_wire_answer *ans) {
    struct openapi_wire_error *err = &ans->err;
    if (len > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "answer of %zu bytes exceeds the %zu byte bound", len, max);
        openapi_wire_error_set(err, OPENAPI_E_TOOBIG, http_status, msg);
        return OPENAPI_E_TOOBIG;
    }
    cJSON *root = len ? cJSON_ParseWithLength(body, len) : NULL;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return answer_without_code(http_status, "answer is not a JSON object", err);
    }
    ans->json = root;
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "code");
    if (!cJSON_IsNumber(code) || code->valuedouble < -2147483648.0
        || code->valuedouble > 2147483647.0 || code->valuedouble != (int)code->valuedouble)
        return answer_without_code(http_status, "answer has no integer code", err);
    int c = (int)code->valuedouble;
    if (c == 0 && http_status >= 200 && http_status <= 299) {
        err->code = 0;
        err->http_status = http_status;
        return 0;
    }
    if (c == 0) return answer_without_code(http_status, "code 0 with an error status", err);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "msg");
    openapi_wire_error_set(err, c, http_status, cJSON_IsString(msg) ? msg->valuestring : "");
    return c;
}

int openapi_wire_decode(int http_status, const char *body, size_t len, size_t max,
                        struct openapi_wire_answer *ans) {
    ans->json = NULL;
    ans->reset_ms = 1000;
    int code = decode_body(http_status, body, len, max, ans);
    ans->token_invalid = code_is_token_invalid(code);
    ans->rate_limited = code == OPENAPI_CODE_RATE_LIMITED || http_status == 429;
    return code;
}

/* x-ogw-ratelimit-reset: whole seconds until the window reopens. */
static int reset_ms(const char *h) {
    char *end;
    long s = h ? strtol(h, &end, 10) : -1;
    return h && end != h && s >= 0 && s < 86400 ? (int)s * 1000 : 1000;
}

static int is_json(const char *ctype) {
    return ctype && strncasecmp(ctype, "application/json", 16) == 0;
}

/* A raw request's success: the bytes, whether JSON (code 0) or not (any 2xx). An answer
 * without a Content-Type that reads like a JSON object is taken as JSON, so an error
 * envelope is never handed over as the file. */
static void take_raw(struct openapi_wire *w, const struct http_client_response *res,
                     struct openapi_wire_answer *ans) {
    const char *ctype = w->t.header(w->t.ctx, res, "Content-Type");
    int json = is_json(ctype) || (!ctype && res->body_len && res->body[0] == '{');
    if (!json && res->status >= 200 && res->status <= 299) {
        ans->err.code = 0;
        ans->err.http_status = res->status;
    } else {
        openapi_wire_decode(res->status, res->body, res->body_len, (size_t)-1, ans);
    }
    if (ans->err.code) return;
    copy_clean(ans->content_type, sizeof ans->content_type, ctype);
    copy_clean(ans->disposition, sizeof ans->disposition,
               w->t.header(w->t.ctx, res, "Content-Disposition"));
    if (!(ans->raw = malloc(res->body_len ? res->body_len : 1))) {
        openapi_wire_error_set(&ans->err, OPENAPI_E_TRANSPORT, res->status, "out of memory");
        return;
    }
    if (res->body_len) memcpy(ans->raw, res->body, res->body_len);
    ans->raw_len = res->body_len;
}

static void wire_on_http(void *arg, const struct http_client_response *res) {
    struct openapi_wire_call *wc = arg;
    struct openapi_wire *w = wc->wire;
    struct openapi_wire_answer ans;
    memset(&ans, 0, sizeof ans);
    wc->active = 0;
    wc->http = NULL;
    copy_clean(ans.err.log_id, sizeof ans.err.log_id, w->t.header(w->t.ctx, res, "X-Tt-Logid"));
    if (res->status == 0) {
        transport_error(res->error, &ans.err);
        ans.reset_ms = 1000;
    } else {
        if (wc->raw) take_raw(w, res, &ans);
        else openapi_wire_decode(res->status, res->body, res->body_len, w->max_response, &ans);
        ans.reset_ms = reset_ms(w->t.header(w->t.ctx, res, "x-ogw-ratelimit-reset"));
    }
    /* wc may be gone once done returns (its owner may finish); ans is ours. */
    wc->done(wc->arg, &ans);
    cJSON_Delete(ans.json);
    free(ans.raw);
}

/* domain + target in one allocation; NULL when out of memory. */
static char *url_build(const struct openapi_wire *w, const char *target) {
    size_t d = strlen(w->domain), n = strlen(target);
    char *url = malloc(d + n + 1);
    if (!url) return NULL;
    memcpy(url, w->domain, d);
    memcpy(url + d, target, n + 1);
    return url;
}

int openapi_wire_send(struct openapi_wire *w, struct openapi_wire_call *wc,
                      const struct openapi_wire_req *req, openapi_wire_fn done, void *arg) {
    char auth[OPENAPI_WIRE_TOKEN_MAX + 16];
    char *url = url_build(w, req->target);
    if (!url) return -1;
    const char *ctype = req->content_type ? req->content_type : "application/json; charset=utf-8";
    const char *headers[5] = { "Content-Type", ctype, NULL };
    if (req->token) {
        snprintf(auth, sizeof auth, "Bearer %s", req->token);
        const char *with_auth[5] = { "Authorization", auth, "Content-Type", ctype, NULL };
        memcpy(headers, with_auth, sizeof headers);
    }
    struct http_client_request hr = { .method = req->method, .url = url, .headers = headers,
        .body = req->body, .body_len = req->body_len,
        .timeout_ms = req->timeout_ms > 1 ? req->timeout_ms : 1,
        .max_response = req->max_response ? req->max_response : w->max_response };
    wc->raw = req->raw;
    wc->wire = w;
    wc->done = done;
    wc->arg = arg;
    wc->http = NULL;
    wc->active = 1;
    void *h = w->t.request(w->t.ctx, &hr, wire_on_http, wc);
    if (req->token) memset(auth, 0, sizeof auth);
    free(url);
    if (!h) {
        wc->active = 0;
        return -1;
    }
    if (wc->active) wc->http = h;
    return 0;
}

void openapi_wire_cancel(struct openapi_wire_call *wc) {
    if (wc->active && wc->http) wc->wire->t.cancel(wc->wire->t.ctx, wc->http);
    wc->active = 0;
    wc->http = NULL;
}

int openapi_wire_init(struct openapi_wire *w, const struct openapi_transport *t,
                      const char *domain, size_t max_response) {
    w->t = *t;
    w->max_response = max_response;
    if (!(w->domain = strdup(domain))) return -1;
    size_t n = strlen(w->domain);
    while (n && w->domain[n - 1] == '/') w->domain[--n] = '\0';
    return 0;
}

void openapi_wire_free(struct openapi_wire *w) {
    free(w->domain);
    w->domain = NULL;
}
