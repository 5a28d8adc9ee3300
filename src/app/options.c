#include "app/options.h"

#include <string.h>

#include "app/admin.h"
#include "app/config.h"
#include "event/dispatch.h"
#include "ingress/webhook.h"
#include "ingress/ws_pool.h"
#include "lua/runtime.h"
#include "net/redis.h"
#include "openapi/openapi.h"

void options_webhook(const struct config *cfg, struct webhook_options *out) {
    *out = (struct webhook_options){
        .listen = cfg->webhook.listen,
        .path = cfg->webhook.path,
        .card_path = cfg->webhook.card_path,
        .verification_token = cfg->verification_token,
        .encrypt_key = cfg->encrypt_key,
        .max_body = cfg->webhook.max_body,
        .max_skew_s = cfg->webhook.max_skew_s,
        .insecure = cfg->webhook.insecure,
        .max_connections = cfg->webhook.max_connections,
        .max_connections_per_ip = cfg->webhook.max_connections_per_ip,
    };
}

void options_ws_pool(const struct config *cfg, struct ws_pool_options *out) {
    *out = (struct ws_pool_options){
        .discovery = { cfg->domain, cfg->app_id, cfg->app_secret },
        .connections = cfg->connections,
        .dead_after_s = cfg->ws.dead_after_s,
        .fragment_timeout_s = cfg->ws.fragment_timeout_s,
        .max_message = cfg->ws.max_message,
        .ack_deadline_ms = cfg->ack_deadline_ms,
    };
}

void options_runtime(const struct config *cfg, struct runtime_options *out) {
    memset(out, 0, sizeof *out);
    out->scripts = cfg->scripts;
    out->lua_path = cfg->lua_path && *cfg->lua_path ? cfg->lua_path : NULL;
    out->limits.memory_mb = cfg->limits.memory_mb;
    out->limits.handler_timeout_ms = cfg->limits.handler_timeout_ms;
    out->limits.handler_max_s = cfg->limits.handler_max_s;
    out->limits.max_recursion = cfg->limits.max_recursion;
    out->limits.max_coroutines = cfg->limits.max_coroutines;
    out->limits.upload_max_mb = cfg->limits.upload_max_mb;
    out->limits.download_max_mb = cfg->limits.download_max_mb;
    out->store_max_entries = cfg->store.max_entries > 0 ? (size_t)cfg->store.max_entries : 0;
    out->store_max_bytes = cfg->store.max_bytes > 0 ? (size_t)cfg->store.max_bytes : 0;
}

void options_dispatch(const struct config *cfg, struct dispatch_options *out) {
    memset(out, 0, sizeof *out);
    out->verification_token = cfg->verification_token;
    out->ack_deadline_ms = cfg->ack_deadline_ms;
    out->order = cfg->order == CONFIG_ORDER_NONE ? DISPATCH_ORDER_NONE : DISPATCH_ORDER_CHAT;
    out->order_queue_max = cfg->order_queue_max;
    out->max_in_flight = cfg->max_in_flight;
    out->dedup_ttl_s = cfg->dedup.ttl_s;
    out->dedup_max_entries = cfg->dedup.max_entries;
    out->log_payloads = cfg->log.payloads;
}

void options_openapi(const struct config *cfg, struct openapi_options *out) {
    memset(out, 0, sizeof *out);
    out->domain = cfg->domain;
    out->app_id = cfg->app_id;
    out->app_secret = cfg->app_secret;
    out->marketplace = cfg->app_type == CONFIG_APP_MARKETPLACE;
    out->state_dir = cfg->state_dir;
}

void options_admin(const struct config *cfg, struct admin_options *out) {
    out->listen = cfg->admin.listen;
    out->token = cfg->admin.token;
}

/* lark.http and lark.vars */
#include "lua/bind_http.h"
#include "lua/bind_vars.h"

void options_bind_http(const struct config *cfg, struct bind_http_options *out) {
    out->allow = (const char *const *)cfg->http.allow;
    out->nallow = cfg->http.nallow;
    out->timeout_s = cfg->http.timeout_s;
    out->max_body = (size_t)cfg->http.max_body;
    out->max_in_flight = cfg->http.max_in_flight;
    out->max_per_script = cfg->http.max_per_script;
    out->ca_file = cfg->tls_ca_file;
}

void options_bind_vars(const struct config *cfg, struct bind_vars_options *out) {
    out->vars = (const char *const *)cfg->vars;
    out->nvars = cfg->nvars;
}

void options_redis(const struct config *cfg, struct redis_options *out) {
    memset(out, 0, sizeof *out);
    out->url = cfg->redis.url;
    out->password = cfg->redis.password;
    out->prefix = cfg->redis.prefix ? cfg->redis.prefix : "";
}
