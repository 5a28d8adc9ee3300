#include "net/redis.h"

#include "base/log.h"
#include "base/util.h"
#include "crypto/crypto.h"

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define TICK_MS 250
#define MAX_LISTENERS 8
#define MAX_SCRIPTS 16

enum redis_state { REDIS_STATE_DOWN, REDIS_STATE_CONNECTING, REDIS_STATE_UP };

struct redis_call {
    redis_reply_fn fn;            /* NULL once cancelled */
    void *arg;
    struct redis *r;
};

struct redis {
    struct event_base *base;
    redisAsyncContext *ac;        /* NULL while down and between attempts */
    struct redis_url url;
    const char *prefix;
    int cmd_timeout_ms;
    enum redis_state state;
    int ever_up, warned;          /* warned: this outage was logged */
    int backoff_ms;
    uint64_t attempt_ms;          /* when the current connect began */
    uint64_t progress_ms;         /* the last reply, or when the queue stopped being empty */
    unsigned pending;             /* commands sent and not answered on this connection */
    char reason[160];
    struct event *retry_ev, *tick_ev;
    struct { redis_state_fn fn; void *arg; } listeners[MAX_LISTENERS];
    int nlisteners;
    struct redis_script *scripts[MAX_SCRIPTS];
    int nscripts;
    uint64_t scripts_ms;          /* when a NOSCRIPT last made us load them again */
    struct redis_script del_if;
    struct redis_stats stats;
};

/* Copies [s, s+n) into dst (cap bytes); -1 when it does not fit. */
static int copy_part(char *dst, size_t cap, const char *s, size_t n) {
    if (n >= cap) return -1;
    memcpy(dst, s, n);
    dst[n] = 0;
    return 0;
}

static int parse_auth(const char *s, size_t n, struct redis_url *out) {
    const char *colon = memchr(s, ':', n);
    if (!colon) return copy_part(out->password, sizeof out->password, s, n);
    if (copy_part(out->user, sizeof out->user, s, (size_t)(colon - s))) return -1;
    return copy_part(out->password, sizeof out->password, colon + 1, n - (size_t)(colon - s) - 1);
}

static int parse_db(const char *s, struct redis_url *out) {
    if (!*s) return 0;
    char *end;
    long db = strtol(s, &end, 10);
    if (*end || db < 0 || db > 100000) return -1;
    out->db = (int)db;
    return 0;
}

int redis_url_parse(const char *url, struct redis_url *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    out->port = 6379;
    if (strncmp(url, "rediss://", 9) == 0) {
        snprintf(err, errlen, "rediss:// needs TLS, which this build's hiredis (%d.%d) does not "
                 "offer: use redis:// over a private network or a local TLS tunnel",
                 HIREDIS_MAJOR, HIREDIS_MINOR);
        return -1;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, errlen, "redis://[[user]:password@]host[:port][/db] expected");
        return -1;
    }
    const char *p = url + 8, *at = strrchr(p, '@');
    if (at && parse_auth(p, (size_t)(at - p), out)) {
        snprintf(err, errlen, "user or password too long");
        return -1;
    }
    if (at) p = at + 1;
    const char *slash = strchr(p, '/');
    size_t hl = slash ? (size_t)(slash - p) : strlen(p);
    char hostport[300];
    if (hl == 0 || copy_part(hostport, sizeof hostport, p, hl)) {
        snprintf(err, errlen, "a host is required");
        return -1;
    }
    if (strchr(hostport, ':') || hostport[0] == '[') {
        if (util_parse_hostport(hostport, out->host, sizeof out->host, &out->port)) {
            snprintf(err, errlen, "HOST:PORT expected after redis://");
            return -1;
        }
    } else if (copy_part(out->host, sizeof out->host, hostport, hl)) {
        snprintf(err, errlen, "host name too long");
        return -1;
    }
    if (slash && parse_db(slash + 1, out)) {
        snprintf(err, errlen, "the database after '/' must be a number");
        return -1;
    }
    return 0;
}

static void notify(struct redis *r, int up) {
    for (int i = 0; i < r->nlisteners; i++)
        r->listeners[i].fn(r->listeners[i].arg, up, up ? NULL : r->reason);
}

static void schedule_retry(struct redis *r) {
    int ms = r->backoff_ms / 2 + (int)((unsigned)rand() % (unsigned)(r->backoff_ms / 2 + 1));
    r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(r->retry_ev, &tv);
}

/* The connection is gone (or never came): one warning per outage, then retries. */
static void went_down(struct redis *r, const char *why) {
    int was_up = r->state == REDIS_STATE_UP;
    snprintf(r->reason, sizeof r->reason, "%s", why && *why ? why : "connection lost");
    r->state = REDIS_STATE_DOWN;
    r->pending = 0;
    if (was_up) r->stats.disconnects++;
    if (!r->warned)
        log_warn("redis", "%s:%d %s: %s; retrying with backoff, shared state falls back to "
                 "this gateway alone meanwhile", r->url.host, r->url.port,
                 was_up ? "lost" : "unreachable", r->reason);
    else
        log_debug("redis", "%s:%d still down: %s", r->url.host, r->url.port, r->reason);
    r->warned = 1;
    if (was_up) notify(r, 0);
    schedule_retry(r);
}

/* Drops the current connection: its pending callbacks run with NULL. */
static void drop(struct redis *r, const char *why) {
    redisAsyncContext *ac = r->ac;
    r->ac = NULL;
    went_down(r, why);
    if (ac) redisAsyncFree(ac);
}

static void on_connect(const redisAsyncContext *ac, int status) {
    struct redis *r = ac->data;
    if (!r || ac != r->ac || status == REDIS_OK) return;
    r->ac = NULL;                 /* hiredis frees it after this call */
    went_down(r, ac->errstr);
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    struct redis *r = ac->data;
    if (!r || ac != r->ac) return;  /* one we dropped ourselves */
    r->ac = NULL;
    went_down(r, status == REDIS_OK ? "closed" : ac->errstr);
}

/* The last step of the handshake (PING after AUTH and SELECT) answered. */
static void on_hello(redisAsyncContext *ac, void *reply, void *priv) {
    struct redis *r = priv;
    const redisReply *rep = reply;
    if (!rep || ac != r->ac) return;
    if (rep->type == REDIS_REPLY_ERROR) {
        char why[160];
        snprintf(why, sizeof why, "handshake refused: %.100s", rep->str);
        drop(r, why);
        return;
    }
    r->state = REDIS_STATE_UP;
    r->backoff_ms = BACKOFF_MIN_MS;
    r->progress_ms = util_now_ms();
    r->stats.connects++;
    log_info("redis", "connected to %s:%d db %d%s", r->url.host, r->url.port, r->url.db,
             r->ever_up ? " again: shared state resumes" : "");
    r->ever_up = 1;
    r->warned = 0;
    notify(r, 1);
}

/* AUTH and SELECT answers: an error ends the attempt, success waits for the PING. */
static void on_step(redisAsyncContext *ac, void *reply, void *priv) {
    struct redis *r = priv;
    const redisReply *rep = reply;
    if (!rep || ac != r->ac || rep->type != REDIS_REPLY_ERROR) return;
    char why[160];
    snprintf(why, sizeof why, "handshake refused: %.100s", rep->str);
    drop(r, why);
}

static void load_script(struct redis *r, const struct redis_script *s) {
    redisAsyncCommandArgv(r->ac, on_step, r, 3, (const char *[]){ "SCRIPT", "LOAD", s->text },
                          NULL);
}

static void send_handshake(struct redis *r) {
    char db[16];
    if (r->url.password[0]) {   /* AUTH [user] password: a user is Redis 6's ACL name */
        int u = r->url.user[0] != 0;
        const char *argv[3] = { "AUTH", u ? r->url.user : r->url.password, r->url.password };
        redisAsyncCommandArgv(r->ac, on_step, r, 2 + u, argv, NULL);
    }
    if (r->url.db) {
        snprintf(db, sizeof db, "%d", r->url.db);
        redisAsyncCommandArgv(r->ac, on_step, r, 2, (const char *[]){ "SELECT", db }, NULL);
    }
    for (int i = 0; i < r->nscripts; i++) load_script(r, r->scripts[i]);
    redisAsyncCommandArgv(r->ac, on_hello, r, 1, (const char *[]){ "PING" }, NULL);
}

void redis_script_add(struct redis *r, struct redis_script *s) {
    unsigned char sha[CRYPTO_SHA1_LEN];
    crypto_sha1(s->text, strlen(s->text), sha);
    crypto_hex(sha, sizeof sha, s->sha);
    for (int i = 0; i < r->nscripts; i++)
        if (r->scripts[i] == s) return;
    if (r->nscripts == MAX_SCRIPTS) return;
    r->scripts[r->nscripts++] = s;
    if (r->ac) load_script(r, s);   /* queued ahead of any EVALSHA that needs it */
}

static void start_connect(struct redis *r) {
    r->state = REDIS_STATE_CONNECTING;
    r->attempt_ms = util_now_ms();
    redisAsyncContext *ac = redisAsyncConnect(r->url.host, r->url.port);
    if (!ac || ac->err) {
        char why[160];
        snprintf(why, sizeof why, "%s", ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        went_down(r, why);
        return;
    }
    ac->data = r;
    if (redisLibeventAttach(ac, r->base) != REDIS_OK) {
        redisAsyncFree(ac);
        went_down(r, "cannot attach to the event loop");
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->ac = ac;
    r->pending = 0;
    send_handshake(r);
}

static void on_retry(evutil_socket_t fd, short what, void *arg) {
    struct redis *r = arg;
    if (!r->ac) start_connect(r);
}

/* A frozen server (SIGSTOP, a dead host without RST) answers nothing: give up on it. */
static void on_tick(evutil_socket_t fd, short what, void *arg) {
    struct redis *r = arg;
    uint64_t now = util_now_ms();
    if (r->state == REDIS_STATE_CONNECTING && r->ac
        && now - r->attempt_ms > (uint64_t)r->cmd_timeout_ms)
        drop(r, "connect timed out");
    else if (r->state == REDIS_STATE_UP && r->pending
             && now - r->progress_ms > (uint64_t)r->cmd_timeout_ms)
        drop(r, "no answer within the command timeout");
}

struct redis *redis_new(struct event_base *base, const struct redis_options *opt) {
    char err[256];
    struct redis *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    if (redis_url_parse(opt->url, &r->url, err, sizeof err)) {
        log_error("redis", "redis.url: %s", err);
        free(r);
        return NULL;
    }
    if (opt->password && *opt->password)
        snprintf(r->url.password, sizeof r->url.password, "%s", opt->password);
    r->base = base;
    r->prefix = opt->prefix ? opt->prefix : "";
    r->cmd_timeout_ms = opt->cmd_timeout_ms > 0 ? opt->cmd_timeout_ms : 3000;
    r->backoff_ms = BACKOFF_MIN_MS;
    r->del_if.text = "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                     "return redis.call('DEL', KEYS[1]) end return 0";
    redis_script_add(r, &r->del_if);
    snprintf(r->reason, sizeof r->reason, "connecting");
    r->retry_ev = evtimer_new(base, on_retry, r);
    r->tick_ev = event_new(base, -1, EV_PERSIST, on_tick, r);
    if (!r->retry_ev || !r->tick_ev) {
        redis_free(r);
        return NULL;
    }
    struct timeval tick = { 0, TICK_MS * 1000 };
    evtimer_add(r->tick_ev, &tick);
    start_connect(r);
    return r;
}

void redis_free(struct redis *r) {
    if (!r) return;
    r->nlisteners = 0;
    r->state = REDIS_STATE_DOWN;   /* callers woken below must not send again */
    if (r->ac) {
        redisAsyncContext *ac = r->ac;
        r->ac = NULL;
        ac->data = NULL;
        redisAsyncFree(ac);
    }
    if (r->retry_ev) event_free(r->retry_ev);
    if (r->tick_ev) event_free(r->tick_ev);
    free(r);
}

void redis_on_state(struct redis *r, redis_state_fn fn, void *arg) {
    if (r->nlisteners == MAX_LISTENERS) return;
    r->listeners[r->nlisteners].fn = fn;
    r->listeners[r->nlisteners++].arg = arg;
}

int redis_up(const struct redis *r) { return r && r->state == REDIS_STATE_UP; }

const char *redis_down_reason(const struct redis *r) {
    return redis_up(r) ? NULL : r->reason;
}

const char *redis_prefix(const struct redis *r) { return r->prefix; }

struct event_base *redis_base(const struct redis *r) { return r->base; }

static void on_reply(redisAsyncContext *ac, void *reply, void *priv) {
    struct redis_call *c = priv;
    struct redis *r = c->r;
    if (r && ac == r->ac) {
        r->pending--;
        r->progress_ms = util_now_ms();
    }
    const redisReply *rep = reply;
    if (r && (!rep || rep->type == REDIS_REPLY_ERROR)) r->stats.failures++;
    if (r && rep && rep->type == REDIS_REPLY_ERROR && ac == r->ac
        && strncmp(rep->str, "NOSCRIPT", 8) == 0 && util_now_ms() - r->scripts_ms > 1000) {
        r->scripts_ms = util_now_ms();
        log_warn("redis", "the server lost our scripts (SCRIPT FLUSH?): loading them again");
        for (int i = 0; i < r->nscripts; i++) load_script(r, r->scripts[i]);
    }
    if (c->fn) c->fn(c->arg, reply);
    free(c);
}

struct redis_call *redis_command(struct redis *r, redis_reply_fn fn, void *arg, int argc,
                                 const char **argv, const size_t *argvlen) {
    if (!redis_up(r)) return NULL;
    struct redis_call *c = malloc(sizeof *c);
    if (!c) return NULL;
    *c = (struct redis_call){ fn, arg, r };
    if (redisAsyncCommandArgv(r->ac, on_reply, c, argc, argv, argvlen) != REDIS_OK) {
        free(c);
        r->stats.failures++;
        return NULL;
    }
    if (!r->pending++) r->progress_ms = util_now_ms();
    r->stats.commands++;
    return c;
}

void redis_cancel(struct redis_call *c) {
    if (c) c->fn = NULL;
}

int redis_send(struct redis *r, int argc, const char **argv, const size_t *argvlen) {
    return redis_command(r, NULL, NULL, argc, argv, argvlen) ? 0 : -1;
}

void redis_get_stats(const struct redis *r, struct redis_stats *out) {
    *out = r->stats;
    out->up = redis_up(r);
}

int redis_del_if(struct redis *r, const char *key, const char *value) {
    return redis_send(r, 5, (const char *[]){ "EVALSHA", r->del_if.sha, "1", key, value }, NULL);
}

/* The plain context's write: a failure is left for the loop to act on (the async layer
 * would disconnect at once, calling back into whoever is flushing). */
void redis_flush(struct redis *r) {
    int done;
    if (redis_up(r) && r->ac) redisBufferWrite(&r->ac->c, &done);
}
