/* Private to src/openapi: the token cache. One entry per (type, tenant key), cached
 * until expire minus 3 min (half the lifetime when shorter); concurrent acquisitions of
 * a missing token share one fetch; a refresh that fails inside that margin falls back
 * to the current token until it really expires. A marketplace tenant token is fetched
 * with the app token, which is fetched with the app_ticket. Sits on the wire and the
 * ticket; never calls up into the request path. */
#ifndef LARKGW_OPENAPI_TOKEN_H
#define LARKGW_OPENAPI_TOKEN_H

#include <sys/queue.h>

#include "openapi/openapi_ticket.h"
#include "openapi/openapi_wire.h"

#define OPENAPI_TOKEN_BUCKETS 1024

/* Someone waiting for a token: a call, or a tenant fetch waiting for the app token.
 * fn gets the token (to copy) or an error; both die when fn returns. */
typedef void (*openapi_token_fn)(void *arg, const char *token,
                                 const struct openapi_wire_error *err);
struct openapi_token_fetch;
struct openapi_token_waiter {
    TAILQ_ENTRY(openapi_token_waiter) link;
    struct openapi_token_fetch *fetch;  /* the fetch waited on, NULL when not waiting */
    openapi_token_fn fn;
    void *arg;
};

struct openapi_token_entry;
TAILQ_HEAD(openapi_token_fetches, openapi_token_fetch);

struct openapi_tokens {
    /* Set by the owner before openapi_token_init; the strings are borrowed. */
    struct event_base *base;
    struct openapi_wire *wire;
    struct openapi_ticket *ticket;
    const char *app_id, *app_secret;
    int marketplace;
    int timeout_ms;                /* one token endpoint request */
    size_t max_tokens;             /* cache entries */
    uint64_t (*now_ms)(void);
    /* NULL: this gateway alone. Else tokens are shared by every gateway of the app:
     * <prefix>token:<app_id>:<app|tenant>:<tenant_key>, fetched once per cluster under
     * <prefix>lock:token:... (the others poll the shared key, and fetch themselves
     * after a bound), and a refused token is deleted there too. */
    struct redis *redis;
    const char *owner;             /* names this gateway in the lock */
    /* The module's own. */
    struct openapi_token_entry *buckets[OPENAPI_TOKEN_BUCKETS];
    size_t count;                  /* cache entries */
    uint64_t fetches;              /* token endpoint fetches started */
    struct openapi_token_fetches inflight;
};

void openapi_token_init(struct openapi_tokens *tks);
/* Calls w->fn now when the token is cached (or failing at once), else queues w on the
 * fetch for it, starting one when none is in flight. tenant_key is ignored for app
 * tokens and for a self-built app (whose one tenant token has the key ""). */
void openapi_token_acquire(struct openapi_tokens *tks, enum openapi_token type,
                           const char *tenant_key, struct openapi_token_waiter *w);
/* Stops waiting; the fetch goes on for the others and for the cache. */
void openapi_token_cancel(struct openapi_token_waiter *w);
/* Drops the cached token when it is still `value` (NULL: whatever it is), a token the
 * platform refused; the next acquisition fetches a new one. */
void openapi_token_drop(struct openapi_tokens *tks, enum openapi_token type,
                        const char *tenant_key, const char *value);
/* Cancels every fetch (waiters are not called) and frees the cache. */
void openapi_token_free(struct openapi_tokens *tks);

/* A token endpoint's answer, bytes already decoded: field (e.g. "tenant_access_token")
 * and expire (seconds, capped at a day). Returns the token (inside json) or NULL with
 * err set (OPENAPI_E_TOKEN). */
const char *openapi_token_parse(const cJSON *json, const char *field, long *expire_s,
                                struct openapi_wire_error *err);
/* Cache lifetime in ms of a token valid expire_s seconds. */
uint64_t openapi_token_lifetime_ms(long expire_s);

#endif
