/* Reassembly of fragmented pbbp2 messages (docs/protocol.md §1.4): fragments share a
 * message_id, carry sum (how many) and seq (0-based index), and are concatenated in seq
 * order once all have arrived. Bounded in fragment count, message size, number of
 * partial messages, bytes held and time. Pure: the caller passes the clock. */
#ifndef LARKGW_PROTO_REASSEMBLY_H
#define LARKGW_PROTO_REASSEMBLY_H

#include <stddef.h>
#include <stdint.h>

struct reassembly;

struct reassembly_limits {
    long long max_sum;      /* more fragments than this is absurd */
    size_t max_message;     /* bound on one reassembled message */
    size_t max_held;        /* bound on the bytes held by all partial messages */
    int max_partials;       /* bound on partial messages at once */
    uint64_t timeout_ms;    /* a partial message older than this is dropped */
};

enum reassembly_result {
    REASM_COMPLETE = 1,     /* *out holds the whole message (malloc'd, caller frees) */
    REASM_PENDING = 0,      /* kept; more fragments to come */
    REASM_EBADSUM = -1,     /* sum <= 0 or above max_sum */
    REASM_EBADSEQ = -2,     /* seq outside [0, sum) */
    REASM_ESUMCHANGED = -3, /* sum differs from the first fragment's: partial dropped */
    REASM_ETOOBIG = -4,     /* the message would exceed max_message: partial dropped */
    REASM_EFULL = -5,       /* max_held or max_partials reached: partial dropped */
    REASM_EDUP = -6,        /* this seq already arrived: fragment ignored */
    REASM_EBADID = -7,      /* empty or missing message_id */
    REASM_ENOMEM = -8,      /* allocation failed: partial dropped */
};

/* NULL on allocation failure. */
struct reassembly *reassembly_new(const struct reassembly_limits *lim);
void reassembly_free(struct reassembly *r);

/* Adds one fragment (data is copied). Returns an enum reassembly_result; on
 * REASM_COMPLETE *out and *out_len hold the message, NUL-terminated for convenience
 * (the NUL is not counted). A whole message (sum 1, seq 0) completes at once. */
int reassembly_add(struct reassembly *r, const char *message_id, long long sum,
                   long long seq, const void *data, size_t len, uint64_t now_ms,
                   unsigned char **out, size_t *out_len);

/* Drops partial messages older than timeout_ms; returns how many were dropped. */
int reassembly_expire(struct reassembly *r, uint64_t now_ms);

/* Partial messages held, and their bytes. */
int reassembly_pending(const struct reassembly *r);
size_t reassembly_held(const struct reassembly *r);

const char *reassembly_strerror(int rc);

#endif
