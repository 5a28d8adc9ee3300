#include "proto/frame.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"

/* protobuf-c allocates per field; a frame of tiny repeated headers can cost 20x its
 * size in memory. The budget makes such a frame fail to decode instead. */
struct decode_budget {
    size_t left;
    int exhausted;
};

static void *budget_alloc(void *data, size_t size) {
    struct decode_budget *b = data;
    if (size > b->left) {
        b->exhausted = 1;
        return NULL;
    }
    b->left -= size;
    return malloc(size);
}

static void budget_free(void *data, void *ptr) {
    free(ptr);
}

frame_t *frame_decode(const uint8_t *buf, size_t len, size_t max, const char **why) {
    const char *dummy;
    if (!why) why = &dummy;
    if (len > max) {
        *why = "frame too large";
        return NULL;
    }
    struct decode_budget budget = { 4 * len + 4096, 0 };
    ProtobufCAllocator alloc = { budget_alloc, budget_free, &budget };
    frame_t *f = pbbp2__frame__unpack(&alloc, len, buf);
    if (!f) {
        *why = budget.exhausted ? "frame expands beyond its memory budget"
                                : "not a pbbp2 Frame (malformed or a required field missing)";
        return NULL;
    }
    *why = NULL;
    return f;
}

void frame_free(frame_t *f) {
    if (f) pbbp2__frame__free_unpacked(f, NULL);
}

const char *frame_header(const frame_t *f, const char *key) {
    for (size_t i = 0; i < f->n_headers; i++)
        if (f->headers[i]->key && strcmp(f->headers[i]->key, key) == 0)
            return f->headers[i]->value;
    return NULL;
}

int frame_header_int(const frame_t *f, const char *key, long long *out) {
    const char *v = frame_header(f, key);
    if (!v || !*v) return -1;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end) return -1;
    *out = n;
    return 0;
}

void frame_drop_payload(frame_t *f) {
    free(f->payload.data);
    f->payload.data = NULL;
    f->payload.len = 0;
    f->has_payload = 0;
}

uint8_t *frame_encode(const frame_t *f, size_t *len) {
    size_t n = pbbp2__frame__get_packed_size(f);
    uint8_t *out = malloc(n ? n : 1);
    if (!out) return NULL;
    *len = pbbp2__frame__pack(f, out);
    return out;
}

uint8_t *frame_build_ping(int32_t service, size_t *len) {
    Pbbp2__Header type = PBBP2__HEADER__INIT;
    type.key = "type";
    type.value = "ping";
    Pbbp2__Header *headers[1] = { &type };
    frame_t f = PBBP2__FRAME__INIT;
    f.seqid = 0;
    f.logid = 0;
    f.service = service;
    f.method = FRAME_CONTROL;
    f.n_headers = 1;
    f.headers = headers;
    return frame_encode(&f, len);
}

/* {"code":N,"headers":{},"data":"<base64>"}: base64 needs no escaping. */
static char *ack_payload(int code, const char *body, size_t body_len, size_t *len) {
    size_t b64 = body_len ? 4 * ((body_len + 2) / 3) : 0;
    size_t cap = b64 + 64;
    char *out = malloc(cap);
    if (!out) return NULL;
    int n = snprintf(out, cap, "{\"code\":%d,\"headers\":{}", code);
    if (body_len) {
        memcpy(out + n, ",\"data\":\"", 9);
        n += 9;
        n += (int)crypto_base64_encode(body, body_len, out + n);
        out[n++] = '"';
    }
    out[n++] = '}';
    out[n] = '\0';
    *len = (size_t)n;
    return out;
}

/* The peer's unknown fields go back in the ack (it is the same frame), but only those
 * that encode to a valid field again: the decoder lets a field number 0 through, which
 * no decoder takes back. Copies the keepers into out; returns their count. */
static size_t valid_unknown(const frame_t *req, ProtobufCMessageUnknownField *out) {
    size_t n = 0;
    for (size_t i = 0; i < req->base.n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *u = &req->base.unknown_fields[i];
        if (u->tag >= 1 && u->tag <= 536870911u) out[n++] = *u;
    }
    return n;
}

uint8_t *frame_build_ack(const frame_t *req, int code, const char *body, size_t body_len,
                         unsigned long biz_rt_ms, size_t *len) {
    char rt[24];
    snprintf(rt, sizeof rt, "%lu", biz_rt_ms);
    Pbbp2__Header biz_rt = PBBP2__HEADER__INIT;
    biz_rt.key = "biz_rt";
    biz_rt.value = rt;
    Pbbp2__Header **headers = malloc((req->n_headers + 1) * sizeof *headers);
    ProtobufCMessageUnknownField *unknown =
        malloc((req->base.n_unknown_fields + 1) * sizeof *unknown);
    size_t payload_len;
    char *payload = ack_payload(code, body, body_len, &payload_len);
    uint8_t *out = NULL;
    if (headers && unknown && payload) {
        frame_t ack = *req;        /* shallow: shares strings and unknown fields */
        ack.base.unknown_fields = unknown;
        ack.base.n_unknown_fields = valid_unknown(req, unknown);
        ack.n_headers = 0;
        for (size_t i = 0; i < req->n_headers; i++)
            if (strcmp(req->headers[i]->key, "biz_rt") != 0)
                headers[ack.n_headers++] = req->headers[i];
        headers[ack.n_headers++] = &biz_rt;
        ack.headers = headers;
        ack.has_payload = 1;
        ack.payload.data = (uint8_t *)payload;
        ack.payload.len = payload_len;
        out = frame_encode(&ack, len);
    }
    free(headers);
    free(unknown);
    free(payload);
    return out;
}
