/* pbbp2 frames on an open long connection: control frames (pong → ClientConfig), data
 * frames (fragments reassembled) → dispatcher → ack on the same connection. */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "app/config.h"
#include "base/log.h"
#include "base/util.h"
#include "event/dispatch.h"
#include "proto/reassembly.h"
#include "net/ws_conn.h"
#include "ingress/ws_internal.h"

void ws_events_send_ping(struct ws_slot *s) {
    size_t len;
    uint8_t *ping = frame_build_ping(s->service_id, &len);
    if (ping && ws_conn_send(s->conn, ping, len) == 0) s->pool->stats.pings++;
    free(ping);
}

static void on_control(struct ws_slot *s, frame_t *f) {
    struct ws_pool *p = s->pool;
    const char *type = frame_header(f, "type");
    if (!type || strcmp(type, "pong") != 0) return;
    p->stats.pongs++;
    if (!f->has_payload || f->payload.len == 0) return;
    struct ws_client_config cc = p->cc;
    if (ws_client_config_parse(&cc, (const char *)f->payload.data, f->payload.len) > 0)
        ws_pool_adopt_config(p, &cc, "pong");
    else
        log_warn("ws", "[%d] pong payload is not a ClientConfig object; ignored", s->index);
}

static void inflight_unlink(struct ws_inflight *in) {
    struct ws_pool *p = in->pool;
    if (in->prev) in->prev->next = in->next;
    else p->inflight = in->next;
    if (in->next) in->next->prev = in->prev;
    frame_free(in->frame);
    free(in);
}

/* The dispatcher's answer (maybe long after the frame came, maybe on another stack):
 * ack on the delivering connection if it still exists, else drop: the platform
 * re-delivers what it never saw acked. */
static void on_reply(void *arg, int status, const char *body, size_t len) {
    struct ws_inflight *in = arg;
    struct ws_pool *p = in->pool;
    struct ws_slot *s = &p->slots[in->slot];
    const char *mid = frame_header(in->frame, "message_id");
    int code = status >= 200 && status < 300 ? 200 : 500;
    unsigned long rt = (unsigned long)(util_now_ms() - in->start_ms);
    int live = in->generation == s->generation && s->conn && s->state == SLOT_OPEN;
    size_t alen = 0;
    uint8_t *ack = live ? frame_build_ack(in->frame, code, body, len, rt, &alen) : NULL;
    if (ack && ws_conn_send(s->conn, ack, alen) == 0) {
        p->stats.acks++;
        if (code != 200) p->stats.acks_failed++;
        log_debug("ws", "[%d] acked message %s: %d in %lu ms", s->index, mid ? mid : "-", code, rt);
    } else {
        p->stats.acks_dropped++;
        log_warn("ws", "[%d] the connection that delivered message %s is gone; its ack "
                 "(%d) is dropped and the platform will re-deliver", in->slot,
                 mid ? mid : "-", code);
    }
    free(ack);
    /* a failed send closes the slot, which resets its count and bumps its generation */
    live = live && in->generation == s->generation;
    inflight_unlink(in);
    if (live && --s->inflight == 0 && p->stopping) ws_slot_acks_done(s);
}

static void dispatch(struct ws_slot *s, frame_t *f, uint8_t *payload, size_t len) {
    struct ws_pool *p = s->pool;
    struct ws_inflight *in = calloc(1, sizeof *in);
    if (!in) {
        frame_free(f);
        return;
    }
    frame_drop_payload(f);
    in->pool = p;
    in->slot = s->index;
    in->generation = s->generation;
    in->frame = f;
    in->start_ms = util_now_ms();
    in->next = p->inflight;
    if (p->inflight) p->inflight->prev = in;
    p->inflight = in;
    s->inflight++;
    p->stats.events++;
    dispatcher_submit(p->disp, (const char *)payload, len, 0, on_reply, in);
}

static void arm_fragment_timer(struct ws_pool *p) {
    if (evtimer_pending(p->reasm_timer, NULL)) return;
    struct timeval tv = { 1, 0 };
    evtimer_add(p->reasm_timer, &tv);
}

void ws_events_expire_fragments(struct ws_pool *p) {
    int n = reassembly_expire(p->reasm, util_now_ms());
    if (n) {
        p->stats.bad_fragments += (unsigned long long)n;
        log_warn("ws", "gave up on %d partial message(s): fragments missing after %d s",
                 n, p->cfg->ws.fragment_timeout_s);
    }
    if (reassembly_pending(p->reasm)) arm_fragment_timer(p);
}

/* Whole or reassembled payload, or NULL when the frame was kept or dropped. */
static uint8_t *frame_message(struct ws_slot *s, frame_t *f, size_t *len) {
    struct ws_pool *p = s->pool;
    long long sum = 1, seq = 0;
    int bad = (frame_header(f, "sum") && frame_header_int(f, "sum", &sum)) ||
              (frame_header(f, "seq") && frame_header_int(f, "seq", &seq));
    const char *mid = frame_header(f, "message_id");
    if (!bad && sum == 1 && seq == 0) {
        uint8_t *payload = f->payload.data;      /* steal it: no copy */
        *len = f->payload.len;
        f->payload.data = NULL;
        f->payload.len = 0;
        f->has_payload = 0;
        return payload ? payload : calloc(1, 1);
    }
    unsigned char *out = NULL;
    int rc = bad ? REASM_EBADSUM
                 : reassembly_add(p->reasm, mid, sum, seq, f->payload.data, f->payload.len,
                                  util_now_ms(), &out, len);
    if (rc == REASM_PENDING) arm_fragment_timer(p);
    if (rc < 0 && rc != REASM_EDUP) {
        p->stats.bad_fragments++;
        log_warn("ws", "[%d] fragment seq=%s sum=%s of message %s dropped: %s", s->index,
                 frame_header(f, "seq") ? frame_header(f, "seq") : "-",
                 frame_header(f, "sum") ? frame_header(f, "sum") : "-", mid ? mid : "-",
                 reassembly_strerror(rc));
    }
    return rc == REASM_COMPLETE ? out : NULL;
}

static void on_data(struct ws_slot *s, frame_t *f) {
    struct ws_pool *p = s->pool;
    const char *type = frame_header(f, "type");
    if (!type || (strcmp(type, "event") != 0 && strcmp(type, "card") != 0)) {
        log_debug("ws", "[%d] data frame of type %s ignored", s->index, type ? type : "(none)");
        frame_free(f);
        return;
    }
    if (p->stopping) {      /* unacked, so the platform hands it to another client */
        frame_free(f);
        return;
    }
    size_t len = 0;
    uint8_t *payload = frame_message(s, f, &len);
    if (!payload) {
        frame_free(f);
        return;
    }
    dispatch(s, f, payload, len);
    free(payload);
}

void ws_events_on_message(struct ws_slot *s, const uint8_t *data, size_t len) {
    struct ws_pool *p = s->pool;
    const char *why;
    frame_t *f = frame_decode(data, len, (size_t)p->cfg->ws.max_message + 65536, &why);
    if (!f) {
        p->stats.bad_frames++;
        log_warn("ws", "[%d] dropped a %zu-byte frame from %s (device_id=%s): %s", s->index,
                 len, s->host, s->device_id, why);
        return;
    }
    if (f->method == FRAME_DATA) {
        on_data(s, f);
        return;
    }
    if (f->method == FRAME_CONTROL) on_control(s, f);
    else log_debug("ws", "[%d] frame with unknown method %d ignored", s->index, (int)f->method);
    frame_free(f);
}

void ws_events_free_inflight(struct ws_pool *p) {
    while (p->inflight) inflight_unlink(p->inflight);
}
