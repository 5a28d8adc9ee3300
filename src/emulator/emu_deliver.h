/* Event delivery: one connection per event, fragments, re-delivery until acked, and
 * the ack records. */
#ifndef LARKGW_EMU_DELIVER_H
#define LARKGW_EMU_DELIVER_H

#include <stddef.h>

struct emu;
struct emu_ws;

enum emu_delivery { EMU_DELIVER_WS, EMU_DELIVER_WEBHOOK };

struct emu_event_spec {
    char *payload;                  /* taken over by emu_deliver_submit */
    size_t len;
    const char *event_id;           /* for the records; may be NULL */
    const char *frame_type;         /* "event" | "card" */
    enum emu_delivery delivery;
    int fragments, shuffle, duplicate, retries;
    size_t ws_chunk;
    int sign, encrypt;              /* webhook: -1 = as configured */
};

/* Delivers and keeps the event until acked. Returns 0 and the frame message_id, or an
 * HTTP status (503 no client, 400 no webhook URL, 429 too many pending, 500 no memory). */
int emu_deliver_submit(struct emu *emu, struct emu_event_spec *spec, char message_id[33]);
/* A data frame (const Pbbp2__Frame *) a client sent back: records the ack with what in
 * it breaks the protocol, settles the event on code 200. emu->on_ack points here. */
void emu_deliver_ack(struct emu *emu, struct emu_ws *ws, const void *frame);
void emu_deliver_free_all(struct emu *emu);

#endif
