#include "app/gateway.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "app/config.h"
#include "app/options.h"
#include "base/log.h"
#include "base/util.h"
#include "base/watch.h"
#include "event/dispatch.h"
#include "lua/bind_http.h"
#include "lua/bind_vars.h"
#include "lua/runtime.h"
#include "openapi/openapi.h"
#include "store/store.h"
#include "store/store_redis.h"
#include "app/admin.h"
#include "app/metrics.h"
#include "app/worker_link.h"
#include "app/workers.h"
#include "net/http_client.h"
#include "net/redis.h"
#include "ingress/webhook.h"
#include "ingress/ws_pool.h"

struct gateway {
    struct config *cfg;
    struct event_base *base;
    struct runtime *rt;
    struct store *store;           /* lark.store: outlives every generation of scripts */
    struct store_redis *shared_store;  /* lark.store on Redis; NULL without redis.url */
    struct watch *watch;           /* the scripts directory: a save reloads */
    struct dispatcher *disp;
    struct http_client *http;      /* the OpenAPI's; NULL without app credentials */
    struct openapi *api;           /* lark.api; NULL without app credentials */
    struct webhook *webhook;
    struct admin *admin;
    struct event *sig_term, *sig_int, *sig_hup, *stop_timer;
    int stopping;
    struct ws_pool *ws;            /* the long connection; NULL in webhook mode */
    const struct worker_role *role; /* NULL: the only process; else a supervisor's worker */
    struct worker_link *link;      /* a worker's questions from the supervisor */
    int drained, ws_stopped;       /* stopping: exit once both are true */
    struct redis *redis;           /* shared state; NULL without redis.url */
    char degraded[200];            /* /readyz's reason while degraded */
    char id[96];                   /* names this gateway in shared claims and leases */
    struct bind_http *lark_http;   /* lark.http: its own client, pool and allow-list */
    struct bind_vars_options vars; /* lark.vars, pointing into cfg or reread */
    gateway_reread_fn reread;      /* NULL: the config is not read again */
    void *reread_arg;
    struct config *reread_cfg;     /* the last config read again, NULL before */
};

/* host:pid:random, unique across the gateways sharing one Redis. */
static void gateway_make_id(struct gateway *gw) {
    char host[64] = "host";
    unsigned r = 0;
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) r = (unsigned)time(NULL);
    snprintf(gw->id, sizeof gw->id, "%s:%d:%08x", host, (int)getpid(), r);
}

static int gateway_reload_scripts(struct gateway *gw, char *err, size_t errlen) {
    uint64_t t0 = util_now_us();
    if (runtime_load(gw->rt, err, errlen)) {
        log_error("gateway", "reload failed, the previous scripts stay: %s", err);
        return -1;
    }
    log_info("gateway", "reloaded scripts in %.2f ms", (double)(util_now_us() - t0) / 1000);
    return 0;
}

static void config_drop(struct config *cfg) {
    if (!cfg) return;
    config_free(cfg);
    free(cfg);
}

/* lark.http's rules and lark.vars from cfg; -1 (nothing changed) when http.allow does not
 * compile. */
static int gateway_apply_script_config(struct gateway *gw, const struct config *cfg, char *err,
                                       size_t errlen) {
    struct bind_http_options o;
    options_bind_http(cfg, &o);
    if (bind_http_configure(gw->lark_http, &o, err, errlen)) return -1;
    options_bind_vars(cfg, &gw->vars);
    return 0;
}

/* SIGHUP, POST /admin/reload: the config is read again (only vars and http.* take effect
 * while running; the rest needs a restart), then the scripts. Any failure keeps both. */
static int gateway_reload(void *arg, char *err, size_t errlen) {
    struct gateway *gw = arg;
    struct config *fresh = gw->reread ? calloc(1, sizeof *fresh) : NULL;
    err[0] = '\0';
    if (gw->reread && (!fresh || gw->reread(gw->reread_arg, fresh, err, errlen) ||
                       gateway_apply_script_config(gw, fresh, err, errlen))) {
        if (!err[0]) snprintf(err, errlen, "out of memory");
        log_error("gateway", "reload failed, the previous config and scripts stay: %s", err);
        config_drop(fresh);            /* config_free is safe on a freed config */
        return -1;
    }
    if (gateway_reload_scripts(gw, err, errlen)) {
        const struct config *old = gw->reread_cfg ? gw->reread_cfg : gw->cfg;
        char ignored[256];
        if (fresh) gateway_apply_script_config(gw, old, ignored, sizeof ignored);
        config_drop(fresh);
        return -1;
    }
    if (fresh) {
        config_drop(gw->reread_cfg);   /* its vars were copied into the scripts it served */
        gw->reread_cfg = fresh;
    }
    return 0;
}

static void gateway_on_scripts_changed(void *arg) {
    char err[512];
    log_info("gateway", "scripts directory changed: reloading");
    gateway_reload_scripts(arg, err, sizeof err);
}

/* Ready while serving and, with a long connection, while at least one is open. */
static int gateway_ready(void *arg) {
    struct gateway *gw = arg;
    if (gw->stopping) return 0;
    if (!gw->ws) return 1;
    struct ws_pool_stats w;
    ws_pool_get_stats(gw->ws, &w);
    return w.open > 0;
}

/* Serving without Redis is degraded, not unready: events still flow (dedup in memory). */
static const char *gateway_degraded(void *arg) {
    struct gateway *gw = arg;
    const char *why = gw->redis ? redis_down_reason(gw->redis) : NULL;
    if (!why) return NULL;
    snprintf(gw->degraded, sizeof gw->degraded, "redis: %s", why);
    return gw->degraded;
}

static void gateway_metrics(void *arg, struct evbuffer *out) {
    struct gateway *gw = arg;
    struct metrics_sources src = { gw->disp, gw->api, gw->ws, gw->rt, gw->redis };
    metrics_write(&src, out);
}

static char *gateway_jobs(void *arg) {
    struct gateway *gw = arg;
    return runtime_jobs_json(gw->rt);
}

static void gateway_exit(struct gateway *gw) {
    event_base_loopexit(gw->base, NULL);
}

static void gateway_on_drained(void *arg) {
    struct gateway *gw = arg;
    log_info("gateway", "in-flight events finished");
    gw->drained = 1;
    if (!gw->ws || gw->ws_stopped) gateway_exit(gw);    /* else acks are still going out */
}

/* The long connection has sent its last acks and closed. */
static void gateway_on_ws_stopped(void *arg) {
    struct gateway *gw = arg;
    gw->ws_stopped = 1;
    if (gw->drained) gateway_exit(gw);
}

static void gateway_on_stop_timeout(evutil_socket_t fd, short what, void *arg) {
    struct gateway *gw = arg;
    log_warn("gateway", "stop deadline reached with events still in flight; exiting");
    gateway_exit(gw);
}

/* SIGTERM/SIGINT: stop taking events, let in-flight ones finish (bounded), exit. */
static void gateway_stop(struct gateway *gw) {
    if (gw->stopping) return;
    gw->stopping = 1;
    log_info("gateway", "stopping: no new events, finishing the ones in flight");
    runtime_stop_jobs(gw->rt);
    if (gw->webhook) webhook_stop(gw->webhook);
    if (gw->ws) ws_pool_stop(gw->ws, gateway_on_ws_stopped, gw);
    int bound_s = gw->cfg->limits.handler_max_s < 30 ? gw->cfg->limits.handler_max_s : 30;
    struct timeval tv = { bound_s, 0 };
    gw->stop_timer = evtimer_new(gw->base, gateway_on_stop_timeout, gw);
    if (gw->stop_timer) evtimer_add(gw->stop_timer, &tv);
    dispatcher_drain(gw->disp, gateway_on_drained, gw);
}

static void gateway_on_signal(evutil_socket_t sig, short what, void *arg) {
    struct gateway *gw = arg;
    if (sig == SIGHUP) {
        char err[512];
        gateway_reload(gw, err, sizeof err);
        return;
    }
    gateway_stop(gw);
}

static int gateway_signals(struct gateway *gw) {
    gw->sig_term = evsignal_new(gw->base, SIGTERM, gateway_on_signal, gw);
    gw->sig_int = evsignal_new(gw->base, SIGINT, gateway_on_signal, gw);
    gw->sig_hup = evsignal_new(gw->base, SIGHUP, gateway_on_signal, gw);
    if (!gw->sig_term || !gw->sig_int || !gw->sig_hup) return -1;
    evsignal_add(gw->sig_term, NULL);
    evsignal_add(gw->sig_int, NULL);
    evsignal_add(gw->sig_hup, NULL);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/* The supervisor is gone: nobody would restart, reload or stop this worker. */
static void gateway_on_link_lost(void *arg) {
    log_warn("gateway", "the supervisor is gone: stopping");
    gateway_stop(arg);
}

static int gateway_start_transports(struct gateway *gw) {
    const struct config *cfg = gw->cfg;
    const struct worker_role *role = gw->role;
    if (cfg->mode == CONFIG_MODE_WEBHOOK || cfg->mode == CONFIG_MODE_BOTH) {
        struct webhook_options wo;
        options_webhook(cfg, &wo);
        wo.reuse_port = role != NULL;
        gw->webhook = webhook_new(gw->base, &wo, gw->disp);
        if (!gw->webhook) return -1;
    }
    struct ws_pool_options po;
    options_ws_pool(cfg, &po);
    if (role) po.connections = workers_share(cfg->connections, role->index, role->count);
    if ((cfg->mode == CONFIG_MODE_WS || cfg->mode == CONFIG_MODE_BOTH) && po.connections > 0) {
        gw->ws = ws_pool_new(gw->base, &po, gw->disp, gw->http);
        if (!gw->ws) return -1;
    }
    struct admin_hooks hooks = { gw, gateway_ready, gateway_metrics, gateway_reload,
                                 gateway_degraded, gateway_jobs };
    if (role) {
        /* the supervisor owns the admin listener and asks each worker over the link */
        gw->link = worker_link_serve(gw->base, role->fd, &hooks, gateway_on_link_lost, gw);
        return gw->link ? 0 : -1;
    }
    if (cfg->admin.listen && *cfg->admin.listen) {
        struct admin_options opt;
        options_admin(cfg, &opt);
        gw->admin = admin_new(gw->base, &opt, &hooks);
        if (!gw->admin) return -1;
    }
    return 0;
}

/* Frees in dependency order; every free tolerates NULL. The runtime goes first: it
 * ends handlers still running, cancelling their OpenAPI calls, and their answers travel
 * through the dispatcher to the transports, so those must still be alive then. The
 * HTTP client goes last: the long connection and the OpenAPI both use it. */
static void gateway_free(struct gateway *gw) {
    watch_free(gw->watch);
    worker_link_free(gw->link);
    if (gw->rt) runtime_free(gw->rt);
    bind_http_free(gw->lark_http);
    config_drop(gw->reread_cfg);
    store_free(gw->store);
    store_redis_free(gw->shared_store);
    if (gw->disp) dispatcher_free(gw->disp);
    admin_free(gw->admin);
    if (gw->webhook) webhook_free(gw->webhook);
    ws_pool_free(gw->ws);
    openapi_free(gw->api);
    if (gw->http) http_client_free(gw->http);
    redis_free(gw->redis);         /* after every module that sends it commands */
    struct event *evs[] = { gw->sig_term, gw->sig_int, gw->sig_hup, gw->stop_timer };
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i]) event_free(evs[i]);
    if (gw->base) event_base_free(gw->base);
}

/* libevent's own warnings (a bad address, a failed accept) go through our log. */
static void gateway_libevent_log(int severity, const char *msg) {
    enum log_level level = severity >= EVENT_LOG_ERR ? LOG_LEVEL_ERROR
                         : severity == EVENT_LOG_WARN ? LOG_LEVEL_WARN : LOG_LEVEL_DEBUG;
    log_write(level, "libevent", "%s", msg);
}

static void gateway_on_app_ticket(void *arg, const char *ticket) {
    struct gateway *gw = arg;
    if (openapi_set_app_ticket(gw->api, ticket) < 0)
        log_warn("gateway", "app_ticket refused: empty, over 1024 bytes or not printable");
}

/* lark.api's client and the HTTP client it shares with the long connection. Without
 * credentials the daemon still serves webhooks, and lark.api calls answer nil, err. */
static int gateway_openapi(struct gateway *gw) {
    const struct config *cfg = gw->cfg;
    if (!cfg->app_id || !*cfg->app_id || !cfg->app_secret || !*cfg->app_secret || !cfg->domain
        || !*cfg->domain) {
        log_info("gateway", "no app_id/app_secret: lark.api calls will answer nil, err");
        return 0;
    }
    gw->http = http_client_new(gw->base, cfg->tls_ca_file);
    if (!gw->http) return -1;
    struct openapi_transport t = openapi_transport_http(gw->http);
    struct openapi_options o;
    options_openapi(cfg, &o);
    gw->api = openapi_new(gw->base, &t, &o);
    if (!gw->api) return -1;
    if (gw->redis) openapi_set_redis(gw->api, gw->redis, gw->id);
    runtime_set_openapi(gw->rt, gw->api);
    return 0;
}

/* lark.http and lark.vars, from the config. */
static int gateway_lark_http(struct gateway *gw) {
    char err[512];
    struct bind_http_options o;
    options_bind_http(gw->cfg, &o);
    gw->lark_http = bind_http_new(gw->base, &o, err, sizeof err);
    if (!gw->lark_http) {
        log_error("gateway", "%s", err);
        return -1;
    }
    runtime_set_http(gw->rt, gw->lark_http);
    options_bind_vars(gw->cfg, &gw->vars);
    runtime_set_vars(gw->rt, &gw->vars);
    return 0;
}

static int gateway_setup(struct gateway *gw, struct config *cfg) {
    char err[512];
    event_set_log_callback(gateway_libevent_log);
    gw->cfg = cfg;
    gw->base = event_base_new();
    if (!gw->base) return -1;
    gateway_make_id(gw);
    if (cfg->redis.url && *cfg->redis.url) {
        struct redis_options rdo;
        options_redis(cfg, &rdo);
        gw->redis = redis_new(gw->base, &rdo);
        if (!gw->redis) return -1;
    }
    struct runtime_options ro;
    struct dispatch_options dopts;
    options_runtime(cfg, &ro);
    options_dispatch(cfg, &dopts);
    gw->rt = runtime_new(gw->base, &ro);
    gw->store = store_new((size_t)cfg->store.max_entries, (size_t)cfg->store.max_bytes, NULL);
    if (!gw->rt || !gw->store) return -1;
    runtime_set_store(gw->rt, gw->store);
    if (gw->redis) {
        gw->shared_store = store_redis_new(gw->redis, (size_t)cfg->store.max_bytes);
        if (!gw->shared_store) return -1;
        store_set_shared(gw->store, gw->shared_store);
    }
    if (gateway_openapi(gw) || gateway_lark_http(gw)) return -1;
    if (gw->redis) runtime_set_redis(gw->rt, gw->redis, gw->id);  /* before jobs register */
    if (runtime_load(gw->rt, err, sizeof err)) {
        log_error("gateway", "%s", err);
        return -1;
    }
    gw->disp = dispatcher_new(gw->base, &dopts, gw->rt);
    if (!gw->disp) return -1;
    if (gw->api) dispatcher_on_app_ticket(gw->disp, gateway_on_app_ticket, gw);
    if (gw->redis && dispatcher_share(gw->disp, gw->redis, gw->id, cfg->limits.handler_max_s))
        return -1;
    return 0;
}

int gateway_run(struct config *cfg, gateway_reread_fn reread, void *reread_arg,
                const struct worker_role *role) {
    struct gateway gw;
    memset(&gw, 0, sizeof gw);
    gw.reread = reread;
    gw.reread_arg = reread_arg;
    gw.role = role;
    int rc = 1;
    if (gateway_setup(&gw, cfg) || gateway_signals(&gw) || gateway_start_transports(&gw))
        goto done;
    /* without it (logged), SIGHUP and POST /admin/reload still reload */
    gw.watch = watch_new(gw.base, cfg->scripts ? cfg->scripts : ".", 100,
                         gateway_on_scripts_changed, &gw);
    log_info("gateway", "ready mode=%s scripts=%s", config_mode_name(cfg->mode), cfg->scripts);
    if (gw.link) worker_link_hello(gw.link);
    /* a restarted marketplace app that lost its ticket is deaf until the next push */
    if (gw.api) openapi_request_app_ticket(gw.api);
    event_base_dispatch(gw.base);
    /* The loop is over: a second SIGTERM must not cut the teardown short. Blocked, not
     * ignored: freeing libevent's signal events puts the default handlers back. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_BLOCK, &stop, NULL);
    rc = 0;
done:
    gateway_free(&gw);
    log_info("gateway", "stopped");
    return rc;
}

struct replay_result {
    int status;
    int done;
};

static void replay_on_reply(void *arg, int status, const char *body, size_t len) {
    struct replay_result *r = arg;
    r->status = status;
    r->done = 1;
    printf("%d %.*s\n", status, (int)len, body);
    fflush(stdout);
}

int gateway_replay(struct config *cfg, const char *event_path) {
    size_t len;
    char *json = util_read_file(event_path, 64u << 20, &len);
    if (!json) {
        log_error("replay", "cannot read %s", event_path);
        return 1;
    }
    struct gateway gw;
    memset(&gw, 0, sizeof gw);
    struct replay_result r = { 0, 0 };
    if (gateway_setup(&gw, cfg) == 0) {
        /* a replay runs the event's handlers, not the schedules (nor takes their leases),
         * even while it waits for Redis */
        runtime_stop_jobs(gw.rt);
        /* lark.store on Redis answers nil, err until connected: give it a moment */
        uint64_t until = util_now_ms() + 2000;
        while (gw.redis && !redis_up(gw.redis) && util_now_ms() < until
               && event_base_loop(gw.base, EVLOOP_ONCE) == 0) {}
        dispatcher_submit(gw.disp, json, len, EVENT_REPLAY, replay_on_reply, &r);
        /* Handlers may yield (sleep, API calls): run the loop until the reply comes. */
        while (!r.done && event_base_loop(gw.base, EVLOOP_ONCE) == 0) {}
    }
    free(json);
    gateway_free(&gw);
    return r.done && r.status >= 200 && r.status < 300 ? 0 : 1;
}
