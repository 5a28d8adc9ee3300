/* The admin listener (loopback by default): GET /healthz, /readyz, /metrics,
 * /admin/jobs and POST /admin/reload. It reads state through callbacks, so it owns nothing else.
 *
 * Who may ask: a request carrying an Origin header (a browser page) is refused 403; on
 * TCP, so is one whose Host names something other than this listener (DNS rebinding):
 * 127.0.0.1, localhost, [::1] or the configured host, with the bound port; the right
 * token lets any Host through. With a token, POST needs "Authorization: Bearer TOKEN"
 * (401 otherwise). Every refusal is logged; the token never is. */
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
    /* NULL, or returns why the gateway serves in a degraded way ("redis: ..."), NULL
     * when it does not: /readyz then answers 200 {"status":"degraded","reason":...}. */
    const char *(*degraded)(void *arg);
    /* GET /admin/jobs: the schedules as JSON, malloc'd (the admin frees it); NULL: 503.
     * May be NULL: 404. */
    char *(*jobs)(void *arg);
};

/* Strings are the caller's and must outlive the admin. */
struct admin_options {
    const char *listen;   /* "host:port", "[::1]:port" or "unix:/path" (a 0600 socket) */
    const char *token;    /* NULL or "": POST without a token (loopback or unix only) */
};

/* The request head as far as admission goes; NULL for an absent header. */
struct admin_head {
    const char *method, *host, *origin, *authorization;
};

/* NULL (logged) when listen cannot be bound; logs "listening on HOST:PORT" (or
 * "unix:/path"). A unix socket file is removed again by admin_free. */
struct admin *admin_new(struct event_base *base, const struct admin_options *opt,
                        const struct admin_hooks *hooks);
void admin_free(struct admin *a);

/* The admission rule above, for a listener bound to port (unused for unix:): 0 when
 * the request may go on, else the status to refuse it with (401 or 403) and a static
 * reason, fit for a log line, in *why. */
int admin_admit(const struct admin_options *opt, int port, const struct admin_head *h,
                const char **why);

#endif
