/* The control API under /_emu/ (documented in src/emulator/README.md): inject events,
 * read acks, and make the platform misbehave on purpose. JSON in, JSON out. */
#include "emulator/emu_control.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "emulator/emu.h"
#include "emulator/emu_deliver.h"
#include "emulator/emu_envelope.h"
#include "emulator/emu_files.h"
#include "emulator/emu_flood.h"
#include "emulator/emu_http.h"
#include "emulator/emu_legacy.h"
#include "emulator/emu_lists.h"
#include "emulator/emu_openapi.h"
#include "emulator/emu_token.h"
#include "emulator/emu_ws.h"

typedef void (*control_fn)(struct emu_req *r, cJSON *body);

/* Reads an integer field into *out (def when absent); -1 and a 400 answer when it is
 * not an integer in [min, max]. */
static int get_int(struct emu_req *r, const cJSON *body, const char *name, long def, long min,
                   long max, long *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < min ||
        v->valuedouble > max) {
        emu_http_reply_error(r, 400, "'%s' must be an integer in [%ld, %ld]", name, min, max);
        return -1;
    }
    *out = (long)v->valuedouble;
    return 0;
}

/* Reads a boolean field: def when absent, -2 after a 400 answer. */
static int get_bool(struct emu_req *r, const cJSON *body, const char *name, int def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);
    if (!v || cJSON_IsNull(v)) return def;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    emu_http_reply_error(r, 400, "'%s' must be true or false", name);
    return -2;
}

/* Reads a string field that must be one of choices; index, def when absent, -1 on 400. */
static int get_choice(struct emu_req *r, const cJSON *body, const char *name,
                      const char *const *choices, int def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);
    if (!v || cJSON_IsNull(v)) return def;
    for (int i = 0; cJSON_IsString(v) && choices[i]; i++)
        if (strcmp(v->valuestring, choices[i]) == 0) return i;
    emu_http_reply_error(r, 400, "'%s' must be \"%s\" or \"%s\"", name, choices[0], choices[1]);
    return -1;
}

/* The payload of POST /_emu/events: "raw", "event" or "text"; NULL after a 400. */
static char *event_payload(struct emu_req *r, const cJSON *body, char *event_id, size_t idlen) {
    const cJSON *raw = cJSON_GetObjectItemCaseSensitive(body, "raw");
    const cJSON *event = cJSON_GetObjectItemCaseSensitive(body, "event");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(body, "text");
    if (!!raw + !!event + !!text != 1) {
        emu_http_reply_error(r, 400, "give exactly one of 'text', 'event' or 'raw'");
        return NULL;
    }
    event_id[0] = '\0';    /* raw bytes carry no id we could trust */
    if (raw) {
        if (cJSON_IsString(raw)) return strdup(raw->valuestring);
        emu_http_reply_error(r, 400, "'raw' must be a string");
        return NULL;
    }
    cJSON *env = NULL;
    char err[128];
    if (event && !cJSON_IsObject(event)) {
        emu_http_reply_error(r, 400, "'event' must be a JSON object (the envelope)");
        return NULL;
    }
    if (text && !(env = emu_envelope_text(r->emu, body, err, sizeof err))) {
        emu_http_reply_error(r, 400, "%s", err);
        return NULL;
    }
    const cJSON *e = env ? env : event;
    const char *id = emu_envelope_event_id(e);
    snprintf(event_id, idlen, "%s", id ? id : "");
    char *s = cJSON_PrintUnformatted(e);
    cJSON_Delete(env);
    return s;
}

static int event_options(struct emu_req *r, const cJSON *body, struct emu_event_spec *spec) {
    static const char *const types[] = { "event", "card", NULL };
    static const char *const ways[] = { "ws", "webhook", NULL };
    long fragments, duplicate, retries, chunk;
    int type = get_choice(r, body, "frame_type", types, 0);
    int way = type < 0 ? -1 : get_choice(r, body, "delivery", ways, 0);
    if (way < 0 || get_int(r, body, "fragments", 1, 1, EMU_MAX_FRAGMENTS, &fragments) ||
        get_int(r, body, "duplicate", 0, 0, EMU_MAX_DUPLICATES, &duplicate) ||
        /* card callbacks are not retried by the platform */
        get_int(r, body, "retries", type == 1 ? 0 : r->emu->retries, 0, 100, &retries) ||
        get_int(r, body, "ws_chunk", 0, 0, EMU_MAX_WS_MSG, &chunk))
        return -1;
    spec->frame_type = types[type];
    spec->delivery = way ? EMU_DELIVER_WEBHOOK : EMU_DELIVER_WS;
    spec->fragments = (int)fragments;
    spec->duplicate = (int)duplicate;
    spec->retries = (int)retries;
    spec->ws_chunk = (size_t)chunk;
    if ((spec->shuffle = get_bool(r, body, "shuffle", 0)) == -2 ||
        (spec->sign = get_bool(r, body, "sign", -1)) == -2 ||
        (spec->encrypt = get_bool(r, body, "encrypt", -1)) == -2)
        return -1;
    if ((spec->sign == 1 || spec->encrypt == 1) && !r->emu->encrypt_key) {
        emu_http_reply_error(r, 400, "signing or encrypting needs --encrypt-key");
        return -1;
    }
    return 0;
}

/* Answers a failed emu_deliver_submit()/emu_ticket_push() status; 0 when it succeeded. */
static int reply_deliver_error(struct emu_req *r, int status) {
    if (status == 503) emu_http_reply_error(r, 503, "no client connected");
    else if (status == 400)
        emu_http_reply_error(r, 400, "no webhook URL: --webhook or /_emu/settings");
    else if (status == 429) emu_http_reply_error(r, 429, "too many events waiting for an ack");
    else if (status) emu_http_reply_error(r, 500, "out of memory");
    return status;
}

/* POST /_emu/events with "count": N fresh text events, at most "window" waiting for an
 * ack at any time, spread over "chats" chats. Network input: every field is bounded. */
static void post_flood(struct emu_req *r, cJSON *body, const struct emu_event_spec *spec) {
    static const char *const fixed[] = { "event", "raw", "legacy_card", "event_id",
                                         "im_message_id", NULL };
    long count, window, chats;
    char err[160];
    for (int i = 0; fixed[i]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, fixed[i]);
        if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v)) continue;
        emu_http_reply_error(r, 400, "'count' takes 'text' without '%s': every event gets "
                             "its own ids", fixed[i]);
        return;
    }
    if (get_int(r, body, "count", 1, 1, EMU_MAX_FLOOD, &count) ||
        get_int(r, body, "window", 100, 1, EMU_MAX_PENDING, &window) ||
        get_int(r, body, "chats", 1, 1, 100000, &chats))
        return;
    int status = emu_flood_start(r->emu, body, spec, count, window, chats, err, sizeof err);
    if (status) {
        emu_http_reply_error(r, status, "%s", err);
        return;
    }
    emu_http_reply_json(r, 200, emu_flood_status(r->emu));
}

static void post_events(struct emu_req *r, cJSON *body) {
    struct emu_event_spec spec = { 0 };
    char event_id[65], message_id[33];
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(body, "count");
    int flood = count && !cJSON_IsNull(count);
    if (!flood && (cJSON_GetObjectItemCaseSensitive(body, "window") ||
                   cJSON_GetObjectItemCaseSensitive(body, "chats"))) {
        emu_http_reply_error(r, 400, "'window' and 'chats' go with 'count'");
        return;
    }
    if (!flood && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "legacy_card"))) {
        emu_legacy_post(r, body);
        return;
    }
    if (event_options(r, body, &spec)) return;
    if (flood) {
        post_flood(r, body, &spec);
        return;
    }
    if (!(spec.payload = event_payload(r, body, event_id, sizeof event_id))) return;
    spec.len = strlen(spec.payload);
    spec.event_id = event_id;
    int status = emu_deliver_submit(r->emu, &spec, message_id);
    free(spec.payload);
    if (reply_deliver_error(r, status)) return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "message_id", message_id);
    cJSON_AddItemToObject(o, "event_id",
                          *event_id ? cJSON_CreateString(event_id) : cJSON_CreateNull());
    emu_http_reply_json(r, 200, o);
}

static void delete_events(struct emu_req *r, cJSON *body) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "stopped", (double)emu_flood_stop(r->emu));
    emu_http_reply_json(r, 200, o);
}

static void get_acks(struct emu_req *r, cJSON *body) {
    emu_http_reply_json(r, 200, cJSON_Duplicate(r->emu->acks, 1));
}

static void delete_acks(struct emu_req *r, cJSON *body) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "cleared", r->emu->nacks);
    cJSON_Delete(r->emu->acks);
    r->emu->acks = cJSON_CreateArray();
    r->emu->nacks = 0;
    emu_http_reply_json(r, 200, o);
}

static void post_kick(struct emu_req *r, cJSON *body) {
    long id;
    if (get_int(r, body, "conn", 0, 1, 1L << 30, &id)) return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "kicked", emu_ws_kick(r->emu, (int)id));
    emu_http_reply_json(r, 200, o);
}

/* Refusal texts become response header values. */
static void header_safe(char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = ' ';
}

static void post_refuse(struct emu_req *r, cJSON *body) {
    struct emu *emu = r->emu;
    long count, status;
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(body, "msg");
    const cJSON *auth = cJSON_GetObjectItemCaseSensitive(body, "autherrcode");
    if (get_int(r, body, "count", 1, 0, 1000000, &count) ||
        get_int(r, body, "status", 514, 100, 999999999, &status))
        return;
    if ((msg && !cJSON_IsString(msg)) || (auth && !cJSON_IsString(auth) && !cJSON_IsNumber(auth))) {
        emu_http_reply_error(r, 400, "'msg' must be a string, 'autherrcode' a string or number");
        return;
    }
    emu->refuse.count = (int)count;
    emu->refuse.status = (int)status;
    snprintf(emu->refuse.msg, sizeof emu->refuse.msg, "%s", msg ? msg->valuestring : "auth failed");
    emu->refuse.autherrcode[0] = '\0';
    if (cJSON_IsNumber(auth))
        snprintf(emu->refuse.autherrcode, sizeof emu->refuse.autherrcode, "%.0f",
                 auth->valuedouble);
    else if (cJSON_IsString(auth))
        snprintf(emu->refuse.autherrcode, sizeof emu->refuse.autherrcode, "%s", auth->valuestring);
    header_safe(emu->refuse.msg);
    header_safe(emu->refuse.autherrcode);
    emu_http_reply_json(r, 200, cJSON_CreateObject());
}

static void post_discovery(struct emu_req *r, cJSON *body) {
    long fail, code, status;
    if (get_int(r, body, "fail", 1, 0, 1000000, &fail) ||
        get_int(r, body, "code", 1, -2147483647L, 9999999999L, &code) ||
        get_int(r, body, "http_status", 200, 100, 599, &status))
        return;
    r->emu->discovery_fail.count = (int)fail;
    r->emu->discovery_fail.code = (int)code;
    r->emu->discovery_fail.http_status = (int)status;
    emu_http_reply_json(r, 200, cJSON_CreateObject());
}

static void post_silence(struct emu_req *r, cJSON *body) {
    int on = get_bool(r, body, "on", -1);
    if (on == -2) return;
    if (on == -1) {
        emu_http_reply_error(r, 400, "'on' (true or false) is required");
        return;
    }
    int n = emu_ws_silence(r->emu, on);
    log_info(EMU_MODULE, "silence %s: %d connection%s", on ? "on" : "off", n, n == 1 ? "" : "s");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "connections", n);
    emu_http_reply_json(r, 200, o);
}

static void post_config(struct emu_req *r, cJSON *body) {
    cJSON *cfg = r->emu->client_config;
    for (cJSON *item = body->child; item; item = item->next) {
        cJSON *copy = cJSON_Duplicate(item, 1);
        if (cJSON_GetObjectItemCaseSensitive(cfg, item->string))
            cJSON_ReplaceItemInObjectCaseSensitive(cfg, item->string, copy);
        else
            cJSON_AddItemToObject(cfg, item->string, copy);
    }
    emu_http_reply_json(r, 200, cJSON_Duplicate(r->emu->client_config, 1));
}

static void get_config(struct emu_req *r, cJSON *body) {
    emu_http_reply_json(r, 200, cJSON_Duplicate(r->emu->client_config, 1));
}

static void get_connections(struct emu_req *r, cJSON *body) {
    emu_http_reply_json(r, 200, emu_ws_list(r->emu));
}

static void get_stats(struct emu_req *r, cJSON *body) {
    struct emu *emu = r->emu;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "discoveries", (double)emu->stats.discoveries);
    cJSON_AddNumberToObject(o, "handshakes", (double)emu->stats.handshakes);
    cJSON_AddNumberToObject(o, "refused", (double)emu->stats.refused);
    cJSON_AddNumberToObject(o, "events", (double)emu->stats.events);
    cJSON_AddNumberToObject(o, "deliveries", (double)emu->stats.deliveries);
    cJSON_AddNumberToObject(o, "acks", (double)emu->stats.acks);
    cJSON_AddNumberToObject(o, "pings", (double)emu->stats.pings);
    cJSON_AddNumberToObject(o, "settled", (double)emu->stats.settled);
    cJSON_AddNumberToObject(o, "acks_failed", (double)emu->stats.acks_failed);
    cJSON_AddNumberToObject(o, "redeliveries", (double)emu->stats.redeliveries);
    cJSON_AddNumberToObject(o, "given_up", (double)emu->stats.given_up);
    cJSON_AddNumberToObject(o, "pending", emu->nevents);
    cJSON_AddNumberToObject(o, "connections", emu->nws);
    cJSON_AddNumberToObject(o, "service_id", emu->service_id);
    cJSON_AddItemToObject(o, "flood", emu_flood_status(emu));
    emu_http_reply_json(r, 200, o);
}

/* Replaces a string setting: a string sets it, null clears it. */
static int set_string(struct emu_req *r, const cJSON *body, const char *name, char **slot) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);
    if (!v) return 0;
    if (!cJSON_IsNull(v) && !cJSON_IsString(v)) {
        emu_http_reply_error(r, 400, "'%s' must be a string or null", name);
        return -1;
    }
    free(*slot);
    *slot = cJSON_IsString(v) && *v->valuestring ? strdup(v->valuestring) : NULL;
    return 0;
}

static void post_settings(struct emu_req *r, cJSON *body) {
    struct emu *emu = r->emu;
    long redeliver, retries, ttl;
    if (get_int(r, body, "redeliver_ms", emu->redeliver_ms, 10, 3600000, &redeliver) ||
        get_int(r, body, "retries", emu->retries, 0, 100, &retries) ||
        get_int(r, body, "ticket_ttl_ms", emu->ticket_ttl_ms, 1, 3600000, &ttl) ||
        set_string(r, body, "webhook", &emu->webhook_url) ||
        set_string(r, body, "card_url", &emu->card_url) ||
        set_string(r, body, "encrypt_key", &emu->encrypt_key) ||
        set_string(r, body, "verification_token", &emu->verification_token))
        return;
    emu->redeliver_ms = (int)redeliver;
    emu->retries = (int)retries;
    emu->ticket_ttl_ms = (int)ttl;
    emu_http_reply_json(r, 200, cJSON_CreateObject());
}

static const char *const openapi_keys[] = {
    "latency_ms", "latency_paths", "rate_limit", "invalid_status", "responses", "expire_s",
    "refresh_s", "ticket_delay_ms", "internal_tenant_key", "tenant_keys", "invalidate",
    "invalid_code", NULL,
};

/* Validates every key before applying any, so a 400 changes nothing. */
static void post_openapi(struct emu_req *r, cJSON *body) {
    char err[192];
    for (const cJSON *it = body->child; it; it = it->next) {
        int known = 0;
        for (int i = 0; openapi_keys[i]; i++) known |= strcmp(it->string, openapi_keys[i]) == 0;
        if (!known) {
            emu_http_reply_error(r, 400, "unknown key '%.64s'", it->string);
            return;
        }
    }
    if (emu_openapi_settings(r->emu, body, NULL, err, sizeof err) ||
        emu_token_settings(r->emu, body, NULL, err, sizeof err)) {
        emu_http_reply_error(r, 400, "%s", err);
        return;
    }
    cJSON *out = cJSON_CreateObject();
    emu_openapi_settings(r->emu, body, out, err, sizeof err);
    emu_token_settings(r->emu, body, out, err, sizeof err);
    emu_http_reply_json(r, 200, out);
}

static void get_openapi(struct emu_req *r, cJSON *body) {
    cJSON *none = cJSON_CreateObject();
    post_openapi(r, none);          /* nothing to change: only the settings */
    cJSON_Delete(none);
}

static void get_api_calls(struct emu_req *r, cJSON *body) {
    char prefix[512];
    int filtered = emu_req_query(r, "path", prefix, sizeof prefix) == 0;
    emu_http_reply_json(r, 200, emu_openapi_calls(r->emu, filtered ? prefix : NULL));
}

static void delete_api_calls(struct emu_req *r, cJSON *body) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "cleared", emu_openapi_clear_calls(r->emu));
    emu_http_reply_json(r, 200, o);
}

static void get_tokens(struct emu_req *r, cJSON *body) {
    emu_http_reply_json(r, 200, emu_token_list(r->emu));
}

static void post_app_ticket(struct emu_req *r, cJSON *body) {
    static const char *const ways[] = { "webhook", "ws", NULL };
    char ticket[33], message_id[33];
    int way = get_choice(r, body, "delivery", ways, 0);
    if (way < 0) return;
    int status = emu_ticket_push(r->emu, way ? EMU_DELIVER_WS : EMU_DELIVER_WEBHOOK, ticket,
                                 message_id);
    if (reply_deliver_error(r, status)) return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "app_ticket", ticket);
    cJSON_AddStringToObject(o, "message_id", message_id);
    emu_http_reply_json(r, 200, o);
}

static void delete_app_ticket(struct emu_req *r, cJSON *body) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "revoked", emu_ticket_revoke(r->emu));
    emu_http_reply_json(r, 200, o);
}

static void get_files(struct emu_req *r, cJSON *body) {
    emu_http_reply_json(r, 200, emu_files_list(r->emu));
}

static void delete_files(struct emu_req *r, cJSON *body) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "cleared", emu_files_clear(r->emu));
    emu_http_reply_json(r, 200, o);
}

static void post_lists(struct emu_req *r, cJSON *body) {
    char err[128];
    if (emu_lists_settings(r->emu, body, err, sizeof err) < 0) {
        emu_http_reply_error(r, 400, "%s", err);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "chats", (double)r->emu->lists.chats);
    cJSON_AddNumberToObject(o, "members", (double)r->emu->lists.members);
    emu_http_reply_json(r, 200, o);
}

static void get_card_updates(struct emu_req *r, cJSON *body) {
    emu_http_reply_json(r, 200, emu_legacy_updates(r->emu));
}

static const struct {
    const char *method, *path;
    control_fn fn;
} handlers[] = {
    { "POST", "/_emu/events", post_events },
    { "DELETE", "/_emu/events", delete_events },
    { "GET", "/_emu/acks", get_acks },
    { "DELETE", "/_emu/acks", delete_acks },
    { "POST", "/_emu/kick", post_kick },
    { "POST", "/_emu/refuse", post_refuse },
    { "POST", "/_emu/discovery", post_discovery },
    { "POST", "/_emu/silence", post_silence },
    { "POST", "/_emu/config", post_config },
    { "GET", "/_emu/config", get_config },
    { "GET", "/_emu/connections", get_connections },
    { "GET", "/_emu/stats", get_stats },
    { "POST", "/_emu/settings", post_settings },
    { "POST", "/_emu/openapi", post_openapi },
    { "GET", "/_emu/openapi", get_openapi },
    { "GET", "/_emu/api_calls", get_api_calls },
    { "DELETE", "/_emu/api_calls", delete_api_calls },
    { "GET", "/_emu/tokens", get_tokens },
    { "POST", "/_emu/app_ticket", post_app_ticket },
    { "DELETE", "/_emu/app_ticket", delete_app_ticket },
    { "GET", "/_emu/files", get_files },
    { "DELETE", "/_emu/files", delete_files },
    { "POST", "/_emu/lists", post_lists },
    { "GET", "/_emu/card_updates", get_card_updates },
};

void emu_control_handle(struct emu_req *r) {
    int path_known = 0;
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
        if (strcmp(r->path, handlers[i].path) != 0) continue;
        path_known = 1;
        if (strcmp(r->method, handlers[i].method) != 0) continue;
        cJSON *body = r->body_len ? cJSON_ParseWithLength(r->body, r->body_len)
                                  : cJSON_CreateObject();
        if (strcmp(r->method, "POST") == 0 && !cJSON_IsObject(body))
            emu_http_reply_error(r, 400, "the body must be a JSON object");
        else
            handlers[i].fn(r, body);
        cJSON_Delete(body);
        return;
    }
    if (path_known) emu_http_reply_error(r, 405, "method %s not allowed on %s", r->method, r->path);
    else emu_http_reply_error(r, 404, "no such control endpoint: %s", r->path);
}
