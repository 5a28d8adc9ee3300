/* Everything under /open-apis/: records, latency, rate limits, canned answers, and the
 * routing to the token and im endpoints. */
#ifndef LARKGW_EMU_OPENAPI_H
#define LARKGW_EMU_OPENAPI_H

#include <stddef.h>

#include <cJSON.h>

struct emu;
struct emu_req;

int emu_openapi_new(struct emu *emu);               /* 0, or -1 out of memory */
void emu_openapi_free(struct emu *emu);
void emu_openapi_handle(struct emu_req *r);
/* Settings of POST /_emu/openapi: with out NULL only validates in (0, or -1 and err);
 * with out, applies in and writes the settings now into out. */
int emu_openapi_settings(struct emu *emu, const cJSON *in, cJSON *out, char *err, size_t errlen);
/* The call records, oldest first; only paths starting with prefix when not NULL. */
cJSON *emu_openapi_calls(struct emu *emu, const char *prefix);
int emu_openapi_clear_calls(struct emu *emu);      /* returns the count cleared */

#endif
