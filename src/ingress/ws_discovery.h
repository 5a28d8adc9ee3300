/* Long-connection endpoint discovery: POST {domain}/callback/ws/endpoint
 * with the app's credentials; the answer is a short-lived WebSocket URL plus the
 * ClientConfig (ping and reconnect policy). The URL carries a ticket: only its host and
 * device_id may be logged. */
#ifndef LARKGW_INGRESS_WS_DISCOVERY_H
#define LARKGW_INGRESS_WS_DISCOVERY_H

#include <stddef.h>
#include <stdint.h>

struct http_client;
struct ws_discovery;

/* Where to ask and who asks. The strings are borrowed: the caller keeps them alive for
 * the duration of ws_discovery_start (the app's config does). */
struct ws_discovery_options {
    const char *domain;       /* https://open.feishu.cn, or an emulator's http://host:port */
    const char *app_id;
    const char *app_secret;   /* a secret: sent in the body, never logged */
};

/* Seconds, as the platform sends them. */
struct ws_client_config {
    int reconnect_count;      /* negative: forever */
    int reconnect_interval;
    int reconnect_nonce;      /* jitter bound before the first reconnect */
    int ping_interval;
};

/* The SDK defaults: forever, every 120 s, jitter 30 s, ping 120 s. */
void ws_discovery_config_default(struct ws_client_config *cc);

/* Adopts the keys present in a ClientConfig JSON object (others keep their value),
 * clamped to sane ranges (intervals 1..3600 s, nonce 0..3600 s). Returns how many keys
 * were adopted, or -1 when json is not a JSON object. */
int ws_discovery_config_parse(struct ws_client_config *cc, const char *json, size_t len);

enum ws_discovery_class {
    WS_DISCOVERY_OK = 0,
    WS_DISCOVERY_BUSY = 1,         /* code 1, 1000040343, HTTP != 200, garbled: retry */
    WS_DISCOVERY_CLIENT_ERROR = 2, /* 403, 514, 1000040350, any other code: retrying won't help */
};

struct ws_endpoint {
    char *url;                /* secret-bearing: never log it */
    char host[256];
    char device_id[64];
    int32_t service_id;
    int has_config;
    struct ws_client_config config;
};

/* Classifies a discovery answer (pure). On WS_DISCOVERY_OK fills ep (free with
 * ws_discovery_endpoint_free); otherwise why says what the platform answered, e.g.
 * "code 514 (auth failed: check app_id and app_secret): <msg>". */
int ws_discovery_parse(int http_status, const char *body, size_t len, struct ws_endpoint *ep,
                       char *why, size_t whylen);
void ws_discovery_endpoint_free(struct ws_endpoint *ep);

/* cls is an enum ws_discovery_class; ep is valid only during the call, and the callee
 * may take ep->url (set it to NULL). why is set when cls is not OK. */
typedef void (*ws_discovery_fn)(void *arg, int cls, struct ws_endpoint *ep, const char *why);

/* Starts one discovery; NULL (done never called) when the domain is not a valid URL.
 * opt is read during the call only. The discovery frees itself after done. */
struct ws_discovery *ws_discovery_start(struct http_client *hc,
                                        const struct ws_discovery_options *opt,
                                        ws_discovery_fn done, void *arg);
/* done will not be called. */
void ws_discovery_cancel(struct ws_discovery *d);

#endif
