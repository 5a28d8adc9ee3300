/* Outbound connections, shared by http_client and ws_client: URL parsing, a TLS context
 * that verifies certificates and host names against the system store (plus an optional
 * extra CA file; nothing turns verification off), and connecting a bufferevent. */
#ifndef LARKGW_NET_NET_H
#define LARKGW_NET_NET_H

#include <stddef.h>

struct event_base;
struct evdns_base;
struct bufferevent;
typedef struct ssl_ctx_st SSL_CTX;

struct net_url {
    int tls;               /* https or wss */
    char host[256];        /* without brackets for IPv6 literals */
    int port;
    char *target;          /* path and query, "/" when empty; malloc'd */
};

/* Parses http://, https://, ws://, wss:// URLs (userinfo and fragments refused).
 * 0 on success (free with net_url_free), -1 when malformed. */
int net_url_parse(const char *url, struct net_url *u);
void net_url_free(struct net_url *u);

/* "host" or "host:port" (port left out when it is the scheme's default), brackets
 * around IPv6 literals: the Host header. */
void net_url_authority(const struct net_url *u, char *out, size_t len);

/* TLS 1.2+ client context verifying peers; NULL (logged) when ca_file cannot be read. */
SSL_CTX *net_tls_ctx_new(const char *ca_file);

/* Starts connecting to u (TLS when u->tls, with SNI and host-name checks). The caller
 * sets callbacks right away; BEV_EVENT_CONNECTED means TCP (and the TLS handshake) are
 * done. NULL and err filled when it cannot even start. dns may be NULL (blocking
 * getaddrinfo). */
struct bufferevent *net_connect(struct event_base *base, struct evdns_base *dns,
                                SSL_CTX *tls, const struct net_url *u, char *err,
                                size_t errlen);

/* The same to an address the caller resolved (and checked) itself; u->host still names
 * the peer for SNI and the certificate check. */
struct sockaddr;
struct bufferevent *net_connect_addr(struct event_base *base, SSL_CTX *tls,
                                     const struct net_url *u, const struct sockaddr *sa,
                                     int salen, char *err, size_t errlen);

/* Describes why a connection failed, from a bufferevent event: "connection refused",
 * "dns: ...", "tls: certificate verify failed: ...", "closed by peer". */
void net_error_describe(struct bufferevent *bev, short what, char *out, size_t len);

/* Once connected: small requests and acks go out at once instead of waiting on Nagle's
 * algorithm for the peer's delayed ACK (40 ms per round trip on Linux). */
void net_set_nodelay(struct bufferevent *bev);

#endif
