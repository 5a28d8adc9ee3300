#include "ingress/ws_pool.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "crypto/crypto.h"
#include "proto/reassembly.h"
#include "net/http_client.h"
#include "net/ws_conn.h"
#include "net/ws_handshake.h"
#include "ingress/ws_session.h"

#define WS_OPEN_TIMEOUT_MS 10000
#define WS_MAX_FRAGMENTS 1024
#define WS_MAX_PARTIALS 64
#define WS_STOP_SLACK_MS 3000

enum ws_pool_slot_state { WS_POOL_WAITING, WS_POOL_DISCOVERING, WS_POOL_CONNECTING,
                          WS_POOL_OPEN, WS_POOL_CLOSING, WS_POOL_STOPPED,
                          WS_POOL_GAVE_UP };

/* One of the pool's connections, across its reconnects. */
struct ws_slot {
    struct ws_pool *pool;
    int index;
    int state;
    struct ws_discovery *disc;
    struct ws_conn *conn;
    struct ws_session *session;
    struct event *retry_timer;
    int attempts;              /* failed attempts since the last open connection */
    char host[256], device_id[64];
    int32_t service_id;
};

struct ws_pool {
    struct event_base *base;
    struct ws_pool_options opt;
    struct dispatcher *disp;
    struct http_client *http;      /* borrowed from the gateway, like tls and dns */
    SSL_CTX *tls;
    struct evdns_base *dns;
    struct ws_client_config cc;
    struct reassembly *reasm;      /* shared by the sessions: one memory bound */
    struct event *reasm_timer;
    struct ws_slot *slots;
    int n;
    int stopping;
    void (*stop_done)(void *arg);
    void *stop_arg;
    struct event *stop_timer;
    struct ws_pool_stats stats;    /* the pool's own counters; sessions keep theirs */
};

static void slot_discover(struct ws_slot *s);

/* Nothing received for this long means the connection is dead (half-open included):
 * three ping intervals by default, but never more than 5 minutes past one. */
static int dead_after_ms(const struct ws_pool *p) {
    if (p->opt.dead_after_s > 0) return p->opt.dead_after_s * 1000;
    int ping = p->cc.ping_interval, dead = 3 * ping;
    if (dead > ping + 300) dead = ping + 300;
    return dead * 1000;
}

static void pool_adopt_config(struct ws_pool *p, const struct ws_client_config *cc,
                              const char *source) {
    if (memcmp(cc, &p->cc, sizeof *cc) == 0) return;
    p->cc = *cc;
    log_info("ws", "ClientConfig from %s: PingInterval=%d s ReconnectInterval=%d s "
             "ReconnectNonce=%d s ReconnectCount=%d", source, cc->ping_interval,
             cc->reconnect_interval, cc->reconnect_nonce, cc->reconnect_count);
    for (int i = 0; i < p->n; i++) {
        struct ws_slot *s = &p->slots[i];
        ws_session_set_config(s->session, cc);
        if (s->state == WS_POOL_OPEN) ws_conn_set_dead_after(s->conn, dead_after_ms(p));
    }
}

static void slot_wait(struct ws_slot *s, int ms) {
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    s->state = WS_POOL_WAITING;
    evtimer_add(s->retry_timer, &tv);
}

/* A failed attempt: next one in ReconnectInterval, unless ReconnectCount is spent. */
static void slot_retry(struct ws_slot *s, int client_error, const char *what, const char *why) {
    struct ws_pool *p = s->pool;
    s->attempts++;
    if (p->cc.reconnect_count >= 0 && s->attempts >= p->cc.reconnect_count) {
        s->state = WS_POOL_GAVE_UP;
        log_error("ws", "[%d] %s: %s; giving up after %d attempts (ReconnectCount %d)",
                  s->index, what, why, s->attempts, p->cc.reconnect_count);
        return;
    }
    log_write(client_error ? LOG_LEVEL_ERROR : LOG_LEVEL_WARN, "ws",
              "[%d] %s: %s; %sretrying in %d s (attempt %d)", s->index, what, why,
              client_error ? "a client error, retrying will not fix it by itself; " : "",
              p->cc.reconnect_interval, s->attempts);
    slot_wait(s, p->cc.reconnect_interval * 1000);
}

static void slot_on_open(void *arg) {
    struct ws_slot *s = arg;
    struct ws_pool *p = s->pool;
    s->state = WS_POOL_OPEN;
    s->attempts = 0;
    p->stats.connects++;
    log_info("ws", "[%d] connected to %s device_id=%s service_id=%d", s->index, s->host,
             s->device_id, (int)s->service_id);
    ws_conn_set_dead_after(s->conn, dead_after_ms(p));
    ws_session_open(s->session, s->conn, s->host, s->device_id, s->service_id);
}

static void pool_arm_fragment_timer(struct ws_pool *p) {
    if (evtimer_pending(p->reasm_timer, NULL)) return;
    struct timeval tv = { 1, 0 };
    evtimer_add(p->reasm_timer, &tv);
}

static void slot_on_message(void *arg, const uint8_t *data, size_t len) {
    struct ws_slot *s = arg;
    ws_session_on_message(s->session, data, len);
    if (reassembly_pending(s->pool->reasm)) pool_arm_fragment_timer(s->pool);
}

static void pool_check_stopped(struct ws_pool *p) {
    for (int i = 0; i < p->n; i++)
        if (p->slots[i].state != WS_POOL_STOPPED) return;
    struct timeval now = { 0, 0 };
    evtimer_add(p->stop_timer, &now);     /* done runs from the loop, never re-entrantly */
}

/* A lost connection: after a jitter in [0, ReconnectNonce), a fresh discovery. */
static void slot_on_lost(struct ws_slot *s, const char *why) {
    struct ws_pool *p = s->pool;
    if (p->cc.reconnect_count == 0) {
        s->state = WS_POOL_GAVE_UP;
        log_error("ws", "[%d] connection to %s device_id=%s lost: %s; not reconnecting "
                  "(ReconnectCount 0)", s->index, s->host, s->device_id, why);
        return;
    }
    int nonce_ms = p->cc.reconnect_nonce * 1000, jitter = 0;
    if (nonce_ms > 0) {
        unsigned r;
        crypto_random(&r, sizeof r);
        jitter = (int)(r % (unsigned)nonce_ms);
    }
    log_warn("ws", "[%d] connection to %s device_id=%s lost: %s; reconnecting in %d.%d s",
             s->index, s->host, s->device_id, why, jitter / 1000, jitter % 1000 / 100);
    slot_wait(s, jitter);
}

static void slot_on_closed(void *arg, int verdict, const char *why) {
    struct ws_slot *s = arg;
    struct ws_pool *p = s->pool;
    int was_open = s->state == WS_POOL_OPEN || s->state == WS_POOL_CLOSING;
    ws_conn_free(s->conn);
    s->conn = NULL;
    ws_session_closed(s->session);
    if (was_open) p->stats.disconnects++;
    if (p->stopping) {
        s->state = WS_POOL_STOPPED;
        log_info("ws", "[%d] closed (device_id=%s)", s->index, s->device_id);
        pool_check_stopped(p);
        return;
    }
    if (!was_open) {
        p->stats.handshake_failures++;
        slot_retry(s, verdict == WS_HANDSHAKE_CLIENT_ERROR, "cannot open the WebSocket", why);
        return;
    }
    slot_on_lost(s, why);
}

static const struct ws_conn_callbacks slot_callbacks = { slot_on_open, slot_on_message,
                                                         slot_on_closed };

static void slot_on_discovered(void *arg, int cls, struct ws_endpoint *ep, const char *why) {
    struct ws_slot *s = arg;
    struct ws_pool *p = s->pool;
    s->disc = NULL;
    if (cls != WS_DISCOVERY_OK) {
        p->stats.discovery_failures++;
        slot_retry(s, cls == WS_DISCOVERY_CLIENT_ERROR, "endpoint discovery failed", why);
        return;
    }
    if (ep->has_config) pool_adopt_config(p, &ep->config, "discovery");
    snprintf(s->host, sizeof s->host, "%s", ep->host);
    snprintf(s->device_id, sizeof s->device_id, "%s", ep->device_id);
    s->service_id = ep->service_id;
    struct ws_conn_options opt = { (size_t)p->opt.max_message, WS_OPEN_TIMEOUT_MS, 0 };
    char err[256];
    s->conn = ws_conn_new(p->base, p->dns, p->tls, ep->url, &opt, &slot_callbacks, s, err,
                          sizeof err);
    if (!s->conn) {
        slot_retry(s, 0, "cannot connect", err);
        return;
    }
    s->state = WS_POOL_CONNECTING;
}

static void slot_discover(struct ws_slot *s) {
    struct ws_pool *p = s->pool;
    s->state = WS_POOL_DISCOVERING;
    s->disc = ws_discovery_start(p->http, &p->opt.discovery, slot_on_discovered, s);
    if (!s->disc) slot_retry(s, 1, "endpoint discovery", "domain is not a valid URL");
}

static void slot_on_retry(evutil_socket_t fd, short what, void *arg) {
    slot_discover(arg);
}

/* A pong brought a ClientConfig: it is the app's, so every slot adopts it. */
static void slot_on_config(void *arg, const struct ws_client_config *cc) {
    struct ws_slot *s = arg;
    pool_adopt_config(s->pool, cc, "pong");
}

/* A stopping pool closes a slot once its last ack is out. */
static void slot_on_drained(void *arg) {
    struct ws_slot *s = arg;
    if (s->state != WS_POOL_OPEN) return;
    s->state = WS_POOL_CLOSING;
    ws_conn_close(s->conn);
}

static void pool_on_fragment_timer(evutil_socket_t fd, short what, void *arg) {
    struct ws_pool *p = arg;
    int n = reassembly_expire(p->reasm, util_now_ms());
    if (n) {
        p->stats.bad_fragments += (unsigned long long)n;
        log_warn("ws", "gave up on %d partial message(s): fragments missing after %d s",
                 n, p->opt.fragment_timeout_s);
    }
    if (reassembly_pending(p->reasm)) pool_arm_fragment_timer(p);
}

static int slot_init(struct ws_pool *p, int i) {
    static const struct ws_session_hooks hooks = { slot_on_config, slot_on_drained };
    struct ws_slot *s = &p->slots[i];
    struct ws_session_options so = { i, p->opt.max_message, p->reasm, p->disp };
    s->pool = p;
    s->index = i;
    s->retry_timer = evtimer_new(p->base, slot_on_retry, s);
    s->session = ws_session_new(p->base, &so, &hooks, s, &p->cc);
    return s->retry_timer && s->session ? 0 : -1;
}

static int pool_init(struct ws_pool *p) {
    const struct ws_pool_options *o = &p->opt;
    struct reassembly_limits lim = {
        WS_MAX_FRAGMENTS, (size_t)o->max_message, 2 * (size_t)o->max_message,
        WS_MAX_PARTIALS, (uint64_t)o->fragment_timeout_s * 1000
    };
    p->tls = http_client_tls(p->http);
    p->dns = http_client_dns(p->http);
    p->reasm = reassembly_new(&lim);
    p->reasm_timer = evtimer_new(p->base, pool_on_fragment_timer, p);
    p->n = o->connections > 0 ? o->connections : 1;
    p->slots = calloc((size_t)p->n, sizeof *p->slots);
    if (!p->reasm || !p->reasm_timer || !p->slots) return -1;
    for (int i = 0; i < p->n; i++)
        if (slot_init(p, i)) return -1;
    return 0;
}

struct ws_pool *ws_pool_new(struct event_base *base, const struct ws_pool_options *opt,
                            struct dispatcher *d, struct http_client *http) {
    const struct ws_discovery_options *id = &opt->discovery;
    if (!id->app_id || !*id->app_id || !id->app_secret || !*id->app_secret) {
        log_error("ws", "the long connection needs app_id and app_secret "
                  "(LARK_APP_ID / LARK_APP_SECRET)");
        return NULL;
    }
    struct ws_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->base = base;
    p->opt = *opt;
    p->disp = d;
    p->http = http;
    ws_discovery_config_default(&p->cc);
    if (pool_init(p)) {
        log_error("ws", "cannot set up the long connection: out of memory");
        ws_pool_free(p);
        return NULL;
    }
    p->stats.connections = p->n;
    log_info("ws", "opening %d long connection(s) via %s", p->n, id->domain);
    for (int i = 0; i < p->n; i++) slot_discover(&p->slots[i]);
    return p;
}

static void slot_stop(struct ws_slot *s) {
    event_del(s->retry_timer);
    ws_discovery_cancel(s->disc);
    s->disc = NULL;
    ws_session_drain(s->session);       /* an open slot closes once nothing is owed */
    if (s->state != WS_POOL_OPEN && s->state != WS_POOL_CLOSING) {
        ws_conn_free(s->conn);
        s->conn = NULL;
        s->state = WS_POOL_STOPPED;
    }
}

/* All slots closed, or the bound ran out: whatever is left goes now. */
static void pool_on_stop_timer(evutil_socket_t fd, short what, void *arg) {
    struct ws_pool *p = arg;
    for (int i = 0; i < p->n; i++) {
        struct ws_slot *s = &p->slots[i];
        if (s->state == WS_POOL_STOPPED) continue;
        log_warn("ws", "[%d] stop bound reached: closing with %d event(s) unacked",
                 i, ws_session_inflight(s->session));
        ws_conn_free(s->conn);
        s->conn = NULL;
        ws_session_closed(s->session);
        s->state = WS_POOL_STOPPED;
    }
    void (*done)(void *) = p->stop_done;
    p->stop_done = NULL;
    if (done) done(p->stop_arg);
}

void ws_pool_stop(struct ws_pool *p, void (*done)(void *arg), void *arg) {
    if (p->stopping) return;
    p->stopping = 1;
    p->stop_done = done;
    p->stop_arg = arg;
    p->stop_timer = evtimer_new(p->base, pool_on_stop_timer, p);
    int bound = p->opt.ack_deadline_ms + WS_STOP_SLACK_MS;
    struct timeval tv = { bound / 1000, (bound % 1000) * 1000 };
    evtimer_add(p->stop_timer, &tv);
    for (int i = 0; i < p->n; i++) slot_stop(&p->slots[i]);
    pool_check_stopped(p);
}

void ws_pool_free(struct ws_pool *p) {
    if (!p) return;
    for (int i = 0; p->slots && i < p->n; i++) {
        struct ws_slot *s = &p->slots[i];
        ws_discovery_cancel(s->disc);
        ws_conn_free(s->conn);
        ws_session_free(s->session);
        if (s->retry_timer) event_free(s->retry_timer);
    }
    free(p->slots);
    if (p->stop_timer) event_free(p->stop_timer);
    if (p->reasm_timer) event_free(p->reasm_timer);
    reassembly_free(p->reasm);
    free(p);
}

void ws_pool_get_stats(const struct ws_pool *p, struct ws_pool_stats *out) {
    *out = p->stats;
    out->open = 0;
    for (int i = 0; i < p->n; i++) {
        struct ws_session_stats ss;
        ws_session_get_stats(p->slots[i].session, &ss);
        out->open += p->slots[i].state == WS_POOL_OPEN;
        out->events += ss.events;
        out->acks += ss.acks;
        out->acks_failed += ss.acks_failed;
        out->acks_dropped += ss.acks_dropped;
        out->bad_frames += ss.bad_frames;
        out->bad_fragments += ss.bad_fragments;
        out->pings += ss.pings;
        out->pongs += ss.pongs;
    }
}
