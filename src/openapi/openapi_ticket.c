#include "openapi/openapi_ticket.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "net/redis.h"

static int ticket_valid(const char *s, size_t n) {
    if (n == 0 || n > OPENAPI_TICKET_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) return 0;
    return 1;
}

/* {state_dir}/app_ticket.<app_id>: one file per app, so apps may share a state_dir. */
static int ticket_path(const struct openapi_ticket *tk, char *out, size_t size) {
    char id[128];
    size_t n = 0;
    for (const char *p = tk->app_id; *p && n + 1 < sizeof id; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
            || c == '_' || c == '-';
        id[n++] = ok ? c : '_';
    }
    id[n] = '\0';
    int len = snprintf(out, size, "%s/app_ticket.%s", tk->state_dir, id);
    return len > 0 && (size_t)len < size ? 0 : -1;
}

void openapi_ticket_load(struct openapi_ticket *tk) {
    char path[4096];
    if (!tk->marketplace || !tk->state_dir || ticket_path(tk, path, sizeof path)) return;
    size_t len;
    char *s = util_read_file(path, OPENAPI_TICKET_MAX + 16, &len);
    if (!s) return;
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ')) s[--len] = '\0';
    if (!ticket_valid(s, len)) {
        log_warn("openapi", "ignoring a malformed app_ticket file %s", path);
        free(s);
        return;
    }
    free(tk->value);
    tk->value = s;
    log_info("openapi", "app_ticket loaded from %s", path);
}

static int write_all(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* tmp + fsync + rename: a crash leaves the old ticket or the new one, never half. */
static void ticket_save(const struct openapi_ticket *tk) {
    char path[4096], tmp[4200];
    if (!tk->marketplace || !tk->state_dir || ticket_path(tk, path, sizeof path)) return;
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (mkdir(tk->state_dir, 0700) != 0 && errno != EEXIST) {
        log_warn("openapi", "cannot create state_dir %s: %s", tk->state_dir, strerror(errno));
        return;
    }
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int ok = fd >= 0 && write_all(fd, tk->value, strlen(tk->value)) == 0
        && write_all(fd, "\n", 1) == 0 && fsync(fd) == 0;
    int saved = errno;
    if (fd >= 0 && close(fd) != 0 && ok) { ok = 0; saved = errno; }
    if (ok && rename(tmp, path) != 0) { ok = 0; saved = errno; }
    if (!ok) {
        if (fd >= 0) unlink(tmp);
        log_warn("openapi", "cannot save the app_ticket to %s: %s", path, strerror(saved));
    }
}

#define SHARED_TICKET_MS (12LL * 3600 * 1000)

static int shared_key(const struct openapi_ticket *tk, char *out, size_t n) {
    return snprintf(out, n, "%sticket:%s", redis_prefix(tk->redis), tk->app_id) < (int)n ? 0 : -1;
}

/* Every gateway's ticket: the newest one pushed to any of them. */
static void ticket_publish(const struct openapi_ticket *tk, const char *ticket) {
    char key[512], px[24];
    if (!tk->redis || shared_key(tk, key, sizeof key)) return;
    snprintf(px, sizeof px, "%lld", SHARED_TICKET_MS);
    redis_send(tk->redis, 5, (const char *[]){ "SET", key, ticket, "PX", px }, NULL);
}

static int ticket_take(struct openapi_ticket *tk, const char *ticket, int publish);

int openapi_ticket_set(struct openapi_ticket *tk, const char *ticket) {
    return ticket_take(tk, ticket, 1);
}

static int ticket_take(struct openapi_ticket *tk, const char *ticket, int publish) {
    size_t n = ticket ? strlen(ticket) : 0;
    if (!ticket_valid(ticket, n)) {
        log_warn("openapi", "ignoring a malformed app_ticket (%zu bytes)", n);
        return -1;
    }
    if (publish) ticket_publish(tk, ticket);
    if (tk->value && strcmp(tk->value, ticket) == 0) return 0;
    char *copy = strdup(ticket);
    if (!copy) return -1;
    free(tk->value);
    tk->value = copy;
    log_info("openapi", "app_ticket %s", publish ? "received" : "taken from redis");
    ticket_save(tk);
    return 0;
}

static void on_shared_ticket(void *arg, const redisReply *rep) {
    struct openapi_ticket_get *g = arg;
    g->call = NULL;
    if (rep && rep->type == REDIS_REPLY_STRING) ticket_take(g->tk, rep->str, 0);
    g->fn(g->arg);
}

int openapi_ticket_fetch_shared(struct openapi_ticket *tk, struct openapi_ticket_get *g,
                                void (*fn)(void *arg), void *arg) {
    char key[512];
    if (!tk->redis || shared_key(tk, key, sizeof key)) return -1;
    *g = (struct openapi_ticket_get){ tk, fn, arg, NULL };
    g->call = redis_command(tk->redis, on_shared_ticket, g, 2, (const char *[]){ "GET", key },
                            NULL);
    return g->call ? 0 : -1;
}

void openapi_ticket_get_cancel(struct openapi_ticket_get *g) {
    redis_cancel(g->call);
    g->call = NULL;
}

void openapi_ticket_drop(struct openapi_ticket *tk) {
    char path[4096];
    if (!tk->value) return;
    char key[512];
    if (tk->redis && shared_key(tk, key, sizeof key) == 0)
        redis_del_if(tk->redis, key, tk->value);
    free(tk->value);
    tk->value = NULL;
    log_warn("openapi", "the platform refused the app_ticket; dropped it");
    if (tk->state_dir && ticket_path(tk, path, sizeof path) == 0) unlink(path);
}

static void resend_on_answer(void *arg, struct openapi_wire_answer *ans) {
    const struct openapi_wire_error *err = &ans->err;
    if (err->code == 0)
        log_info("openapi", "asked the platform to resend the app_ticket");
    else
        log_warn("openapi", "app_ticket/resend failed: code=%d msg=%s log_id=%s http=%d",
                 err->code, err->msg, err->log_id, err->http_status);
}

void openapi_ticket_resend(struct openapi_ticket *tk) {
    uint64_t now = tk->now_ms();
    if (tk->resend.active) return;
    if (tk->resends && now - tk->last_resend < (uint64_t)tk->resend_interval_ms) return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "app_id", tk->app_id);
    cJSON_AddStringToObject(o, "app_secret", tk->app_secret);
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!body) return;
    tk->last_resend = now;
    tk->resends++;
    struct openapi_wire_req req = { "POST", "/open-apis/auth/v3/app_ticket/resend", NULL,
                                    body, strlen(body), tk->timeout_ms, NULL, 0, 0 };
    openapi_wire_send(tk->wire, &tk->resend, &req, resend_on_answer, tk);
    /* The body held the app secret: leave nothing of it in freed memory. */
    memset(body, 0, strlen(body));
    free(body);
}

void openapi_ticket_free(struct openapi_ticket *tk) {
    openapi_wire_cancel(&tk->resend);
    free(tk->value);
    tk->value = NULL;
}
