#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"

static int url_scheme(const char *url, const char **rest, int *tls, int *port) {
    static const struct { const char *prefix; int tls, port; } schemes[] = {
        { "http://", 0, 80 }, { "https://", 1, 443 }, { "ws://", 0, 80 }, { "wss://", 1, 443 },
    };
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t n = strlen(schemes[i].prefix);
        if (strncasecmp(url, schemes[i].prefix, n) == 0) {
            *rest = url + n;
            *tls = schemes[i].tls;
            *port = schemes[i].port;
            return 0;
        }
    }
    return -1;
}

static int url_port(const char *s, size_t n, int *port) {
    if (n == 0 || n > 5) return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535) return -1;
    *port = v;
    return 0;
}

/* host, [v6] or host:port, [v6]:port in auth[0..n). */
static int url_authority(const char *auth, size_t n, struct net_url *u) {
    const char *host = auth, *colon = NULL;
    size_t hlen;
    if (n && auth[0] == '[') {
        const char *close = memchr(auth, ']', n);
        if (!close) return -1;
        host = auth + 1;
        hlen = (size_t)(close - host);
        if (close + 1 < auth + n) {
            if (close[1] != ':') return -1;
            colon = close + 1;
        }
    } else {
        colon = memchr(auth, ':', n);
        hlen = colon ? (size_t)(colon - auth) : n;
    }
    if (colon && url_port(colon + 1, (size_t)(auth + n - colon - 1), &u->port)) return -1;
    if (hlen == 0 || hlen >= sizeof u->host) return -1;
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c <= ' ' || c >= 0x7f || c == '@' || c == '/' || c == '\\') return -1;
    }
    memcpy(u->host, host, hlen);
    u->host[hlen] = '\0';
    return 0;
}

int net_url_parse(const char *url, struct net_url *u) {
    memset(u, 0, sizeof *u);
    const char *rest;
    if (!url || url_scheme(url, &rest, &u->tls, &u->port)) return -1;
    size_t alen = strcspn(rest, "/?#");
    if (url_authority(rest, alen, u)) return -1;
    const char *target = rest + alen;
    size_t tlen = strcspn(target, "#");
    if (target[tlen]) return -1;       /* fragments never go on the wire */
    for (size_t i = 0; i < tlen; i++)
        if ((unsigned char)target[i] <= ' ' || target[i] == 0x7f) return -1;
    u->target = malloc(tlen + 2);
    if (!u->target) return -1;
    size_t off = 0;
    if (tlen == 0 || target[0] != '/') u->target[off++] = '/';
    memcpy(u->target + off, target, tlen);
    u->target[off + tlen] = '\0';
    return 0;
}

void net_url_free(struct net_url *u) {
    free(u->target);
    u->target = NULL;
}

void net_url_authority(const struct net_url *u, char *out, size_t len) {
    int v6 = strchr(u->host, ':') != NULL;
    int dflt = u->port == (u->tls ? 443 : 80);
    if (dflt) snprintf(out, len, v6 ? "[%s]" : "%s", u->host);
    else snprintf(out, len, v6 ? "[%s]:%d" : "%s:%d", u->host, u->port);
}

SSL_CTX *net_tls_ctx_new(const char *ca_file) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_set_default_verify_paths(ctx) != 1)
        log_warn("tls", "cannot load the system CA store; only tls_ca_file will be trusted");
    if (ca_file && *ca_file && SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
        log_error("tls", "cannot load tls_ca_file %s", ca_file);
        SSL_CTX_free(ctx);
        return NULL;
    }
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
    return ctx;
}

static int host_is_ip(const char *host) {
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static SSL *tls_session_new(SSL_CTX *ctx, const char *host) {
    SSL *ssl = SSL_new(ctx);
    if (!ssl) return NULL;
    int ok;
    if (host_is_ip(host)) {
        ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1;
    } else {
        ok = SSL_set_tlsext_host_name(ssl, host) == 1 && SSL_set1_host(ssl, host) == 1;
    }
    if (!ok) {
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

/* An unconnected bufferevent for u: TLS (SNI, host-name check) when u->tls. */
static struct bufferevent *bev_new(struct event_base *base, SSL_CTX *tls,
                                   const struct net_url *u, char *err, size_t errlen) {
    struct bufferevent *bev;
    if (u->tls) {
        SSL *ssl = tls ? tls_session_new(tls, u->host) : NULL;
        if (!ssl) {
            snprintf(err, errlen, "tls: cannot set up a session");
            return NULL;
        }
        bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                             BEV_OPT_CLOSE_ON_FREE);
        if (!bev) SSL_free(ssl);
        /* Many servers close without close_notify; bodies are length-framed anyway. */
        else bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    } else {
        bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    if (!bev) snprintf(err, errlen, "out of memory");
    return bev;
}

struct bufferevent *net_connect_addr(struct event_base *base, SSL_CTX *tls,
                                     const struct net_url *u, const struct sockaddr *sa,
                                     int salen, char *err, size_t errlen) {
    struct bufferevent *bev = bev_new(base, tls, u, err, errlen);
    if (bev && bufferevent_socket_connect(bev, sa, salen) < 0) {
        snprintf(err, errlen, "connect: %s", strerror(errno ? errno : EINVAL));
        bufferevent_free(bev);
        return NULL;
    }
    return bev;
}

struct bufferevent *net_connect(struct event_base *base, struct evdns_base *dns,
                                SSL_CTX *tls, const struct net_url *u, char *err,
                                size_t errlen) {
    struct bufferevent *bev = bev_new(base, tls, u, err, errlen);
    if (!bev) return NULL;
    if (bufferevent_socket_connect_hostname(bev, dns, AF_UNSPEC, u->host, u->port) < 0) {
        snprintf(err, errlen, "connect: %s", strerror(errno ? errno : EINVAL));
        bufferevent_free(bev);
        return NULL;
    }
    return bev;
}

static int tls_describe(struct bufferevent *bev, char *out, size_t len) {
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    if (!ssl) return 0;
    long vr = SSL_get_verify_result(ssl);
    if (vr != X509_V_OK) {
        snprintf(out, len, "tls: certificate verify failed: %s",
                 X509_verify_cert_error_string(vr));
        return 1;
    }
    unsigned long e = bufferevent_get_openssl_error(bev);
    if (!e) return 0;
    char buf[200];
    ERR_error_string_n(e, buf, sizeof buf);
    snprintf(out, len, "tls: %s", buf);
    while (bufferevent_get_openssl_error(bev)) {}
    return 1;
}

void net_error_describe(struct bufferevent *bev, short what, char *out, size_t len) {
    int dns_err = bufferevent_socket_get_dns_error(bev);
    if (dns_err) {
        snprintf(out, len, "dns: %s", evutil_gai_strerror(dns_err));
    } else if (what & BEV_EVENT_TIMEOUT) {
        snprintf(out, len, "timeout");
    } else if (tls_describe(bev, out, len)) {
        return;
    } else if (what & BEV_EVENT_EOF) {
        snprintf(out, len, "closed by peer");
    } else {
        int e = EVUTIL_SOCKET_ERROR();
        snprintf(out, len, "%s", e ? evutil_socket_error_to_string(e) : "connection error");
    }
}

void net_set_nodelay(struct bufferevent *bev) {
    int one = 1;
    evutil_socket_t fd = bufferevent_getfd(bev);
    if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}
