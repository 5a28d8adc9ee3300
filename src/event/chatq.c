#include "event/chatq.h"

#include <stdlib.h>
#include <string.h>

#define MIN_BUCKETS 64

struct chatq {
    struct chatq_item **buckets;
    size_t nbuckets;               /* a power of two */
    size_t n;                      /* running items = chats present */
};

static uint64_t hash_chat(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

struct chatq *chatq_new(void) {
    struct chatq *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->buckets = calloc(MIN_BUCKETS, sizeof *q->buckets);
    if (!q->buckets) {
        free(q);
        return NULL;
    }
    q->nbuckets = MIN_BUCKETS;
    return q;
}

void chatq_free(struct chatq *q) {
    if (!q) return;
    free(q->buckets);
    free(q);
}

size_t chatq_chats(const struct chatq *q) { return q->n; }

/* The slot holding the chat's running item (or the NULL at the chain's end). */
static struct chatq_item **find(struct chatq *q, uint64_t hash, const char *chat) {
    struct chatq_item **pp = &q->buckets[hash & (q->nbuckets - 1)];
    while (*pp && ((*pp)->hash != hash || strcmp((*pp)->chat, chat) != 0)) pp = &(*pp)->next;
    return pp;
}

/* Doubles the table past one chat per bucket; staying small is fine when it cannot. */
static void grow(struct chatq *q) {
    size_t nb = q->nbuckets * 2;
    struct chatq_item **b = calloc(nb, sizeof *b);
    if (!b) return;
    for (size_t i = 0; i < q->nbuckets; i++) {
        struct chatq_item *it = q->buckets[i], *next;
        for (; it; it = next) {
            next = it->next;
            it->next = b[it->hash & (nb - 1)];
            b[it->hash & (nb - 1)] = it;
        }
    }
    free(q->buckets);
    q->buckets = b;
    q->nbuckets = nb;
}

int chatq_enter(struct chatq *q, struct chatq_item *it, unsigned max) {
    it->hash = hash_chat(it->chat);
    it->next = it->qhead = it->qtail = NULL;
    it->waiting = 0;
    struct chatq_item **pp = find(q, it->hash, it->chat);
    struct chatq_item *run = *pp;
    if (!run) {
        *pp = it;
        if (++q->n > q->nbuckets) grow(q);
        return 1;
    }
    if (run->waiting >= max) return -1;
    if (run->qtail) run->qtail->next = it;
    else run->qhead = it;
    run->qtail = it;
    run->waiting++;
    return 0;
}

struct chatq_item *chatq_leave(struct chatq *q, struct chatq_item *it) {
    struct chatq_item **pp = find(q, it->hash, it->chat);
    if (*pp != it) return NULL;  /* not the running item: nothing to hand over */
    struct chatq_item *next = it->qhead;
    if (!next) {
        *pp = it->next;
        q->n--;
        return NULL;
    }
    next->qhead = next->next;
    next->qtail = next->qhead ? it->qtail : NULL;
    next->waiting = it->waiting - 1;
    next->next = it->next;
    *pp = next;
    it->next = it->qhead = it->qtail = NULL;
    it->waiting = 0;
    return next;
}

struct chatq_item *chatq_take_waiting(struct chatq *q) {
    for (size_t i = 0; i < q->nbuckets; i++)
        for (struct chatq_item *run = q->buckets[i]; run; run = run->next) {
            struct chatq_item *w = run->qhead;
            if (!w) continue;
            run->qhead = w->next;
            if (!run->qhead) run->qtail = NULL;
            run->waiting--;
            w->next = NULL;
            return w;
        }
    return NULL;
}
