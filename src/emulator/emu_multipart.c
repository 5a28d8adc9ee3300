#include "emulator/emu_multipart.h"

#include <string.h>
#include <strings.h>

#define HEADER_LINE_MAX 1024
#define HEADERS_MAX 8

static const char *fail(const char **err, const char *why) {
    *err = why;
    return NULL;
}

/* RFC 2046 boundary characters. */
static int bchar(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || strchr("'()+_,-./:=? ", c) != NULL;
}

int emu_multipart_boundary(const char *ctype, char *out) {
    static const char type[] = "multipart/form-data";
    if (!ctype || strncasecmp(ctype, type, sizeof type - 1) != 0) return -1;
    const char *p = strcasestr(ctype + sizeof type - 1, "boundary=");
    if (!p) return -1;
    p += 9;
    int quoted = *p == '"';
    p += quoted;
    size_t n = 0;
    while (p[n] && (quoted ? p[n] != '"' : p[n] != ';' && p[n] != ' ')) n++;
    if (n == 0 || n > EMU_MULTIPART_BOUNDARY_MAX || (quoted && p[n] != '"')) return -1;
    for (size_t i = 0; i < n; i++)
        if (!bchar(p[i])) return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/* A quoted parameter value `key="..."` inside [s, end); 1 found, 0 absent, -1 bad. */
static int param(const char *s, const char *end, const char *key, const char **v, size_t *vlen) {
    size_t klen = strlen(key);
    for (const char *p = s; p + klen + 2 <= end; p++) {
        if ((p[-1] != ';' && p[-1] != ' ') || strncasecmp(p, key, klen) != 0 || p[klen] != '=')
            continue;
        p += klen + 1;
        if (*p != '"') return -1;
        const char *close = memchr(p + 1, '"', (size_t)(end - p - 1));
        if (!close) return -1;
        *v = p + 1;
        *vlen = (size_t)(close - p - 1);
        return 1;
    }
    return 0;
}

static int disposition(const char *v, const char *end, struct emu_part *part) {
    static const char fd[] = "form-data";
    if ((size_t)(end - v) < sizeof fd - 1 || strncasecmp(v, fd, sizeof fd - 1) != 0) return -1;
    const char *rest = v + sizeof fd - 1;
    if (param(rest, end, "name", &part->name, &part->name_len) != 1) return -1;
    if (param(rest, end, "filename", &part->filename, &part->filename_len) < 0) return -1;
    return 0;
}

/* The head of one part, from p: header lines up to the blank line. Returns where the
 * data starts, or NULL. */
static const char *part_head(const char *p, const char *end, struct emu_part *part,
                             const char **err) {
    int have_disposition = 0;
    for (int lines = 0;; lines++) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol || eol - p > HEADER_LINE_MAX) return fail(err, "a part's head is not CRLF lines");
        if (eol == p) break;
        if (lines == HEADERS_MAX) return fail(err, "too many headers in a part");
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon) return fail(err, "a part header without ':'");
        const char *v = colon + 1;
        while (v < eol && *v == ' ') v++;
        size_t nlen = (size_t)(colon - p);
        if (nlen == 19 && strncasecmp(p, "Content-Disposition", 19) == 0) {
            if (have_disposition || disposition(v, eol, part) < 0)
                return fail(err, "Content-Disposition is not form-data; name=\"...\"");
            have_disposition = 1;
        } else if (nlen == 12 && strncasecmp(p, "Content-Type", 12) == 0) {
            part->ctype = v;
            part->ctype_len = (size_t)(eol - v);
        }
        p = eol + 2;
    }
    if (!have_disposition) return fail(err, "a part without Content-Disposition");
    return p + 2;
}

int emu_multipart_parse(const char *boundary, const char *body, size_t len,
                        struct emu_part *parts, int max, const char **err) {
    char delim[EMU_MULTIPART_BOUNDARY_MAX + 5] = "\r\n--";
    size_t blen = strlen(boundary);
    if (blen == 0 || blen > EMU_MULTIPART_BOUNDARY_MAX) return *err = "bad boundary", -1;
    memcpy(delim + 4, boundary, blen);
    size_t dlen = blen + 4;
    const char *end = body + len;
    /* the first delimiter has no CRLF before it */
    if (len < dlen || memcmp(body, delim + 2, dlen - 2) != 0)
        return *err = "the body does not start with the boundary", -1;
    const char *p = body + dlen - 2;
    int n = 0;
    for (;;) {
        if (end - p >= 2 && memcmp(p, "--", 2) == 0) {
            p += 2;
            if (p == end || (end - p == 2 && memcmp(p, "\r\n", 2) == 0)) return n;
            return *err = "bytes after the close delimiter", -1;
        }
        if (end - p < 2 || memcmp(p, "\r\n", 2) != 0)
            return *err = "the boundary line does not end in CRLF", -1;
        if (n == max) return *err = "too many parts", -1;
        struct emu_part *part = &parts[n];
        memset(part, 0, sizeof *part);
        const char *data = part_head(p + 2, end, part, err);
        if (!data) return -1;
        const char *next = memmem(data, (size_t)(end - data), delim, dlen);
        if (!next) return *err = "no delimiter after a part", -1;
        part->data = data;
        part->len = (size_t)(next - data);
        n++;
        p = next + dlen;
    }
}

const struct emu_part *emu_multipart_find(const struct emu_part *parts, int n, const char *name) {
    size_t len = strlen(name);
    for (int i = 0; i < n; i++)
        if (parts[i].name_len == len && memcmp(parts[i].name, name, len) == 0) return &parts[i];
    return NULL;
}
