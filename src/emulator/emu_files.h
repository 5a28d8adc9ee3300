/* im/v1 images and files: multipart uploads (emu_multipart.c) kept in memory, and the
 * resource download of a message; GET/DELETE /_emu/files for the tests. */
#ifndef LARKGW_EMU_FILES_H
#define LARKGW_EMU_FILES_H

#include <cJSON.h>

struct emu;
struct emu_call;

int emu_files_new(struct emu *emu);                 /* 0, or -1 out of memory */
void emu_files_free(struct emu *emu);
/* POST /open-apis/im/v1/images, POST /open-apis/im/v1/files and GET
 * /open-apis/im/v1/messages/{id}/resources/{key}; -1 when the call is none of them. */
int emu_files_handle(struct emu_call *c);
/* The stored uploads, oldest first: {key, kind, name, content_type, size, sha256,
 * fields, data_base64 (up to 64 KiB, else null)}. */
cJSON *emu_files_list(struct emu *emu);
int emu_files_clear(struct emu *emu);               /* returns the count cleared */

#endif
