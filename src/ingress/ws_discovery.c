#include "ingress/ws_discovery.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "net/http_client.h"
#include "net/net.h"

#define DISCOVERY_PATH "/callback/ws/endpoint"
#define DISCOVERY_TIMEOUT_MS 10000
#define DISCOVERY_MAX_RESPONSE 65536

void ws_discovery_config_default(struct ws_client_config *cc) {
    cc->reconnect_count = -1;
    cc->reconnect_interval = 120;
    cc->reconnect_nonce = 30;
    cc->ping_interval = 120;
}

static int clamp(double v, int lo, int hi) {
    return v < lo ? lo : v > hi ? hi : (int)v;
}

static int config_apply(struct ws_client_config *cc, const cJSON *obj) {
    static const struct { const char *key; size_t off; int lo, hi; } keys[] = {
        { "ReconnectCount", offsetof(struct ws_client_config, reconnect_count), -1, 1000000 },
        { "ReconnectInterval", offsetof(struct ws_client_config, reconnect_interval), 1, 3600 },
        { "ReconnectNonce", offsetof(struct ws_client_config, reconnect_nonce), 0, 3600 },
        { "PingInterval", offsetof(struct ws_client_config, ping_interval), 1, 3600 },
    };
    int n = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, keys[i].key);
        if (!cJSON_IsNumber(v)) continue;
        *(int *)((char *)cc + keys[i].off) = clamp(v->valuedouble, keys[i].lo, keys[i].hi);
        n++;
    }
    return n;
}

int ws_discovery_config_parse(struct ws_client_config *cc, const char *json, size_t len) {
    cJSON *root = cJSON_ParseWithLength(json, len);
    int n = cJSON_IsObject(root) ? config_apply(cc, root) : -1;
    cJSON_Delete(root);
    return n;
}

void ws_discovery_endpoint_free(struct ws_endpoint *ep) {
    free(ep->url);
    ep->url = NULL;
}

/* The value of name=... in a query string, copied into out (no decoding: ids are digits). */
static void query_get(const char *query, const char *name, char *out, size_t len) {
    size_t nlen = strlen(name);
    out[0] = '\0';
    for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            size_t vlen = strcspn(p + nlen + 1, "&#");
            if (vlen >= len) vlen = len - 1;
            memcpy(out, p + nlen + 1, vlen);
            out[vlen] = '\0';
            return;
        }
    }
}

static int endpoint_from_url(const char *url, struct ws_endpoint *ep) {
    struct net_url u;
    if (net_url_parse(url, &u)) return -1;
    snprintf(ep->host, sizeof ep->host, "%s", u.host);
    const char *q = strchr(u.target, '?');
    char sid[32];
    query_get(q ? q + 1 : "", "device_id", ep->device_id, sizeof ep->device_id);
    util_printable(ep->device_id, ep->device_id, sizeof ep->device_id);   /* it is logged */
    query_get(q ? q + 1 : "", "service_id", sid, sizeof sid);
    net_url_free(&u);
    char *end;
    errno = 0;
    long v = strtol(sid, &end, 10);
    ep->service_id = (!errno && *sid && !*end && v >= INT32_MIN && v <= INT32_MAX) ? (int32_t)v : 0;
    ep->url = strdup(url);
    return ep->url ? 0 : -1;
}

static const char *code_meaning(double code) {
    if (code == 403) return "forbidden: is the long connection enabled for this app?";
    if (code == 514) return "auth failed: check app_id and app_secret";
    if (code == 1000040350) return "too many connections: at most 50 per app";
    return "refused";
}

int ws_discovery_parse(int http_status, const char *body, size_t len, struct ws_endpoint *ep,
                       char *why, size_t whylen) {
    memset(ep, 0, sizeof *ep);
    if (http_status != 200) {
        snprintf(why, whylen, "HTTP %d (platform busy)", http_status);
        return WS_DISCOVERY_BUSY;
    }
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "msg");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(data, "URL");
    const cJSON *cc = cJSON_GetObjectItemCaseSensitive(data, "ClientConfig");
    char m[160];
    util_printable(cJSON_IsString(msg) ? msg->valuestring : "", m, sizeof m);
    int cls;
    if (!cJSON_IsNumber(code)) {
        snprintf(why, whylen, "answer is not {\"code\":...} JSON");
        cls = WS_DISCOVERY_BUSY;
    } else if (code->valuedouble == 1 || code->valuedouble == 1000040343) {
        snprintf(why, whylen, "code %.0f (platform busy): %s", code->valuedouble, m);
        cls = WS_DISCOVERY_BUSY;
    } else if (code->valuedouble != 0) {
        snprintf(why, whylen, "code %.0f (%s): %s", code->valuedouble,
                 code_meaning(code->valuedouble), m);
        cls = WS_DISCOVERY_CLIENT_ERROR;
    } else if (!cJSON_IsString(url) || endpoint_from_url(url->valuestring, ep)) {
        snprintf(why, whylen, "code 0 but no usable data.URL");
        cls = WS_DISCOVERY_BUSY;
    } else {
        ws_discovery_config_default(&ep->config);
        ep->has_config = cJSON_IsObject(cc) && config_apply(&ep->config, cc) > 0;
        cls = WS_DISCOVERY_OK;
    }
    cJSON_Delete(root);
    return cls;
}

struct ws_discovery {
    struct http_call *call;
    ws_discovery_fn done;
    void *arg;
};

static void discovery_on_response(void *arg, const struct http_client_response *res) {
    struct ws_discovery *d = arg;
    struct ws_endpoint ep;
    char why[320];
    int cls;
    if (res->status == 0) {
        memset(&ep, 0, sizeof ep);
        snprintf(why, sizeof why, "no answer (%s)", res->error);
        cls = WS_DISCOVERY_BUSY;
    } else {
        cls = ws_discovery_parse(res->status, res->body, res->body_len, &ep, why, sizeof why);
    }
    d->done(d->arg, cls, &ep, cls == WS_DISCOVERY_OK ? NULL : why);
    ws_discovery_endpoint_free(&ep);
    free(d);
}

struct ws_discovery *ws_discovery_start(struct http_client *hc,
                                        const struct ws_discovery_options *opt,
                                        ws_discovery_fn done, void *arg) {
    char url[1024];
    const char *domain = opt->domain ? opt->domain : "";
    size_t dlen = strlen(domain);
    while (dlen && domain[dlen - 1] == '/') dlen--;
    snprintf(url, sizeof url, "%.*s%s", (int)dlen, domain, DISCOVERY_PATH);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "AppID", opt->app_id ? opt->app_id : "");
    cJSON_AddStringToObject(body, "AppSecret", opt->app_secret ? opt->app_secret : "");
    char *json = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    struct ws_discovery *d = calloc(1, sizeof *d);
    if (!json || !d) {
        free(json);
        free(d);
        return NULL;
    }
    d->done = done;
    d->arg = arg;
    static const char *const headers[] = { "Content-Type", "application/json",
                                           "locale", "zh", NULL };
    struct http_client_request req = { .method = "POST", .url = url, .headers = headers,
        .body = json, .body_len = strlen(json), .timeout_ms = DISCOVERY_TIMEOUT_MS,
        .max_response = DISCOVERY_MAX_RESPONSE };
    d->call = http_client_request(hc, &req, discovery_on_response, d);
    /* The secret lived in this buffer: clear it before it goes back to the heap. */
    memset(json, 0, strlen(json));
    free(json);
    if (!d->call) {
        free(d);
        return NULL;
    }
    return d;
}

void ws_discovery_cancel(struct ws_discovery *d) {
    if (!d) return;
    http_call_cancel(d->call);
    free(d);
}
