/* The HTTP/1.1 answer formatter of http_server, the twin of http_request.c: status,
 * headers and lengths in, the bytes of an answer head out. No sockets, no allocation,
 * no clock (the caller passes the Date text). */
#ifndef LARKGW_NET_HTTP_RESPONSE_H
#define LARKGW_NET_HTTP_RESPONSE_H

#include <stddef.h>
#include <time.h>

#define HTTP_RESPONSE_DATE_LEN 30       /* "Sun, 06 Nov 1994 08:49:37 GMT" + NUL */

struct http_response {
    int status;                  /* 100..599 */
    const char *date;            /* http_response_date text */
    const char *ctype;           /* NULL: application/json */
    size_t content_length;       /* the body's length (also for HEAD, whose body is not sent) */
    const char *connection;      /* NULL, "close" or "keep-alive" */
    const char *headers;         /* NULL or extra "Name: value\r\n" lines */
};

/* The reason phrase of status ("Not Found"); a class-wide phrase for unknown codes. */
const char *http_response_reason(int status);

/* Formats t as an IMF-fixdate into out (at least HTTP_RESPONSE_DATE_LEN bytes). */
void http_response_date(time_t t, char *out, size_t len);

/* Writes the answer head (status line, Date, Content-Type, Content-Length, Connection,
 * the extra headers, the blank line) into out, NUL-terminated when it fits. Returns
 * the head's length like snprintf: when it is >= cap, nothing usable was written and
 * the caller retries with a buffer of that length + 1. */
size_t http_response_head(const struct http_response *r, char *out, size_t cap);

/* Writes {"msg":"..."} with msg JSON-escaped (cut to fit) into out, NUL-terminated;
 * returns its length (< cap). cap must be at least 16. */
size_t http_response_json_msg(const char *msg, char *out, size_t cap);

#endif
