/* The admin listener (loopback by default): GET /healthz, /readyz, /metrics and
 * POST /admin/reload. It reads state through callbacks, so it owns nothing else. */
#ifndef LARKGW_APP_ADMIN_H
#define LARKGW_APP_ADMIN_H

#include <stddef.h>

struct event_base;
struct evbuffer;
struct admin;

struct admin_hooks {
    void *arg;
    int (*ready)(void *arg);                          /* 1 when serving */
    void (*metrics)(void *arg, struct evbuffer *out); /* Prometheus text */
    /* 0 on success, else -1 with the reason ("file:line: message") in err. */
    int (*reload)(void *arg, char *err, size_t errlen);
};

/* NULL (logged) when listen cannot be bound; logs "listening on HOST:PORT". */
struct admin *admin_new(struct event_base *base, const char *listen,
                        const struct admin_hooks *hooks);
void admin_free(struct admin *a);

#endif
