/* Old message cards: clicks posted to the legacy card request URL, signed with SHA-1,
 * and the delayed card update (interactive/v1/card/update) a card callback's token
 * allows. */
#ifndef LARKGW_EMU_LEGACY_H
#define LARKGW_EMU_LEGACY_H

#include <cJSON.h>

struct emu;
struct emu_call;
struct emu_req;

int emu_legacy_new(struct emu *emu);                /* 0, or -1 out of memory */
/* Cancels the posts in flight (their control requests are dropped) and frees. */
void emu_legacy_free(struct emu *emu);

/* POST /_emu/events with "legacy_card": true: builds the click (or takes "event" as the
 * body), signs it, POSTs it to the card URL and answers r, later, with {"status",
 * "body", "token"}: the gateway's answer and the click's card token. */
void emu_legacy_post(struct emu_req *r, const cJSON *body);

/* POST /open-apis/interactive/v1/card/update; -1 when the call is not that. */
int emu_legacy_update(struct emu_call *c);
/* The delayed updates received, oldest first: {token, card, received_ms}. */
cJSON *emu_legacy_updates(struct emu *emu);

#endif
