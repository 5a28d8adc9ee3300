#include "net/multipart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"

/* Room for a name once escaped: each byte may become three. */
#define ESCAPED(n) (3 * (n))

void multipart_boundary(char out[MULTIPART_BOUNDARY_LEN + 1]) {
    static const char prefix[] = "larkgw-";
    unsigned char raw[(MULTIPART_BOUNDARY_LEN - (sizeof prefix - 1)) / 2 + 1];
    char hex[2 * sizeof raw + 1];
    crypto_random(raw, sizeof raw);
    crypto_hex(raw, sizeof raw, hex);
    memcpy(out, prefix, sizeof prefix - 1);
    memcpy(out + sizeof prefix - 1, hex, MULTIPART_BOUNDARY_LEN - (sizeof prefix - 1));
    out[MULTIPART_BOUNDARY_LEN] = '\0';
}

int multipart_content_type(const char *boundary, char *out, size_t outlen) {
    int n = snprintf(out, outlen, "multipart/form-data; boundary=%s", boundary);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* A quoted-string parameter the way browsers write it: '"', CR and LF %-escaped, so
 * no name can end the header or the quotes early. Returns the bytes written. */
static size_t put_escaped(char *dst, const char *s) {
    size_t n = 0;
    for (; *s; s++) {
        if (*s == '"') { memcpy(dst + n, "%22", 3); n += 3; }
        else if (*s == '\r') { memcpy(dst + n, "%0D", 3); n += 3; }
        else if (*s == '\n') { memcpy(dst + n, "%0A", 3); n += 3; }
        else dst[n++] = *s;
    }
    return n;
}

static size_t put(char *dst, const char *s, size_t n) {
    if (n) memcpy(dst, s, n);
    return n;
}

static size_t put_str(char *dst, const char *s) { return put(dst, s, strlen(s)); }

/* One part's head: delimiter, Content-Disposition, maybe Content-Type, blank line. */
static size_t put_head(char *dst, const char *boundary, const char *name, const char *filename,
                       const char *ctype) {
    size_t n = put_str(dst, "--");
    n += put_str(dst + n, boundary);
    n += put_str(dst + n, "\r\nContent-Disposition: form-data; name=\"");
    n += put_escaped(dst + n, name);
    n += put_str(dst + n, "\"");
    if (filename) {
        n += put_str(dst + n, "; filename=\"");
        n += put_escaped(dst + n, filename);
        n += put_str(dst + n, "\"");
    }
    if (ctype) {
        n += put_str(dst + n, "\r\nContent-Type: ");
        n += put_str(dst + n, ctype);
    }
    n += put_str(dst + n, "\r\n\r\n");
    return n;
}

/* Upper bound of one part's head. */
static size_t head_size(const char *boundary, const char *name, const char *filename,
                        const char *ctype) {
    return 2 + strlen(boundary) + 64 + ESCAPED(strlen(name))
           + (filename ? 16 + ESCAPED(strlen(filename)) : 0) + (ctype ? 18 + strlen(ctype) : 0);
}

static int contains(const char *hay, size_t n, const char *needle) {
    return n && memmem(hay, n, needle, strlen(needle)) != NULL;
}

static int check(const char *boundary, const struct multipart_field *fields, size_t nfields,
                 const struct multipart_file *file) {
    for (size_t i = 0; i < nfields; i++) {
        if (!fields[i].name || !*fields[i].name) return MULTIPART_E_INVAL;
        if (contains(fields[i].value, fields[i].value_len, boundary)) return MULTIPART_E_BOUNDARY;
    }
    if (!file) return 0;
    if (!file->field || !*file->field) return MULTIPART_E_INVAL;
    if (file->content_type && strpbrk(file->content_type, "\r\n")) return MULTIPART_E_INVAL;
    return contains(file->data, file->len, boundary) ? MULTIPART_E_BOUNDARY : 0;
}

char *multipart_encode(const char *boundary, const struct multipart_field *fields,
                       size_t nfields, const struct multipart_file *file, size_t *len,
                       int *err) {
    if ((*err = check(boundary, fields, nfields, file))) return NULL;
    const char *ctype = file && file->content_type ? file->content_type
                                                   : "application/octet-stream";
    size_t cap = 8 + strlen(boundary);
    for (size_t i = 0; i < nfields; i++)
        cap += head_size(boundary, fields[i].name, NULL, NULL) + fields[i].value_len + 2;
    if (file) cap += head_size(boundary, file->field, file->filename, ctype) + file->len + 2;
    char *body = malloc(cap);
    if (!body) {
        *err = MULTIPART_E_NOMEM;
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < nfields; i++) {
        n += put_head(body + n, boundary, fields[i].name, NULL, NULL);
        n += put(body + n, fields[i].value, fields[i].value_len);
        n += put_str(body + n, "\r\n");
    }
    if (file) {
        n += put_head(body + n, boundary, file->field, file->filename, ctype);
        n += put(body + n, file->data, file->len);
        n += put_str(body + n, "\r\n");
    }
    n += put_str(body + n, "--");
    n += put_str(body + n, boundary);
    n += put_str(body + n, "--\r\n");
    *len = n;
    return body;
}
