/* pbbp2 frames (docs/protocol.md §1.2): helpers over the protobuf-c codec generated from
 * pbbp2.proto. Bytes in, frames out; no I/O. Frames returned here are owned by the
 * caller and freed with frame_free. */
#ifndef LARKGW_PROTO_FRAME_H
#define LARKGW_PROTO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "proto/pbbp2.pb-c.h"

typedef Pbbp2__Frame frame_t;

enum frame_method { FRAME_CONTROL = 0, FRAME_DATA = 1 };

/* Decodes one frame of len bytes. Returns NULL and sets *why when len > max, when the
 * bytes are not a Frame, when decoding would allocate far more than the input (a
 * header bomb), or when a required field is missing: protobuf-c refuses those, and we
 * keep it so, since a frame without SeqID/LogID/service/method cannot be acked
 * faithfully; the caller drops it with a log line. Unknown fields are kept and go back
 * in the ack. */
frame_t *frame_decode(const uint8_t *buf, size_t len, size_t max, const char **why);
void frame_free(frame_t *f);

/* The first header named key (case-sensitive, as the platform sends them), or NULL. */
const char *frame_header(const frame_t *f, const char *key);
/* 0 and *out when the header is a whole decimal number; -1 when absent or not one. */
int frame_header_int(const frame_t *f, const char *key, long long *out);

/* Releases a decoded frame's payload (kept for its ack while the handler runs). */
void frame_drop_payload(frame_t *f);

/* Packs f into a malloc'd buffer; NULL on allocation failure. */
uint8_t *frame_encode(const frame_t *f, size_t *len);

/* The client's ping: control frame, SeqID 0, LogID 0, service, one header type=ping. */
uint8_t *frame_build_ping(int32_t service, size_t *len);

/* The ack for a data frame: the same frame (SeqID, LogID, service, method, headers,
 * unknown fields) plus header biz_rt (replacing any), with the payload replaced by
 * {"code":code,"headers":{},"data":"<base64 of body>"} ("data" left out when body_len
 * is 0). malloc'd; NULL on allocation failure. */
uint8_t *frame_build_ack(const frame_t *req, int code, const char *body, size_t body_len,
                         unsigned long biz_rt_ms, size_t *len);

#endif
