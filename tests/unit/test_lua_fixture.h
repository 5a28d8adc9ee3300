/* Shared by the runtime and sandbox tests: a temporary scripts directory, runtime and
 * dispatcher options (the daemon's defaults, the scripts directory, the repo's lua/ as
 * lua_path), a log file to grep, and a way to run one event through the runtime and
 * capture the answer. */
#ifndef LARKGW_TEST_LUA_FIXTURE_H
#define LARKGW_TEST_LUA_FIXTURE_H

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "event/dispatch.h"
#include "lua/runtime.h"

struct fixture {
    char dir[64], log[96], lua[512];
    struct runtime_options opts;
    struct dispatch_options dopts;
    struct runtime *rt;
    int status, calls;
    char body[4096];
};

static inline void fx_write(struct fixture *fx, const char *name, const char *text) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", fx->dir, name);
    FILE *f = fopen(path, "w");
    if (!f) { perror(path); exit(2); }
    fputs(text, f);
    fclose(f);
}

static inline void fx_init(struct fixture *fx) {
    memset(fx, 0, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/larkgw-lua-test-XXXXXX");
    if (!mkdtemp(fx->dir)) { perror("mkdtemp"); exit(2); }
    snprintf(fx->log, sizeof fx->log, "%s.log", fx->dir);
    const char *src = getenv("LARKGW_SRC");
    snprintf(fx->lua, sizeof fx->lua, "%s/lua", src ? src : "..");
    fx->opts = (struct runtime_options){
        .scripts = fx->dir, .lua_path = fx->lua,
        .limits = { .memory_mb = 16, .handler_timeout_ms = 200, .handler_max_s = 60,
                    .max_recursion = 200, .max_coroutines = 1000 },
        .store_max_entries = 100000, .store_max_bytes = 64u << 20,
    };
    fx->dopts = (struct dispatch_options){
        .ack_deadline_ms = 2500, .order = DISPATCH_ORDER_CHAT, .order_queue_max = 1000,
        .max_in_flight = 10000, .dedup_ttl_s = 28800, .dedup_max_entries = 1000000,
    };
    unlink(fx->log);
    log_setup(LOG_LEVEL_DEBUG, LOG_FORMAT_TEXT, fx->log);
}

/* Loads the scripts written so far; returns runtime_load's result, err filled. */
static inline int fx_load(struct fixture *fx, char *err, size_t errlen) {
    if (!fx->rt) fx->rt = runtime_new(NULL, &fx->opts);
    int rc = runtime_load(fx->rt, err, errlen);
    if (rc < 0) fprintf(stderr, "runtime_load: %s\n", err);
    return rc;
}

static inline void fx_done(void *arg, int status, const char *body, size_t len) {
    struct fixture *fx = arg;
    fx->calls++;
    fx->status = status;
    snprintf(fx->body, sizeof fx->body, "%.*s", (int)len, body);
}

/* Runs one envelope (JSON text) through the runtime; returns the status. */
static inline int fx_run(struct fixture *fx, const char *json, const char *type, const char *name) {
    cJSON *root = cJSON_Parse(json);
    if (!root) { fprintf(stderr, "bad test JSON: %s\n", json); exit(2); }
    struct runtime_event ev = { root, "ev-test-1", type, name };
    fx->calls = 0;
    fx->status = 0;
    fx->body[0] = '\0';
    runtime_run(fx->rt, &ev, fx_done, fx);
    cJSON_Delete(root);
    return fx->status;
}

/* The log so far (malloc'd). */
static inline char *fx_log(struct fixture *fx) {
    char *text = util_read_file(fx->log, 1 << 24, NULL);
    return text ? text : strdup("");
}

static inline int fx_log_has(struct fixture *fx, const char *needle) {
    char *text = fx_log(fx);
    int found = strstr(text, needle) != NULL;
    if (!found) fprintf(stderr, "log lacks \"%s\"; log:\n%s\n", needle, text);
    free(text);
    return found;
}

static inline int fx_log_lacks(struct fixture *fx, const char *needle) {
    char *text = fx_log(fx);
    int found = strstr(text, needle) != NULL;
    if (found) fprintf(stderr, "log has \"%s\"; log:\n%s\n", needle, text);
    free(text);
    return !found;
}

static inline void fx_free(struct fixture *fx) {
    runtime_free(fx->rt);
    DIR *d = opendir(fx->dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[512];
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", fx->dir, e->d_name);
        unlink(path);
    }
    if (d) closedir(d);
    rmdir(fx->dir);
    log_setup(LOG_LEVEL_INFO, LOG_FORMAT_TEXT, NULL);
    log_close();
    unlink(fx->log);
}

#define MSG_EVENT \
    "{\"schema\":\"2.0\",\"header\":{\"event_id\":\"ev-test-1\",\"event_type\":" \
    "\"im.message.receive_v1\",\"tenant_key\":\"tk1\",\"token\":\"t\"},\"event\":{\"message\":" \
    "{\"message_id\":\"om_1\",\"chat_id\":\"oc_1\",\"message_type\":\"text\",\"content\":" \
    "\"{\\\"text\\\":\\\"@_user_1 hi there\\\"}\"},\"sender\":{\"sender_id\":{\"open_id\":\"ou_1\"}}}}"

#define RUN_MSG(fx) fx_run((fx), MSG_EVENT, "im.message.receive_v1", "on_p2_message_receive_v1")

#endif
