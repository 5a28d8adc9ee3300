/* List endpoints with the platform's paging (page_size, page_token; data.items,
 * data.has_more, data.page_token): the bot's chats and a chat's members, as many as
 * POST /_emu/lists sets. */
#ifndef LARKGW_EMU_LISTS_H
#define LARKGW_EMU_LISTS_H

#include <cJSON.h>

struct emu;
struct emu_call;

/* GET /open-apis/im/v1/chats and GET /open-apis/im/v1/chats/{chat_id}/members; -1 when
 * the call is neither. */
int emu_lists_handle(struct emu_call *c);
/* {"chats": N, "members": N} (each optional, 0..100000); 0, or -1 with err. */
int emu_lists_settings(struct emu *emu, const cJSON *in, char *err, size_t errlen);

#endif
