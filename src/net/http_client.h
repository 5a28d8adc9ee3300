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

/* Why a call failed (struct http_client_response.code, http_call_error). */
enum http_client_error {
    HTTP_CLIENT_OK = 0,
    HTTP_CLIENT_E_REQUEST,         /* the request itself is malformed (a header, the URL) */
    HTTP_CLIENT_E_ADDRESS,         /* check_addr refused every address of the host */
    HTTP_CLIENT_E_DNS,
    HTTP_CLIENT_E_CONNECT,
    HTTP_CLIENT_E_TLS,             /* handshake, certificate or host name */
    HTTP_CLIENT_E_TIMEOUT,
    HTTP_CLIENT_E_TOO_LARGE,       /* body over max_response, or headers over their bound */
    HTTP_CLIENT_E_CLOSED,          /* the peer closed before the response was whole */
    HTTP_CLIENT_E_PROTOCOL,        /* not HTTP/1.x as we read it */
};

struct sockaddr;

struct http_client_request {
    const char *method;            /* "GET", "POST", ... */
    const char *url;               /* http://host:port/path?query or https://... */
    const char *const *headers;    /* name, value, name, value, ..., NULL */
    const char *body;              /* may be NULL */
    size_t body_len;
    int timeout_ms;                /* whole request; 0 means 10 s. Streaming: until the
                                      head, then the longest silence between bytes */
    size_t max_response;           /* body bound; 0 means 4 MiB */
    int stream;                    /* done runs once the head is in; read the body with
                                      http_call_read, end with http_call_cancel */
    /* When set, the host is resolved first and only an address check_addr accepts
     * (returns 1) is connected to: HTTP_CLIENT_E_ADDRESS when none is. */
    int (*check_addr)(void *arg, const struct sockaddr *sa);
    void *check_arg;
};

struct http_client_response {
    int status;                    /* HTTP status, or 0 when no answer came */
    const char *error;             /* set when status is 0: "timeout", "tls: ...", ... */
    const char *body;              /* NUL-terminated; "" when none (and when streaming) */
    size_t body_len;
    const void *priv;              /* for http_client_header */
    enum http_client_error code;   /* HTTP_CLIENT_OK when status is set */
};

/* Called once per request unless cancelled; res and everything in it die on return. */
typedef void (*http_done_fn)(void *arg, const struct http_client_response *res);

/* ca_file may be NULL. NULL on a TLS setup error (logged). */
struct http_client *http_client_new(struct event_base *base, const char *ca_file);
/* Cancels every call in flight (their done is never called) and frees. */
void http_client_free(struct http_client *c);

/* Starts a request; NULL (and done is never called) on a malformed URL. */
struct http_call *http_client_request(struct http_client *c, const struct http_client_request *req,
                                      http_done_fn done, void *arg);
/* done will not be called for this call; safe until done has run. A streaming call
 * stays open after done (its connection too) until this is called: the connection is
 * closed unless the body was read to its end. */
void http_call_cancel(struct http_call *call);

/* Streaming, after done reported the head. */
enum http_call_rc { HTTP_CALL_WAIT, HTTP_CALL_DATA, HTTP_CALL_END, HTTP_CALL_FAILED };
/* Copies up to cap body bytes into buf (*n of them): HTTP_CALL_DATA; else
 * HTTP_CALL_END once the body was read whole, HTTP_CALL_FAILED (see http_call_error)
 * when it broke off, HTTP_CALL_WAIT when nothing came yet. */
int http_call_read(struct http_call *call, char *buf, size_t cap, size_t *n);
/* Calls ready(arg) once, from the loop, when http_call_read would not answer WAIT;
 * ready may cancel the call. ready NULL forgets a pending wait. */
void http_call_wait(struct http_call *call, void (*ready)(void *arg), void *arg);
/* Why a streaming call failed ("timeout", "response too large"...) and its code. */
const char *http_call_error(const struct http_call *call, enum http_client_error *code);

/* Closes the idle connections (e.g. when the rules deciding where calls may go change). */
void http_client_close_idle(struct http_client *c);

/* The client's TLS context and resolver, for other connections of the same process
 * (the WebSocket) to share rather than load the CA store and resolv.conf again. */
struct ssl_ctx_st *http_client_tls(struct http_client *c);
struct evdns_base *http_client_dns(struct http_client *c);

/* A response header by case-insensitive name, or NULL. */
const char *http_client_header(const struct http_client_response *res, const char *name);

/* Calls fn for each response header in the order received (names as sent). */
void http_client_foreach_header(const struct http_client_response *res,
                                  void (*fn)(void *arg, const char *name, const char *value),
                                  void *arg);

#endif
