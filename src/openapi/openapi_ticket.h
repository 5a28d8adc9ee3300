/* Private to src/openapi: a marketplace app's app_ticket. Kept in memory and in
 * {state_dir}/app_ticket.<app_id>, and asked for again (app_ticket/resend) when the
 * platform refuses it or none is known. Sits on the wire; knows nothing of tokens. */
#ifndef LARKGW_OPENAPI_TICKET_H
#define LARKGW_OPENAPI_TICKET_H

#include <stdint.h>

#include "openapi/openapi_wire.h"

struct redis;
struct redis_call;

#define OPENAPI_TICKET_MAX 1024

struct openapi_ticket {
    /* Set by the owner before openapi_ticket_load; the strings are borrowed. */
    struct openapi_wire *wire;
    const char *app_id, *app_secret;
    const char *state_dir;         /* NULL: the ticket lives in memory only */
    int marketplace;               /* 0: nothing is loaded, saved or resent */
    int resend_interval_ms;
    int timeout_ms;                /* one resend request */
    uint64_t (*now_ms)(void);
    struct redis *redis;           /* NULL: not shared; else every gateway's ticket */
    /* The module's own. */
    char *value;                   /* NULL until known */
    uint64_t last_resend;          /* now_ms of the last resend request */
    uint64_t resends;              /* resend requests sent */
    struct openapi_wire_call resend;
};

/* Reads the file a previous run left, if any (a malformed one is logged and ignored). */
void openapi_ticket_load(struct openapi_ticket *tk);
/* Takes a pushed ticket and saves it (0600, atomically; a failure is logged once and
 * the ticket is kept in memory). Returns 0, or -1 when the ticket is empty, longer than
 * OPENAPI_TICKET_MAX or not printable ASCII. */
int openapi_ticket_set(struct openapi_ticket *tk, const char *ticket);
/* The platform refused the ticket: forgets it, in memory and on disk. */
void openapi_ticket_drop(struct openapi_ticket *tk);
/* Asks the platform to push a ticket, at most once per resend_interval_ms. */
void openapi_ticket_resend(struct openapi_ticket *tk);
/* Shared (tk->redis set): a pushed ticket is also written to <prefix>ticket:<app_id>
 * (by openapi_ticket_set), a refused one deleted there (if still the same), and a
 * gateway that has none asks Redis for the one another gateway received. */
struct openapi_ticket_get {
    struct openapi_ticket *tk;
    void (*fn)(void *arg);
    void *arg;
    struct redis_call *call;       /* in flight, else NULL */
};
/* Asks Redis for the shared ticket; g is the caller's (it lives until fn or cancel).
 * fn(arg) is called once the answer is in, tk->value set when Redis had one. Returns 0,
 * or -1 when Redis is down or the ticket is not shared (fn is not called). */
int openapi_ticket_fetch_shared(struct openapi_ticket *tk, struct openapi_ticket_get *g,
                                void (*fn)(void *arg), void *arg);
/* fn will not be called; a no-op when nothing is in flight. */
void openapi_ticket_get_cancel(struct openapi_ticket_get *g);

/* Cancels a resend in flight and frees the ticket. */
void openapi_ticket_free(struct openapi_ticket *tk);

#endif
