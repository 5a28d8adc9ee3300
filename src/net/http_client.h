/* An async HTTP/1.1 client on libevent: TLS via bufferevent_openssl with certificate
 * and host-name verification against the system store (plus tls_ca_file), plain http
 * for loopback, keep-alive reuse per host, per-request timeout, bounded response size.
 * Used by ws_discovery and the OpenAPI. Never logs header values or bodies. */
#ifndef LARKGW_NET_HTTP_CLIENT_H
#define LARKGW_NET_HTTP_CLIENT_H

#include <stddef.h>

struct event_base;
struct evdns_base;
struct ssl_ctx_st;
struct http_client;
struct http_call;

struct http_client_request {
    const char *method;            /* "GET", "POST", ... */
    const char *url;               /* http://host:port/path?query or https://... */
    const char *const *headers;    /* name, value, name, value, ..., NULL */
    const char *body;              /* may be NULL */
    size_t body_len;
    int timeout_ms;                /* whole request; 0 means 10 s */
    size_t max_response;           /* body bound; 0 means 4 MiB */
};

struct http_response {
    int status;                    /* HTTP status, or 0 when no answer came */
    const char *error;             /* set when status is 0: "timeout", "tls: ...", ... */
    const char *body;              /* NUL-terminated; "" when none */
    size_t body_len;
    const void *priv;              /* for http_response_header */
};

/* Called once per request unless cancelled; res and everything in it die on return. */
typedef void (*http_done_fn)(void *arg, const struct http_response *res);

/* ca_file may be NULL. NULL on a TLS setup error (logged). */
struct http_client *http_client_new(struct event_base *base, const char *ca_file);
/* Cancels every call in flight (their done is never called) and frees. */
void http_client_free(struct http_client *c);

/* Starts a request; NULL (and done is never called) on a malformed URL. */
struct http_call *http_client_request(struct http_client *c, const struct http_client_request *req,
                                      http_done_fn done, void *arg);
/* done will not be called for this call; safe until done has run. */
void http_call_cancel(struct http_call *call);

/* The client's TLS context and resolver, for other connections of the same process
 * (the WebSocket) to share rather than load the CA store and resolv.conf again. */
struct ssl_ctx_st *http_client_tls(struct http_client *c);
struct evdns_base *http_client_dns(struct http_client *c);

/* A response header by case-insensitive name, or NULL. */
const char *http_response_header(const struct http_response *res, const char *name);

#endif
