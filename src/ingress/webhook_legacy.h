/* The legacy card request URL (webhook.card_path): old message cards post their clicks
 * there, apart from events, signed with X-Lark-Signature = hex SHA-1(timestamp || nonce
 * || verification token || raw body) and neither encrypted nor in an event envelope.
 * Bytes in, a verdict out, no sockets: a signed click becomes a schema 2.0 envelope of
 * type card.action.legacy whose `event` is the body as posted. Private to
 * ingress/webhook. */
#ifndef LARKGW_INGRESS_WEBHOOK_LEGACY_H
#define LARKGW_INGRESS_WEBHOOK_LEGACY_H

#include <stddef.h>

#include "ingress/webhook_verify.h"

#define WEBHOOK_LEGACY_EVENT_TYPE "card.action.legacy"

struct webhook_legacy_verdict {
    const char *reason;        /* static text, safe to log and to put in a JSON string */
    char *json;                /* the envelope to dispatch, malloc'd: the caller frees it */
    size_t json_len;
    unsigned flags;            /* EVENT_CHALLENGE_ONLY when the request was not signed */
};

/* Checks one request to the card URL. token is the verification token (NULL: ""), a
 * secret; max_skew_s the timestamp window (0: any). Returns 0 with out->json set, or
 * the HTTP status to refuse with (400 malformed, 401 signature or timestamp, 503 out of
 * memory) and out->reason. Without any of the three headers only a url_verification
 * goes on, as is and flagged EVENT_CHALLENGE_ONLY (the dispatcher checks its token);
 * anything else unsigned, or some headers but not all, is 401.
 * The signature is compared in constant time. */
int webhook_legacy_verify(const char *token, int max_skew_s, const struct webhook_input *in,
                          struct webhook_legacy_verdict *out);

#endif
