/* The platform's side of the long connection: upgrades, pings and pongs, data frames
 * out; data frames in go to emu->on_ack. */
#ifndef LARKGW_EMU_WS_H
#define LARKGW_EMU_WS_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

struct emu;
struct emu_req;
struct emu_ws;

/* GET /ws/v2: checks the RFC 6455 upgrade and the ticket, then adopts the connection. */
void emu_ws_upgrade(struct emu_req *r);
/* The next open, non-silent connection, round robin (advance 0: only look); NULL when none. */
struct emu_ws *emu_ws_pick(struct emu *emu, int advance);
int emu_ws_id(const struct emu_ws *ws);
int32_t emu_ws_service(const struct emu_ws *ws);
/* Packs and sends one pbbp2 data frame as a binary message; headers holds nheaders
 * key/value pairs; ws_chunk > 0 splits the message into WebSocket continuation frames of
 * that size. Returns the SeqID used, 0 on error. */
uint64_t emu_ws_send_data(struct emu_ws *ws, uint64_t log_id, const char *const *headers,
                          int nheaders, const void *payload, size_t len, size_t ws_chunk);
/* Whether (seq_id, log_id) is a data frame recently sent on this connection. */
int emu_ws_sent_recently(const struct emu_ws *ws, uint64_t seq_id, uint64_t log_id);
int emu_ws_kick(struct emu *emu, int id);            /* id 0: all; returns the count */
int emu_ws_silence(struct emu *emu, int on);         /* returns the count affected */
/* The connection records of GET /_emu/connections, closed ones first; caller frees. */
cJSON *emu_ws_list(struct emu *emu);
void emu_ws_free_all(struct emu *emu);

#endif
