/* The platform's side of the long connection: the RFC 6455 upgrade, wslay in server
 * mode (it refuses unmasked client frames with close 1002), pings answered with pongs
 * carrying the ClientConfig, data frames out, acks in (to emu->on_ack). The codecs are
 * shared and neutral (wslay, the accept key of net/ws_handshake, pbbp2 of proto/frame);
 * the glue below is the server's own: see README.md, "What it shares". */
#include "emulator/emu_ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <wslay/wslay.h>

#include "base/log.h"
#include "base/util.h"
#include "crypto/crypto.h"
#include "emulator/emu.h"
#include "emulator/emu_discovery.h"
#include "emulator/emu_http.h"
#include "net/ws_handshake.h"
#include "proto/frame.h"

#define SENT_RING 512
#define OUT_MAX (16 << 20)          /* queued output before wslay is told to wait */

struct chunked {                    /* a message sent as WebSocket continuation frames */
    struct chunked *next;
    uint8_t *buf;
    size_t len, off, chunk;
};

struct emu_ws {
    struct emu *emu;
    struct emu_ws *next;
    int id, silent, closing;
    char device_id[24], peer[64];
    struct bufferevent *bev;
    wslay_event_context_ptr ctx;
    long pings, bad_pings;
    uint64_t next_seq;
    struct { uint64_t seq, log; } sent[SENT_RING];
    unsigned nsent;
    struct chunked *chunks;
};

int emu_ws_id(const struct emu_ws *ws) { return ws->id; }
int32_t emu_ws_service(const struct emu_ws *ws) { return ws->emu->service_id; }

static cJSON *ws_record(const struct emu_ws *ws, int open) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", ws->id);
    cJSON_AddStringToObject(o, "device_id", ws->device_id);
    cJSON_AddNumberToObject(o, "pings", (double)ws->pings);
    cJSON_AddNumberToObject(o, "bad_pings", (double)ws->bad_pings);
    cJSON_AddBoolToObject(o, "open", open);
    cJSON_AddBoolToObject(o, "silent", ws->silent);
    cJSON_AddStringToObject(o, "peer", ws->peer);
    return o;
}

static void ws_free(struct emu_ws *ws, const char *why) {
    struct emu *emu = ws->emu;
    struct emu_ws **pp = &emu->ws;
    while (*pp && *pp != ws) pp = &(*pp)->next;
    if (*pp) {
        *pp = ws->next;
        emu->nws--;
    }
    log_info(EMU_MODULE, "connection %d (device_id %s, %s) closed: %s", ws->id, ws->device_id,
             ws->peer, why);
    if (cJSON_GetArraySize(emu->closed) >= EMU_MAX_CLOSED)
        cJSON_Delete(cJSON_DetachItemFromArray(emu->closed, 0));
    cJSON_AddItemToArray(emu->closed, ws_record(ws, 0));
    while (ws->chunks) {
        struct chunked *c = ws->chunks;
        ws->chunks = c->next;
        free(c->buf);
        free(c);
    }
    wslay_event_context_free(ws->ctx);
    bufferevent_free(ws->bev);
    free(ws);
}

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                       void *arg) {
    struct emu_ws *ws = arg;
    int n = evbuffer_remove(bufferevent_get_input(ws->bev), buf, len);
    if (n <= 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    return n;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *arg) {
    struct emu_ws *ws = arg;
    struct evbuffer *out = bufferevent_get_output(ws->bev);
    if (evbuffer_get_length(out) > OUT_MAX || evbuffer_add(out, data, len) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    return (ssize_t)len;
}

static void queue_frame(struct emu_ws *ws, const frame_t *f) {
    size_t n;
    uint8_t *buf = frame_encode(f, &n);
    if (!buf) return;
    struct wslay_event_msg msg = { WSLAY_BINARY_FRAME, buf, n };
    wslay_event_queue_msg(ws->ctx, &msg);
    free(buf);
}

static void on_ping(struct emu_ws *ws, const frame_t *f) {
    ws->pings++;
    ws->emu->stats.pings++;
    if (f->service != ws->emu->service_id) {
        ws->bad_pings++;
        log_warn(EMU_MODULE, "connection %d: ping with service %d, expected %d: no pong",
                 ws->id, f->service, ws->emu->service_id);
        return;
    }
    char *config = cJSON_PrintUnformatted(ws->emu->client_config);
    Pbbp2__Header type = PBBP2__HEADER__INIT, *headers[] = { &type };
    type.key = "type";
    type.value = "pong";
    frame_t pong = PBBP2__FRAME__INIT;
    pong.seqid = f->seqid;
    pong.logid = f->logid;
    pong.service = f->service;
    pong.method = FRAME_CONTROL;
    pong.n_headers = 1;
    pong.headers = headers;
    if (config) {
        pong.has_payload = 1;
        pong.payload.data = (uint8_t *)config;
        pong.payload.len = strlen(config);
    }
    queue_frame(ws, &pong);
    cJSON_free(config);
}

static void on_binary(struct emu_ws *ws, const uint8_t *msg, size_t len) {
    const char *why;
    frame_t *f = frame_decode(msg, len, EMU_MAX_WS_MSG, &why);
    if (!f) {
        log_warn(EMU_MODULE, "connection %d: undecodable pbbp2 frame (%zu bytes): %s; closing",
                 ws->id, len, why);
        wslay_event_queue_close(ws->ctx, WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA, NULL, 0);
        return;
    }
    const char *type = frame_header(f, "type");
    if (f->method == FRAME_CONTROL && type && strcmp(type, "ping") == 0)
        on_ping(ws, f);
    else if (f->method == FRAME_DATA && ws->emu->on_ack)
        ws->emu->on_ack(ws->emu, ws, f);
    else
        log_warn(EMU_MODULE, "connection %d: ignoring frame method %d type '%s'", ws->id,
                 f->method, type ? type : "");
    frame_free(f);
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user) {
    struct emu_ws *ws = user;
    if (arg->opcode == WSLAY_BINARY_FRAME) {
        on_binary(ws, arg->msg, arg->msg_length);
    } else if (arg->opcode == WSLAY_TEXT_FRAME) {
        log_warn(EMU_MODULE, "connection %d: text message; frames must be binary, closing",
                 ws->id);
        wslay_event_queue_close(ctx, WSLAY_CODE_UNSUPPORTED_DATA, NULL, 0);
    } else if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
        log_info(EMU_MODULE, "connection %d: close frame from client, status %u", ws->id,
                 arg->status_code);
    }
}

/* Runs wslay over what arrived and what is queued; frees ws when it is done. */
static void ws_pump(struct emu_ws *ws) {
    if (ws->silent) return;
    if (wslay_event_recv(ws->ctx) != 0 || wslay_event_send(ws->ctx) != 0) {
        ws_free(ws, "WebSocket error");
        return;
    }
    if (!wslay_event_want_read(ws->ctx) && !wslay_event_want_write(ws->ctx)) {
        ws->closing = 1;
        bufferevent_disable(ws->bev, EV_READ);
        if (evbuffer_get_length(bufferevent_get_output(ws->bev)) == 0)
            ws_free(ws, wslay_event_get_close_received(ws->ctx) ? "closed by client"
                                                                : "closed after a protocol error");
    }
}

static void ws_read(struct bufferevent *bev, void *arg) { ws_pump(arg); }

static void ws_write(struct bufferevent *bev, void *arg) {
    struct emu_ws *ws = arg;
    if (ws->closing)
        ws_free(ws, wslay_event_get_close_received(ws->ctx) ? "closed by client"
                                                            : "closed after a protocol error");
    else if (wslay_event_want_write(ws->ctx))
        ws_pump(ws);
}

static void ws_event(struct bufferevent *bev, short what, void *arg) {
    ws_free(arg, what & BEV_EVENT_EOF ? "TCP closed by client" : "socket error");
}

static ssize_t chunk_read(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
                          const union wslay_event_msg_source *src, int *eof, void *user) {
    struct emu_ws *ws = user;
    struct chunked *c = src->data;
    size_t n = c->len - c->off;
    if (n > c->chunk) n = c->chunk;
    if (n > len) n = len;
    memcpy(buf, c->buf + c->off, n);
    c->off += n;
    if (c->off == c->len) {
        *eof = 1;
        struct chunked **pp = &ws->chunks;
        while (*pp != c) pp = &(*pp)->next;
        *pp = c->next;
        free(c->buf);
        free(c);
    }
    return (ssize_t)n;
}

static void queue_chunked(struct emu_ws *ws, uint8_t *buf, size_t len, size_t chunk) {
    struct chunked *c = calloc(1, sizeof *c);
    if (!c) {
        free(buf);
        return;
    }
    *c = (struct chunked){ ws->chunks, buf, len, 0, chunk };
    struct wslay_event_fragmented_msg msg = { WSLAY_BINARY_FRAME, { .data = c }, chunk_read };
    if (wslay_event_queue_fragmented_msg(ws->ctx, &msg) != 0) {
        free(buf);
        free(c);
        return;
    }
    ws->chunks = c;
}

uint64_t emu_ws_send_data(struct emu_ws *ws, uint64_t log_id, const char *const *headers,
                          int nheaders, const void *payload, size_t len, size_t ws_chunk) {
    Pbbp2__Header hs[16], *hp[16];
    if (nheaders > 16) return 0;
    for (int i = 0; i < nheaders; i++) {
        pbbp2__header__init(&hs[i]);
        hs[i].key = (char *)headers[2 * i];
        hs[i].value = (char *)headers[2 * i + 1];
        hp[i] = &hs[i];
    }
    frame_t f = PBBP2__FRAME__INIT;
    f.seqid = ++ws->next_seq;
    f.logid = log_id;
    f.service = ws->emu->service_id;
    f.method = FRAME_DATA;
    f.n_headers = (size_t)nheaders;
    f.headers = hp;
    f.has_payload = 1;
    f.payload.data = (uint8_t *)payload;
    f.payload.len = len;
    if (ws_chunk == 0) {
        queue_frame(ws, &f);
    } else {
        size_t n;
        uint8_t *buf = frame_encode(&f, &n);
        if (!buf) return 0;
        queue_chunked(ws, buf, n, ws_chunk);
    }
    unsigned slot = ws->nsent++ % SENT_RING;
    ws->sent[slot].seq = f.seqid;
    ws->sent[slot].log = log_id;
    /* no ws_pump here: the caller still holds ws, and a failure is seen on the next read */
    wslay_event_send(ws->ctx);
    return f.seqid;
}

int emu_ws_sent_recently(const struct emu_ws *ws, uint64_t seq_id, uint64_t log_id) {
    unsigned n = ws->nsent < SENT_RING ? ws->nsent : SENT_RING;
    for (unsigned i = 0; i < n; i++)
        if (ws->sent[i].seq == seq_id && ws->sent[i].log == log_id) return 1;
    return 0;
}

static void refuse(struct emu_req *r, int status, const char *msg, const char *autherr) {
    char headers[384];
    int n = snprintf(headers, sizeof headers, "Handshake-Status: %d\r\nHandshake-Msg: %s\r\n",
                     status, msg);
    if (autherr && *autherr)
        snprintf(headers + n, sizeof headers - (size_t)n, "Handshake-Autherrcode: %s\r\n",
                 autherr);
    r->emu->stats.refused++;
    log_info(EMU_MODULE, "handshake from %s refused: %d %s", r->peer, status, msg);
    int http_status = status >= 200 && status <= 599 ? status : 403;
    emu_http_reply(r, http_status, headers, "text/plain", msg, strlen(msg));
}

/* The server's RFC 6455 checks; on success accept holds Sec-WebSocket-Accept. */
static int check_upgrade(const struct emu_req *r, char accept[WS_ACCEPT_LEN + 1]) {
    const char *up = emu_req_header(r, "Upgrade"), *conn = emu_req_header(r, "Connection");
    const char *ver = emu_req_header(r, "Sec-WebSocket-Version");
    const char *key = emu_req_header(r, "Sec-WebSocket-Key");
    unsigned char raw[32];
    if (!up || !util_list_has_token(up, "websocket") || !conn ||
        !util_list_has_token(conn, "upgrade") || !ver || strcmp(ver, "13") != 0 || !key ||
        strlen(key) != WS_KEY_LEN || crypto_base64_decode(key, WS_KEY_LEN, raw) != 16)
        return -1;
    ws_handshake_accept(key, accept);
    return 0;
}

static struct emu_ws *ws_adopt(struct emu_req *r, const char *device_id) {
    struct emu *emu = r->emu;
    struct emu_ws *ws = calloc(1, sizeof *ws);
    struct wslay_event_callbacks cb = { on_recv, on_send, NULL, NULL, NULL, NULL, on_msg };
    if (!ws || wslay_event_context_server_init(&ws->ctx, &cb, ws) != 0) {
        free(ws);
        return NULL;
    }
    wslay_event_config_set_max_recv_msg_length(ws->ctx, EMU_MAX_WS_MSG);
    ws->emu = emu;
    ws->id = ++emu->next_ws_id;
    snprintf(ws->device_id, sizeof ws->device_id, "%s", device_id);
    snprintf(ws->peer, sizeof ws->peer, "%s", r->peer);
    ws->bev = emu_http_take(r);
    ws->next = emu->ws;
    emu->ws = ws;
    emu->nws++;
    bufferevent_set_timeouts(ws->bev, NULL, NULL);
    bufferevent_setcb(ws->bev, ws_read, ws_write, ws_event, ws);
    return ws;
}

void emu_ws_upgrade(struct emu_req *r) {
    struct emu *emu = r->emu;
    char accept[WS_ACCEPT_LEN + 1], device_id[24];
    emu->stats.handshakes++;
    if (check_upgrade(r, accept) != 0) {
        refuse(r, 400, "not a WebSocket upgrade (RFC 6455)", NULL);
        return;
    }
    if (emu->refuse.count > 0) {
        emu->refuse.count--;
        refuse(r, emu->refuse.status, emu->refuse.msg, emu->refuse.autherrcode);
        return;
    }
    if (emu->nws >= EMU_MAX_CONNS) {
        refuse(r, 403, "too many connections", "1000040350");
        return;
    }
    if (emu_ticket_consume(emu, r, device_id, sizeof device_id) != 0) {
        refuse(r, 514, "invalid or expired ticket", NULL);
        return;
    }
    struct emu_ws *ws = ws_adopt(r, device_id);
    if (!ws) {
        emu_http_reply_error(r, 500, "out of memory");
        return;
    }
    evbuffer_add_printf(bufferevent_get_output(ws->bev),
                        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
    log_info(EMU_MODULE, "connection %d open: device_id %s from %s", ws->id, ws->device_id,
             ws->peer);
    ws_pump(ws);
}

struct emu_ws *emu_ws_pick(struct emu *emu, int advance) {
    struct emu_ws *next = NULL, *first = NULL;
    for (struct emu_ws *ws = emu->ws; ws; ws = ws->next) {
        if (ws->silent || ws->closing) continue;
        if (!first || ws->id < first->id) first = ws;
        if (ws->id > emu->rr_last && (!next || ws->id < next->id)) next = ws;
    }
    if (!next) next = first;
    if (next && advance) emu->rr_last = next->id;
    return next;
}

int emu_ws_kick(struct emu *emu, int id) {
    int n = 0;
    struct emu_ws *ws = emu->ws;
    while (ws) {
        struct emu_ws *next = ws->next;
        if (id == 0 || ws->id == id) {
            ws_free(ws, "kicked through the control API");
            n++;
        }
        ws = next;
    }
    return n;
}

int emu_ws_silence(struct emu *emu, int on) {
    int n = 0;
    for (struct emu_ws *ws = emu->ws; ws; ws = ws->next) {
        if (ws->closing || ws->silent == on) continue;
        ws->silent = on;
        n++;
        if (on) {
            bufferevent_disable(ws->bev, EV_READ | EV_WRITE);
        } else {
            bufferevent_enable(ws->bev, EV_READ | EV_WRITE);
        }
    }
    return n;
}

cJSON *emu_ws_list(struct emu *emu) {
    cJSON *a = cJSON_Duplicate(emu->closed, 1);
    for (struct emu_ws *ws = emu->ws; ws; ws = ws->next)
        cJSON_AddItemToArray(a, ws_record(ws, !ws->closing));
    return a;
}

void emu_ws_free_all(struct emu *emu) {
    while (emu->ws) ws_free(emu->ws, "emulator stopping");
}
