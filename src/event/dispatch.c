#include "event/dispatch.h"

#include "base/log.h"
#include "base/util.h"
#include "crypto/crypto.h"
#include "event/chatq.h"
#include "event/dedup.h"
#include "event/dedup_redis.h"
#include "event/envelope.h"
#include "event/handler_name.h"
#include "lua/runtime.h"
#include "net/redis.h"
#include "net/redis_lease.h"

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Dedup marks an event as seen when it is accepted (before its handlers run), so a
 * retry that arrives while they run is answered as a duplicate; if the handlers fail
 * (500) before the event was answered, the marks are removed, so the platform's next
 * retry runs them again.
 *
 * Every accepted event has the same ack deadline after its arrival, so the events still
 * unanswered form a list already sorted by deadline: one timer, armed for the oldest,
 * serves them all, and an event whose handlers finish at once never touches it. */

#define BODY(s) s, sizeof s - 1
#define LEASE_POLL_MS 20
static const char body_success[] = "{\"msg\":\"success\"}";
static const char body_empty[] = "{}";

struct inflight;

struct dispatcher {
    struct event_base *base;
    struct dispatch_options opts;
    struct runtime *rt;
    struct dedup *dedup;            /* NULL when dedup.ttl_s is 0 */
    struct handler_names *names;
    struct chatq *chats;            /* NULL with order = "none" */
    struct dispatcher_stats stats;
    int draining;
    int overloaded;              /* max_in_flight was reached: warned once */
    void (*drained)(void *arg);
    void *drained_arg;
    struct event *drain_ev;
    struct inflight *dl_head, *dl_tail;      /* unanswered, oldest first */
    struct event *ack_ev;                    /* NULL without an event loop */
    struct inflight *ready_head, *ready_tail;  /* their chat's turn came: to start */
    struct event *ready_ev;
    dispatcher_ticket_fn ticket_fn;
    void *ticket_arg;
    struct redis *redis;            /* shared state; NULL: this gateway alone */
    struct dedup_redis *shared;     /* NULL without redis or without dedup */
    struct inflight *parked;        /* waiting for a shared claim or chat lease */
    int lease_ms;
    char owner[128];
};

/* One accepted event, from its arrival to the end of its handlers. */
struct inflight {
    struct dispatcher *d;
    event_reply_fn reply;
    void *arg;
    uint64_t keys[2];
    int nkeys;
    uint64_t ack_at;
    struct inflight *dl_prev, *dl_next;
    struct inflight *ready_next;
    struct envelope env;            /* a waiting event's, kept until it starts */
    struct chatq_item chat;
    struct dedup_claim *claim;      /* the shared dedup claim, held until the end */
    struct redis_lease *lease;      /* the chat's lease across gateways, while running */
    struct inflight *park_prev, *park_next;
    unsigned parked : 1, leased : 1;
    unsigned acked : 1, started : 1, in_run : 1, finished : 1, ordered : 1, callback : 1,
             on_dl : 1, no_deadline : 1;
    char *event_id, *event_type;    /* for log lines; in text[] */
    char text[];
};

#define INFLIGHT_OF(it) ((struct inflight *)((char *)(it) - offsetof(struct inflight, chat)))

static void on_ack_deadline(evutil_socket_t fd, short what, void *arg);
static void on_ready(evutil_socket_t fd, short what, void *arg);

struct dispatcher *dispatcher_new(struct event_base *base, const struct dispatch_options *opts,
                                  struct runtime *rt) {
    struct dispatcher *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->base = base;
    d->opts = *opts;
    d->rt = rt;
    d->names = handler_names_new();
    int dedup = opts->dedup_ttl_s > 0, chats = opts->order == DISPATCH_ORDER_CHAT;
    if (dedup) d->dedup = dedup_new(opts->dedup_ttl_s, opts->dedup_max_entries, NULL, NULL);
    if (chats) d->chats = chatq_new();
    if (base) {
        d->ack_ev = evtimer_new(base, on_ack_deadline, d);
        d->ready_ev = evtimer_new(base, on_ready, d);
    }
    if (!d->names || (dedup && !d->dedup) || (chats && !d->chats)
        || (base && (!d->ack_ev || !d->ready_ev))) {
        dispatcher_free(d);
        return NULL;
    }
    return d;
}

/* An event that waited for its chat and never started: answered 503 if still owed. */
static void drop_waiting(struct inflight *f) {
    redis_lease_release(f->lease);
    dedup_redis_finish(f->claim, 0);
    if (!f->acked) f->reply(f->arg, 503, BODY("{\"msg\":\"shutting down\"}"));
    envelope_free(&f->env);
    free(f);
}

void dispatcher_free(struct dispatcher *d) {
    if (!d) return;
    /* the queued first: they hang off their chat's head, which may be a ready one */
    struct chatq_item *it;
    while (d->chats && (it = chatq_take_waiting(d->chats))) drop_waiting(INFLIGHT_OF(it));
    struct inflight *f;
    while ((f = d->ready_head)) {
        d->ready_head = f->ready_next;
        drop_waiting(f);
    }
    while ((f = d->parked)) {
        d->parked = f->park_next;
        drop_waiting(f);
    }
    dedup_redis_free(d->shared);
    if (d->drain_ev) event_free(d->drain_ev);
    if (d->ack_ev) event_free(d->ack_ev);
    if (d->ready_ev) event_free(d->ready_ev);
    chatq_free(d->chats);
    dedup_free(d->dedup);
    handler_names_free(d->names);
    free(d);
}

int dispatcher_share(struct dispatcher *d, struct redis *r, const char *owner,
                     int handler_max_s) {
    d->redis = r;
    d->lease_ms = handler_max_s * 1000;
    snprintf(d->owner, sizeof d->owner, "%s", owner);
    if (!d->dedup) return 0;
    d->shared = dedup_redis_new(r, owner, d->lease_ms, d->opts.dedup_ttl_s);
    return d->shared ? 0 : -1;
}

void dispatcher_on_app_ticket(struct dispatcher *d, dispatcher_ticket_fn fn, void *arg) {
    d->ticket_fn = fn;
    d->ticket_arg = arg;
}

void dispatcher_get_stats(const struct dispatcher *d, struct dispatcher_stats *out) {
    *out = d->stats;
    out->chats = d->chats ? chatq_chats(d->chats) : 0;
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
    const char *want = d->opts.verification_token;
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

/* Marketplace apps: the platform's hourly app_ticket goes to the OpenAPI client, never
 * to scripts. The ticket itself is never logged. */
static void take_app_ticket(struct dispatcher *d, const struct envelope *env,
                            event_reply_fn reply, void *arg) {
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(env->root, "event");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "app_ticket");
    if (!cJSON_IsString(t) || !*t->valuestring) {
        reject(d, reply, arg, 400, "missing event.app_ticket");
        return;
    }
    if (d->ticket_fn) d->ticket_fn(d->ticket_arg, t->valuestring);
    log_info("dispatch", "app_ticket event %s received%s", env->event_id,
             d->ticket_fn ? "" : " (no OpenAPI client to give it to)");
    d->stats.handled++;
    reply(arg, 200, BODY(body_success));
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

static void arm_ack_timer(struct dispatcher *d, uint64_t now) {
    uint64_t ms = d->dl_head->ack_at > now ? d->dl_head->ack_at - now : 0;
    struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
    evtimer_add(d->ack_ev, &tv);
}

/* The timer stays armed for a time no later than the head's deadline. */
static void dl_insert(struct dispatcher *d, struct inflight *f) {
    if (!d->ack_ev || f->no_deadline || f->acked || f->on_dl) return;
    f->on_dl = 1;
    f->dl_next = NULL;
    f->dl_prev = d->dl_tail;
    if (d->dl_tail) d->dl_tail->dl_next = f;
    else d->dl_head = f;
    d->dl_tail = f;
    if (d->dl_head == f) arm_ack_timer(d, util_now_ms());
}

static void dl_remove(struct dispatcher *d, struct inflight *f) {
    if (!f->on_dl) return;
    if (f->dl_prev) f->dl_prev->dl_next = f->dl_next;
    else d->dl_head = f->dl_next;
    if (f->dl_next) f->dl_next->dl_prev = f->dl_prev;
    else d->dl_tail = f->dl_prev;
    f->on_dl = 0;
    if (!d->dl_head) evtimer_del(d->ack_ev);
}

/* Accepted, not finished: the platform gets its answer now and the handlers go on. */
static void ack_early(struct dispatcher *d, struct inflight *f) {
    f->acked = 1;
    d->stats.acked_at_deadline++;
    const char *where = f->started ? "still running" : "waiting for its chat";
    if (f->callback) {
        log_warn("dispatch", "event %s (%s) %s at the ack deadline (%d ms): answered {}, "
                 "its handler's answer will come too late", f->event_id, f->event_type, where,
                 d->opts.ack_deadline_ms);
        f->reply(f->arg, 200, BODY(body_empty));
    } else {
        log_info("dispatch", "event %s (%s) %s at the ack deadline (%d ms): acked, the "
                 "handlers go on", f->event_id, f->event_type, where, d->opts.ack_deadline_ms);
        f->reply(f->arg, 200, BODY(body_success));
    }
}

static void on_ack_deadline(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct dispatcher *d = arg;
    uint64_t now = util_now_ms();
    struct inflight *f;
    while ((f = d->dl_head) && f->ack_at <= now) {
        dl_remove(d, f);
        ack_early(d, f);
    }
    if (d->dl_head) arm_ack_timer(d, now);
}

static void on_done(void *arg, int status, const char *body, size_t len);
static void start(struct dispatcher *d, struct inflight *f, struct envelope *env);

/* Waiting on Redis (a claim, a lease), f keeps its parsed envelope. */
static void park(struct dispatcher *d, struct inflight *f, struct envelope *env) {
    if (env != &f->env) {
        envelope_move(&f->env, env);
    }
    f->parked = 1;
    f->park_prev = NULL;
    f->park_next = d->parked;
    if (d->parked) d->parked->park_prev = f;
    d->parked = f;
    dl_insert(d, f);
}

static void unpark(struct dispatcher *d, struct inflight *f) {
    if (f->park_prev) f->park_prev->park_next = f->park_next;
    else d->parked = f->park_next;
    if (f->park_next) f->park_next->park_prev = f->park_prev;
    f->parked = 0;
}

static void on_leased(void *arg, enum redis_lease_result res) {
    struct inflight *f = arg;
    struct dispatcher *d = f->d;
    unpark(d, f);
    d->stats.waiting--;
    if (res != REDIS_LEASE_HELD) {  /* Redis went away: the order is kept here alone */
        redis_lease_release(f->lease);
        f->lease = NULL;
    }
    start(d, f, &f->env);
}

/* Another gateway may be running an event of this chat: wait for the chat's lease
 * (polled; it lapses after limits.handler_max_s if its holder died). 1 when parked. */
static int wait_for_lease(struct dispatcher *d, struct inflight *f, struct envelope *env) {
    if (!f->ordered || f->leased || !d->redis || !redis_up(d->redis)) return 0;
    char name[320];
    snprintf(name, sizeof name, "chat:%.300s", f->chat.chat);
    f->leased = 1;
    f->lease = redis_lease_acquire(d->redis, name, d->owner, d->lease_ms, LEASE_POLL_MS,
                                   on_leased, f);
    if (!f->lease) return 0;
    d->stats.waiting++;
    park(d, f, env);
    return 1;
}

/* Runs the handlers; the envelope is not referenced once this returns. */
static void start(struct dispatcher *d, struct inflight *f, struct envelope *env) {
    if (wait_for_lease(d, f, env)) return;
    struct runtime_event ev = {
        env->root, env->event_id, env->event_type, handler_names_get(d->names, env->event_type),
    };
    f->started = f->in_run = 1;
    runtime_run(d->rt, &ev, on_done, f);
    f->in_run = 0;
    envelope_free(&f->env);
    if (f->finished) free(f);
    else dl_insert(d, f);
}

static void ready_push(struct dispatcher *d, struct inflight *f) {
    f->ready_next = NULL;
    if (d->ready_tail) d->ready_tail->ready_next = f;
    else d->ready_head = f;
    d->ready_tail = f;
    if (d->ready_ev) event_active(d->ready_ev, EV_TIMEOUT, 0);
}

/* The next event of a chat starts from the loop, not inside the previous one's end,
 * which may run while the runtime is being freed. */
static void on_ready(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct dispatcher *d = arg;
    struct inflight *f = d->ready_head, *next;
    d->ready_head = d->ready_tail = NULL;
    for (; f; f = next) {
        next = f->ready_next;
        d->stats.waiting--;
        start(d, f, &f->env);
    }
}

static void release_chat(struct dispatcher *d, struct inflight *f) {
    struct chatq_item *next = chatq_leave(d->chats, &f->chat);
    if (!next) return;
    if (d->ready_ev) {
        ready_push(d, INFLIGHT_OF(next));
    } else {  /* no loop (tests): nothing waits on I/O, so this cannot recurse deeply */
        d->stats.waiting--;
        start(d, INFLIGHT_OF(next), &INFLIGHT_OF(next)->env);
    }
}

static void on_done(void *arg, int status, const char *body, size_t len) {
    struct inflight *f = arg;
    struct dispatcher *d = f->d;
    if (status == 200) {
        d->stats.handled++;
    } else {
        d->stats.failed++;
        if (f->acked) {
            d->stats.late_failures++;
            log_warn("dispatch", "event %s (%s) failed after it was acked at the deadline: "
                     "the platform will not deliver it again", f->event_id, f->event_type);
        }
        for (int i = 0; !f->acked && i < f->nkeys; i++) dedup_remove(d->dedup, f->keys[i]);
    }
    /* acked at the deadline, a failure gets no retry from the platform: mark it done */
    dedup_redis_finish(f->claim, status == 200 || f->acked);
    f->claim = NULL;
    redis_lease_release(f->lease);  /* before the next of its chat asks for it */
    f->lease = NULL;
    if (!f->acked) {
        f->acked = 1;
        f->reply(f->arg, status, body, len);
    }
    dl_remove(d, f);
    if (f->ordered) release_chat(d, f);
    d->stats.in_flight--;
    f->finished = 1;
    if (!f->in_run) free(f);
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

/* Card callbacks answer a user's click within 3 s with a body: they are never held
 * behind a chat's slow message handler, and a late one answers {}. */
static int is_callback(const char *type) {
    return strcmp(type, "card.action.trigger") == 0 || strcmp(type, "url.preview.get") == 0
        || strcmp(type, "card.action.legacy") == 0;
}

static const char *chat_of(const struct dispatcher *d, const struct envelope *env,
                           unsigned flags) {
    if (!d->chats || (flags & EVENT_REPLAY) || !env->chat_id || !*env->chat_id
        || is_callback(env->event_type))
        return NULL;
    return env->chat_id;
}

static struct inflight *inflight_new(struct dispatcher *d, const struct envelope *env,
                                     const char *chat, event_reply_fn reply, void *arg) {
    size_t il = strlen(env->event_id), tl = strlen(env->event_type);
    size_t cl = chat ? strlen(chat) : 0;
    struct inflight *f = calloc(1, sizeof *f + il + tl + cl + 3);
    if (!f) return NULL;
    f->d = d;
    f->reply = reply;
    f->arg = arg;
    f->event_id = memcpy(f->text, env->event_id, il + 1);
    f->event_type = memcpy(f->text + il + 1, env->event_type, tl + 1);
    if (chat) f->chat.chat = memcpy(f->text + il + tl + 2, chat, cl + 1);
    f->callback = is_callback(env->event_type) != 0;
    return f;
}

/* Its chat's queue is full: refused, and forgotten so the platform's retry is run. */
static void refuse_full(struct dispatcher *d, struct inflight *f, event_reply_fn reply, void *arg) {
    for (int i = 0; i < f->nkeys; i++) dedup_remove(d->dedup, f->keys[i]);
    dedup_redis_finish(f->claim, 0);
    f->claim = NULL;
    envelope_free(&f->env);
    dl_remove(d, f);
    if (f->acked) reply = NULL;
    d->stats.in_flight--;
    d->stats.rejected++;
    log_warn("dispatch", "chat %s already has %d events waiting (order_queue_max): event %s "
             "refused with 503", f->chat.chat, d->opts.order_queue_max, f->event_id);
    free(f);
    if (reply) reply(arg, 503, BODY("{\"msg\":\"too many events waiting in this chat\"}"));
    check_drained(d);
}

/* log.payloads: the event's own part (never the header, which carries the verification
 * token), re-encoded and cut at PAYLOAD_LOG_MAX bytes. Off by default: it is the
 * users' messages. */
#define PAYLOAD_LOG_MAX 1024
static void log_payload(const struct envelope *env) {
    char *text = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(env->root, "event"));
    if (!text) return;
    size_t n = strlen(text);
    log_info("dispatch", "event %s (%s) payload: %.*s%s", env->event_id, env->event_type,
             (int)(n < PAYLOAD_LOG_MAX ? n : PAYLOAD_LOG_MAX), text,
             n > PAYLOAD_LOG_MAX ? "... (truncated)" : "");
    cJSON_free(text);
}

static void admit(struct dispatcher *d, struct inflight *f, struct envelope *env);

/* An event that never started ends here: a duplicate or busy elsewhere. */
static void end_unstarted(struct dispatcher *d, struct inflight *f, int status,
                          const char *body, size_t len) {
    dl_remove(d, f);
    dedup_redis_finish(f->claim, 0);
    if (!f->acked) f->reply(f->arg, status, body, len);
    d->stats.in_flight--;
    envelope_free(&f->env);
    free(f);
    check_drained(d);
}

static void on_claimed(void *arg, enum dedup_verdict v) {
    struct inflight *f = arg;
    struct dispatcher *d = f->d;
    unpark(d, f);
    if (v == DEDUP_VERDICT_DONE) {
        d->stats.duplicates++;
        log_info("dispatch", "duplicate event %s (%s) dropped: handled by a gateway already",
                 f->event_id, f->event_type);
        end_unstarted(d, f, 200, BODY(body_success));
    } else if (v == DEDUP_VERDICT_BUSY) {
        /* another gateway runs it now: the platform retries later, and then either it is
         * done there or its claim lapsed (that gateway died) and it runs here */
        d->stats.busy++;
        for (int i = 0; i < f->nkeys; i++) dedup_remove(d->dedup, f->keys[i]);
        log_info("dispatch", "event %s (%s) is being handled by another gateway: answered busy",
                 f->event_id, f->event_type);
        end_unstarted(d, f, 503, BODY("{\"msg\":\"busy: being handled by another gateway\"}"));
    } else {
        if (v == DEDUP_VERDICT_DOWN) d->stats.dedup_alone++;
        admit(d, f, &f->env);
    }
}

static void run_event(struct dispatcher *d, struct envelope *env, unsigned flags,
                      event_reply_fn reply, void *arg) {
    if (d->opts.log_payloads) log_payload(env);
    const char *chat = chat_of(d, env, flags);
    struct inflight *f = inflight_new(d, env, chat, reply, arg);
    if (!f) {
        reply(arg, 503, BODY("{\"msg\":\"out of memory\"}"));
        return;
    }
    if (d->dedup && !(flags & EVENT_REPLAY) && seen_before(d, env, f)) {
        d->stats.duplicates++;
        log_info("dispatch", "duplicate event %s (%s) dropped", env->event_id, env->event_type);
        free(f);
        reply(arg, 200, BODY(body_success));
        return;
    }
    d->stats.in_flight++;
    f->no_deadline = (flags & EVENT_REPLAY) != 0;
    f->ack_at = util_now_ms() + (uint64_t)d->opts.ack_deadline_ms;
    if (d->shared && !(flags & EVENT_REPLAY)) {
        f->claim = dedup_redis_claim(d->shared, env->event_id, env->message_id, on_claimed, f);
        if (f->claim) {
            park(d, f, env);
            return;
        }
        d->stats.dedup_alone++;
    }
    admit(d, f, env);
}

/* Past dedup: the event waits for its chat or starts now. */
static void admit(struct dispatcher *d, struct inflight *f, struct envelope *env) {
    const char *chat = f->chat.chat;
    if (chat) {
        int rc = chatq_enter(d->chats, &f->chat, (unsigned)d->opts.order_queue_max);
        if (rc < 0) {
            refuse_full(d, f, f->reply, f->arg);
            return;
        }
        f->ordered = 1;
        if (rc == 0) {  /* waits its turn: it keeps the parsed envelope until then */
            if (env != &f->env) {
                envelope_move(&f->env, env);
            }
            d->stats.waiting++;
            dl_insert(d, f);
            log_debug("dispatch", "event %s waits for chat %s", f->event_id, chat);
            return;
        }
    }
    start(d, f, env);
}

static int is_app_ticket(const struct envelope *env) {
    return strcmp(env->event_type, "app_ticket") == 0;
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
    if (d->stats.in_flight >= (unsigned long long)d->opts.max_in_flight) {
        /* handlers waiting on a slow service pile up: shed load, the platform retries */
        if (!d->overloaded)
            log_warn("dispatch", "%llu events in flight (max_in_flight): refusing new ones "
                     "with 503 until some finish", d->stats.in_flight);
        d->overloaded = 1;
        reject(d, reply, arg, 503, "too many events in flight");
        return;
    }
    d->overloaded = 0;
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
    else if (is_app_ticket(&env))
        take_app_ticket(d, &env, reply, arg);
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
