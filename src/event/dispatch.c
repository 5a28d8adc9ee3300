#include "event/event.h"

#include "core/config.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "event/dedup.h"
#include "event/envelope.h"
#include "event/handler_name.h"
#include "lua/runtime.h"

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Dedup marks an event as seen when it is accepted (before its handlers run), so a
 * retry that arrives while they run is answered as a duplicate; if the handlers fail
 * (500) the marks are removed, so the platform's next retry runs them again. */

#define BODY(s) s, sizeof s - 1
static const char body_success[] = "{\"msg\":\"success\"}";

struct dispatcher {
    struct event_base *base;
    const struct config *cfg;
    struct runtime *rt;
    struct dedup *dedup;            /* NULL when dedup.ttl_s is 0 */
    struct handler_names *names;
    struct dispatcher_stats stats;
    int draining;
    void (*drained)(void *arg);
    void *drained_arg;
    struct event *drain_ev;
};

/* One accepted event between runtime_run and its answer. The place for what later
 * issues hang on an event in flight: its ack deadline timer, its per-chat queue link. */
struct inflight {
    struct dispatcher *d;
    event_reply_fn reply;
    void *arg;
    uint64_t keys[2];
    int nkeys;
};

struct dispatcher *dispatcher_new(struct event_base *base, const struct config *cfg,
                                  struct runtime *rt) {
    struct dispatcher *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->base = base;
    d->cfg = cfg;
    d->rt = rt;
    d->names = handler_names_new();
    if (cfg->dedup.ttl_s > 0)
        d->dedup = dedup_new(cfg->dedup.ttl_s, cfg->dedup.max_entries, NULL, NULL);
    if (!d->names || (cfg->dedup.ttl_s > 0 && !d->dedup)) {
        dispatcher_free(d);
        return NULL;
    }
    return d;
}

void dispatcher_free(struct dispatcher *d) {
    if (!d) return;
    if (d->drain_ev) event_free(d->drain_ev);
    dedup_free(d->dedup);
    handler_names_free(d->names);
    free(d);
}

void dispatcher_get_stats(const struct dispatcher *d, struct dispatcher_stats *out) {
    *out = d->stats;
}

static void reject(struct dispatcher *d, event_reply_fn reply, void *arg, int status,
                   const char *why) {
    char body[160];
    int n = snprintf(body, sizeof body, "{\"msg\":\"%s\"}", why);
    d->stats.rejected++;
    log_debug("dispatch", "refused with %d: %s", status, why);
    reply(arg, status, body, (size_t)n);
}

static int token_ok(const struct dispatcher *d, const char *token) {
    const char *want = d->cfg->verification_token;
    if (!want || !*want) return 1;
    size_t n = strlen(want);
    return token && strlen(token) == n && crypto_equal(token, want, n);
}

static void answer_challenge(struct dispatcher *d, const struct envelope *env,
                             event_reply_fn reply, void *arg) {
    cJSON *o = cJSON_CreateObject();
    char *text = o && cJSON_AddStringToObject(o, "challenge", env->challenge)
                     ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text) {
        reply(arg, 500, BODY("{\"msg\":\"out of memory\"}"));
        return;
    }
    d->stats.handled++;
    log_info("dispatch", "url_verification answered");
    reply(arg, 200, text, strlen(text));
    free(text);
}

static void drained_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct dispatcher *d = arg;
    if (d->drained) d->drained(d->drained_arg);
}

/* Deferred to the loop: the caller of reply may be deep in dispatcher code. */
static void check_drained(struct dispatcher *d) {
    if (!d->draining || d->stats.in_flight || !d->drained) return;
    if (!d->base) {
        d->drained(d->drained_arg);
        return;
    }
    if (!d->drain_ev) d->drain_ev = evtimer_new(d->base, drained_cb, d);
    if (d->drain_ev) event_active(d->drain_ev, EV_TIMEOUT, 0);
    else d->drained(d->drained_arg);
}

static void on_done(void *arg, int status, const char *body, size_t len) {
    struct inflight *f = arg;
    struct dispatcher *d = f->d;
    if (status == 200) {
        d->stats.handled++;
    } else {
        d->stats.failed++;
        for (int i = 0; i < f->nkeys; i++) dedup_remove(d->dedup, f->keys[i]);
    }
    d->stats.in_flight--;
    f->reply(f->arg, status, body, len);
    free(f);
    check_drained(d);
}

/* 1 when env is a duplicate; otherwise its keys are recorded in f. */
static int seen_before(struct dispatcher *d, const struct envelope *env, struct inflight *f) {
    uint64_t k = dedup_key(d->dedup, "id", env->event_id);
    if (dedup_insert(d->dedup, k) == 1) return 1;
    f->keys[f->nkeys++] = k;
    if (!env->message_id || !*env->message_id) return 0;
    k = dedup_key(d->dedup, "msg", env->message_id);
    if (dedup_insert(d->dedup, k) == 1) return 1;
    f->keys[f->nkeys++] = k;
    return 0;
}

static void run_event(struct dispatcher *d, const struct envelope *env, unsigned flags,
                      event_reply_fn reply, void *arg) {
    struct inflight *f = calloc(1, sizeof *f);
    if (!f) {
        reply(arg, 503, BODY("{\"msg\":\"out of memory\"}"));
        return;
    }
    *f = (struct inflight){ d, reply, arg, { 0, 0 }, 0 };
    if (d->dedup && !(flags & EVENT_REPLAY) && seen_before(d, env, f)) {
        d->stats.duplicates++;
        log_info("dispatch", "duplicate event %s (%s) dropped", env->event_id, env->event_type);
        free(f);
        reply(arg, 200, BODY(body_success));
        return;
    }
    struct runtime_event ev = {
        env->root, env->event_id, env->event_type, handler_names_get(d->names, env->event_type),
    };
    d->stats.in_flight++;
    runtime_run(d->rt, &ev, on_done, f);
}

void dispatcher_submit(struct dispatcher *d, const char *json, size_t len, unsigned flags,
                       event_reply_fn reply, void *arg) {
    char why[128];
    struct envelope env;
    d->stats.received++;
    if (d->draining) {
        reject(d, reply, arg, 503, "draining");
        return;
    }
    if (envelope_parse(&env, json, len, why, sizeof why) < 0) {
        reject(d, reply, arg, 400, why);
        return;
    }
    int replay = (flags & EVENT_REPLAY) != 0;
    if (env.kind != ENVELOPE_CHALLENGE && (flags & EVENT_CHALLENGE_ONLY))
        reject(d, reply, arg, 401, "unsigned request");
    else if (!replay && !token_ok(d, env.token))
        reject(d, reply, arg, 401, "invalid verification token");
    else if (env.kind == ENVELOPE_CHALLENGE)
        answer_challenge(d, &env, reply, arg);
    else
        run_event(d, &env, flags, reply, arg);
    envelope_free(&env);
}

void dispatcher_drain(struct dispatcher *d, void (*drained)(void *arg), void *arg) {
    d->draining = 1;
    d->drained = drained;
    d->drained_arg = arg;
    if (!d->stats.in_flight && drained) drained(arg);
}
