/* The webhook server: http_server on a listen address and one path. Verifies the
 * signature over the raw body, the timestamp window, decrypts, and hands the event JSON
 * to the dispatcher; maps the dispatcher's answer to the HTTP response. A second path,
 * card_path, takes the clicks of legacy message cards (webhook_legacy.h), delivered as
 * event type card.action.legacy whose handler's returned table is the answer. */
#ifndef LARKGW_INGRESS_WEBHOOK_H
#define LARKGW_INGRESS_WEBHOOK_H

#include <stdbool.h>

struct event_base;
struct dispatcher;
struct webhook;

/* The strings are borrowed and must outlive the webhook (the app's config owns them). */
struct webhook_options {
    const char *listen;              /* HOST:PORT; port 0 picks a free one */
    const char *path;                /* the one path events are posted to */
    const char *card_path;           /* legacy message cards' request URL; NULL or "": none */
    const char *verification_token;  /* a secret; only its presence is checked here */
    const char *encrypt_key;         /* a secret: signature and AES key; NULL or "": none */
    long max_body;                   /* bytes */
    int max_skew_s;                  /* timestamp window; 0 disables it */
    bool insecure;                   /* start without token or key (local testing) */
    int max_connections, max_connections_per_ip;  /* 0: the server's defaults */
    bool reuse_port;                 /* share the port with other workers (SO_REUSEPORT) */
};

/* Binds and starts serving; NULL (logged) when the address cannot be bound, or when
 * there is no verification token and insecure is not set. opt is copied. Logs
 * "listening on HOST:PORT" with the bound port (listen may use port 0). */
struct webhook *webhook_new(struct event_base *base, const struct webhook_options *opt,
                            struct dispatcher *d);
int webhook_port(const struct webhook *w);
/* Stops accepting; requests in flight still get their answer. */
void webhook_stop(struct webhook *w);
/* Call after dispatcher_free: a reply arriving after this would reach freed memory. */
void webhook_free(struct webhook *w);

#endif
