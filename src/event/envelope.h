/* The platform's event envelope, parsed once with cJSON (into an arena, see
 * base/json_arena.h): schema 2.0, schema 1.0 (type "event_callback") and
 * url_verification. Bytes in, fields out; no I/O. */
#ifndef LARKGW_EVENT_ENVELOPE_H
#define LARKGW_EVENT_ENVELOPE_H

#include <stddef.h>

struct cJSON;
struct json_arena;

enum envelope_kind { ENVELOPE_V2, ENVELOPE_V1, ENVELOPE_CHALLENGE };

/* The string fields point into root and live as long as it does; NULL when absent. */
struct envelope {
    struct cJSON *root;       /* read-only; lives in arena */
    struct json_arena *arena; /* owned: envelope_free frees it */
    enum envelope_kind kind;
    const char *event_id;     /* 2.0 header.event_id, 1.0 uuid; NULL for a challenge */
    const char *event_type;   /* 2.0 header.event_type, 1.0 event.type */
    const char *token;        /* 2.0 header.token, 1.0 and challenge token */
    const char *tenant_key;   /* 2.0 header.tenant_key, 1.0 event.tenant_key */
    const char *create_time;  /* 2.0 header.create_time, 1.0 ts */
    const char *challenge;    /* url_verification only */
    const char *message_id;   /* im.message.receive_v1: event.message.message_id */
    const char *chat_id;      /* 2.0 event.message.chat_id, or event.chat_id of im.chat.*;
                                 1.0 event.open_chat_id */
};

/* Parses len bytes (need not be NUL-terminated). Returns 0 and fills env, or -1 with a
 * short reason in err ("malformed JSON", "missing header.event_id") and env->root NULL.
 * A string field of the wrong JSON type counts as missing. */
int envelope_parse(struct envelope *env, const char *json, size_t len, char *err, size_t errlen);

void envelope_free(struct envelope *env);

/* Hands from's tree and fields to to (which holds none); from is left empty. */
void envelope_move(struct envelope *to, struct envelope *from);

#endif
