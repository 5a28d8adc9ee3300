/* lark.http: outbound HTTP(S) from handlers to the hosts the operator allowed, yielding
 * like lark.api. This header is its public face for the composition root: the options
 * and the object every lark.http call goes through (one HTTP client with its own
 * keep-alive pool, the compiled allow-list, the in-flight counts). */
#ifndef LARKGW_LUA_BIND_HTTP_H
#define LARKGW_LUA_BIND_HTTP_H

#include <stddef.h>

struct event_base;
struct bind_http;

struct bind_http_options {
    const char *const *allow;      /* host, host:port, *.domain; none: every call refused */
    size_t nallow;
    int timeout_s;                 /* default and ceiling of a call's `timeout` */
    size_t max_body;               /* default and ceiling of a call's `max_body` */
    int max_in_flight;             /* calls open at once (a stream is open until closed) */
    int max_per_script;            /* the same, per script */
    const char *ca_file;           /* trusted besides the system store; may be NULL */
};

/* NULL with err ("http.allow[2]: ...", a TLS setup error) on failure. */
struct bind_http *bind_http_new(struct event_base *base, const struct bind_http_options *o,
                                char *err, size_t errlen);
/* New allow-list and bounds (a config reload); calls in flight keep their own. -1 with
 * err, and the old settings kept, when the allow-list does not compile. */
int bind_http_configure(struct bind_http *h, const struct bind_http_options *o, char *err,
                        size_t errlen);
/* Closes every call still open. Free it after the runtime whose scripts use it. */
void bind_http_free(struct bind_http *h);

#endif
