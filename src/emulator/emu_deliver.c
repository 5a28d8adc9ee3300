/* Event delivery, by long connection or webhook. As on the platform, each event goes to
 * one connection only (round robin here), may be split into fragments, and is delivered
 * again until acked with code 200 (or a 2xx webhook answer). Every ack is recorded with
 * what in it breaks the protocol. */
#include "emulator/emu_deliver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <event2/event.h>

#include "base/log.h"
#include "crypto/crypto.h"
#include "emulator/emu.h"
#include "emulator/emu_envelope.h"
#include "emulator/emu_webhook.h"
#include "emulator/emu_ws.h"
#include "proto/frame.h"

struct emu_event {
    struct emu_event *next;
    struct emu *emu;
    char message_id[33], trace_id[33];
    char event_id[65];
    char *payload;
    size_t len;
    char frame_type[8];
    enum emu_delivery delivery;
    int fragments, shuffle, sign, encrypt;
    size_t ws_chunk;
    int attempts, max_attempts;
    int busy, settled;              /* an answer may come back while we are delivering */
    struct event *timer;
};

static void pending_free(struct emu_event *ev) {
    struct emu *emu = ev->emu;
    struct emu_event **pp = &emu->events, *prev = NULL;
    while (*pp && *pp != ev) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    int listed = *pp != NULL;
    if (listed) {
        *pp = ev->next;
        if (emu->events_last == ev) emu->events_last = prev;
        emu->nevents--;
    }
    if (ev->timer) event_free(ev->timer);
    free(ev->payload);
    free(ev);
    if (listed && emu->on_settle) emu->on_settle(emu);
}

static struct emu_event *pending_find(struct emu *emu, const char *message_id) {
    for (struct emu_event *ev = emu->events; ev; ev = ev->next)
        if (strcmp(ev->message_id, message_id) == 0) return ev;
    return NULL;
}

static const char *recent_event_id(struct emu *emu, const char *message_id) {
    for (unsigned i = 0; i < 256 && i < emu->nrecent; i++)
        if (strcmp(emu->recent[i].message_id, message_id) == 0)
            return emu->recent[i].event_id[0] ? emu->recent[i].event_id : NULL;
    return NULL;
}

/* Sending order of the fragments: shuffled never leaves them in order. */
static void fragment_order(int *order, int n, int shuffle) {
    for (int i = 0; i < n; i++) order[i] = i;
    if (!shuffle || n < 2) return;
    for (int i = n - 1; i > 0; i--) {
        uint32_t r;
        crypto_random(&r, sizeof r);
        int j = (int)(r % (uint32_t)(i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    int sorted = 1;
    for (int i = 0; i < n; i++) sorted &= order[i] == i;
    if (sorted) {
        order[0] = n - 1;
        order[n - 1] = 0;
    }
}

static int deliver_ws(struct emu_event *ev) {
    struct emu *emu = ev->emu;
    struct emu_ws *ws = emu_ws_pick(emu, 1);
    if (!ws) {
        log_warn(EMU_MODULE, "message_id %s: no connection to deliver to", ev->message_id);
        return -1;
    }
    int n = ev->fragments, *order = malloc(sizeof(int) * (size_t)n);
    if (!order) return -1;
    fragment_order(order, n, ev->shuffle);
    char sum[16], seq[16], ts[24];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    snprintf(sum, sizeof sum, "%d", n);
    snprintf(ts, sizeof ts, "%lld", (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000);
    const char *headers[] = { "type", ev->frame_type, "message_id", ev->message_id, "sum", sum,
                              "seq", seq, "trace_id", ev->trace_id, "timestamp", ts };
    for (int k = 0; k < n; k++) {
        int i = order[k];
        size_t from = ev->len * (size_t)i / (size_t)n, to = ev->len * (size_t)(i + 1) / (size_t)n;
        snprintf(seq, sizeof seq, "%d", i);
        emu_ws_send_data(ws, ++emu->next_log_id, headers, 6, ev->payload + from, to - from,
                         ev->ws_chunk);
    }
    free(order);
    emu->stats.deliveries++;
    log_info(EMU_MODULE, "message_id %s (%s, %zu bytes, %d fragment%s) -> connection %d",
             ev->message_id, ev->frame_type, ev->len, n, n == 1 ? "" : "s", emu_ws_id(ws));
    return 0;
}

static emu_webhook_done_fn hook_answered;

static void arm(struct emu_event *ev) {
    struct timeval tv = { ev->emu->redeliver_ms / 1000, (ev->emu->redeliver_ms % 1000) * 1000 };
    evtimer_add(ev->timer, &tv);
}

static int deliver_once(struct emu_event *ev) {
    if (ev->delivery == EMU_DELIVER_WS) return deliver_ws(ev);
    ev->emu->stats.deliveries++;
    return emu_webhook_post(ev->emu, ev->message_id, ev->payload, ev->len, ev->sign,
                            ev->encrypt, hook_answered);
}

/* Delivers count times and arms the re-delivery timer; 0, or -1 when ev was settled
 * (and freed) meanwhile. */
static int deliver(struct emu_event *ev, int count) {
    ev->busy = 1;
    for (int i = 0; i < count && !ev->settled; i++) deliver_once(ev);
    ev->busy = 0;
    if (ev->settled) {
        pending_free(ev);
        return -1;
    }
    arm(ev);
    return 0;
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
    struct emu_event *ev = arg;
    if (ev->attempts >= ev->max_attempts) {
        log_warn(EMU_MODULE, "message_id %s: not acked after %d deliveries, giving up",
                 ev->message_id, ev->attempts);
        ev->emu->stats.given_up++;
        pending_free(ev);
        return;
    }
    ev->attempts++;
    ev->emu->stats.redeliveries++;
    log_info(EMU_MODULE, "message_id %s: no ack, re-delivering (attempt %d of %d)",
             ev->message_id, ev->attempts, ev->max_attempts);
    deliver(ev, 1);
}

static struct emu_event *pending_new(struct emu *emu, struct emu_event_spec *spec) {
    struct emu_event *ev = calloc(1, sizeof *ev);
    if (!ev || !(ev->timer = evtimer_new(emu->base, on_timer, ev))) {
        free(ev);
        return NULL;
    }
    ev->emu = emu;
    emu_random_hex(ev->message_id, 16);
    emu_random_hex(ev->trace_id, 16);
    snprintf(ev->event_id, sizeof ev->event_id, "%s", spec->event_id ? spec->event_id : "");
    ev->payload = spec->payload;
    ev->len = spec->len;
    spec->payload = NULL;
    snprintf(ev->frame_type, sizeof ev->frame_type, "%s", spec->frame_type);
    ev->delivery = spec->delivery;
    ev->fragments = spec->fragments < 1 ? 1 : spec->fragments;
    if ((size_t)ev->fragments > ev->len) ev->fragments = ev->len ? (int)ev->len : 1;
    ev->shuffle = spec->shuffle;
    ev->ws_chunk = spec->ws_chunk;
    ev->sign = spec->sign;
    ev->encrypt = spec->encrypt;
    ev->attempts = 1;
    ev->max_attempts = 1 + spec->retries;
    unsigned slot = emu->nrecent++ % 256;
    memcpy(emu->recent[slot].message_id, ev->message_id, sizeof ev->message_id);
    memcpy(emu->recent[slot].event_id, ev->event_id, sizeof ev->event_id);
    if (emu->events_last) emu->events_last->next = ev;
    else emu->events = ev;
    emu->events_last = ev;
    emu->nevents++;
    return ev;
}

int emu_deliver_submit(struct emu *emu, struct emu_event_spec *spec, char message_id[33]) {
    if (emu->nevents >= EMU_MAX_PENDING) return 429;
    if (spec->delivery == EMU_DELIVER_WS && !emu_ws_pick(emu, 0)) return 503;
    if (spec->delivery == EMU_DELIVER_WEBHOOK && !emu->webhook_url) return 400;
    struct emu_event *ev = pending_new(emu, spec);
    if (!ev) return 500;
    emu->stats.events++;
    memcpy(message_id, ev->message_id, 33);
    deliver(ev, 1 + spec->duplicate);
    return 0;
}

static void settle(struct emu *emu, const char *message_id, int ok, long code, const char *via) {
    struct emu_event *ev = pending_find(emu, message_id);
    log_info(EMU_MODULE, "message_id %s: %s answered %ld%s", message_id, via, code,
             !ev ? " (already settled)" : ok ? "" : ", will re-deliver");
    if (!ok) emu->stats.acks_failed++;
    else if (ev && !ev->settled) emu->stats.settled++;
    if (ev && ok && ev->busy) ev->settled = 1;
    else if (ev && ok) pending_free(ev);
}

static void record_add(struct emu *emu, cJSON *rec) {
    if (emu->nacks >= EMU_MAX_ACKS) {
        cJSON_Delete(cJSON_DetachItemFromArray(emu->acks, 0));
        emu->nacks--;
    }
    cJSON_AddItemToArray(emu->acks, rec);
    emu->nacks++;
    emu->stats.acks++;
}

static cJSON *base_record(struct emu *emu, const char *message_id, const char *delivery) {
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "message_id", message_id);
    /* a flood keeps more events waiting than the ring of recent ids holds */
    const struct emu_event *ev = pending_find(emu, message_id);
    const char *event_id = ev ? (ev->event_id[0] ? ev->event_id : NULL)
                              : recent_event_id(emu, message_id);
    cJSON_AddItemToObject(rec, "event_id",
                          event_id ? cJSON_CreateString(event_id) : cJSON_CreateNull());
    cJSON_AddStringToObject(rec, "delivery", delivery);
    return rec;
}

static void flag(cJSON *errs, const char *what) {
    cJSON_AddItemToArray(errs, cJSON_CreateString(what));
}

/* The decoded "data" of an ack payload, or JSON null; errors go to errs. */
static cJSON *ack_data(const cJSON *data, cJSON *errs) {
    if (!data || cJSON_IsNull(data)) return cJSON_CreateNull();
    if (!cJSON_IsString(data)) {
        flag(errs, "data is not a string");
        return cJSON_CreateNull();
    }
    size_t n = strlen(data->valuestring);
    unsigned char *raw = malloc(3 * (n / 4) + 4);
    long m = raw ? crypto_base64_decode(data->valuestring, n, raw) : -1;
    cJSON *out;
    if (m < 0) {
        flag(errs, "data is not base64");
        out = cJSON_CreateNull();
    } else {
        raw[m] = '\0';
        out = cJSON_CreateString((char *)raw);
    }
    free(raw);
    return out;
}

/* The ack's payload: {"code": 200|500, "headers": {...}, "data": "<base64>"}. The official
 * Node SDK leaves "headers" out and the platform takes that, so only a "headers" that is
 * there and not an object breaks the protocol. */
static void ack_payload(cJSON *rec, const frame_t *f, cJSON *errs, long *code) {
    cJSON *p = f->has_payload ? cJSON_ParseWithLength((const char *)f->payload.data,
                                                      f->payload.len)
                              : NULL;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(p, "code");
    const cJSON *headers = cJSON_GetObjectItemCaseSensitive(p, "headers");
    if (!cJSON_IsObject(p)) flag(errs, "payload is not a JSON object");
    else if (!cJSON_IsNumber(c)) flag(errs, "payload has no numeric code");
    else if (headers && !cJSON_IsObject(headers)) flag(errs, "payload headers is not an object");
    *code = cJSON_IsNumber(c) ? (long)c->valuedouble : 0;
    cJSON_AddItemToObject(rec, "code", cJSON_IsNumber(c) ? cJSON_CreateNumber((double)*code)
                                                        : cJSON_CreateNull());
    cJSON_AddItemToObject(rec, "data", ack_data(cJSON_GetObjectItemCaseSensitive(p, "data"), errs));
    cJSON_Delete(p);
}

void emu_deliver_ack(struct emu *emu, struct emu_ws *ws, const void *frame) {
    const frame_t *f = frame;
    const char *message_id = frame_header(f, "message_id"), *biz_rt = frame_header(f, "biz_rt");
    cJSON *headers = cJSON_CreateObject(), *errs = cJSON_CreateArray();
    for (size_t i = 0; i < f->n_headers; i++)
        cJSON_AddStringToObject(headers, f->headers[i]->key, f->headers[i]->value);
    if (!message_id) message_id = "";
    if (!*message_id) flag(errs, "no message_id header");
    char *end = NULL;
    long rt = biz_rt ? strtol(biz_rt, &end, 10) : 0;
    if (!biz_rt) flag(errs, "no biz_rt header");
    else if (!*biz_rt || *end || rt < 0) flag(errs, "biz_rt is not a number of ms");
    if (!emu_ws_sent_recently(ws, f->seqid, f->logid))
        flag(errs, "SeqID/LogID of no frame sent on this connection");
    if (f->service != emu_ws_service(ws))
        flag(errs, "service differs from the frame sent");
    cJSON *rec = base_record(emu, message_id, "ws");
    long code = 0;
    ack_payload(rec, f, errs, &code);
    cJSON_AddItemToObject(rec, "biz_rt", biz_rt && end && !*end ? cJSON_CreateNumber((double)rt)
                                                                : cJSON_CreateNull());
    cJSON_AddItemToObject(rec, "headers", headers);
    cJSON_AddNumberToObject(rec, "conn", emu_ws_id(ws));
    cJSON_AddNumberToObject(rec, "seq_id", (double)f->seqid);
    cJSON_AddNumberToObject(rec, "log_id", (double)f->logid);
    cJSON_AddItemToObject(rec, "errors", errs);
    if (cJSON_GetArraySize(errs) > 0)
        log_warn(EMU_MODULE, "connection %d: ack for %s breaks the protocol: %s",
                 emu_ws_id(ws), message_id, cJSON_GetArrayItem(errs, 0)->valuestring);
    record_add(emu, rec);
    char via[32];
    snprintf(via, sizeof via, "connection %d", emu_ws_id(ws));
    if (*message_id) settle(emu, message_id, code == 200, code, via);
}

/* A webhook answer is recorded like an ack: its status as the code, its body as data. */
static void hook_answered(struct emu *emu, const char *message_id, int status,
                          const char *body, size_t len, long elapsed_ms, const char *error) {
    cJSON *rec = base_record(emu, message_id, "webhook"), *errs = cJSON_CreateArray();
    cJSON_AddNumberToObject(rec, "code", status);
    char *copy = body ? strndup(body, len) : NULL;
    cJSON_AddItemToObject(rec, "data", copy ? cJSON_CreateString(copy) : cJSON_CreateNull());
    free(copy);
    cJSON_AddNumberToObject(rec, "biz_rt", (double)elapsed_ms);
    cJSON_AddItemToObject(rec, "headers", cJSON_CreateObject());
    cJSON_AddItemToObject(rec, "conn", cJSON_CreateNull());
    if (error) flag(errs, error);
    cJSON_AddItemToObject(rec, "errors", errs);
    record_add(emu, rec);
    settle(emu, message_id, status >= 200 && status < 300, status, "webhook");
}

void emu_deliver_free_all(struct emu *emu) {
    emu->on_settle = NULL;          /* tearing down: nothing may refill */
    while (emu->events) pending_free(emu->events);
}
