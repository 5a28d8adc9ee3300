/* The emulator's own multipart/form-data parser (RFC 7578), strict the way the
 * platform's front end is: the client's encoder (net/multipart) is checked against
 * it, so it shares nothing with it. Bytes in, parts out; no copies, no I/O. A leaf. */
#ifndef LARKGW_EMU_MULTIPART_H
#define LARKGW_EMU_MULTIPART_H

#include <stddef.h>

#define EMU_MULTIPART_BOUNDARY_MAX 70     /* RFC 2046 */
#define EMU_MULTIPART_PARTS_MAX 64

/* One part; every pointer points into the parsed body (not NUL-terminated). */
struct emu_part {
    const char *name;
    size_t name_len;
    const char *filename;                 /* NULL: no filename parameter */
    size_t filename_len;
    const char *ctype;                    /* NULL: no Content-Type header */
    size_t ctype_len;
    const char *data;
    size_t len;
};

/* The boundary parameter of a multipart/form-data Content-Type value, into out
 * (EMU_MULTIPART_BOUNDARY_MAX + 1 bytes). 0, or -1 when ctype is not multipart/form-data
 * or has no valid boundary. */
int emu_multipart_boundary(const char *ctype, char *out);

/* Splits body into at most max parts. Returns their count, or -1 with *err (static
 * text) when the body breaks the syntax: a missing first delimiter, a part head
 * without CRLF line ends or without Content-Disposition: form-data; name="...", a
 * missing close delimiter, or bytes after it other than one CRLF. */
int emu_multipart_parse(const char *boundary, const char *body, size_t len,
                        struct emu_part *parts, int max, const char **err);

/* The first part named name, or NULL. */
const struct emu_part *emu_multipart_find(const struct emu_part *parts, int n, const char *name);

#endif
