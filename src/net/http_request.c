#include "net/http_request.h"

#include <string.h>
#include <strings.h>

#include "base/util.h"

static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS",
                                       "PATCH" };

static int fail(struct http_request *r, int status, const char *why) {
    r->error = why;
    return status;
}

/* RFC 9110 tchar */
static int is_tchar(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_token(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s)) return 0;
    return 1;
}

/* Visible ASCII only: no spaces or controls inside a request target. */
static int is_target(const char *s) {
    if (*s != '/') return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f) return 0;
    return 1;
}

/* Cuts the next CRLF-terminated line off *s (NUL-terminating it); NULL when the line
 * ends in a bare LF or holds a bare CR, both of which lead to request smuggling. */
static char *next_line(char **s, const char *end) {
    char *line = *s;
    char *lf = memchr(line, '\n', (size_t)(end - line));
    if (!lf || lf == line || lf[-1] != '\r' || memchr(line, '\r', (size_t)(lf - 1 - line)))
        return NULL;
    lf[-1] = '\0';
    *s = lf + 1;
    return line;
}

static int parse_version(const char *v, struct http_request *r) {
    if (strncmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
        v[7] < '0' || v[7] > '9')
        return fail(r, 400, "malformed request line");
    for (const char *p = v + 8; *p; p++)
        if (*p < '0' || *p > '9') return fail(r, 400, "malformed request line");
    if (v[5] != '1' || v[8]) return fail(r, 505, "HTTP version not supported");
    r->minor = v[7] - '0';
    return 0;
}

static int parse_request_line(char *line, struct http_request *r) {
    char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp2 || strchr(sp2 + 1, ' ')) return fail(r, 400, "malformed request line");
    *sp1 = *sp2 = '\0';
    char *target = sp1 + 1;
    if (!is_token(line) || !is_target(target)) return fail(r, 400, "malformed request line");
    int status = parse_version(sp2 + 1, r);
    if (status) return status;
    r->method = NULL;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(line, methods[i]) == 0) r->method = methods[i];
    if (!r->method) return fail(r, 501, "method not implemented");
    char *q = strchr(target, '?');
    r->query = q ? q + 1 : "";
    if (q) *q = '\0';
    r->path = target;
    return 0;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) *--e = '\0';
    return s;
}

static int parse_header(char *line, struct http_request *r) {
    char *colon = strchr(line, ':');
    if (!colon) return fail(r, 400, "malformed header line");
    *colon = '\0';
    if (!is_token(line)) return fail(r, 400, "malformed header name");
    char *value = trim(colon + 1);
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return fail(r, 400, "malformed header value");
    if (r->nheaders == HTTP_REQUEST_MAX_HEADERS) return fail(r, 431, "too many headers");
    r->name[r->nheaders] = line;
    r->value[r->nheaders++] = value;
    return 0;
}

/* Every Content-Length must be all digits and agree: two different lengths are how
 * requests get smuggled past a proxy. */
static int parse_framing(struct http_request *r, size_t max_body) {
    int seen = 0;
    r->content_length = 0;
    for (int i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->name[i], "Transfer-Encoding") == 0)
            return fail(r, 501, "Transfer-Encoding not supported (send Content-Length)");
        if (strcasecmp(r->name[i], "Content-Length") != 0) continue;
        const char *v = r->value[i];
        size_t n = 0;
        if (!*v) return fail(r, 400, "bad Content-Length");
        for (; *v; v++) {
            if (*v < '0' || *v > '9') return fail(r, 400, "bad Content-Length");
            if (n > max_body) return fail(r, 413, "body too large");
            n = n * 10 + (size_t)(*v - '0');
        }
        if (seen && n != r->content_length) return fail(r, 400, "conflicting Content-Length");
        seen = 1;
        r->content_length = n;
    }
    return r->content_length > max_body ? fail(r, 413, "body too large") : 0;
}

int http_request_parse(char *head, size_t len, size_t max_body, struct http_request *r) {
    r->nheaders = 0;
    r->error = NULL;
    r->method = r->path = r->query = NULL;
    if (len < 4 || memcmp(head + len - 4, "\r\n\r\n", 4) != 0)
        return fail(r, 400, "malformed request head");
    if (memchr(head, '\0', len)) return fail(r, 400, "NUL byte in the request head");
    const char *end = head + len - 2;   /* the blank line */
    char *s = head, *line = next_line(&s, end);
    if (!line) return fail(r, 400, "malformed request line");
    int status = parse_request_line(line, r);
    while (!status && s < end) {
        if (!(line = next_line(&s, end))) return fail(r, 400, "malformed header line");
        status = parse_header(line, r);
    }
    if (!status) status = parse_framing(r, max_body);
    if (status) return status;
    r->keep_alive = r->minor >= 1 ? !http_request_header_has_token(r, "Connection", "close")
                    : http_request_header_has_token(r, "Connection", "keep-alive");
    const char *expect = http_request_header(r, "Expect");
    r->expect_continue = expect && strcasecmp(expect, "100-continue") == 0;
    return 0;
}

const char *http_request_header(const struct http_request *r, const char *name) {
    for (int i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->name[i], name) == 0) return r->value[i];
    return NULL;
}

int http_request_header_has_token(const struct http_request *r, const char *name,
                                  const char *token) {
    for (int i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->name[i], name) == 0 && util_list_has_token(r->value[i], token)) return 1;
    return 0;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long http_url_decode(const char *s, size_t n, char *out, size_t outlen) {
    if (!outlen) return -1;
    size_t m = 0;
    for (const char *v = s, *end = s + n; v < end; v++) {
        int c = (unsigned char)*v;
        if (c == '%' && end - v > 2 && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
            c = hexval(v[1]) * 16 + hexval(v[2]);
            v += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (m + 1 >= outlen) return -1;
        out[m++] = (char)c;
    }
    out[m] = '\0';
    return (long)m;
}

int http_query_param(const char *query, const char *key, char *out, size_t outlen) {
    size_t klen = strlen(key);
    for (const char *p = query; *p;) {
        const char *end = strchr(p, '&');
        if (!end) end = p + strlen(p);
        if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            const char *v = p + klen + 1;
            return http_url_decode(v, (size_t)(end - v), out, outlen) < 0 ? -1 : 0;
        }
        p = *end ? end + 1 : end;
    }
    return -1;
}
