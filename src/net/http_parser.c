#include "net/http_parser.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"

enum { S_STATUS, S_HEADERS, S_BODY_CL, S_CHUNK_SIZE, S_CHUNK_DATA, S_CHUNK_CRLF,
       S_TRAILERS, S_BODY_EOF, S_DONE, S_ERROR };

int http_parser_init(struct http_parser *p, size_t max_body, int head) {
    memset(p, 0, sizeof *p);
    p->state = S_STATUS;
    p->content_length = -1;
    p->max_body = max_body;
    p->no_body = head;
    p->body = evbuffer_new();
    return p->body ? 0 : -1;
}

void http_parser_free(struct http_parser *p) {
    free(p->hdr);
    p->hdr = NULL;
    if (p->body) evbuffer_free(p->body);
    p->body = NULL;
}

static int fail(struct http_parser *p, const char *why) {
    p->state = S_ERROR;
    p->error = why;
    return HTTP_PARSER_ERROR;
}

/* One CRLF (or LF) terminated line into line[]; 1 when read, 0 when incomplete. */
static int read_line(struct http_parser *p, struct evbuffer *in, char *line, size_t *len) {
    size_t eol_len = 0;
    struct evbuffer_ptr pos = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
    if (pos.pos < 0) {
        if (evbuffer_get_length(in) > HTTP_PARSER_MAX_LINE) fail(p, "response line too long");
        return 0;
    }
    if ((size_t)pos.pos > HTTP_PARSER_MAX_LINE) {
        fail(p, "response line too long");
        return 0;
    }
    evbuffer_remove(in, line, (size_t)pos.pos);
    evbuffer_drain(in, eol_len);
    line[pos.pos] = '\0';
    *len = (size_t)pos.pos;
    if (memchr(line, '\0', *len)) {     /* headers are stored NUL-separated */
        fail(p, "NUL byte in the response head");
        return 0;
    }
    return 1;
}

static int parse_status(struct http_parser *p, const char *line, size_t len) {
    if (len < 12 || strncmp(line, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)line[7]) ||
        line[8] != ' ' || !isdigit((unsigned char)line[9]) ||
        !isdigit((unsigned char)line[10]) || !isdigit((unsigned char)line[11]) ||
        (len > 12 && line[12] != ' '))
        return fail(p, "malformed status line");
    p->minor = line[7] - '0';
    p->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (p->status < 100) return fail(p, "malformed status line");
    p->state = S_HEADERS;
    return HTTP_PARSER_MORE;
}

static int store_header(struct http_parser *p, const char *name, size_t nlen,
                        const char *value, size_t vlen) {
    size_t need = nlen + vlen + 2;
    if (p->nhdr >= HTTP_PARSER_MAX_HEADERS || p->hdr_len + need > HTTP_PARSER_MAX_HEADER_BYTES)
        return fail(p, "response headers too large");
    if (p->hdr_len + need > p->hdr_cap) {
        size_t cap = p->hdr_cap ? p->hdr_cap * 2 : 1024;
        while (cap < p->hdr_len + need) cap *= 2;
        char *n = realloc(p->hdr, cap);
        if (!n) return fail(p, "out of memory");
        p->hdr = n;
        p->hdr_cap = cap;
    }
    memcpy(p->hdr + p->hdr_len, name, nlen);
    p->hdr[p->hdr_len + nlen] = '\0';
    memcpy(p->hdr + p->hdr_len + nlen + 1, value, vlen);
    p->hdr[p->hdr_len + need - 1] = '\0';
    p->hdr_len += need;
    p->nhdr++;
    return HTTP_PARSER_MORE;
}

static int parse_header(struct http_parser *p, const char *line, size_t len) {
    if (line[0] == ' ' || line[0] == '\t') return fail(p, "folded header line");
    const char *colon = memchr(line, ':', len);
    if (!colon || colon == line) return fail(p, "malformed header line");
    for (const char *c = line; c < colon; c++)
        if (!isgraph((unsigned char)*c)) return fail(p, "malformed header name");
    const char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
    return store_header(p, line, (size_t)(colon - line), v, (size_t)(end - v));
}

const char *http_parser_header(const struct http_parser *p, const char *name) {
    for (size_t off = 0; off < p->hdr_len;) {
        const char *n = p->hdr + off, *v = n + strlen(n) + 1;
        if (strcasecmp(n, name) == 0) return v;
        off = (size_t)(v + strlen(v) + 1 - p->hdr);
    }
    return NULL;
}

int http_parser_header_has_token(const struct http_parser *p, const char *name,
                                 const char *token) {
    for (size_t off = 0; off < p->hdr_len;) {
        const char *n = p->hdr + off, *v = n + strlen(n) + 1;
        if (strcasecmp(n, name) == 0 && util_list_has_token(v, token)) return 1;
        off = (size_t)(v + strlen(v) + 1 - p->hdr);
    }
    return 0;
}

/* Every Content-Length header must agree and be all digits. */
static int content_length(struct http_parser *p, long long *out) {
    *out = -1;
    for (size_t off = 0; off < p->hdr_len;) {
        const char *n = p->hdr + off, *v = n + strlen(n) + 1;
        off = (size_t)(v + strlen(v) + 1 - p->hdr);
        if (strcasecmp(n, "content-length") != 0) continue;
        if (!*v || strlen(v) > 18 || strspn(v, "0123456789") != strlen(v)) return -1;
        long long cl = atoll(v);
        if (*out >= 0 && cl != *out) return -1;
        *out = cl;
    }
    return 0;
}

static int done(struct http_parser *p) {
    p->state = S_DONE;
    return HTTP_PARSER_DONE;
}

/* The blank line after the headers: decide how the body is framed. */
static int headers_end(struct http_parser *p) {
    if (p->status < 200 && p->status != 101) {   /* informational: another head follows */
        p->hdr_len = 0;
        p->nhdr = 0;
        p->state = S_STATUS;
        return HTTP_PARSER_MORE;
    }
    p->keep_alive = p->minor >= 1 ? !http_parser_header_has_token(p, "connection", "close")
                                  : http_parser_header_has_token(p, "connection", "keep-alive");
    if (p->status == 101 || p->no_body || p->status == 204 || p->status == 304) return done(p);
    const char *te = http_parser_header(p, "transfer-encoding");
    if (content_length(p, &p->content_length)) return fail(p, "bad Content-Length");
    if (te) {
        p->content_length = -1;
        p->chunked = util_list_has_token(te, "chunked");
        if (!p->chunked) p->keep_alive = 0;
        p->state = p->chunked ? S_CHUNK_SIZE : S_BODY_EOF;
        return HTTP_PARSER_MORE;
    }
    if (p->content_length < 0) {
        p->keep_alive = 0;
        p->state = S_BODY_EOF;
        return HTTP_PARSER_MORE;
    }
    if ((unsigned long long)p->content_length > p->max_body) return fail(p, "response too large");
    if (p->content_length == 0) return done(p);
    p->state = S_BODY_CL;
    return HTTP_PARSER_MORE;
}

static int parse_chunk_size(struct http_parser *p, const char *line) {
    long long n = 0;
    const char *c = line;
    for (; isxdigit((unsigned char)*c); c++) {
        if (c - line >= 15) return fail(p, "bad chunk size");
        n = n * 16 + (isdigit((unsigned char)*c) ? *c - '0' : (tolower((unsigned char)*c) - 'a' + 10));
    }
    if (c == line || (*c && *c != ';' && *c != ' ' && *c != '\t')) return fail(p, "bad chunk size");
    if (p->body_total + (unsigned long long)n > p->max_body) return fail(p, "response too large");
    p->chunk_left = n;
    p->state = n ? S_CHUNK_DATA : S_TRAILERS;
    return HTTP_PARSER_MORE;
}

/* Moves up to want bytes of body; error when the body would exceed its bound. */
static int take_body(struct http_parser *p, struct evbuffer *in, size_t want) {
    size_t n = evbuffer_get_length(in);
    if (n > want) n = want;
    if (p->body_total + n > p->max_body) return fail(p, "response too large");
    evbuffer_remove_buffer(in, p->body, n);
    p->body_total += n;
    return (int)n;
}

static int feed_line(struct http_parser *p, const char *line, size_t len) {
    switch (p->state) {
    case S_STATUS: return parse_status(p, line, len);
    case S_HEADERS: return len ? parse_header(p, line, len) : headers_end(p);
    case S_CHUNK_SIZE: return parse_chunk_size(p, line);
    case S_CHUNK_CRLF:
        if (len) return fail(p, "bad chunk terminator");
        p->state = S_CHUNK_SIZE;
        return HTTP_PARSER_MORE;
    case S_TRAILERS: return len ? HTTP_PARSER_MORE : done(p);
    default: return fail(p, "parser state");
    }
}

int http_parser_feed(struct http_parser *p, struct evbuffer *in) {
    char line[HTTP_PARSER_MAX_LINE + 1];
    for (;;) {
        size_t len;
        int n;
        switch (p->state) {
        case S_DONE: return HTTP_PARSER_DONE;
        case S_ERROR: return HTTP_PARSER_ERROR;
        case S_BODY_CL:
            n = take_body(p, in, (size_t)p->content_length - p->body_total);
            if (n < 0) return n;
            if ((long long)p->body_total == p->content_length) return done(p);
            return HTTP_PARSER_MORE;
        case S_CHUNK_DATA:
            n = take_body(p, in, (size_t)p->chunk_left);
            if (n <= 0) return n;
            p->chunk_left -= n;
            if (p->chunk_left == 0) p->state = S_CHUNK_CRLF;
            break;
        case S_BODY_EOF:
            n = take_body(p, in, evbuffer_get_length(in));
            return n < 0 ? n : HTTP_PARSER_MORE;
        default:
            if (!read_line(p, in, line, &len)) return p->state == S_ERROR ? HTTP_PARSER_ERROR
                                                                          : HTTP_PARSER_MORE;
            if (p->state == S_STATUS || p->state == S_HEADERS || p->state == S_TRAILERS)
                p->head_bytes += len + 2;
            if (p->head_bytes > HTTP_PARSER_MAX_HEADER_BYTES)
                return fail(p, "response headers too large");
            n = feed_line(p, line, len);
            if (n) return n;
        }
    }
}

int http_parser_eof(struct http_parser *p) {
    if (p->state == S_BODY_EOF) return done(p);
    if (p->state == S_DONE) return HTTP_PARSER_DONE;
    if (p->state == S_ERROR) return HTTP_PARSER_ERROR;
    return fail(p, p->state == S_STATUS && p->status == 0
                       ? "connection closed before any response"
                       : "connection closed mid-response");
}

int http_parser_headers_done(const struct http_parser *p) {
    return p->state != S_STATUS && p->state != S_HEADERS && p->state != S_ERROR;
}

int http_parser_until_eof(const struct http_parser *p) { return p->state == S_BODY_EOF; }
