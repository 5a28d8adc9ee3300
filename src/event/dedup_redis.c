#include "event/dedup_redis.h"

#include "base/log.h"
#include "base/util.h"
#include "net/redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* KEYS: the event's keys; ARGV: claim value, claim ms. 0 done, 2 busy, 1 claimed. */
static const char claim_script[] =
    "local busy = false "
    "for _, k in ipairs(KEYS) do "
    "  local v = redis.call('GET', k) "
    "  if v == 'done' then return 0 end "
    "  if v then busy = true end "
    "end "
    "if busy then return 2 end "
    "for _, k in ipairs(KEYS) do redis.call('SET', k, ARGV[1], 'PX', ARGV[2]) end "
    "return 1";

/* ARGV: ttl ms. */
static const char mark_script[] =
    "for _, k in ipairs(KEYS) do redis.call('SET', k, 'done', 'PX', ARGV[1]) end return 1";

/* ARGV: our claim value: keys someone else holds now are left alone. */
static const char release_script[] =
    "for _, k in ipairs(KEYS) do "
    "  if redis.call('GET', k) == ARGV[1] then redis.call('DEL', k) end "
    "end return 1";

struct dedup_redis {
    struct redis *r;
    struct redis_script claim, mark, release;
    int claim_ms, ttl_s;
    unsigned long long seq;
    char owner[128];
};

struct dedup_claim {
    struct dedup_redis *dr;
    struct redis_call *call;      /* the claim script in flight */
    enum dedup_verdict verdict;
    int decided;
    dedup_verdict_fn fn;
    void *arg;
    int nkeys;
    char *keys[2];
    char value[200];
};

struct dedup_redis *dedup_redis_new(struct redis *r, const char *owner, int claim_ms,
                                    int ttl_s) {
    struct dedup_redis *dr = calloc(1, sizeof *dr);
    if (!dr) return NULL;
    dr->r = r;
    dr->claim.text = claim_script;
    dr->mark.text = mark_script;
    dr->release.text = release_script;
    redis_script_add(r, &dr->claim);
    redis_script_add(r, &dr->mark);
    redis_script_add(r, &dr->release);
    dr->claim_ms = claim_ms > 0 ? claim_ms : 60000;
    dr->ttl_s = ttl_s > 0 ? ttl_s : 28800;
    snprintf(dr->owner, sizeof dr->owner, "%s", owner);
    return dr;
}

void dedup_redis_free(struct dedup_redis *dr) { free(dr); }

static char *make_key(const struct dedup_redis *dr, const char *ns, const char *id) {
    const char *prefix = redis_prefix(dr->r);
    size_t n = strlen(prefix) + strlen(ns) + strlen(id) + 8;
    char *k = malloc(n);
    if (k) snprintf(k, n, "%sdedup:%s%s", prefix, ns, id);
    return k;
}

static void claim_free(struct dedup_claim *c) {
    for (int i = 0; i < c->nkeys; i++) free(c->keys[i]);
    free(c);
}

static void on_claimed(void *arg, const redisReply *rep) {
    struct dedup_claim *c = arg;
    c->call = NULL;
    c->decided = 1;
    if (!rep || rep->type != REDIS_REPLY_INTEGER) c->verdict = DEDUP_VERDICT_DOWN;
    else if (rep->integer == 1) c->verdict = DEDUP_VERDICT_NEW;
    else if (rep->integer == 0) c->verdict = DEDUP_VERDICT_DONE;
    else c->verdict = DEDUP_VERDICT_BUSY;
    c->fn(c->arg, c->verdict);
}

/* EVALSHA script numkeys keys... a1 [a2]. */
static struct redis_call *eval(struct dedup_claim *c, const struct redis_script *script,
                               const char *a1, const char *a2, redis_reply_fn fn) {
    char nk[4];
    snprintf(nk, sizeof nk, "%d", c->nkeys);
    const char *argv[7] = { "EVALSHA", script->sha, nk };
    int argc = 3;
    for (int i = 0; i < c->nkeys; i++) argv[argc++] = c->keys[i];
    argv[argc++] = a1;
    if (a2) argv[argc++] = a2;
    if (!fn) {
        redis_send(c->dr->r, argc, argv, NULL);
        return NULL;
    }
    return redis_command(c->dr->r, fn, c, argc, argv, NULL);
}

struct dedup_claim *dedup_redis_claim(struct dedup_redis *dr, const char *event_id,
                                      const char *message_id, dedup_verdict_fn fn, void *arg) {
    if (!redis_up(dr->r)) return NULL;
    struct dedup_claim *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->dr = dr;
    c->fn = fn;
    c->arg = arg;
    c->keys[c->nkeys++] = make_key(dr, "", event_id);
    if (message_id && *message_id) c->keys[c->nkeys++] = make_key(dr, "msg:", message_id);
    snprintf(c->value, sizeof c->value, "claim:%s:%llu", dr->owner, ++dr->seq);
    char ms[24];
    snprintf(ms, sizeof ms, "%d", dr->claim_ms);
    if (!c->keys[0] || (c->nkeys == 2 && !c->keys[1])
        || !(c->call = eval(c, &c->dr->claim, c->value, ms, on_claimed))) {
        claim_free(c);
        return NULL;
    }
    return c;
}

void dedup_redis_finish(struct dedup_claim *c, int ok) {
    if (!c) return;
    if (c->call) {   /* no verdict yet: whatever it took is given back */
        redis_cancel(c->call);
        eval(c, &c->dr->release, c->value, NULL, NULL);
    } else if (c->decided && c->verdict == DEDUP_VERDICT_NEW) {
        char ms[24];
        snprintf(ms, sizeof ms, "%llu", (unsigned long long)c->dr->ttl_s * 1000ULL);
        if (ok) eval(c, &c->dr->mark, ms, NULL, NULL);
        else eval(c, &c->dr->release, c->value, NULL, NULL);
        /* the platform may deliver again as soon as it has our answer: the mark (or the
         * release) must be in Redis before the answer leaves */
        redis_flush(c->dr->r);
    }
    claim_free(c);
}
