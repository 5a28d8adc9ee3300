/* Private to src/openapi: the instance, the token cache and the answer parser shared by
 * openapi.c (request path), token.c (cache and fetches), ticket.c (app_ticket) and
 * answer.c (bytes in, results out). */
#ifndef LARKGW_OPENAPI_INT_H
#define LARKGW_OPENAPI_INT_H

#include <sys/queue.h>

#include "openapi/openapi.h"

#define OA_MSG_MAX 512
#define OA_LOGID_MAX 128
#define OA_TOKEN_MAX 2048
#define OA_TICKET_MAX 1024
#define OA_TENANT_MAX 256
#define OA_MARGIN_MS (180 * 1000)
#define OA_BUCKETS 1024

/* An error whose strings live in the struct, so it outlives the HTTP answer. */
struct oa_error {
    int code, http_status;
    char msg[OA_MSG_MAX];
    char log_id[OA_LOGID_MAX];
};

/* Someone waiting for a token: a call, or a tenant fetch waiting for the app token.
 * fn gets the token (to copy) or an error; both die when fn returns. */
typedef void (*oa_token_fn)(void *arg, const char *token, const struct oa_error *err);
struct oa_fetch;
struct oa_waiter {
    TAILQ_ENTRY(oa_waiter) link;
    struct oa_fetch *fetch;        /* the fetch waited on, NULL when not waiting */
    oa_token_fn fn;
    void *arg;
};
TAILQ_HEAD(oa_waiters, oa_waiter);

struct oa_token {
    struct oa_token *next;         /* hash chain */
    enum openapi_token type;
    char *tenant_key;              /* "" for app tokens and the self-built tenant token */
    char *value;                   /* NULL when none is cached */
    uint64_t fresh_until;          /* on the now_ms clock: refetch from here */
    uint64_t valid_until;          /* the platform's expiry: usable until here */
    struct oa_fetch *fetch;        /* the one fetch in flight (single-flight), or NULL */
};

struct openapi_call;
TAILQ_HEAD(oa_calls, openapi_call);
struct oa_fetch;
TAILQ_HEAD(oa_fetches, oa_fetch);

struct openapi {
    struct event_base *base;
    struct openapi_transport t;
    struct openapi_options o;
    char *domain, *app_id, *app_secret, *state_dir;
    int marketplace;
    char *ticket;                  /* NULL until known */
    uint64_t last_resend;          /* now_ms of the last resend request; 0: never */
    void *resend_http;             /* the resend request in flight */
    struct oa_token *buckets[OA_BUCKETS];
    size_t ntokens;
    struct oa_fetches fetches;
    struct oa_calls active, queued, rejected;
    int nactive, nqueued;
    struct openapi_stats st;
};

/* answer.c: classifies one HTTP answer. On code 0 with a 2xx status returns 0 and sets
 * *json (caller frees); otherwise returns the platform code or an openapi_errcode with
 * err->msg filled, and *json (when the body parsed) for the caller to free. */
int openapi_answer_parse(int http_status, const char *body, size_t len, size_t max,
                         cJSON **json, struct oa_error *err);
/* A token endpoint's answer: field (e.g. "tenant_access_token") and expire (seconds).
 * Returns the token (inside json) or NULL with err set (OPENAPI_E_TOKEN). */
const char *openapi_answer_token(const cJSON *json, const char *field, long *expire_s,
                                 struct oa_error *err);
/* Cache lifetime in ms for a token valid expire_s seconds. */
uint64_t openapi_answer_lifetime_ms(long expire_s);
/* Fills err from a transport answer without a status ("timeout", "tls: ..."). */
void openapi_answer_transport_error(const char *why, struct oa_error *err);
void openapi_error_set(struct oa_error *err, int code, int http_status, const char *msg);
/* Copies printable characters only, so a platform's msg cannot forge log lines. */
void openapi_copy_clean(char *dst, size_t size, const char *src);
int openapi_code_is_token_invalid(int code);

/* token.c */
/* Calls w->fn now when the token is cached (or failing at once), else queues w on the
 * fetch for it, starting one when none is in flight. */
void openapi_token_acquire(struct openapi *api, enum openapi_token type,
                           const char *tenant_key, struct oa_waiter *w);
/* Stops waiting; the fetch goes on for the others and for the cache. */
void openapi_token_cancel(struct oa_waiter *w);
/* Drops the cached token when it is still `value` (a token the platform refused). */
void openapi_token_drop(struct openapi *api, enum openapi_token type,
                        const char *tenant_key, const char *value);
void openapi_token_free_all(struct openapi *api);
/* The key of the self-built tenant token is "": the app has one tenant. */
const char *openapi_token_tenant(const struct openapi *api, enum openapi_token type,
                                 const char *tenant_key);

/* ticket.c */
void openapi_ticket_load(struct openapi *api);
void openapi_ticket_drop(struct openapi *api);
/* Asks the platform to push a ticket, at most once per resend_interval_ms. */
void openapi_ticket_resend(struct openapi *api);
void openapi_ticket_free(struct openapi *api);

/* openapi.c: a POST of a JSON body without a token, for token.c and ticket.c. */
void *openapi_post_plain(struct openapi *api, const char *path, const char *body,
                         size_t len, http_done_fn done, void *arg);

#endif
