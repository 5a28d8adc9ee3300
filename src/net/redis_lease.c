#include "net/redis_lease.h"

#include "base/util.h"
#include "net/redis.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct redis_lease {
    struct redis *r;
    struct redis_call *call;      /* the SET NX in flight */
    struct event *timer;          /* the next poll, or delivering DOWN from the loop */
    int ttl_ms, poll_ms;
    int held, down;
    redis_lease_fn fn;
    void *arg;
    char value[160];
    char key[];
};

static void lease_try(struct redis_lease *l);

static void lease_later(struct redis_lease *l, int ms) {
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(l->timer, &tv);
}

static void lease_on_set(void *arg, const redisReply *rep) {
    struct redis_lease *l = arg;
    l->call = NULL;
    if (rep && rep->type == REDIS_REPLY_STATUS) {
        l->held = 1;
        l->fn(l->arg, REDIS_LEASE_HELD);
    } else if (rep && rep->type == REDIS_REPLY_NIL) {
        if (l->poll_ms > 0) lease_later(l, l->poll_ms);
        else l->fn(l->arg, REDIS_LEASE_TAKEN);
    } else {
        l->fn(l->arg, REDIS_LEASE_DOWN);
    }
}

static void lease_try(struct redis_lease *l) {
    char px[24];
    snprintf(px, sizeof px, "%d", l->ttl_ms);
    const char *argv[] = { "SET", l->key, l->value, "NX", "PX", px };
    l->call = redis_command(l->r, lease_on_set, l, 6, argv, NULL);
    if (!l->call) {
        l->down = 1;
        lease_later(l, 0);
    }
}

static void lease_on_timer(evutil_socket_t fd, short what, void *arg) {
    struct redis_lease *l = arg;
    if (l->down) l->fn(l->arg, REDIS_LEASE_DOWN);
    else lease_try(l);
}

struct redis_lease *redis_lease_acquire(struct redis *r, const char *name, const char *owner,
                                        int ttl_ms, int poll_ms, redis_lease_fn fn, void *arg) {
    const char *prefix = redis_prefix(r);
    size_t pl = strlen(prefix), nl = strlen(name);
    struct redis_lease *l = calloc(1, sizeof *l + pl + nl + 1);
    if (!l) return NULL;
    l->timer = evtimer_new(redis_base(r), lease_on_timer, l);
    if (!l->timer) {
        free(l);
        return NULL;
    }
    memcpy(l->key, prefix, pl);
    memcpy(l->key + pl, name, nl + 1);
    /* unique per acquisition, so a release never ends a later holder's lease */
    snprintf(l->value, sizeof l->value, "%.100s:%llx:%x", owner,
             (unsigned long long)util_now_us(), (unsigned)rand());
    l->r = r;
    l->ttl_ms = ttl_ms > 0 ? ttl_ms : 1;
    l->poll_ms = poll_ms;
    l->fn = fn;
    l->arg = arg;
    lease_try(l);
    return l;
}

static void lease_end(struct redis_lease *l, int give_back) {
    if (l->call) redis_cancel(l->call);
    if (give_back && (l->held || l->call))   /* one in flight may yet succeed: undo it too */
        redis_del_if(l->r, l->key, l->value);
    event_free(l->timer);
    free(l);
}

void redis_lease_release(struct redis_lease *l) {
    if (l) lease_end(l, 1);
}

void redis_lease_keep(struct redis_lease *l) {
    if (l) lease_end(l, 0);
}
