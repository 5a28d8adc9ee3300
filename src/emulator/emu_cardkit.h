/* Cards: card entities (cardkit v1: create, streaming element content, settings, full
 * update), interactive messages carrying a card, and PATCH of a card message, with the
 * platform's checks; GET|DELETE /_emu/cards and /_emu/card_messages read them. */
#ifndef LARKGW_EMU_CARDKIT_H
#define LARKGW_EMU_CARDKIT_H

struct emu;
struct emu_call;
struct emu_req;

int emu_cards_new(struct emu *emu);                 /* 0, or -1 out of memory */
void emu_cards_free(struct emu *emu);
/* A call under /open-apis/cardkit/v1/cards, an interactive send or reply (checked here,
 * then answered by emu_im.c), or PATCH /open-apis/im/v1/messages/{id}; -1 when the
 * call is none of these. */
int emu_cardkit_handle(struct emu_call *c);
/* GET|DELETE /_emu/cards[?card_id=] and /_emu/card_messages[?message_id=]. */
void emu_cardkit_control(struct emu_req *r);

#endif
