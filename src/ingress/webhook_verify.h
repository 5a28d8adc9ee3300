/* The webhook's request check, without sockets: raw body and header values in, the
 * event JSON (or a refusal: HTTP status and reason) out. Private to ingress/webhook. */
#ifndef LARKGW_INGRESS_WEBHOOK_VERIFY_H
#define LARKGW_INGRESS_WEBHOOK_VERIFY_H

#include <stddef.h>

struct webhook_verifier {
    const char *encrypt_key;   /* NULL: plain mode (borrowed, must outlive the verifier) */
    size_t encrypt_key_len;
    unsigned char aes_key[32]; /* SHA-256 of encrypt_key, derived once */
    int max_skew_s;            /* 0: any timestamp */
};

struct webhook_input {
    const char *body;
    size_t len;
    /* X-Lark-Request-Timestamp, -Nonce, X-Lark-Signature; NULL when absent */
    const char *timestamp, *nonce, *signature;
    long long now;             /* unix seconds */
};

struct webhook_verdict {
    const char *reason;        /* static text, safe to log and to put in a JSON string */
    const char *json;          /* the event: points into the body or the scratch buffer */
    size_t json_len;
    unsigned flags;            /* EVENT_CHALLENGE_ONLY when the request was not signed */
};

/* encrypt_key NULL or "" selects plain mode. */
void webhook_verifier_init(struct webhook_verifier *v, const char *encrypt_key, int max_skew_s);

/* A signature header's timestamp: digits only, at most 18 of them (no sign, no spaces,
 * no overflow). 0 with *ts set, or -1. Shared with the legacy card verifier. */
int webhook_verify_parse_timestamp(const char *s, long long *ts);

/* Bytes of scratch webhook_verify needs for a body of len bytes. */
size_t webhook_scratch_size(size_t len);

/* Checks one request. Returns 0 with out->json set (the dispatcher takes it from here),
 * or the HTTP status to refuse with (400 malformed, 401 signature or timestamp) and
 * out->reason. With an encrypt key: all three signature headers, or none (then only a
 * url_verification challenge may pass: flags = EVENT_CHALLENGE_ONLY); the timestamp
 * window; SHA-256(timestamp||nonce||key||body) compared in constant time; then
 * {"encrypt": base64(IV||AES-256-CBC)} is decoded. Without a key the body is the event
 * (an encrypted body is refused: the key is missing from the config). */
int webhook_verify(const struct webhook_verifier *v, const struct webhook_input *in,
                   unsigned char *scratch, struct webhook_verdict *out);

#endif
