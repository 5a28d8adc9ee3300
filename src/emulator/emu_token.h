/* Tenant and app access tokens, app tickets. */
#ifndef LARKGW_EMU_TOKEN_H
#define LARKGW_EMU_TOKEN_H

#include <stddef.h>

#include <cJSON.h>

#include "emulator/emu_deliver.h"

struct emu;
struct emu_call;

int emu_tokens_new(struct emu *emu);                /* 0, or -1 out of memory */
void emu_tokens_free(struct emu *emu);
/* Answers a call under /open-apis/auth/; -1 when its path is no token endpoint. */
int emu_token_endpoint(struct emu_call *c);
/* 0 when token is valid (its kind and tenant key, "" for app tokens, in c), else the code
 * to answer: 99991663 tenant token, 99991664 app token, 99991671 unknown token. */
long emu_token_check(struct emu_call *c, const char *token);
/* Like emu_openapi_settings, for expiry, tenants, invalidation and app tickets. */
int emu_token_settings(struct emu *emu, const cJSON *in, cJSON *out, char *err, size_t errlen);
/* The token records of GET /_emu/tokens; caller frees. */
cJSON *emu_token_list(struct emu *emu);
/* Issues an app_ticket and pushes it now as a schema 1.0 event; 0, or an HTTP status as
 * emu_deliver_submit returns. */
int emu_ticket_push(struct emu *emu, enum emu_delivery how, char ticket[33],
                    char message_id[33]);
int emu_ticket_revoke(struct emu *emu);             /* returns the count revoked */

#endif
