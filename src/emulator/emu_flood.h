/* A flood of fresh text events (POST /_emu/events {"text", "count": N}), delivered with
 * at most a window of events waiting for an ack, refilled as acks arrive. */
#ifndef LARKGW_EMU_FLOOD_H
#define LARKGW_EMU_FLOOD_H

#include <cJSON.h>

struct emu;
struct emu_event_spec;

int emu_flood_new(struct emu *emu);                 /* 0, or -1 out of memory */
void emu_flood_free(struct emu *emu);
/* Starts delivering count events built from the request's text fields (req: "text",
 * "chat_id", "tenant_key", ...; each event gets its own event_id and message_id, and
 * with chats > 1 the chat "<chat_id>_NNNNN", NNNNN = i % chats in 5 digits), options
 * from spec (payload unused).
 * Returns 0 and fills the first window, or an HTTP status with a reason in err: 409 a
 * flood is running, 400 a bad text field or no webhook URL, 503 no client, 500. */
int emu_flood_start(struct emu *emu, const cJSON *req, const struct emu_event_spec *spec,
                    long count, long window, long chats, char *err, size_t errlen);
/* Delivers no more of the flood (events already out are still re-delivered until
 * acked); returns how many were left. */
long emu_flood_stop(struct emu *emu);
/* {"count", "submitted", "left", "window", "chats"} of the last flood, or JSON null. */
cJSON *emu_flood_status(struct emu *emu);
/* emu->on_settle: an event left the pending list; refills from the loop, not from
 * inside the ack's WebSocket callback. */
void emu_flood_wake(struct emu *emu);

#endif
