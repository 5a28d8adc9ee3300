/* Webhook delivery: POSTs an event to the webhook URL, plain or encrypted and signed. */
#ifndef LARKGW_EMU_WEBHOOK_H
#define LARKGW_EMU_WEBHOOK_H

#include <stddef.h>

struct emu;

/* The answer to one POST: status 0 and error when none came; body may be NULL. */
typedef void emu_webhook_done_fn(struct emu *emu, const char *message_id, int status,
                                 const char *body, size_t len, long elapsed_ms,
                                 const char *error);

/* Starts the POST (sign, encrypt: -1 = whether an encrypt key is set); done runs later,
 * never before this returns. 0, or -1 (logged) when nothing was sent and done will not
 * run. */
int emu_webhook_post(struct emu *emu, const char *message_id, const char *payload,
                     size_t len, int sign, int encrypt, emu_webhook_done_fn *done);
/* Cancels what is in flight; no done runs afterwards. */
void emu_webhook_free_all(struct emu *emu);

#endif
