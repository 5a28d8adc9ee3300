#include "app/config.h"

#include <ctype.h>
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "net/redis.h"

enum key_type { K_STR, K_INT, K_LONG, K_BOOL, K_ENUM };

static const char *const mode_names[] = { "ws", "webhook", "both", NULL };
static const char *const order_names[] = { "chat", "none", NULL };
static const char *const app_type_names[] = { "self_built", "marketplace", NULL };
static const char *const level_names[] = { "debug", "info", "warn", "error", NULL };
static const char *const format_names[] = { "text", "json", NULL };

/* Every accepted key, its type and where it lands: the whole schema in one table. */
struct config_key {
    const char *name;
    enum key_type type;
    size_t offset;
    long min, max;                 /* K_INT, K_LONG */
    const char *const *names;      /* K_ENUM; K_STR when it must be one of them */
};

#define OFF(field) offsetof(struct config, field)
static const struct config_key keys[] = {
    { "app_id", K_STR, OFF(app_id), 0, 0, NULL },
    { "app_secret", K_STR, OFF(app_secret), 0, 0, NULL },
    { "encrypt_key", K_STR, OFF(encrypt_key), 0, 0, NULL },
    { "verification_token", K_STR, OFF(verification_token), 0, 0, NULL },
    { "domain", K_STR, OFF(domain), 0, 0, NULL },
    { "app_type", K_ENUM, OFF(app_type), 0, 0, app_type_names },
    { "mode", K_ENUM, OFF(mode), 0, 0, mode_names },
    { "connections", K_INT, OFF(connections), 1, 50, NULL },
    { "scripts", K_STR, OFF(scripts), 0, 0, NULL },
    { "lua_path", K_STR, OFF(lua_path), 0, 0, NULL },
    { "tls_ca_file", K_STR, OFF(tls_ca_file), 0, 0, NULL },
    { "webhook.listen", K_STR, OFF(webhook.listen), 0, 0, NULL },
    { "webhook.path", K_STR, OFF(webhook.path), 0, 0, NULL },
    { "webhook.card_path", K_STR, OFF(webhook.card_path), 0, 0, NULL },
    { "webhook.max_body", K_LONG, OFF(webhook.max_body), 64, 64L << 20, NULL },
    { "webhook.max_skew_s", K_INT, OFF(webhook.max_skew_s), 0, 86400 * 365, NULL },
    { "webhook.insecure", K_BOOL, OFF(webhook.insecure), 0, 0, NULL },
    { "webhook.max_connections", K_INT, OFF(webhook.max_connections), 1, 1 << 20, NULL },
    { "webhook.max_connections_per_ip", K_INT, OFF(webhook.max_connections_per_ip), 1,
      1 << 20, NULL },
    { "admin.listen", K_STR, OFF(admin.listen), 0, 0, NULL },
    { "admin.token", K_STR, OFF(admin.token), 0, 0, NULL },
    { "limits.memory_mb", K_INT, OFF(limits.memory_mb), 1, 65536, NULL },
    { "limits.handler_timeout_ms", K_INT, OFF(limits.handler_timeout_ms), 1, 3600000, NULL },
    { "limits.handler_max_s", K_INT, OFF(limits.handler_max_s), 1, 86400, NULL },
    { "limits.max_recursion", K_INT, OFF(limits.max_recursion), 16, 100000, NULL },
    { "limits.max_coroutines", K_INT, OFF(limits.max_coroutines), 1, 1000000, NULL },
    { "limits.upload_max_mb", K_INT, OFF(limits.upload_max_mb), 1, 100, NULL },
    { "limits.download_max_mb", K_INT, OFF(limits.download_max_mb), 1, 100, NULL },
    { "ack_deadline_ms", K_INT, OFF(ack_deadline_ms), 1, 60000, NULL },
    { "order", K_ENUM, OFF(order), 0, 0, order_names },
    { "order_queue_max", K_INT, OFF(order_queue_max), 1, 1000000, NULL },
    { "max_in_flight", K_INT, OFF(max_in_flight), 1, 10000000, NULL },
    { "dedup.ttl_s", K_INT, OFF(dedup.ttl_s), 0, 86400 * 30, NULL },
    { "dedup.max_entries", K_INT, OFF(dedup.max_entries), 1, 100000000, NULL },
    { "store.max_entries", K_INT, OFF(store.max_entries), 1, 100000000, NULL },
    { "store.max_bytes", K_LONG, OFF(store.max_bytes), 1024, 1L << 34, NULL },
    { "ws.dead_after_s", K_INT, OFF(ws.dead_after_s), 0, 3600, NULL },
    { "ws.fragment_timeout_s", K_INT, OFF(ws.fragment_timeout_s), 1, 600, NULL },
    { "ws.max_message", K_LONG, OFF(ws.max_message), 1024, 64L << 20, NULL },
    { "state_dir", K_STR, OFF(state_dir), 0, 0, NULL },
    { "log.level", K_STR, OFF(log.level), 0, 0, level_names },
    { "log.format", K_STR, OFF(log.format), 0, 0, format_names },
    { "log.file", K_STR, OFF(log.file), 0, 0, NULL },
    { "log.payloads", K_BOOL, OFF(log.payloads), 0, 0, NULL },
    { "redis.url", K_STR, OFF(redis.url), 0, 0, NULL },
    { "redis.prefix", K_STR, OFF(redis.prefix), 0, 0, NULL },
    { "redis.password", K_STR, OFF(redis.password), 0, 0, NULL },
    { "http.timeout_s", K_INT, OFF(http.timeout_s), 1, 3600, NULL },
    { "http.max_body", K_LONG, OFF(http.max_body), 1, 1L << 30, NULL },
    { "http.max_in_flight", K_INT, OFF(http.max_in_flight), 1, 100000, NULL },
    { "http.max_per_script", K_INT, OFF(http.max_per_script), 1, 100000, NULL },
    { "workers", K_INT, OFF(workers), 1, 64, NULL },
};
#define NKEYS (sizeof keys / sizeof keys[0])

static const char *const sections[] = { "webhook", "admin", "limits", "dedup", "store",
                                        "ws", "log", "redis", "http", NULL };

static void set_str(char **slot, const char *value) {
    free(*slot);
    *slot = value ? strdup(value) : NULL;
}

void config_init(struct config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    set_str(&cfg->domain, "https://open.feishu.cn");
    cfg->app_type = CONFIG_APP_SELF_BUILT;
    cfg->mode = CONFIG_MODE_WS;
    cfg->connections = 1;
    set_str(&cfg->scripts, "scripts/examples");
    set_str(&cfg->webhook.listen, "0.0.0.0:9999");
    set_str(&cfg->webhook.path, "/webhook/event");
    set_str(&cfg->webhook.card_path, "/webhook/card");
    cfg->webhook.max_body = 1048576;
    cfg->webhook.max_skew_s = 300;
    cfg->webhook.max_connections = 1024;
    cfg->webhook.max_connections_per_ip = 64;
    set_str(&cfg->admin.listen, "127.0.0.1:9900");
    cfg->limits.memory_mb = 64;
    cfg->limits.handler_timeout_ms = 2500;
    cfg->limits.handler_max_s = 60;
    cfg->limits.max_recursion = 200;
    cfg->limits.max_coroutines = 1000;
    cfg->limits.upload_max_mb = 30;
    cfg->limits.download_max_mb = 20;
    cfg->ack_deadline_ms = 2500;
    cfg->order = CONFIG_ORDER_CHAT;
    cfg->order_queue_max = 1000;
    cfg->max_in_flight = 10000;
    cfg->dedup.ttl_s = 28800;
    cfg->dedup.max_entries = 1000000;
    cfg->store.max_entries = 100000;
    cfg->store.max_bytes = 64L << 20;
    cfg->ws.dead_after_s = 0;          /* 0: 3 x PingInterval, capped */
    cfg->ws.fragment_timeout_s = 5;
    cfg->ws.max_message = 16L << 20;
    set_str(&cfg->state_dir, "/var/lib/larkgw");
    set_str(&cfg->log.level, "info");
    set_str(&cfg->log.format, "text");
    set_str(&cfg->redis.prefix, "larkgw:");
    cfg->http.timeout_s = 30;
    cfg->http.max_body = 8L << 20;
    cfg->http.max_in_flight = 256;
    cfg->http.max_per_script = 64;
    cfg->workers = 1;
}

static void list_free(char ***list, size_t *n) {
    for (size_t i = 0; *list && i < *n; i++) free((*list)[i]);
    free(*list);
    *list = NULL;
    *n = 0;
}

/* Appends count strings to *list (n entries); -1 when out of memory. */
static int list_add(char ***list, size_t *n, const char *const *v, size_t count) {
    char **grown = realloc(*list, (*n + count) * sizeof **list);
    if (!grown) return -1;
    *list = grown;
    for (size_t i = 0; i < count; i++) {
        grown[*n] = strdup(v[i]);
        if (!grown[*n]) return -1;
        (*n)++;
    }
    return 0;
}

void config_free(struct config *cfg) {
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].type == K_STR) {
            char **slot = (char **)((char *)cfg + keys[i].offset);
            free(*slot);
            *slot = NULL;
        }
    list_free(&cfg->http.allow, &cfg->http.nallow);
    size_t nstrings = cfg->nvars * 3;
    list_free(&cfg->vars, &nstrings);
    cfg->nvars = 0;
}

static const struct config_key *key_find(const char *name) {
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, name) == 0) return &keys[i];
    return NULL;
}

static int is_section(const char *name) {
    for (int i = 0; sections[i]; i++)
        if (strcmp(sections[i], name) == 0) return 1;
    return 0;
}

static int name_index(const char *const *names, const char *value) {
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], value) == 0) return i;
    return -1;
}

static void names_join(const char *const *names, char *out, size_t len) {
    out[0] = '\0';
    for (int i = 0; names[i]; i++) {
        size_t n = strlen(out);
        snprintf(out + n, len - n, "%s\"%s\"", i ? ", " : "", names[i]);
    }
}

/* Stores an already type-checked value; range and enum errors name the key. */
static int key_store_int(struct config *cfg, const struct config_key *k, long long v,
                         char *err, size_t errlen) {
    if (v < k->min || v > k->max) {
        snprintf(err, errlen, "key '%s': %lld is out of range [%ld, %ld]", k->name, v,
                 k->min, k->max);
        return -1;
    }
    void *slot = (char *)cfg + k->offset;
    if (k->type == K_LONG) *(long *)slot = (long)v;
    else *(int *)slot = (int)v;
    return 0;
}

static int key_store_str(struct config *cfg, const struct config_key *k, const char *v,
                         char *err, size_t errlen) {
    void *slot = (char *)cfg + k->offset;
    if (k->names) {
        int idx = name_index(k->names, v);
        if (idx < 0) {
            char allowed[128];
            names_join(k->names, allowed, sizeof allowed);
            snprintf(err, errlen, "key '%s': \"%s\" is not one of %s", k->name, v, allowed);
            return -1;
        }
        if (k->type == K_ENUM) {
            *(int *)slot = idx;
            return 0;
        }
    }
    set_str((char **)slot, v);
    return 0;
}

static int var_name_ok(const char *name) {
    if (!*name || strlen(name) > 64 || (!isalpha((unsigned char)*name) && *name != '_'))
        return 0;
    for (const char *c = name; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_') return 0;
    return 1;
}

/* vars.NAME = value (kind "s", "n" or "b"); a second value for a name replaces the first. */
static int var_set(struct config *cfg, const char *name, const char *kind, const char *value,
                   char *err, size_t errlen) {
    if (!var_name_ok(name)) {
        snprintf(err, errlen, "key 'vars': \"%.64s\" is not a name (letters, digits, _)", name);
        return -1;
    }
    for (size_t i = 0; i < cfg->nvars; i++)
        if (strcmp(cfg->vars[3 * i], name) == 0) {
            char *k = strdup(kind), *v = strdup(value);
            if (!k || !v) {
                free(k);
                free(v);
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            free(cfg->vars[3 * i + 1]);
            free(cfg->vars[3 * i + 2]);
            cfg->vars[3 * i + 1] = k;
            cfg->vars[3 * i + 2] = v;
            return 0;
        }
    const char *triple[3] = { name, kind, value };
    size_t nstrings = cfg->nvars * 3;
    if (cfg->nvars >= 1000 || list_add(&cfg->vars, &nstrings, triple, 3)) {
        snprintf(err, errlen, "key 'vars': more than 1000 entries, or out of memory");
        return -1;
    }
    cfg->nvars = nstrings / 3;
    return 0;
}

/* http.allow from the command line: a comma-separated list replacing the file's. */
static int allow_set(struct config *cfg, const char *value, char *err, size_t errlen) {
    list_free(&cfg->http.allow, &cfg->http.nallow);
    char *copy = strdup(value), *save = NULL;
    int rc = copy ? 0 : -1;
    for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && !rc;
         tok = strtok_r(NULL, ",", &save)) {
        const char *entry = tok;
        rc = list_add(&cfg->http.allow, &cfg->http.nallow, &entry, 1);
    }
    free(copy);
    if (rc) snprintf(err, errlen, "out of memory");
    return rc;
}

int config_set(struct config *cfg, const char *name, const char *value, char *err,
               size_t errlen) {
    if (strcmp(name, "http.allow") == 0) return allow_set(cfg, value, err, errlen);
    if (strncmp(name, "vars.", 5) == 0) return var_set(cfg, name + 5, "s", value, err, errlen);
    const struct config_key *k = key_find(name);
    if (!k) {
        snprintf(err, errlen, "unknown key '%s'", name);
        return -1;
    }
    if (k->type == K_STR || k->type == K_ENUM) return key_store_str(cfg, k, value, err, errlen);
    if (k->type == K_BOOL) {
        int b = strcmp(value, "true") == 0 ? 1 : strcmp(value, "false") == 0 ? 0 : -1;
        if (b < 0) {
            snprintf(err, errlen, "key '%s': boolean expected, got \"%s\"", name, value);
            return -1;
        }
        *(bool *)((char *)cfg + k->offset) = b;
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno || end == value || *end) {
        snprintf(err, errlen, "key '%s': integer expected, got \"%s\"", name, value);
        return -1;
    }
    return key_store_int(cfg, k, v, err, errlen);
}

static const char *type_expected(enum key_type t) {
    return t == K_BOOL ? "boolean" : (t == K_INT || t == K_LONG) ? "integer" : "string";
}

/* Takes the value on top of the Lua stack for key k. */
static int key_store_lua(struct config *cfg, const struct config_key *k, lua_State *L,
                         char *err, size_t errlen) {
    int t = lua_type(L, -1);
    if ((k->type == K_STR || k->type == K_ENUM) && t == LUA_TSTRING)
        return key_store_str(cfg, k, lua_tostring(L, -1), err, errlen);
    if (k->type == K_BOOL && t == LUA_TBOOLEAN) {
        *(bool *)((char *)cfg + k->offset) = lua_toboolean(L, -1);
        return 0;
    }
    if ((k->type == K_INT || k->type == K_LONG) && t == LUA_TNUMBER) {
        int isint;
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        if (isint) return key_store_int(cfg, k, v, err, errlen);
    }
    snprintf(err, errlen, "key '%s': %s expected, got %s", k->name, type_expected(k->type),
             t == LUA_TNUMBER ? "non-integer number" : lua_typename(L, t));
    return -1;
}

/* http.allow: a list of strings (the value on top of the stack). */
static int allow_walk(struct config *cfg, lua_State *L, char *err, size_t errlen) {
    if (!lua_istable(L, -1)) {
        snprintf(err, errlen, "key 'http.allow': list of host names expected, got %s",
                 luaL_typename(L, -1));
        return -1;
    }
    list_free(&cfg->http.allow, &cfg->http.nallow);
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        const char *entry = lua_tostring(L, -1);
        int bad = lua_type(L, -1) != LUA_TSTRING;
        if (bad || list_add(&cfg->http.allow, &cfg->http.nallow, &entry, 1)) {
            snprintf(err, errlen, bad ? "key 'http.allow': entry %d: string expected"
                                      : "out of memory", (int)i);
            return -1;
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* vars: names to strings, numbers and booleans, kept as text with their kind. */
static int vars_walk(struct config *cfg, lua_State *L, char *err, size_t errlen) {
    if (!lua_istable(L, -1)) {
        snprintf(err, errlen, "key 'vars': table expected, got %s", luaL_typename(L, -1));
        return -1;
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        int t = lua_type(L, -1);
        const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
        if (t != LUA_TSTRING && t != LUA_TNUMBER && t != LUA_TBOOLEAN) {
            snprintf(err, errlen, "key 'vars.%.64s': string, number or boolean expected, "
                     "got %s", name, lua_typename(L, t));
            return -1;
        }
        const char *kind = t == LUA_TSTRING ? "s" : t == LUA_TNUMBER ? "n" : "b";
        const char *v = t == LUA_TBOOLEAN ? (lua_toboolean(L, -1) ? "true" : "false")
                                          : lua_tostring(L, -1);   /* a copy: not the key */
        if (var_set(cfg, name, kind, v, err, errlen)) return -1;
        lua_pop(L, 1);
    }
    return 0;
}

/* Walks the table on top of the stack; prefix is "" or a section name. */
static int config_walk(struct config *cfg, lua_State *L, const char *prefix, char *err,
                       size_t errlen) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            snprintf(err, errlen, "%s%skeys must be names", prefix, *prefix ? ": " : "");
            return -1;
        }
        char name[128];
        snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", lua_tostring(L, -2));
        int rc;
        if (strcmp(name, "http.allow") == 0) {
            rc = allow_walk(cfg, L, err, errlen);
        } else if (strcmp(name, "vars") == 0) {
            rc = vars_walk(cfg, L, err, errlen);
        } else if (!*prefix && is_section(name)) {
            if (!lua_istable(L, -1)) {
                snprintf(err, errlen, "key '%s': table expected, got %s", name,
                         luaL_typename(L, -1));
                return -1;
            }
            rc = config_walk(cfg, L, name, err, errlen);
        } else {
            const struct config_key *k = key_find(name);
            if (!k) {
                snprintf(err, errlen, "unknown key '%s'", name);
                return -1;
            }
            rc = key_store_lua(cfg, k, L, err, errlen);
        }
        if (rc) return rc;
        lua_pop(L, 1);
    }
    return 0;
}

/* env("NAME") in a config file: the variable's value, or nil. */
static int config_env(lua_State *L) {
    const char *v = getenv(luaL_checkstring(L, 1));
    if (v) lua_pushstring(L, v);
    else lua_pushnil(L);
    return 1;
}

int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen) {
    lua_State *L = luaL_newstate();
    if (!L) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    int rc = -1;
    if (luaL_loadfilex(L, path, "t") != LUA_OK) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        goto done;
    }
    /* _ENV: an empty table whose only visible name is env(); assignments land in it. */
    lua_newtable(L);
    lua_newtable(L);
    lua_newtable(L);
    lua_pushcfunction(L, config_env);
    lua_setfield(L, -2, "env");
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setupvalue(L, -3, 1);
    lua_insert(L, -2);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        goto done;
    }
    char inner[400];
    if (config_walk(cfg, L, "", inner, sizeof inner)) {
        snprintf(err, errlen, "%s: %s", path, inner);
        goto done;
    }
    rc = 0;
done:
    lua_close(L);
    return rc;
}

void config_apply_env(struct config *cfg) {
    static const struct { const char *var; size_t offset; } vars[] = {
        { "LARK_APP_ID", OFF(app_id) },
        { "LARK_APP_SECRET", OFF(app_secret) },
        { "LARK_ENCRYPT_KEY", OFF(encrypt_key) },
        { "LARK_VERIFICATION_TOKEN", OFF(verification_token) },
        { "LARK_DOMAIN", OFF(domain) },
        { "LARKGW_REDIS_PASSWORD", OFF(redis.password) },
    };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        char **slot = (char **)((char *)cfg + vars[i].offset);
        const char *v = getenv(vars[i].var);
        if (v && *v) set_str(slot, v);
    }
}

/* The admin listener reloads scripts: beyond loopback only a token holder may. */
static int config_validate_admin(const struct config *cfg, char *err, size_t errlen) {
    const char *listen = cfg->admin.listen;
    char host[256];
    int port;
    if (!listen || !*listen) return 0;
    if (strncmp(listen, "unix:", 5) == 0) {
        if (listen[5] != '/') {
            snprintf(err, errlen, "key 'admin.listen': unix: wants an absolute path");
            return -1;
        }
        return 0;
    }
    if (util_parse_hostport(listen, host, sizeof host, &port)) {
        snprintf(err, errlen, "key 'admin.listen': HOST:PORT or unix:/path expected");
        return -1;
    }
    if (!util_host_is_loopback(host) && (!cfg->admin.token || !*cfg->admin.token)) {
        snprintf(err, errlen, "key 'admin.token': required when admin.listen is not a "
                              "loopback address or a unix socket");
        return -1;
    }
    return 0;
}

static int config_validate_redis(const struct config *cfg, char *err, size_t errlen) {
    struct redis_url u;
    char why[256];
    if (!cfg->redis.url || !*cfg->redis.url) return 0;
    if (redis_url_parse(cfg->redis.url, &u, why, sizeof why)) {
        snprintf(err, errlen, "key 'redis.url': %s", why);
        return -1;
    }
    return 0;
}

/* Workers share dedup marks, lark.store and tokens through Redis: without it each
 * would keep its own, and a retried event could run twice. */
static int config_validate_workers(const struct config *cfg, char *err, size_t errlen) {
    if (cfg->workers <= 1) return 0;
    if (!cfg->redis.url || !*cfg->redis.url) {
        snprintf(err, errlen, "key 'workers': %d workers need 'redis' (redis.url) to share "
                              "dedup, lark.store and tokens", cfg->workers);
        return -1;
    }
    if (cfg->mode != CONFIG_MODE_WS && cfg->webhook.listen &&
        strncmp(cfg->webhook.listen, "unix:", 5) == 0) {
        snprintf(err, errlen, "key 'webhook.listen': workers > 1 share a TCP port; "
                              "unix: cannot be shared");
        return -1;
    }
    return 0;
}

int config_validate(const struct config *cfg, char *err, size_t errlen) {
    if (!cfg->scripts || !*cfg->scripts) {
        snprintf(err, errlen, "key 'scripts': a directory is required");
        return -1;
    }
    if (!cfg->webhook.path || cfg->webhook.path[0] != '/') {
        snprintf(err, errlen, "key 'webhook.path': must start with '/'");
        return -1;
    }
    const char *card = cfg->webhook.card_path;
    if (card && *card && (card[0] != '/' || strcmp(card, cfg->webhook.path) == 0)) {
        snprintf(err, errlen, "key 'webhook.card_path': must start with '/' and differ from "
                 "webhook.path (\"\" turns it off)");
        return -1;
    }
    if (strncmp(cfg->domain, "http://", 7) && strncmp(cfg->domain, "https://", 8)) {
        snprintf(err, errlen, "key 'domain': must start with http:// or https://");
        return -1;
    }
    if (cfg->app_type == CONFIG_APP_MARKETPLACE && cfg->mode == CONFIG_MODE_WS) {
        snprintf(err, errlen, "key 'mode': marketplace apps cannot use the long connection "
                              "(their app_ticket comes by webhook): use \"webhook\"");
        return -1;
    }
    if (config_validate_redis(cfg, err, errlen) || config_validate_workers(cfg, err, errlen))
        return -1;
    return config_validate_admin(cfg, err, errlen);
}

const char *config_mode_name(enum config_mode mode) { return mode_names[mode]; }
