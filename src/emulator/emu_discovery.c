/* Endpoint discovery: credentials in, a WebSocket URL with a
 * single-use, short-lived ticket out. Tickets and secrets never reach the log. */
#include "emulator/emu_discovery.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "crypto/crypto.h"
#include "emulator/emu.h"
#include "emulator/emu_envelope.h"
#include "emulator/emu_http.h"

static int same(const char *a, const char *b) {
    size_t n = strlen(a);
    return n == strlen(b) && crypto_equal(a, b, n);
}

static void answer(struct emu_req *r, int http_status, long code, const char *msg,
                   cJSON *data) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "code", (double)code);
    cJSON_AddStringToObject(o, "msg", msg);
    if (data) cJSON_AddItemToObject(o, "data", data);
    emu_http_reply_json(r, http_status, o);
}

static const char *injected_msg(long code) {
    if (code == 1) return "system busy";
    if (code == 1000040343) return "internal error";
    if (code == 403) return "forbidden";
    if (code == 514) return "auth failed";
    if (code == 1000040350) return "too many connections";
    return "injected failure";
}

/* The Host header when it looks like host[:port], so a URL built from it is sane. */
static int host_from_header(const struct emu_req *r, char *out, size_t len) {
    const char *h = emu_req_header(r, "Host");
    if (!h || !*h || strlen(h) >= len) return -1;
    for (const char *p = h; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(".-:[]", *p)) return -1;
    snprintf(out, len, "%s", h);
    return 0;
}

static struct emu_ticket *ticket_slot(struct emu *emu) {
    uint64_t now = util_now_ms();
    struct emu_ticket *oldest = &emu->tickets[0];
    for (int i = 0; i < EMU_MAX_TICKETS; i++) {
        struct emu_ticket *t = &emu->tickets[i];
        if (t->expires_ms <= now) return t;
        if (t->expires_ms < oldest->expires_ms) oldest = t;
    }
    return oldest;
}

static cJSON *issue(struct emu *emu, const struct emu_req *r) {
    struct emu_ticket *t = ticket_slot(emu);
    emu_random_hex(t->ticket, 16);
    emu_random_hex(t->access_key, 16);
    snprintf(t->device_id, sizeof t->device_id, "%llu",
             (unsigned long long)++emu->next_device_id);
    t->expires_ms = util_now_ms() + (uint64_t)emu->ticket_ttl_ms;
    char host[128], url[512];
    if (host_from_header(r, host, sizeof host))
        snprintf(host, sizeof host, strchr(emu->host, ':') ? "[%s]:%d" : "%s:%d", emu->host,
                 emu->port);
    snprintf(url, sizeof url,
             "ws://%s/ws/v2?fpid=1&device_id=%s&service_id=%ld&access_key=%s&ticket=%s", host,
             t->device_id, (long)emu->service_id, t->access_key, t->ticket);
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "URL", url);
    cJSON_AddItemToObject(data, "ClientConfig", cJSON_Duplicate(emu->client_config, 1));
    log_info(EMU_MODULE, "discovery from %s: ok, device_id %s", r->peer, t->device_id);
    return data;
}

void emu_discovery_handle(struct emu_req *r) {
    struct emu *emu = r->emu;
    emu->stats.discoveries++;
    if (emu->discovery_fail.count > 0) {
        emu->discovery_fail.count--;
        long code = emu->discovery_fail.code;
        log_info(EMU_MODULE, "discovery from %s: injected failure, code %ld", r->peer, code);
        answer(r, emu->discovery_fail.http_status, code, injected_msg(code), NULL);
        return;
    }
    if (!emu_req_header(r, "locale")) {
        log_warn(EMU_MODULE, "discovery from %s: no 'locale' header, answering code 403",
                 r->peer);
        answer(r, 200, 403, "forbidden: missing header locale", NULL);
        return;
    }
    cJSON *body = cJSON_ParseWithLength(r->body, r->body_len);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(body, "AppID");
    const cJSON *secret = cJSON_GetObjectItemCaseSensitive(body, "AppSecret");
    int ok = cJSON_IsString(id) && cJSON_IsString(secret) && same(id->valuestring, emu->app_id)
             && same(secret->valuestring, emu->app_secret);
    cJSON_Delete(body);
    if (!ok) {
        log_warn(EMU_MODULE, "discovery from %s: wrong AppID/AppSecret, answering code 514",
                 r->peer);
        answer(r, 200, 514, "auth failed", NULL);
        return;
    }
    if (emu->nws >= EMU_MAX_CONNS) {
        log_warn(EMU_MODULE, "discovery from %s: %d connections open, answering 1000040350",
                 r->peer, EMU_MAX_CONNS);
        answer(r, 200, 1000040350, "too many connections", NULL);
        return;
    }
    answer(r, 200, 0, "ok", issue(emu, r));
}

int emu_ticket_consume(struct emu *emu, const struct emu_req *r, char *device_id, size_t len) {
    char ticket[40], key[40], dev[24], service[16], want_service[16];
    if (emu_req_query(r, "ticket", ticket, sizeof ticket) ||
        emu_req_query(r, "access_key", key, sizeof key) ||
        emu_req_query(r, "device_id", dev, sizeof dev) ||
        emu_req_query(r, "service_id", service, sizeof service))
        return -1;
    snprintf(want_service, sizeof want_service, "%ld", (long)emu->service_id);
    uint64_t now = util_now_ms();
    for (int i = 0; i < EMU_MAX_TICKETS; i++) {
        struct emu_ticket *t = &emu->tickets[i];
        if (t->expires_ms <= now || !same(ticket, t->ticket)) continue;
        if (!same(key, t->access_key) || strcmp(dev, t->device_id) != 0 ||
            strcmp(service, want_service) != 0)
            return -1;
        snprintf(device_id, len, "%s", t->device_id);
        t->expires_ms = 0;
        return 0;
    }
    return -1;
}
