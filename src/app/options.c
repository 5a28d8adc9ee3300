#include "app/options.h"

#include "app/config.h"

#include "ingress/webhook.h"
#include "ingress/ws_pool.h"

void options_webhook(const struct config *cfg, struct webhook_options *out) {
    *out = (struct webhook_options){
        .listen = cfg->webhook.listen,
        .path = cfg->webhook.path,
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
