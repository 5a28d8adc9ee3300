/* Fuzzes the emulator's multipart/form-data parser: the input is "content-type\nbody";
 * the boundary comes out of the Content-Type as a request's would, then the body is
 * split. Every part handed back must lie inside the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emu_multipart.h"

static void check_inside(const char *body, size_t len, const char *p, size_t n) {
    if (!p) return;
    if (p < body || p + n > body + len) abort();
    volatile unsigned char sink = 0;
    for (size_t i = 0; i < n; i++) sink ^= (unsigned char)p[i];
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nl = memchr(data, '\n', size);
    if (!nl) return 0;
    size_t clen = (size_t)(nl - data), len = size - clen - 1;
    char *ctype = malloc(clen + 1);
    memcpy(ctype, data, clen);
    ctype[clen] = '\0';
    /* a private, non-terminated copy so ASan catches reads past the body */
    char *body = malloc(len ? len : 1);
    memcpy(body, nl + 1, len);
    char boundary[EMU_MULTIPART_BOUNDARY_MAX + 1];
    if (emu_multipart_boundary(ctype, boundary) == 0) {
        struct emu_part parts[EMU_MULTIPART_PARTS_MAX];
        const char *err = NULL;
        int n = emu_multipart_parse(boundary, body, len, parts, EMU_MULTIPART_PARTS_MAX, &err);
        if (n < 0 && !err) abort();
        for (int i = 0; i < n; i++) {
            check_inside(body, len, parts[i].name, parts[i].name_len);
            check_inside(body, len, parts[i].filename, parts[i].filename_len);
            check_inside(body, len, parts[i].ctype, parts[i].ctype_len);
            check_inside(body, len, parts[i].data, parts[i].len);
        }
        if (n > 0) emu_multipart_find(parts, n, "image");
    }
    free(body);
    free(ctype);
    return 0;
}
