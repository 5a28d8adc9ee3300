/* The HTTP/1.1 request head parser of http_server: a whole head (request line, headers,
 * the blank line) in, the request's parts and framing out. Bytes only, no sockets, no
 * allocation: pointers in struct http_request point into the caller's buffer. */
#ifndef LARKGW_NET_HTTP_REQUEST_H
#define LARKGW_NET_HTTP_REQUEST_H

#include <stddef.h>

#define HTTP_REQUEST_MAX_HEAD 16384     /* request line + headers + blank line */
#define HTTP_REQUEST_MAX_HEADERS 64

struct http_request {
    const char *method;          /* one of GET HEAD POST PUT DELETE OPTIONS PATCH */
    const char *path;            /* origin-form, as sent (not percent-decoded) */
    const char *query;           /* after '?', "" when none */
    int minor;                   /* HTTP/1.minor */
    int nheaders;
    const char *name[HTTP_REQUEST_MAX_HEADERS], *value[HTTP_REQUEST_MAX_HEADERS];
    size_t content_length;       /* 0 when absent */
    int keep_alive;              /* the connection may carry another request */
    int expect_continue;         /* "Expect: 100-continue" */
    const char *error;           /* why the head was refused (static text) */
};

/* Parses head[0..len), which must end with the blank line (CRLF CRLF), in place (it
 * writes NULs). Returns 0, or the status to refuse with and r->error set: 400 malformed,
 * 413 Content-Length over max_body, 431 too many headers, 501 unknown method or any
 * Transfer-Encoding (request bodies need Content-Length), 505 not HTTP/1.x. */
int http_request_parse(char *head, size_t len, size_t max_body, struct http_request *r);

/* The first header of that name (case-insensitive), value trimmed; NULL when absent. */
const char *http_request_header(const struct http_request *r, const char *name);

/* 1 when any header of that name is a comma-separated list holding token
 * (case-insensitive): Connection: keep-alive, Upgrade. */
int http_request_header_has_token(const struct http_request *r, const char *name,
                                  const char *token);

/* Percent-decodes s[0..n) ('+' is a space; malformed escapes are kept as they are)
 * into out, NUL-terminated. The length, or -1 when out is too small. */
long http_url_decode(const char *s, size_t n, char *out, size_t outlen);

/* The first parameter named key in a query string ("a=1&b=x%20y"), decoded into out;
 * 0, or -1 when absent or too long for out. */
int http_query_param(const char *query, const char *key, char *out, size_t outlen);

#endif
