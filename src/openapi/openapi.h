/* The OpenAPI client: tokens (self-built and marketplace apps, one tenant token per
 * tenant key, single-flight fetches, app_ticket kept in state_dir) and the request path
 * (Bearer token, JSON answers, refresh-and-retry on invalid tokens, rate-limit waits,
 * per-call timeout, bounded concurrency, cancellation).
 * Inside, bottom up: openapi_wire (one request, its answer decoded), openapi_ticket,
 * openapi_token (the cache), and this file's request path on top; none calls up.
 * Tokens are cached until expire minus 3 min (half the lifetime when shorter); a refresh
 * that fails inside that margin falls back to the current token until it really expires.
 *
 * One instance per event_base; nothing here is thread-safe. The HTTP layer is a small
 * vtable, so tests drive the module with a fake transport and the gateway plugs in
 * net/http_client. Tokens, the app secret and Authorization headers never reach a
 * log: failures are logged with method, path, code, msg and log id only. */
#ifndef LARKGW_OPENAPI_H
#define LARKGW_OPENAPI_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "net/http_client.h"

struct event_base;
struct openapi;
struct openapi_call;

/* The HTTP seam; same shapes as http_client_request / http_call_cancel /
 * http_client_header. request copies what it needs from req before it returns, and
 * returns NULL (done never called) when it cannot start; done may even run before
 * request returns. cancel is only called before done has run. */
struct openapi_transport {
    void *ctx;
    void *(*request)(void *ctx, const struct http_client_request *req, http_done_fn done,
                     void *arg);
    void (*cancel)(void *ctx, void *call);
    const char *(*header)(void *ctx, const struct http_client_response *res,
                          const char *name);
};

/* The real transport: an http_client the caller owns and frees after openapi_free. */
struct openapi_transport openapi_transport_http(struct http_client *client);

/* The app and where it lives are required; every other field is optional (0 or NULL:
 * the default in brackets). The strings are copied by openapi_new. */
struct openapi_options {
    const char *domain;            /* "https://open.feishu.cn"; a trailing '/' is dropped */
    const char *app_id;
    const char *app_secret;
    int marketplace;               /* 1: a marketplace (ISV) app, tokens per tenant, needs
                                      an app_ticket; 0: a self-built app */
    const char *state_dir;         /* where a marketplace app keeps its app_ticket; NULL:
                                      in memory only */
    int max_inflight;              /* calls running at once [64] */
    int max_queue;                 /* calls waiting for a slot; beyond: OPENAPI_E_BUSY [1024] */
    int default_timeout_ms;        /* whole-call bound when a request says 0 [10000] */
    int token_timeout_ms;          /* one token endpoint request [10000] */
    size_t max_response;           /* answer body bound [4 MiB] */
    int rate_retries;              /* retries after 429 / 99991400; -1: none [3] */
    int rate_wait_max_ms;          /* cap on x-ogw-ratelimit-reset [10000]; absent: 1 s */
    int resend_interval_ms;        /* least gap between app_ticket/resend requests [60000] */
    size_t max_tokens;             /* token cache entries [10000] */
    uint64_t (*now_ms)(void);      /* token expiry clock [util_now_ms]; tests inject one */
};

/* Local error codes; platform codes are positive. */
enum openapi_errcode {
    OPENAPI_E_TRANSPORT = -1,      /* no HTTP answer (connect, TLS, reset); msg says which */
    OPENAPI_E_TIMEOUT = -2,        /* the call's timeout passed */
    OPENAPI_E_BADANSWER = -3,      /* not JSON, not an object, or no numeric code */
    OPENAPI_E_TOOBIG = -4,         /* answer larger than max_response */
    OPENAPI_E_HTTP = -5,           /* an HTTP error status without a platform code */
    OPENAPI_E_BUSY = -6,           /* too many calls queued */
    OPENAPI_E_INVAL = -7,          /* a malformed request (method, path, query, tenant key) */
    OPENAPI_E_NOTICKET = -8,       /* marketplace app without an app_ticket yet */
    OPENAPI_E_TOKEN = -9,          /* a token endpoint answered code 0 without a usable token */
};

/* The platform's codes the module acts on. */
enum {
    OPENAPI_CODE_TICKET_INVALID = 10012,
    OPENAPI_CODE_RATE_LIMITED = 99991400,
    OPENAPI_CODE_TENANT_TOKEN_INVALID = 99991663,
    OPENAPI_CODE_APP_TOKEN_INVALID = 99991664,
    OPENAPI_CODE_TOKEN_INVALID = 99991671,
};

struct openapi_error {
    int code;                      /* the body's code, or an openapi_errcode */
    int http_status;               /* 0 when no HTTP answer came */
    const char *msg;               /* never NULL */
    const char *log_id;            /* the X-Tt-Logid header; "" when absent */
};

enum openapi_token { OPENAPI_TOKEN_TENANT = 0, OPENAPI_TOKEN_APP = 1 };

struct openapi_req {
    const char *method;            /* GET POST PUT PATCH DELETE */
    const char *path;              /* "/open-apis/im/v1/messages"; printable, no spaces */
    const char *query;             /* already encoded, without '?'; NULL for none */
    const char *body;              /* JSON bytes (or content_type's) or NULL; see body_owned */
    size_t body_len;
    int body_owned;                /* 1: body is malloc'd and handed over (freed by the
                                      module, on every path); 0: copied once */
    const char *tenant_key;        /* marketplace tenant token: required; self-built: ignored
                                      (the app has exactly one tenant token) */
    enum openapi_token token;      /* which token goes in Authorization [tenant] */
    int timeout_ms;                /* the whole call (queue, token, retries); 0: default */
    const char *content_type;      /* the body's Content-Type; NULL: JSON. Copied */
    size_t max_response;           /* this call's answer bound; 0: opts->max_response */
};

/* Called exactly once per call unless the call was cancelled, always from the event loop
 * (never from inside openapi_request). On success err is NULL and res is the whole
 * decoded answer ({"code":0,"msg":...,"data":...}); it is handed over: the callback
 * owns it and must cJSON_Delete it. On failure res is NULL and err (with its strings)
 * lives until the callback returns. The call handle is dead once the callback starts. */
typedef void (*openapi_done_fn)(void *arg, cJSON *res, const struct openapi_error *err);

/* A binary answer (a file download): the body as it came, alive during the callback
 * only. */
struct openapi_raw {
    const char *body;
    size_t len;
    const char *content_type;      /* "" when absent */
    const char *disposition;       /* Content-Disposition; "" when absent */
};

/* Like openapi_done_fn, for openapi_request_raw: on success raw holds the answer's bytes
 * (a 2xx answer that is not JSON, or a JSON one with code 0) and err is NULL; JSON
 * answers with another code, and every local failure, come as err. */
typedef void (*openapi_raw_fn)(void *arg, const struct openapi_raw *raw,
                               const struct openapi_error *err);

/* Needs opts->domain, app_id and app_secret; a marketplace app loads its last
 * app_ticket from opts->state_dir. t and opts are copied. NULL (logged) when a
 * credential is missing, or out of memory. */
struct openapi *openapi_new(struct event_base *base, const struct openapi_transport *t,
                            const struct openapi_options *opts);
/* Cancels every call (their callbacks are never called) and token fetch, then frees.
 * Not from inside a callback of this instance. */
void openapi_free(struct openapi *api);

/* Starts a call. Every error, a malformed request or a full queue included, reaches
 * done; NULL only when out of memory (done is never called then, and an owned body is
 * freed). */
struct openapi_call *openapi_request(struct openapi *api, const struct openapi_req *req,
                                     openapi_done_fn done, void *arg);

/* The same for an answer wanted as bytes (downloads): tokens, retries, bounds and
 * cancellation as above, req->max_response bounding the body. */
struct openapi_call *openapi_request_raw(struct openapi *api, const struct openapi_req *req,
                                         openapi_raw_fn done, void *arg);

/* done will not be called. Safe until done has started; a token fetch other calls wait
 * on goes on. */
void openapi_call_cancel(struct openapi_call *call);

/* Marketplace apps: the app_ticket event's event.app_ticket. Kept in memory and written
 * to {state_dir}/app_ticket.<app_id> (0600, atomically; when that fails, one warning and
 * the ticket still serves). Returns 0, or -1 when the ticket is empty, longer than 1024
 * bytes or not printable ASCII. */
int openapi_set_app_ticket(struct openapi *api, const char *ticket);
/* 1 when an app_ticket is known. */
int openapi_has_app_ticket(const struct openapi *api);
/* Marketplace apps with no ticket yet (none pushed, none on disk): asks the platform to
 * push one now (app_ticket/resend), instead of when the first call needs it. */
void openapi_request_app_ticket(struct openapi *api);

/* Shares tokens and the app_ticket with the other gateways of the app through r (which
 * outlives api): a missing token is fetched once per cluster, a refused one is dropped
 * for all, a ticket pushed to any gateway serves every one. owner names this gateway
 * (borrowed). While Redis is down, each gateway fetches its own, as without it. */
struct redis;
void openapi_set_redis(struct openapi *api, struct redis *r, const char *owner);

struct openapi_stats {
    uint64_t calls, failures, retries, token_fetches, ticket_resends;
    int inflight, queued;
    size_t tokens;                 /* cache entries */
};
void openapi_get_stats(const struct openapi *api, struct openapi_stats *st);

#endif
