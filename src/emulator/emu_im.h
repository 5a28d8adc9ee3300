/* im/v1: send and reply. */
#ifndef LARKGW_EMU_IM_H
#define LARKGW_EMU_IM_H

struct emu_call;

/* POST /open-apis/im/v1/messages and .../messages/{message_id}/reply; -1 when the call
 * is neither (it is then a generic call). */
int emu_im_handle(struct emu_call *c);

#endif
