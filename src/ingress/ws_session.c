#include "ingress/ws_session.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "event/dispatch.h"
#include "proto/frame.h"
#include "proto/reassembly.h"
#include "net/ws_conn.h"

/* An event handed to the dispatcher, kept for its ack. It outlives its connection
 * when the handler is slower than the connection; the session frees leftovers. */
struct ws_inflight {
    struct ws_session *s;
    struct ws_inflight *prev, *next;
    uint64_t generation;
    frame_t *frame;            /* the delivering frame, payload dropped */
    uint64_t start_ms;
};

struct ws_session {
    struct ws_session_options opt;
    struct ws_session_hooks hooks;
    void *arg;
    struct ws_client_config cc;
    struct ws_conn *conn;      /* borrowed while open, NULL otherwise */
    struct event *ping_timer;
    uint64_t generation;       /* bumped per connection: late acks find theirs gone */
    int owed;                  /* events of this generation still owed an ack */
    int draining;
    struct ws_inflight *inflight;
    char host[256], device_id[64];
    int32_t service_id;
    struct ws_session_stats stats;
};

static void send_ping(struct ws_session *s) {
    size_t len;
    uint8_t *ping = frame_build_ping(s->service_id, &len);
    if (ping && ws_conn_send(s->conn, ping, len) == 0) s->stats.pings++;
    free(ping);
}

static void on_ping_timer(evutil_socket_t fd, short what, void *arg) {
    struct ws_session *s = arg;
    if (s->conn) send_ping(s);
}

static void ping_timer_arm(struct ws_session *s) {
    struct timeval tv = { s->cc.ping_interval, 0 };
    event_del(s->ping_timer);
    event_add(s->ping_timer, &tv);
}

struct ws_session *ws_session_new(struct event_base *base, const struct ws_session_options *opt,
                                  const struct ws_session_hooks *hooks, void *arg,
                                  const struct ws_client_config *cc) {
    struct ws_session *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->opt = *opt;
    s->hooks = *hooks;
    s->arg = arg;
    s->cc = *cc;
    s->ping_timer = event_new(base, -1, EV_PERSIST, on_ping_timer, s);
    if (!s->ping_timer) {
        free(s);
        return NULL;
    }
    return s;
}

void ws_session_open(struct ws_session *s, struct ws_conn *conn, const char *host,
                     const char *device_id, int32_t service_id) {
    s->conn = conn;
    s->owed = 0;
    snprintf(s->host, sizeof s->host, "%s", host);
    snprintf(s->device_id, sizeof s->device_id, "%s", device_id);
    s->service_id = service_id;
    send_ping(s);                  /* the pong brings the current ClientConfig */
    ping_timer_arm(s);
}

void ws_session_closed(struct ws_session *s) {
    s->conn = NULL;
    s->generation++;
    s->owed = 0;
    event_del(s->ping_timer);
}

void ws_session_set_config(struct ws_session *s, const struct ws_client_config *cc) {
    int ping_changed = cc->ping_interval != s->cc.ping_interval;
    s->cc = *cc;
    if (s->conn && ping_changed) ping_timer_arm(s);
}

static void on_control(struct ws_session *s, frame_t *f) {
    const char *type = frame_header(f, "type");
    if (!type || strcmp(type, "pong") != 0) return;
    s->stats.pongs++;
    if (!f->has_payload || f->payload.len == 0) return;
    struct ws_client_config cc = s->cc;
    if (ws_discovery_config_parse(&cc, (const char *)f->payload.data, f->payload.len) > 0)
        s->hooks.on_config(s->arg, &cc);
    else
        log_warn("ws", "[%d] pong payload is not a ClientConfig object; ignored", s->opt.index);
}

static void inflight_unlink(struct ws_inflight *in) {
    struct ws_session *s = in->s;
    if (in->prev) in->prev->next = in->next;
    else s->inflight = in->next;
    if (in->next) in->next->prev = in->prev;
    frame_free(in->frame);
    free(in);
}

/* The dispatcher's answer (maybe long after the frame came, maybe on another stack):
 * ack on the delivering connection if it is still open, else drop: the platform
 * re-delivers what it never saw acked. */
static void on_reply(void *arg, int status, const char *body, size_t len) {
    struct ws_inflight *in = arg;
    struct ws_session *s = in->s;
    const char *mid = frame_header(in->frame, "message_id");
    int code = status >= 200 && status < 300 ? 200 : 500;
    unsigned long rt = (unsigned long)(util_now_ms() - in->start_ms);
    int live = in->generation == s->generation && s->conn;
    size_t alen = 0;
    uint8_t *ack = live ? frame_build_ack(in->frame, code, body, len, rt, &alen) : NULL;
    if (ack && ws_conn_send(s->conn, ack, alen) == 0) {
        s->stats.acks++;
        if (code != 200) s->stats.acks_failed++;
        log_debug("ws", "[%d] acked message %s: %d in %lu ms", s->opt.index, mid ? mid : "-",
                  code, rt);
    } else {
        s->stats.acks_dropped++;
        log_warn("ws", "[%d] the connection that delivered message %s is gone; its ack "
                 "(%d) is dropped and the platform will re-deliver", s->opt.index,
                 mid ? mid : "-", code);
    }
    free(ack);
    /* a failed send closes the connection, which resets the count and bumps the
     * generation (ws_session_closed, called by the owner from inside the send) */
    live = live && in->generation == s->generation;
    inflight_unlink(in);
    if (live && --s->owed == 0 && s->draining) s->hooks.on_drained(s->arg);
}

static void dispatch(struct ws_session *s, frame_t *f, uint8_t *payload, size_t len) {
    struct ws_inflight *in = calloc(1, sizeof *in);
    if (!in) {
        frame_free(f);
        return;
    }
    frame_drop_payload(f);
    in->s = s;
    in->generation = s->generation;
    in->frame = f;
    in->start_ms = util_now_ms();
    in->next = s->inflight;
    if (s->inflight) s->inflight->prev = in;
    s->inflight = in;
    s->owed++;
    s->stats.events++;
    dispatcher_submit(s->opt.disp, (const char *)payload, len, 0, on_reply, in);
}

/* Whole or reassembled payload, or NULL when the frame was kept or dropped. */
static uint8_t *frame_message(struct ws_session *s, frame_t *f, size_t *len) {
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
                 : reassembly_add(s->opt.reasm, mid, sum, seq, f->payload.data,
                                  f->payload.len, util_now_ms(), &out, len);
    if (rc < 0 && rc != REASM_EDUP) {
        s->stats.bad_fragments++;
        log_warn("ws", "[%d] fragment seq=%s sum=%s of message %s dropped: %s", s->opt.index,
                 frame_header(f, "seq") ? frame_header(f, "seq") : "-",
                 frame_header(f, "sum") ? frame_header(f, "sum") : "-", mid ? mid : "-",
                 reassembly_strerror(rc));
    }
    return rc == REASM_COMPLETE ? out : NULL;
}

static void on_data(struct ws_session *s, frame_t *f) {
    const char *type = frame_header(f, "type");
    if (!type || (strcmp(type, "event") != 0 && strcmp(type, "card") != 0)) {
        log_debug("ws", "[%d] data frame of type %s ignored", s->opt.index,
                  type ? type : "(none)");
        frame_free(f);
        return;
    }
    if (s->draining) {      /* unacked, so the platform hands it to another client */
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

void ws_session_on_message(struct ws_session *s, const uint8_t *data, size_t len) {
    const char *why;
    frame_t *f = frame_decode(data, len, (size_t)s->opt.max_message + 65536, &why);
    if (!f) {
        s->stats.bad_frames++;
        log_warn("ws", "[%d] dropped a %zu-byte frame from %s (device_id=%s): %s",
                 s->opt.index, len, s->host, s->device_id, why);
        return;
    }
    if (f->method == FRAME_DATA) {
        on_data(s, f);
        return;
    }
    if (f->method == FRAME_CONTROL) on_control(s, f);
    else log_debug("ws", "[%d] frame with unknown method %d ignored", s->opt.index,
                   (int)f->method);
    frame_free(f);
}

void ws_session_drain(struct ws_session *s) {
    s->draining = 1;
    if (s->conn && s->owed == 0) s->hooks.on_drained(s->arg);
}

int ws_session_inflight(const struct ws_session *s) { return s->owed; }

void ws_session_get_stats(const struct ws_session *s, struct ws_session_stats *out) {
    *out = s->stats;
}

void ws_session_free(struct ws_session *s) {
    if (!s) return;
    while (s->inflight) inflight_unlink(s->inflight);
    event_free(s->ping_timer);
    free(s);
}
