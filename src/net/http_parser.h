/* An incremental HTTP/1.1 response parser (status line, headers, then a body framed by
 * Content-Length, chunked coding or the end of the connection), bounded everywhere.
 * Bytes in (an evbuffer it consumes from), results out; no sockets. Used by
 * http_client and by the WebSocket handshake (which stops after a 101's headers). */
#ifndef LARKGW_NET_HTTP_PARSER_H
#define LARKGW_NET_HTTP_PARSER_H

#include <stddef.h>

struct evbuffer;

#define HTTP_PARSER_MAX_LINE 8192
#define HTTP_PARSER_MAX_HEADER_BYTES 65536
#define HTTP_PARSER_MAX_HEADERS 100

enum http_parser_rc { HTTP_PARSER_MORE = 0, HTTP_PARSER_DONE = 1, HTTP_PARSER_ERROR = -1 };

struct http_parser {
    int state;
    int status;              /* final status, once the headers are in */
    int minor;               /* HTTP/1.minor */
    int keep_alive;          /* the connection may carry another request (once DONE) */
    int no_body;             /* a HEAD request: the answer has headers only */
    const char *error;       /* static text once HTTP_PARSER_ERROR */
    long long content_length;/* -1 when absent */
    long long chunk_left;
    int chunked;
    size_t max_body;
    char *hdr;               /* "name\0value\0" pairs */
    size_t hdr_len, hdr_cap;
    size_t head_bytes;       /* every line outside bodies, informational heads included */
    int nhdr;
    struct evbuffer *body;   /* the body so far; a streaming reader may drain it */
    size_t body_total;       /* body bytes taken in all, what max_body bounds */
};

/* max_body bounds the body; head: the request was HEAD. -1 on allocation failure. */
int http_parser_init(struct http_parser *p, size_t max_body, int head);
void http_parser_free(struct http_parser *p);

/* Consumes what it can from in. Returns HTTP_PARSER_DONE once the response is whole
 * (bytes after it stay in in), HTTP_PARSER_MORE when it needs more, or
 * HTTP_PARSER_ERROR with p->error ("response too large", "malformed status line", ...). */
int http_parser_feed(struct http_parser *p, struct evbuffer *in);

/* The peer closed: DONE when the body runs to the end of the connection, else ERROR. */
int http_parser_eof(struct http_parser *p);

/* 1 while the body runs to the end of the connection (no length, no chunking): only
 * an orderly close proves such a body whole. */
int http_parser_until_eof(const struct http_parser *p);

/* 1 once the status line and headers are in (p->status is the final status). */
int http_parser_headers_done(const struct http_parser *p);

/* First header with that name (case-insensitive), or NULL. */
const char *http_parser_header(const struct http_parser *p, const char *name);

/* 1 when a comma-separated header (Connection, Upgrade...) lists token. */
int http_parser_header_has_token(const struct http_parser *p, const char *name,
                                 const char *token);

#endif
