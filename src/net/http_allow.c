#include "net/http_allow.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

struct allow_entry {
    char host[256];         /* lower case, no trailing dot; for "*.d": ".d" */
    int port;               /* 0: any */
    int wildcard;
};

struct http_allow {
    size_t n;
    struct allow_entry e[];
};

/* host lower-cased without its trailing dot into out; -1 when empty or too long. */
static int norm_host(const char *s, size_t n, char *out, size_t cap) {
    if (n && s[n - 1] == '.') n--;
    if (n == 0 || n >= cap) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '-' && c != '.' && c != '_' && c != ':') return -1;
        out[i] = (char)tolower(c);
    }
    out[n] = '\0';
    return 0;
}

static int parse_port(const char *s, int *port) {
    if (!*s || strlen(s) > 5 || strspn(s, "0123456789") != strlen(s)) return -1;
    *port = atoi(s);
    return *port >= 1 && *port <= 65535 ? 0 : -1;
}

/* "host", "host:port", "*.domain[:port]", "[v6]", "[v6]:port" or a bare IPv6 literal. */
static int parse_entry(const char *s, struct allow_entry *e) {
    const char *host = s, *port = NULL;
    size_t hlen;
    memset(e, 0, sizeof *e);
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || (close[1] && close[1] != ':')) return -1;
        host = s + 1;
        hlen = (size_t)(close - host);
        if (close[1] == ':') port = close + 2;
    } else {
        const char *colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':')) colon = NULL;   /* a bare IPv6 literal */
        hlen = colon ? (size_t)(colon - s) : strlen(s);
        if (colon) port = colon + 1;
    }
    if (port && parse_port(port, &e->port)) return -1;
    if (hlen > 2 && host[0] == '*' && host[1] == '.') {
        e->wildcard = 1;
        host++;                                             /* keep the dot: ".domain" */
        hlen--;
    }
    if (norm_host(host, hlen, e->host, sizeof e->host)) return -1;
    return strchr(e->host, '*') ? -1 : 0;
}

struct http_allow *http_allow_new(const char *const *entries, size_t n, char *err,
                                  size_t errlen) {
    struct http_allow *a = calloc(1, sizeof *a + n * sizeof a->e[0]);
    if (!a) {
        snprintf(err, errlen, "http.allow: out of memory");
        return NULL;
    }
    a->n = n;
    for (size_t i = 0; i < n; i++)
        if (!entries[i] || parse_entry(entries[i], &a->e[i])) {
            snprintf(err, errlen, "http.allow[%zu]: \"%s\" is not a host, host:port or "
                     "*.domain", i + 1, entries[i] ? entries[i] : "");
            free(a);
            return NULL;
        }
    return a;
}

void http_allow_free(struct http_allow *a) { free(a); }

enum http_allow_match http_allow_match(const struct http_allow *a, const char *host, int port) {
    char h[256];
    if (!a || !host || norm_host(host, strlen(host), h, sizeof h)) return HTTP_ALLOW_NO;
    enum http_allow_match best = HTTP_ALLOW_NO;
    size_t hl = strlen(h);
    for (size_t i = 0; i < a->n; i++) {
        const struct allow_entry *e = &a->e[i];
        if (e->port && e->port != port) continue;
        size_t el = strlen(e->host);
        if (!e->wildcard && strcmp(e->host, h) == 0) return HTTP_ALLOW_EXACT;
        if (e->wildcard && hl > el && strcmp(h + hl - el, e->host) == 0)
            best = HTTP_ALLOW_DOMAIN;
    }
    return best;
}

static int v4_internal(uint32_t a) {
    static const struct { uint32_t net; int bits; } nets[] = {
        { 0x00000000, 8 },  /* "this network", unspecified */
        { 0x0a000000, 8 },  /* private */
        { 0x64400000, 10 }, /* shared (carrier NAT) */
        { 0x7f000000, 8 },  /* loopback */
        { 0xa9fe0000, 16 }, /* link-local */
        { 0xac100000, 12 }, /* private */
        { 0xc0000000, 24 }, /* protocol assignments */
        { 0xc0a80000, 16 }, /* private */
        { 0xc6120000, 15 }, /* benchmarking */
        { 0xe0000000, 4 },  /* multicast */
        { 0xf0000000, 4 },  /* reserved, broadcast */
    };
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++)
        if ((a >> (32 - nets[i].bits)) == (nets[i].net >> (32 - nets[i].bits))) return 1;
    return 0;
}

static int v6_internal(const unsigned char *b) {
    static const unsigned char zero[12] = { 0 };
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b };
    /* IPv4 inside IPv6 (mapped, compatible, NAT64): judge the IPv4 address */
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, zero, 12) == 0 || memcmp(b, nat64, 12) == 0)
        return v4_internal((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
                           (uint32_t)b[14] << 8 | b[15]);
    if (b[0] == 0xff) return 1;                          /* multicast */
    if ((b[0] & 0xfe) == 0xfc) return 1;                 /* unique local */
    if (b[0] == 0xfe && (b[1] & 0x80) == 0x80) return 1; /* link-local, site-local */
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return 1; /* docs */
    return 0;
}

int http_allow_addr_internal(const struct sockaddr *sa) {
    if (!sa) return 1;
    if (sa->sa_family == AF_INET)
        return v4_internal(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family == AF_INET6)
        return v6_internal(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
    return 1;
}
