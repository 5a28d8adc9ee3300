/* A flood: POST /_emu/events {"text", "count": N} delivers N fresh im.message.receive_v1
 * events, each with its own event_id and message_id, as a busy app's platform pushes
 * them: as fast as the client acks, never past a window of events waiting for an ack
 * (the window counts every pending event, so the flood also stays under the cap that
 * answers 429). Delivery, re-delivery and ack records are emu_deliver.c's, as for one
 * event; this file only decides when the next one goes out. */
#include "emulator/emu_flood.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <event2/event.h>

#include "base/log.h"
#include "emulator/emu.h"
#include "emulator/emu_deliver.h"
#include "emulator/emu_envelope.h"
#include "emulator/emu_ws.h"

#define RETRY_MS 100                /* no connection to deliver to: look again after */
#define CHAT_DIGITS 5               /* chats <= 100000: chat_id is <chat_id>_NNNNN */
#define MS_DIGITS 13                /* epoch ms, until the year 2286 */

/* One envelope built by emu_envelope_text and printed once; each event is a copy with
 * fresh ids, times and chat written over fixed-width values at these offsets (building
 * and printing a cJSON tree per event cost the emulator more than the client's work). */
struct tpl {
    char *json;
    size_t len;
    size_t event_id, message_id, chat, times[3];
};

struct emu_flood {
    struct emu *emu;
    struct tpl tpl;                 /* json NULL: no flood yet */
    struct emu_event_spec spec;     /* delivery options, the same for every event */
    long count, submitted, window, chats;
    struct event *wake, *retry;
};

/* Offset of the value of the n-th (0-based) "key":" in json, checked to hold at least
 * want bytes before its closing quote; 0 when missing. Keys are found unescaped: every
 * quote inside a string value (the text, a tenant key) is escaped by the printer. */
static size_t value_at(const char *json, const char *key, int n, size_t want) {
    char pat[40];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = json;
    for (int i = 0; (p = strstr(p, pat)); i++, p++) {
        if (i < n) continue;
        const char *v = p + strlen(pat), *q = strchr(v, '"');
        return q && (size_t)(q - v) >= want ? (size_t)(v - json) : 0;
    }
    return 0;
}

/* The template from the request's text fields; -1 with err on a field it refuses, -2
 * out of memory. */
static int tpl_build(struct emu_flood *fl, const cJSON *req, long chats, char *err,
                     size_t errlen) {
    struct emu *emu = fl->emu;
    struct tpl t = { 0 };
    cJSON *fields = cJSON_Duplicate(req, 1);
    if (!fields) goto oom;
    if (chats > 1) {                /* the chat gets a fixed-width suffix to write over */
        const cJSON *chat = cJSON_GetObjectItemCaseSensitive(req, "chat_id");
        char name[160];
        snprintf(name, sizeof name, "%.140s_%0*d", cJSON_IsString(chat) ? chat->valuestring
                                                                      : "oc_emulator",
                 CHAT_DIGITS, 0);
        cJSON_DeleteItemFromObjectCaseSensitive(fields, "chat_id");
        cJSON_AddStringToObject(fields, "chat_id", name);
    }
    cJSON *env = emu_envelope_text(emu, fields, err, errlen);
    cJSON_Delete(fields);
    if (!env) return -1;
    t.json = cJSON_PrintUnformatted(env);
    cJSON_Delete(env);
    if (!t.json) goto oom;
    t.len = strlen(t.json);
    t.event_id = value_at(t.json, "event_id", 0, 32);
    t.message_id = value_at(t.json, "message_id", 0, 35);      /* om_ + 32 hex */
    t.chat = chats > 1 ? value_at(t.json, "chat_id", 0, 0) : 1;
    t.times[0] = value_at(t.json, "create_time", 0, MS_DIGITS);
    t.times[1] = value_at(t.json, "create_time", 1, MS_DIGITS);
    t.times[2] = value_at(t.json, "update_time", 0, MS_DIGITS);
    if (chats > 1 && t.chat) {      /* the value ends at a quote right after the zeros:
                                       a quote inside it would be escaped */
        char tail[16];
        snprintf(tail, sizeof tail, "_%0*d\"", CHAT_DIGITS, 0);
        const char *end = strstr(t.json + t.chat, tail);
        t.chat = end ? (size_t)(end + 1 - t.json) : 0;
    }
    if (!t.event_id || !t.message_id || !t.chat || !t.times[0] || !t.times[1] || !t.times[2]) {
        free(t.json);               /* emu_envelope_text changed shape: say so loudly */
        snprintf(err, errlen, "the generated envelope lacks a field the flood rewrites");
        return -1;
    }
    free(fl->tpl.json);
    fl->tpl = t;
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -2;
}

/* Builds and submits the next event; 0 or emu_deliver_submit's status. */
static int submit_one(struct emu_flood *fl) {
    const struct tpl *t = &fl->tpl;
    struct emu_event_spec spec = fl->spec;
    char event_id[33], message_id[33], num[24];
    if (!(spec.payload = malloc(t->len + 1))) return 500;
    memcpy(spec.payload, t->json, t->len + 1);
    emu_random_hex(event_id, 16);
    memcpy(spec.payload + t->event_id, event_id, 32);
    emu_random_hex(spec.payload + t->message_id + 3, 16);  /* its NUL lands on the quote */
    spec.payload[t->message_id + 35] = '"';
    if (fl->chats > 1) {
        snprintf(num, sizeof num, "%0*ld", CHAT_DIGITS, fl->submitted % fl->chats);
        memcpy(spec.payload + t->chat, num, CHAT_DIGITS);
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    snprintf(num, sizeof num, "%0*lld", MS_DIGITS, (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000);
    for (int i = 0; i < 3; i++) memcpy(spec.payload + t->times[i], num, MS_DIGITS);
    spec.len = t->len;
    spec.event_id = event_id;
    int status = emu_deliver_submit(fl->emu, &spec, message_id);
    free(spec.payload);             /* NULL once taken over */
    if (status == 0) fl->submitted++;
    return status;
}

/* Tops the pending events up to the window. */
static void refill(struct emu_flood *fl) {
    struct emu *emu = fl->emu;
    while (fl->submitted < fl->count && emu->nevents < fl->window) {
        int status = submit_one(fl);
        if (status == 503) {        /* the client is reconnecting: the flood waits */
            struct timeval tv = { 0, RETRY_MS * 1000 };
            evtimer_add(fl->retry, &tv);
            return;
        }
        if (status == 429) return;  /* the cap: the next settled event wakes us */
        if (status) {
            log_warn(EMU_MODULE, "flood stopped after %ld of %ld events: status %d",
                     fl->submitted, fl->count, status);
            fl->count = fl->submitted;
            return;
        }
    }
    if (fl->submitted == fl->count && fl->count > 0 && emu->nevents == 0)
        log_info(EMU_MODULE, "flood: all %ld events delivered and settled", fl->count);
}

static void on_wake(evutil_socket_t fd, short what, void *arg) { refill(arg); }

void emu_flood_wake(struct emu *emu) {
    struct emu_flood *fl = emu->flood;
    /* many acks in one read make one refill */
    if (fl && fl->submitted < fl->count) event_active(fl->wake, EV_TIMEOUT, 1);
}

int emu_flood_start(struct emu *emu, const cJSON *req, const struct emu_event_spec *spec,
                    long count, long window, long chats, char *err, size_t errlen) {
    struct emu_flood *fl = emu->flood;
    if (fl->submitted < fl->count) {
        snprintf(err, errlen, "a flood is running: %ld events left (DELETE /_emu/events "
                 "stops it)", fl->count - fl->submitted);
        return 409;
    }
    if (spec->delivery == EMU_DELIVER_WS && !emu_ws_pick(emu, 0)) {
        snprintf(err, errlen, "no client connected");
        return 503;
    }
    if (spec->delivery == EMU_DELIVER_WEBHOOK && !emu->webhook_url) {
        snprintf(err, errlen, "no webhook URL: --webhook or /_emu/settings");
        return 400;
    }
    if (!fl->wake) {                /* the loop exists by now, not at emu_flood_new */
        fl->wake = event_new(emu->base, -1, 0, on_wake, fl);
        fl->retry = evtimer_new(emu->base, on_wake, fl);
        if (!fl->wake || !fl->retry) {
            snprintf(err, errlen, "out of memory");
            return 500;
        }
    }
    int built = tpl_build(fl, req, chats, err, errlen);
    if (built) return built == -2 ? 500 : 400;
    fl->spec = *spec;
    fl->spec.payload = NULL;
    fl->count = count;
    fl->submitted = 0;
    fl->window = window;
    fl->chats = chats;
    log_info(EMU_MODULE, "flood: %ld events, at most %ld waiting for an ack, %ld chat%s",
             count, window, chats, chats == 1 ? "" : "s");
    refill(fl);
    return 0;
}

long emu_flood_stop(struct emu *emu) {
    struct emu_flood *fl = emu->flood;
    long left = fl->count - fl->submitted;
    fl->count = fl->submitted;
    if (fl->retry) evtimer_del(fl->retry);
    if (left > 0) log_info(EMU_MODULE, "flood stopped: %ld events not delivered", left);
    return left;
}

cJSON *emu_flood_status(struct emu *emu) {
    struct emu_flood *fl = emu->flood;
    if (!fl->tpl.json) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "count", (double)fl->count);
    cJSON_AddNumberToObject(o, "submitted", (double)fl->submitted);
    cJSON_AddNumberToObject(o, "left", (double)(fl->count - fl->submitted));
    cJSON_AddNumberToObject(o, "window", (double)fl->window);
    cJSON_AddNumberToObject(o, "chats", (double)fl->chats);
    return o;
}

int emu_flood_new(struct emu *emu) {
    struct emu_flood *fl = calloc(1, sizeof *fl);
    if (!fl) return -1;
    fl->emu = emu;
    emu->flood = fl;
    return 0;
}

void emu_flood_free(struct emu *emu) {
    struct emu_flood *fl = emu->flood;
    if (!fl) return;
    if (fl->wake) event_free(fl->wake);
    if (fl->retry) event_free(fl->retry);
    free(fl->tpl.json);
    free(fl);
    emu->flood = NULL;
}
