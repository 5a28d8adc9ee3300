#include "openapi/openapi_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

static int ticket_valid(const char *s, size_t n) {
    if (n == 0 || n > OA_TICKET_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) return 0;
    return 1;
}

/* {state_dir}/app_ticket.<app_id>: one file per app, so apps may share a state_dir. */
static int ticket_path(const struct openapi *api, char *out, size_t size) {
    char id[128];
    size_t n = 0;
    for (const char *p = api->app_id; *p && n + 1 < sizeof id; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
            || c == '_' || c == '-';
        id[n++] = ok ? c : '_';
    }
    id[n] = '\0';
    int len = snprintf(out, size, "%s/app_ticket.%s", api->state_dir, id);
    return len > 0 && (size_t)len < size ? 0 : -1;
}

void openapi_ticket_load(struct openapi *api) {
    char path[4096];
    if (!api->marketplace || !api->state_dir || ticket_path(api, path, sizeof path)) return;
    size_t len;
    char *s = util_read_file(path, OA_TICKET_MAX + 16, &len);
    if (!s) return;
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ')) s[--len] = '\0';
    if (!ticket_valid(s, len)) {
        log_warn("openapi", "ignoring a malformed app_ticket file %s", path);
        free(s);
        return;
    }
    free(api->ticket);
    api->ticket = s;
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
static void ticket_save(struct openapi *api) {
    char path[4096], tmp[4200];
    if (!api->marketplace || !api->state_dir || ticket_path(api, path, sizeof path)) return;
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (mkdir(api->state_dir, 0700) != 0 && errno != EEXIST) {
        log_warn("openapi", "cannot create state_dir %s: %s", api->state_dir, strerror(errno));
        return;
    }
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int ok = fd >= 0 && write_all(fd, api->ticket, strlen(api->ticket)) == 0
        && write_all(fd, "\n", 1) == 0 && fsync(fd) == 0;
    int saved = errno;
    if (fd >= 0 && close(fd) != 0 && ok) { ok = 0; saved = errno; }
    if (ok && rename(tmp, path) != 0) { ok = 0; saved = errno; }
    if (!ok) {
        if (fd >= 0) unlink(tmp);
        log_warn("openapi", "cannot save the app_ticket to %s: %s", path, strerror(saved));
    }
}

int openapi_set_app_ticket(struct openapi *api, const char *ticket) {
    size_t n = ticket ? strlen(ticket) : 0;
    if (!ticket_valid(ticket, n)) {
        log_warn("openapi", "ignoring a malformed app_ticket (%zu bytes)", n);
        return -1;
    }
    if (api->ticket && strcmp(api->ticket, ticket) == 0) return 0;
    char *copy = strdup(ticket);
    if (!copy) return -1;
    free(api->ticket);
    api->ticket = copy;
    log_info("openapi", "app_ticket received");
    ticket_save(api);
    return 0;
}

int openapi_has_app_ticket(const struct openapi *api) { return api->ticket != NULL; }

void openapi_request_app_ticket(struct openapi *api) {
    if (api->marketplace && !api->ticket) openapi_ticket_resend(api);
}

void openapi_ticket_drop(struct openapi *api) {
    char path[4096];
    if (!api->ticket) return;
    free(api->ticket);
    api->ticket = NULL;
    log_warn("openapi", "the platform refused the app_ticket; dropped it");
    if (api->state_dir && ticket_path(api, path, sizeof path) == 0) unlink(path);
}

static void resend_on_http(void *arg, const struct http_client_response *res) {
    struct openapi *api = arg;
    api->resend_http = NULL;
    struct oa_error err = { 0 };
    openapi_copy_clean(err.log_id, sizeof err.log_id,
                       api->t.header(api->t.ctx, res, "X-Tt-Logid"));
    int code;
    if (res->status == 0) {
        openapi_answer_transport_error(res->error, &err);
        code = err.code;
    } else {
        cJSON *json;
        code = openapi_answer_parse(res->status, res->body, res->body_len, api->o.max_response,
                                    &json, &err);
        cJSON_Delete(json);
    }
    if (code == 0)
        log_info("openapi", "asked the platform to resend the app_ticket");
    else
        log_warn("openapi", "app_ticket/resend failed: code=%d msg=%s log_id=%s http=%d",
                 code, err.msg, err.log_id, err.http_status);
}

void openapi_ticket_resend(struct openapi *api) {
    uint64_t now = api->o.now_ms();
    if (api->resend_http) return;
    if (api->st.ticket_resends && now - api->last_resend < (uint64_t)api->o.resend_interval_ms)
        return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "app_id", api->app_id);
    cJSON_AddStringToObject(o, "app_secret", api->app_secret);
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!body) return;
    api->last_resend = now;
    api->st.ticket_resends++;
    /* Marked before sending: a transport may answer before request returns. */
    api->resend_http = api;
    void *h = openapi_post_plain(api, "/open-apis/auth/v3/app_ticket/resend", body,
                                 strlen(body), resend_on_http, api);
    memset(body, 0, strlen(body));
    free(body);
    if (api->resend_http == api) api->resend_http = h;
}

void openapi_ticket_free(struct openapi *api) {
    if (api->resend_http) api->t.cancel(api->t.ctx, api->resend_http);
    api->resend_http = NULL;
    free(api->ticket);
    api->ticket = NULL;
}
