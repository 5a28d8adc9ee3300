/* Configuration: defaults, then LARK_* environment variables, then the config file (a
 * Lua table evaluated in an empty sandbox with env()), then command-line overrides.
 * The key names are a public interface: add keys freely, rename none. */
#ifndef LARKGW_APP_CONFIG_H
#define LARKGW_APP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

enum config_mode { CONFIG_MODE_WS, CONFIG_MODE_WEBHOOK, CONFIG_MODE_BOTH };
enum config_order { CONFIG_ORDER_CHAT, CONFIG_ORDER_NONE };
enum config_app_type { CONFIG_APP_SELF_BUILT, CONFIG_APP_MARKETPLACE };

/* Strings are owned by the config (freed by config_free); NULL when unset. */
struct config {
    char *app_id, *app_secret, *encrypt_key, *verification_token;
    char *domain;
    enum config_app_type app_type;
    enum config_mode mode;
    int connections;
    char *scripts;
    char *lua_path;           /* directory of the Lua half of `lark` (lua/) */
    char *tls_ca_file;        /* an extra CA, added to the system store */
    struct {
        char *listen, *path;
        char *card_path;      /* legacy message cards; "": none */
        long max_body;
        int max_skew_s;       /* 0 disables the timestamp window */
        bool insecure;
        int max_connections;        /* open connections to the listener, all peers */
        int max_connections_per_ip; /* open connections from one peer address */
    } webhook;
    struct {
        char *listen;         /* "host:port" or "unix:/path"; empty: no admin listener */
        char *token;          /* bearer token for POST; required beyond loopback */
    } admin;
    struct {
        int memory_mb, handler_timeout_ms, handler_max_s;
        int max_recursion, max_coroutines;
        int upload_max_mb, download_max_mb;  /* lark.api.upload, lark.api.download */
    } limits;
    int ack_deadline_ms;
    enum config_order order;
    int order_queue_max;      /* events waiting per chat before new ones are refused */
    int max_in_flight;        /* events accepted and not yet finished, all chats */
    struct { int ttl_s; int max_entries; } dedup;
    struct { int max_entries; long max_bytes; } store;
    struct { int dead_after_s; int fragment_timeout_s; long max_message; } ws;
    char *state_dir;
    /* Shared state across gateways; url NULL or "": everything stays in memory. */
    struct { char *url, *prefix, *password; } redis;
    struct { char *level, *format, *file; bool payloads; } log;
    struct {
        char **allow;         /* lark.http may reach these: host, host:port, *.domain */
        size_t nallow;
        int timeout_s;        /* per call, scripts may ask less */
        long max_body;        /* per response, scripts may ask less */
        int max_in_flight;    /* calls open at once, all scripts */
        int max_per_script;   /* calls open at once, per script */
    } http;
    /* lark.vars: nvars triples name, kind ("s" string, "n" number, "b" boolean), value
     * as text; strings owned by the config. */
    char **vars;
    size_t nvars;
    int workers;              /* worker processes; 1: one process, no supervisor */
};

/* Fills defaults. */
void config_init(struct config *cfg);
void config_free(struct config *cfg);

/* Evaluates a config file over cfg. On error returns -1 and writes
 * "file:line: message" or "key 'webhook.listen': string expected, got number" to err. */
int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen);

/* Takes the secrets and domain from LARK_APP_ID, LARK_APP_SECRET, LARK_ENCRYPT_KEY,
 * LARK_VERIFICATION_TOKEN, LARK_DOMAIN, and redis.password from LARKGW_REDIS_PASSWORD,
 * where set; call before config_load_file. */
void config_apply_env(struct config *cfg);

/* Sets one dotted key from a string ("webhook.max_body", "4096"); -1 with err when the
 * key is unknown or the value does not parse as the key's type. */
int config_set(struct config *cfg, const char *key, const char *value, char *err, size_t errlen);

/* Cross-field checks (ranges, enums); -1 with err on the first problem. */
int config_validate(const struct config *cfg, char *err, size_t errlen);

const char *config_mode_name(enum config_mode mode);

#endif
