/* A multipart/form-data encoder (RFC 7578) for the client side: text fields and one
 * file part in, one request body out. Pure: no I/O, the boundary comes from the caller
 * (multipart_boundary draws a random one). */
#ifndef LARKGW_NET_MULTIPART_H
#define LARKGW_NET_MULTIPART_H

#include <stddef.h>

#define MULTIPART_BOUNDARY_LEN 40      /* what multipart_boundary writes, without the NUL */
#define MULTIPART_CTYPE_MAX 128        /* the Content-Type value, NUL included */

struct multipart_field {
    const char *name;                  /* NUL-terminated; '"', CR and LF are %-escaped */
    const char *value;                 /* value_len bytes, any bytes */
    size_t value_len;
};

struct multipart_file {
    const char *field;                 /* the form field ("image", "file") */
    const char *filename;              /* NULL: no filename parameter */
    const char *content_type;          /* NULL: application/octet-stream */
    const char *data;
    size_t len;
};

enum multipart_err {
    MULTIPART_E_NOMEM = -1,
    MULTIPART_E_BOUNDARY = -2,         /* the boundary occurs in a value: draw another */
    MULTIPART_E_INVAL = -3,            /* an empty name, or a content type with CR/LF */
};

/* Writes a fresh random boundary, MULTIPART_BOUNDARY_LEN characters and a NUL. */
void multipart_boundary(char out[MULTIPART_BOUNDARY_LEN + 1]);

/* The Content-Type header value for boundary into out; -1 when it does not fit. */
int multipart_content_type(const char *boundary, char *out, size_t outlen);

/* The body: each field, then the file (when file is not NULL), then the closing
 * delimiter; every line ends in CRLF. Returns a malloc'd body (the caller frees it)
 * with its length in *len, or NULL with *err set to a multipart_err. */
char *multipart_encode(const char *boundary, const struct multipart_field *fields,
                       size_t nfields, const struct multipart_file *file, size_t *len,
                       int *err);

#endif
