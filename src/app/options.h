/* The config, cut into each module's own options struct: no module below app/ reads
 * struct config. Each function fills one struct from the config; pointers into cfg
 * stay owned by it (cfg outlives the modules). */
#ifndef LARKGW_APP_OPTIONS_H
#define LARKGW_APP_OPTIONS_H

struct config;

/* ingress: the webhook server and the long connection's pool (its discovery included). */
struct webhook_options;
struct ws_pool_options;
void options_webhook(const struct config *cfg, struct webhook_options *out);
void options_ws_pool(const struct config *cfg, struct ws_pool_options *out);

struct runtime_options;
struct dispatch_options;
/* lua/runtime: scripts, lua_path, limits.*, store.* (for a store of its own). */
void options_runtime(const struct config *cfg, struct runtime_options *out);
/* event/dispatch: verification_token, ack_deadline_ms, order*, max_in_flight, dedup.*,
 * log.payloads. */
void options_dispatch(const struct config *cfg, struct dispatch_options *out);

struct openapi_options;
/* The app's credentials, type, domain and state_dir; the limits keep their defaults. */
void options_openapi(const struct config *cfg, struct openapi_options *out);

/* app/admin: the listen address and admin.token. */
struct admin_options;
void options_admin(const struct config *cfg, struct admin_options *out);

/* lark.http and lark.vars */
struct bind_http_options;
struct bind_vars_options;
void options_bind_http(const struct config *cfg, struct bind_http_options *out);
void options_bind_vars(const struct config *cfg, struct bind_vars_options *out);

/* net/redis: redis.url, redis.prefix, redis.password (LARKGW_REDIS_PASSWORD). Call only
 * when redis.url is set. */
struct redis_options;
void options_redis(const struct config *cfg, struct redis_options *out);

#endif
