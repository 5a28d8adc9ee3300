/* Ids and the schema 2.0 im.message.receive_v1 envelope. */
#ifndef LARKGW_EMU_ENVELOPE_H
#define LARKGW_EMU_ENVELOPE_H

#include <stddef.h>

#include <cJSON.h>

struct emu;

/* nbytes random bytes as lowercase hex; out holds 2*nbytes+1. */
void emu_random_hex(char *out, size_t nbytes);
/* Builds the envelope from {"text","chat_id","tenant_key","open_id",...}; NULL with a
 * message in err when a field has the wrong type. Caller frees. */
cJSON *emu_envelope_text(struct emu *emu, const cJSON *req, char *err, size_t errlen);
/* The dedup id of an envelope: header.event_id (2.0) or uuid (1.0); NULL if none. */
const char *emu_envelope_event_id(const cJSON *env);

#endif
