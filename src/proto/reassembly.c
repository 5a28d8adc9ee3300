#include "proto/reassembly.h"

#include <stdlib.h>
#include <string.h>

struct partial {
    struct partial *next;       /* creation order, so the oldest is first */
    char *id;
    long long sum, got;
    size_t bytes;
    uint64_t started_ms;
    unsigned char **parts;      /* sum slots, NULL until that seq arrives */
    size_t *lens;
};

struct reassembly {
    struct reassembly_limits lim;
    struct partial *head;
    int count;
    size_t held;
};

struct reassembly *reassembly_new(const struct reassembly_limits *lim) {
    struct reassembly *r = calloc(1, sizeof *r);
    if (r) r->lim = *lim;
    return r;
}

static void partial_free(struct partial *p) {
    for (long long i = 0; i < p->sum; i++) free(p->parts[i]);
    free(p->parts);
    free(p->lens);
    free(p->id);
    free(p);
}

static void partial_unlink(struct reassembly *r, struct partial *p) {
    for (struct partial **pp = &r->head; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    r->count--;
    r->held -= p->bytes;
    partial_free(p);
}

void reassembly_free(struct reassembly *r) {
    if (!r) return;
    while (r->head) partial_unlink(r, r->head);
    free(r);
}

static struct partial *partial_find(struct reassembly *r, const char *id) {
    for (struct partial *p = r->head; p; p = p->next)
        if (strcmp(p->id, id) == 0) return p;
    return NULL;
}

static struct partial *partial_new(struct reassembly *r, const char *id, long long sum,
                                   uint64_t now_ms) {
    struct partial *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->id = strdup(id);
    p->parts = calloc((size_t)sum, sizeof *p->parts);
    p->lens = calloc((size_t)sum, sizeof *p->lens);
    p->sum = sum;
    p->started_ms = now_ms;
    if (!p->id || !p->parts || !p->lens) {
        p->sum = 0;
        partial_free(p);
        return NULL;
    }
    struct partial **tail = &r->head;
    while (*tail) tail = &(*tail)->next;
    *tail = p;
    r->count++;
    return p;
}

static unsigned char *partial_join(const struct partial *p, size_t *out_len) {
    unsigned char *out = malloc(p->bytes + 1);
    if (!out) return NULL;
    size_t off = 0;
    for (long long i = 0; i < p->sum; i++) {
        memcpy(out + off, p->parts[i], p->lens[i]);
        off += p->lens[i];
    }
    out[off] = '\0';
    *out_len = off;
    return out;
}

/* Validation that needs no state. */
static int fragment_check(const struct reassembly *r, const char *id, long long sum,
                          long long seq, size_t len) {
    if (sum <= 0 || sum > r->lim.max_sum) return REASM_EBADSUM;
    if (seq < 0 || seq >= sum) return REASM_EBADSEQ;
    if (len > r->lim.max_message) return REASM_ETOOBIG;
    if (sum > 1 && (!id || !*id)) return REASM_EBADID;
    return 0;
}

static int whole_message(const void *data, size_t len, unsigned char **out, size_t *out_len) {
    unsigned char *m = malloc(len + 1);
    if (!m) return REASM_ENOMEM;
    if (len) memcpy(m, data, len);
    m[len] = '\0';
    *out = m;
    *out_len = len;
    return REASM_COMPLETE;
}

/* Fails the message: its partial (if any) goes, so nothing half-valid lingers. */
static int fail(struct reassembly *r, struct partial *p, int rc) {
    if (p) partial_unlink(r, p);
    return rc;
}

int reassembly_add(struct reassembly *r, const char *message_id, long long sum,
                   long long seq, const void *data, size_t len, uint64_t now_ms,
                   unsigned char **out, size_t *out_len) {
    int rc = fragment_check(r, message_id, sum, seq, len);
    struct partial *p = message_id && *message_id ? partial_find(r, message_id) : NULL;
    if (rc == REASM_EBADSUM || rc == REASM_ETOOBIG) return fail(r, p, rc);
    if (rc) return rc;
    if (sum == 1 && !p) return whole_message(data, len, out, out_len);
    if (p && p->sum != sum) return fail(r, p, REASM_ESUMCHANGED);
    if (p && p->parts[seq]) return REASM_EDUP;
    if (p && p->bytes + len > r->lim.max_message) return fail(r, p, REASM_ETOOBIG);
    if (r->held + len > r->lim.max_held) return fail(r, p, REASM_EFULL);
    if (!p) {
        if (r->count >= r->lim.max_partials) return REASM_EFULL;
        p = partial_new(r, message_id, sum, now_ms);
        if (!p) return REASM_ENOMEM;
    }
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy) return fail(r, p, REASM_ENOMEM);
    if (len) memcpy(copy, data, len);
    p->parts[seq] = copy;
    p->lens[seq] = len;
    p->bytes += len;
    p->got++;
    r->held += len;
    if (p->got < p->sum) return REASM_PENDING;
    *out = partial_join(p, out_len);
    partial_unlink(r, p);
    return *out ? REASM_COMPLETE : REASM_ENOMEM;
}

int reassembly_expire(struct reassembly *r, uint64_t now_ms) {
    int dropped = 0;
    while (r->head && now_ms - r->head->started_ms >= r->lim.timeout_ms) {
        partial_unlink(r, r->head);
        dropped++;
    }
    return dropped;
}

int reassembly_pending(const struct reassembly *r) {
    return r->count;
}

size_t reassembly_held(const struct reassembly *r) {
    return r->held;
}

const char *reassembly_strerror(int rc) {
    switch (rc) {
    case REASM_COMPLETE: return "complete";
    case REASM_PENDING: return "pending";
    case REASM_EBADSUM: return "bad fragment count (sum)";
    case REASM_EBADSEQ: return "fragment index (seq) outside [0, sum)";
    case REASM_ESUMCHANGED: return "fragment count (sum) differs from the first fragment's";
    case REASM_ETOOBIG: return "reassembled message too large";
    case REASM_EFULL: return "too many partial messages held";
    case REASM_EDUP: return "duplicate fragment";
    case REASM_EBADID: return "fragment without message_id";
    case REASM_ENOMEM: return "out of memory";
    default: return "unknown error";
    }
}
