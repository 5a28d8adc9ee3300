/* The webhook server: http_server on webhook.listen + webhook.path. Verifies the
 * signature over the raw body, the timestamp window, decrypts, and hands the event JSON
 * to the dispatcher; maps the dispatcher's answer to the HTTP response. */
#ifndef LARKGW_INGRESS_WEBHOOK_H
#define LARKGW_INGRESS_WEBHOOK_H

struct event_base;
struct config;
struct dispatcher;
struct webhook;

/* Binds and starts serving; NULL (logged) when the address cannot be bound. Logs
 * "listening on HOST:PORT" with the bound port (webhook.listen may use port 0). */
struct webhook *webhook_new(struct event_base *base, const struct config *cfg,
                            struct dispatcher *d);
int webhook_port(const struct webhook *w);
/* Stops accepting; requests in flight still get their answer. */
void webhook_stop(struct webhook *w);
/* Call after dispatcher_free: a reply arriving after this would reach freed memory. */
void webhook_free(struct webhook *w);

#endif
