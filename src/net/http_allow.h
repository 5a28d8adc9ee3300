/* Where scripts may send HTTP: the operator's allow-list of hosts ("api.example.com",
 * "llm.internal:8443", "*.example.com", "[::1]:8080") and the check of the addresses a
 * name resolves to. A script is not a way into the internal network: loopback,
 * link-local, private, shared, multicast, reserved and unspecified addresses (IPv4, IPv6
 * and IPv4 inside IPv6) are refused unless the host was listed exactly (no wildcard).
 * Pure: no sockets, no resolver. */
#ifndef LARKGW_NET_HTTP_ALLOW_H
#define LARKGW_NET_HTTP_ALLOW_H

#include <stddef.h>

struct sockaddr;
struct http_allow;

enum http_allow_match {
    HTTP_ALLOW_NO = 0,      /* not listed */
    HTTP_ALLOW_DOMAIN,      /* matched by a "*.domain" entry: public addresses only */
    HTTP_ALLOW_EXACT,       /* the host itself is listed: any address */
};

/* Compiles n entries (host names compared case-insensitively, a trailing dot ignored;
 * a port when given must match, else any port does; "*.domain" matches subdomains, not
 * the domain itself). NULL with err ("http.allow[2]: ...") on a malformed entry or out
 * of memory. n may be 0: everything is refused. */
struct http_allow *http_allow_new(const char *const *entries, size_t n, char *err,
                                  size_t errlen);
void http_allow_free(struct http_allow *a);

/* How host (no brackets) and port are listed. A NULL list matches nothing. */
enum http_allow_match http_allow_match(const struct http_allow *a, const char *host, int port);

/* 1 when sa (AF_INET or AF_INET6) is an internal address (see above), else 0. Unknown
 * families count as internal. */
int http_allow_addr_internal(const struct sockaddr *sa);

#endif
