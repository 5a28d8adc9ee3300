/* http_response: answer heads as bytes. */
#include "net/http_response.h"

#include <stdio.h>

const char *http_response_reason(int status) {
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

void http_response_date(time_t t, char *out, size_t len) {
    struct tm tm;
    gmtime_r(&t, &tm);
    if (!strftime(out, len, "%a, %d %b %Y %H:%M:%S GMT", &tm) && len) out[0] = '\0';
}

size_t http_response_head(const struct http_response *r, char *out, size_t cap) {
    const char *conn = r->connection;
    int n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "%s%s%s%s\r\n",
                     r->status, http_response_reason(r->status), r->date ? r->date : "",
                     r->ctype ? r->ctype : "application/json", r->content_length,
                     conn ? "Connection: " : "", conn ? conn : "", conn ? "\r\n" : "",
                     r->headers ? r->headers : "");
    return n < 0 ? 0 : (size_t)n;
}

size_t http_response_json_msg(const char *msg, char *out, size_t cap) {
    size_t n = (size_t)snprintf(out, cap, "{\"msg\":\"");
    /* each input byte takes at most 6 output bytes; 3 more close the object */
    for (const unsigned char *p = (const unsigned char *)msg; *p && n + 9 < cap; p++) {
        if (*p == '"' || *p == '\\') n += (size_t)snprintf(out + n, cap - n, "\\%c", *p);
        else if (*p < 0x20) n += (size_t)snprintf(out + n, cap - n, "\\u%04x", *p);
        else out[n++] = (char)*p;
    }
    n += (size_t)snprintf(out + n, cap - n, "\"}");
    return n;
}
