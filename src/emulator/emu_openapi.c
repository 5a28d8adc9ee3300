/* The OpenAPI under /open-apis/: every call is recorded for the tests,
 * may be rate limited (429 + x-ogw-ratelimit-reset) or slowed down on request (a timer
 * per answer, never a blocked loop), then goes to a canned answer set through the
 * control API, the token endpoints (emu_token.c), im (emu_im.c), or the generic
 * {"code":0,"data":{}}. */
#include "emulator/emu_openapi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include <event2/event.h>

#include "base/log.h"
#include "emulator/emu.h"
#include "emulator/emu_answer.h"
#include "emulator/emu_cardkit.h"
#include "emulator/emu_envelope.h"
#include "emulator/emu_files.h"
#include "emulator/emu_http.h"
#include "emulator/emu_im.h"
#include "emulator/emu_legacy.h"
#include "emulator/emu_lists.h"
#include "emulator/emu_token.h"
#include "net/http_request.h"

#define CALLS_MAX 10000
#define CALL_BODY_MAX (1 << 20)         /* bodies kept in a record */
#define CALLS_BYTES_MAX (64 << 20)      /* all kept bodies together */
#define QUERY_PARAMS_MAX 64
#define LATENCY_MAX_MS 60000
#define LATENCY_RULES 32
#define RESPONSES_MAX 64
#define LATER_MAX 10000
#define PREFIX_MAX 256

struct later {                          /* an answer waiting out its latency */
    struct later *next;
    struct emu *emu;
    struct emu_req *r;
    struct event *timer;
    long call_id;
    int status, dropped;
    char *headers, *body;
    const char *ctype;
};

struct oapi_settings {                  /* POST /_emu/openapi */
    long latency_ms;
    int nlat;
    struct { char prefix[PREFIX_MAX]; long ms; } lat[LATENCY_RULES];
    struct { long count, reset_s, status; char prefix[PREFIX_MAX]; } rate;
    long invalid_status;
    cJSON *responses;                   /* canned answers, see README */
};

struct emu_oapi {
    cJSON *calls;                       /* records, oldest first */
    long next_call_id;
    size_t call_bytes;
    int ncalls;                /* cJSON_GetArraySize walks the list: keep the count */
    struct oapi_settings set;
    struct later *later;
    int nlater;
};

static int has_prefix(const char *path, const char *prefix) {
    return strncmp(path, prefix, strlen(prefix)) == 0;
}

/* The platform's log ids look like 20240911085251BEA8869709BAD4373B10. */
static void new_log_id(char out[40]) {
    time_t now = time(NULL);
    struct tm tm;
    char hex[21];
    gmtime_r(&now, &tm);
    strftime(out, 15, "%Y%m%d%H%M%S", &tm);
    emu_random_hex(hex, 10);
    for (char *p = hex; *p; p++)
        if (*p >= 'a') *p = (char)(*p - 'a' + 'A');
    memcpy(out + 14, hex, 21);
}

static cJSON *query_object(const char *query) {
    cJSON *o = cJSON_CreateObject();
    int n = 0;
    for (const char *p = query; *p && n < QUERY_PARAMS_MAX; n++) {
        const char *end = strchr(p, '&'), *eq;
        if (!end) end = p + strlen(p);
        eq = memchr(p, '=', (size_t)(end - p));
        const char *kend = eq ? eq : end, *v = eq ? eq + 1 : end;
        size_t klen = (size_t)(kend - p), vlen = (size_t)(end - v);
        char *k = malloc(klen + 1), *val = malloc(vlen + 1);
        if (k && val && http_url_decode(p, klen, k, klen + 1) >= 0 &&
            http_url_decode(v, vlen, val, vlen + 1) >= 0) {
            cJSON_DeleteItemFromObjectCaseSensitive(o, k);
            cJSON_AddStringToObject(o, k, val);
        }
        free(k);
        free(val);
        p = *end ? end + 1 : end;
    }
    return o;
}

/* Bytes a record holds in its body and answer, for the memory bound. */
static size_t kept_bytes(const cJSON *rec) {
    static const char *const fields[][2] = { { "body", "body_bytes" },
                                             { "answer", "answer_bytes" } };
    size_t n = 0;
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, fields[i][0]);
        const cJSON *len = cJSON_GetObjectItemCaseSensitive(rec, fields[i][1]);
        if (v && !cJSON_IsNull(v) && cJSON_IsNumber(len)) n += (size_t)len->valuedouble;
    }
    return n;
}

static void calls_trim(struct emu_oapi *o) {
    while (o->ncalls > 1 && (o->ncalls > CALLS_MAX || o->call_bytes > CALLS_BYTES_MAX)) {
        cJSON *old = cJSON_DetachItemFromArray(o->calls, 0);
        o->ncalls--;
        o->call_bytes -= kept_bytes(old);
        cJSON_Delete(old);
    }
}

static void calls_add(struct emu_oapi *o, cJSON *rec) {
    o->call_bytes += kept_bytes(rec);
    cJSON_AddItemToArray(o->calls, rec);
    o->ncalls++;
    calls_trim(o);
}

/* Records are looked up from the newest: answers come soon after the request. */
static cJSON *calls_find(struct emu_oapi *o, long id) {
    cJSON *first = o->calls->child;
    for (cJSON *it = first ? first->prev : NULL; it; it = it == first ? NULL : it->prev) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, "id");
        if (cJSON_IsNumber(v) && (long)v->valuedouble == id) return it;
    }
    return NULL;
}

static void set_field(cJSON *rec, const char *name, cJSON *value) {
    if (cJSON_GetObjectItemCaseSensitive(rec, name))
        cJSON_ReplaceItemInObjectCaseSensitive(rec, name, value);
    else
        cJSON_AddItemToObject(rec, name, value);
}

static cJSON *str_or_null(const char *s) {
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static long call_record(struct emu_oapi *o, const struct emu_call *c) {
    const struct emu_req *r = c->r;
    cJSON *rec = cJSON_CreateObject();
    long id = ++o->next_call_id;
    cJSON_AddNumberToObject(rec, "id", (double)id);
    cJSON_AddStringToObject(rec, "method", r->method);
    cJSON_AddStringToObject(rec, "path", r->path);
    cJSON_AddItemToObject(rec, "query", query_object(r->query));
    cJSON_AddStringToObject(rec, "raw_query", r->query);
    cJSON_AddItemToObject(rec, "token", str_or_null(c->token));
    cJSON_AddItemToObject(rec, "token_kind", cJSON_CreateNull());
    cJSON_AddItemToObject(rec, "tenant_key", cJSON_CreateNull());
    cJSON_AddItemToObject(rec, "body", c->body && r->body_len <= CALL_BODY_MAX
                                           ? cJSON_Duplicate(c->body, 1) : cJSON_CreateNull());
    cJSON_AddNumberToObject(rec, "body_bytes", (double)r->body_len);
    cJSON_AddStringToObject(rec, "log_id", c->log_id);
    cJSON_AddStringToObject(rec, "peer", r->peer);
    cJSON_AddNumberToObject(rec, "received_ms", (double)emu_wall_ms());
    cJSON_AddItemToObject(rec, "answered_ms", cJSON_CreateNull());
    calls_add(o, rec);
    return id;
}

static void call_answered(struct emu_oapi *o, long id) {
    cJSON *rec = calls_find(o, id);
    if (rec) set_field(rec, "answered_ms", cJSON_CreateNumber((double)emu_wall_ms()));
}

/* What the call was answered (text: the answer's bytes), written into its record
 * before the answer leaves. */
static void call_outcome(struct emu_oapi *o, long id, const struct emu_call *c,
                         const char *text) {
    cJSON *rec = calls_find(o, id);
    if (!rec) return;
    static const char *const kinds[] = { NULL, "tenant", "app" };
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(c->answer, "code");
    size_t len = text ? strlen(text) : 0;
    o->call_bytes -= kept_bytes(rec);
    set_field(rec, "token_kind", str_or_null(kinds[c->token_kind]));
    set_field(rec, "tenant_key", str_or_null(c->token_kind == EMU_TOKEN_TENANT
                                                 ? c->tenant_key : NULL));
    set_field(rec, "status", cJSON_CreateNumber(c->status));
    set_field(rec, "code", cJSON_IsNumber(code) ? cJSON_CreateNumber(code->valuedouble)
                                                : cJSON_CreateNull());
    set_field(rec, "answer", c->answer && len <= CALL_BODY_MAX ? cJSON_Duplicate(c->answer, 1)
                                                               : cJSON_CreateNull());
    set_field(rec, "answer_bytes", cJSON_CreateNumber((double)len));
    o->call_bytes += kept_bytes(rec);
    calls_trim(o);
}

cJSON *emu_openapi_calls(struct emu *emu, const char *prefix) {
    cJSON *out = cJSON_CreateArray();
    for (cJSON *it = emu->oapi->calls->child; it; it = it->next) {
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(it, "path");
        if (!prefix || (cJSON_IsString(path) && has_prefix(path->valuestring, prefix)))
            cJSON_AddItemToArray(out, cJSON_Duplicate(it, 1));
    }
    return out;
}

int emu_openapi_clear_calls(struct emu *emu) {
    struct emu_oapi *o = emu->oapi;
    int n = o->ncalls;
    cJSON_Delete(o->calls);
    o->calls = cJSON_CreateArray();
    o->call_bytes = 0;
    o->ncalls = 0;
    return n;
}

static void later_free(struct later *l) {
    struct later **pp = &l->emu->oapi->later;
    while (*pp && *pp != l) pp = &(*pp)->next;
    if (*pp) {
        *pp = l->next;
        l->emu->oapi->nlater--;
    }
    if (l->timer) event_free(l->timer);
    free(l->headers);
    free(l->body);
    free(l);
}

static void later_fire(evutil_socket_t fd, short what, void *arg) {
    struct later *l = arg;
    struct emu_req *r = l->r;
    l->r = NULL;
    if (!l->dropped) call_answered(l->emu->oapi, l->call_id);
    emu_http_reply(r, l->status, l->headers, l->ctype, l->body, strlen(l->body));
    later_free(l);
}

/* The answer still goes (to nowhere) when its timer fires: that frees r. */
static void later_drop(struct emu_req *r, void *arg) {
    struct later *l = arg;
    cJSON *rec = calls_find(l->emu->oapi, l->call_id);
    if (rec) set_field(rec, "dropped", cJSON_CreateTrue());
    l->dropped = 1;
    log_info(EMU_MODULE, "openapi %s: connection closed before the answer", r->peer);
}

static long latency_for(const struct emu_oapi *o, const char *path) {
    long ms = o->set.latency_ms;
    size_t best = 0;
    for (int i = 0; i < o->set.nlat; i++) {
        size_t n = strlen(o->set.lat[i].prefix);
        if (n >= best && has_prefix(path, o->set.lat[i].prefix)) {
            best = n;
            ms = o->set.lat[i].ms;
        }
    }
    return ms;
}

/* Sends body (taken over) now, or after the configured latency from a timer. */
static void call_send(struct emu_call *c, long id, const char *extra_headers, char *body) {
    struct emu_oapi *o = c->emu->oapi;
    const char *ctype = cJSON_IsString(c->answer) ? "text/plain; charset=utf-8"
                                                  : "application/json; charset=utf-8";
    char headers[512];
    snprintf(headers, sizeof headers, "X-Tt-Logid: %s\r\n%s", c->log_id,
             extra_headers ? extra_headers : "");
    if (!body) {
        emu_http_reply(c->r, 500, NULL, NULL, "{\"error\":\"out of memory\"}", 25);
        return;
    }
    long ms = latency_for(o, c->r->path);
    struct later *l = ms > 0 && o->nlater < LATER_MAX ? calloc(1, sizeof *l) : NULL;
    if (l && (l->timer = evtimer_new(c->emu->base, later_fire, l)) &&
        (l->headers = strdup(headers))) {
        l->emu = c->emu;
        l->r = c->r;
        l->call_id = id;
        l->status = c->status;
        l->body = body;
        l->ctype = ctype;
        l->next = o->later;
        o->later = l;
        o->nlater++;
        emu_http_defer(c->r, later_drop, l);
        struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
        evtimer_add(l->timer, &tv);
        return;
    }
    if (l) later_free(l);
    call_answered(o, id);
    emu_http_reply(c->r, c->status, headers, ctype, body, strlen(body));
    free(body);
}

/* A binary answer (a download) goes at once, whatever the latency: its record keeps
 * the size only. */
static void raw_send(struct emu_call *c, long id) {
    struct emu_oapi *o = c->emu->oapi;
    char headers[sizeof c->raw_headers + 64];
    cJSON_Delete(c->answer);
    c->answer = NULL;
    call_outcome(o, id, c, NULL);
    cJSON *rec = calls_find(o, id);
    if (rec) set_field(rec, "answer_bytes", cJSON_CreateNumber((double)c->raw_len));
    call_answered(o, id);
    snprintf(headers, sizeof headers, "X-Tt-Logid: %s\r\n%s", c->log_id, c->raw_headers);
    log_info(EMU_MODULE, "openapi %s %s %.200s -> %d, %zu bytes", c->r->peer, c->r->method,
             c->r->path, c->status, c->raw_len);
    emu_http_reply(c->r, c->status, headers, c->raw_ctype, c->raw, c->raw_len);
    free(c->raw);
}

static int rate_limited(struct emu_call *c, char *headers, size_t len) {
    struct emu_oapi *o = c->emu->oapi;
    if (o->set.rate.count <= 0 || !has_prefix(c->r->path, o->set.rate.prefix)) return 0;
    o->set.rate.count--;
    snprintf(headers, len, "x-ogw-ratelimit-limit: 100\r\nx-ogw-ratelimit-reset: %ld\r\n",
             o->set.rate.reset_s);
    emu_call_answer(c, (int)o->set.rate.status, 99991400, "request trigger frequency limit");
    return 1;
}

static const char *bearer(const struct emu_req *r) {
    const char *a = emu_req_header(r, "Authorization");
    if (!a || strncasecmp(a, "Bearer ", 7) != 0) return NULL;
    for (a += 7; *a == ' '; a++) continue;
    return *a ? a : NULL;
}

static int authorized(struct emu_call *c) {
    if (!c->token) {
        emu_call_answer(c, c->invalid_status, 99991661,
                        "Missing access token for authorization. Please make a request with "
                        "token attached.");
        return 0;
    }
    long code = emu_token_check(c, c->token);
    if (!code) return 1;
    emu_call_answer(c, c->invalid_status, code,
                    code == 99991663   ? "Invalid access token for authorization. Please make "
                                         "a request with token attached. (tenant access token)"
                    : code == 99991664 ? "app access token invalid"
                                       : "Invalid access token for authorization.");
    return 0;
}

/* A canned answer for this call (POST /_emu/openapi "responses"); 0 when none. */
static int canned(struct emu_call *c) {
    cJSON *list = c->emu->oapi->set.responses;
    for (cJSON *it = list ? list->child : NULL; it; it = it->next) {
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(it, "path");
        const cJSON *method = cJSON_GetObjectItemCaseSensitive(it, "method");
        if (strcmp(path->valuestring, c->r->path) != 0 ||
            (cJSON_IsString(method) && strcasecmp(method->valuestring, c->r->method) != 0))
            continue;
        cJSON_Delete(c->answer);
        c->answer = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(it, "body"), 1);
        c->status = (int)cJSON_GetObjectItemCaseSensitive(it, "status")->valuedouble;
        cJSON *count = cJSON_GetObjectItemCaseSensitive(it, "count");
        if (cJSON_IsNumber(count) && count->valuedouble <= 1)
            cJSON_Delete(cJSON_DetachItemViaPointer(list, it));
        else if (cJSON_IsNumber(count))
            cJSON_SetNumberValue(count, count->valuedouble - 1);
        return 1;
    }
    return 0;
}

static void route(struct emu_call *c, char *headers, size_t hlen) {
    if (rate_limited(c, headers, hlen)) return;
    if (has_prefix(c->r->path, "/open-apis/auth/")) {
        if (emu_token_endpoint(c) < 0) {
            cJSON_Delete(c->answer);
            c->answer = cJSON_CreateString("404 page not found");
            c->status = 404;
        }
        return;
    }
    if (!authorized(c) || canned(c) || emu_cardkit_handle(c) == 0 || emu_im_handle(c) == 0)
        return;
    if (emu_files_handle(c) == 0 || emu_lists_handle(c) == 0 || emu_legacy_update(c) == 0) return;
    cJSON_AddObjectToObject(emu_call_answer(c, 200, 0, "success"), "data");
}

void emu_openapi_handle(struct emu_req *r) {
    struct emu_oapi *o = r->emu->oapi;
    cJSON *body = r->body_len ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
    struct emu_call c = { .emu = r->emu, .r = r, .body = body, .token = bearer(r),
                          .invalid_status = (int)o->set.invalid_status };
    char headers[256] = "";
    new_log_id(c.log_id);
    long id = call_record(o, &c);
    route(&c, headers, sizeof headers);
    if (c.raw) {
        raw_send(&c, id);
        cJSON_Delete(body);
        return;
    }
    if (!c.answer) emu_call_answer(&c, 500, 1, "emulator out of memory");
    char *text = cJSON_IsString(c.answer) ? strdup(c.answer->valuestring)
                                          : cJSON_PrintUnformatted(c.answer);
    call_outcome(o, id, &c, text);
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(c.answer, "code");
    log_info(EMU_MODULE, "openapi %s %s %.200s -> %d, code %ld", r->peer, r->method, r->path,
             c.status, cJSON_IsNumber(code) ? (long)code->valuedouble : -1L);
    call_send(&c, id, headers, text);
    cJSON_Delete(c.answer);
    cJSON_Delete(body);
}

static int bad(char *err, size_t errlen, const char *msg) {
    snprintf(err, errlen, "%s", msg);
    return -1;
}

static int parse_prefix(const cJSON *v, char *out, char *err, size_t errlen, const char *what) {
    if (!cJSON_IsString(v) || v->valuestring[0] != '/' || strlen(v->valuestring) >= PREFIX_MAX) {
        snprintf(err, errlen, "%s must be a path starting with '/', under %d bytes", what,
                 PREFIX_MAX);
        return -1;
    }
    strcpy(out, v->valuestring);
    return 0;
}

static int parse_latency_paths(const cJSON *v, struct oapi_settings *s, char *err,
                               size_t errlen) {
    s->nlat = 0;
    if (cJSON_IsNull(v)) return 0;
    if (!cJSON_IsObject(v) || cJSON_GetArraySize(v) > LATENCY_RULES)
        return bad(err, errlen, "'latency_paths' must be an object of at most 32 "
                   "\"/path/prefix\": ms, or null");
    for (const cJSON *it = v->child; it; it = it->next, s->nlat++) {
        if (it->string[0] != '/' || strlen(it->string) >= PREFIX_MAX)
            return bad(err, errlen, "'latency_paths' keys must be paths starting with '/'");
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > LATENCY_MAX_MS ||
            it->valuedouble != floor(it->valuedouble))
            return bad(err, errlen, "'latency_paths' values must be integers in [0, 60000]");
        strcpy(s->lat[s->nlat].prefix, it->string);
        s->lat[s->nlat].ms = (long)it->valuedouble;
    }
    return 0;
}

static int parse_rate_limit(const cJSON *v, struct oapi_settings *s, char *err, size_t errlen) {
    s->rate.count = 0;
    s->rate.reset_s = 1;
    s->rate.status = 429;
    strcpy(s->rate.prefix, "/open-apis/");
    if (cJSON_IsNull(v)) return 0;
    if (!cJSON_IsObject(v)) return bad(err, errlen, "'rate_limit' must be an object or null");
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(v, "path");
    s->rate.count = 1;
    if (emu_json_int(v, "count", 0, 1000000, &s->rate.count, err, errlen) < 0 ||
        emu_json_int(v, "reset_s", 0, 3600, &s->rate.reset_s, err, errlen) < 0 ||
        emu_json_int(v, "status", 400, 429, &s->rate.status, err, errlen) < 0 ||
        (path && parse_prefix(path, s->rate.prefix, err, errlen, "'rate_limit.path'")))
        return -1;
    if (s->rate.status != 429 && s->rate.status != 400)
        return bad(err, errlen, "'rate_limit.status' must be 429 or 400");
    return 0;
}

/* A copy of the canned answers in v, checked; NULL with err when malformed. */
static cJSON *parse_responses(const cJSON *v, char *err, size_t errlen) {
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > RESPONSES_MAX) {
        bad(err, errlen, "'responses' must be an array of at most 64 objects, or null");
        return NULL;
    }
    cJSON *out = cJSON_CreateArray();
    for (const cJSON *it = v->child; it; it = it->next) {
        char path[PREFIX_MAX];
        long status = 200, count = 0;
        const cJSON *method = cJSON_GetObjectItemCaseSensitive(it, "method");
        const cJSON *body = cJSON_GetObjectItemCaseSensitive(it, "body");
        if (!cJSON_IsObject(it) ||
            parse_prefix(cJSON_GetObjectItemCaseSensitive(it, "path"), path, err, errlen,
                         "'responses[].path'") ||
            emu_json_int(it, "status", 100, 599, &status, err, errlen) < 0 ||
            emu_json_int(it, "count", 1, 1000000, &count, err, errlen) < 0 ||
            (method && !cJSON_IsString(method)) || !body || cJSON_IsNull(body)) {
            if (!*err) bad(err, errlen, "'responses[]' wants {\"path\", \"body\"} and optional "
                           "\"method\", \"status\", \"count\"");
            cJSON_Delete(out);
            return NULL;
        }
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "path", path);
        if (method) cJSON_AddStringToObject(e, "method", method->valuestring);
        cJSON_AddNumberToObject(e, "status", (double)status);
        cJSON_AddItemToObject(e, "body", cJSON_Duplicate(body, 1));
        if (count) cJSON_AddNumberToObject(e, "count", (double)count);
        cJSON_AddItemToArray(out, e);
    }
    return out;
}

static void settings_out(const struct oapi_settings *s, cJSON *out) {
    cJSON_AddNumberToObject(out, "latency_ms", (double)s->latency_ms);
    cJSON *lat = cJSON_AddObjectToObject(out, "latency_paths");
    for (int i = 0; i < s->nlat; i++)
        cJSON_AddNumberToObject(lat, s->lat[i].prefix, (double)s->lat[i].ms);
    cJSON *rate = cJSON_AddObjectToObject(out, "rate_limit");
    cJSON_AddNumberToObject(rate, "count", (double)s->rate.count);
    cJSON_AddNumberToObject(rate, "reset_s", (double)s->rate.reset_s);
    cJSON_AddStringToObject(rate, "path", s->rate.prefix);
    cJSON_AddNumberToObject(rate, "status", (double)s->rate.status);
    cJSON_AddNumberToObject(out, "invalid_status", (double)s->invalid_status);
    cJSON_AddItemToObject(out, "responses", s->responses ? cJSON_Duplicate(s->responses, 1)
                                                         : cJSON_CreateArray());
}

int emu_openapi_settings(struct emu *emu, const cJSON *in, cJSON *out, char *err,
                         size_t errlen) {
    struct emu_oapi *o = emu->oapi;
    struct oapi_settings next = o->set;
    const cJSON *lat = cJSON_GetObjectItemCaseSensitive(in, "latency_paths");
    const cJSON *rate = cJSON_GetObjectItemCaseSensitive(in, "rate_limit");
    const cJSON *resp = cJSON_GetObjectItemCaseSensitive(in, "responses");
    cJSON *responses = NULL;
    err[0] = '\0';
    if (emu_json_int(in, "latency_ms", 0, LATENCY_MAX_MS, &next.latency_ms, err, errlen) < 0 ||
        emu_json_int(in, "invalid_status", 200, 599, &next.invalid_status, err, errlen) < 0 ||
        (lat && parse_latency_paths(lat, &next, err, errlen)) ||
        (rate && parse_rate_limit(rate, &next, err, errlen)) ||
        (resp && !cJSON_IsNull(resp) && !(responses = parse_responses(resp, err, errlen))))
        return -1;
    if (!out) {
        cJSON_Delete(responses);
        return 0;
    }
    if (resp) {
        cJSON_Delete(o->set.responses);
        next.responses = responses;
    }
    o->set = next;
    settings_out(&o->set, out);
    return 0;
}

int emu_openapi_new(struct emu *emu) {
    struct emu_oapi *o = calloc(1, sizeof *o);
    if (!o || !(o->calls = cJSON_CreateArray())) {
        free(o);
        return -1;
    }
    o->set.invalid_status = 400;
    o->set.rate.status = 429;
    emu->oapi = o;
    return 0;
}

void emu_openapi_free(struct emu *emu) {
    struct emu_oapi *o = emu->oapi;
    if (!o) return;
    while (o->later) later_free(o->later);
    cJSON_Delete(o->calls);
    cJSON_Delete(o->set.responses);
    free(o);
    emu->oapi = NULL;
}
