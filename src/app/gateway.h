/* The gateway: owns the event loop and every module of a running daemon, starts them
 * in order, and stops them in reverse on SIGTERM/SIGINT. */
#ifndef LARKGW_APP_GATEWAY_H
#define LARKGW_APP_GATEWAY_H

#include <stddef.h>

struct config;
struct worker_role;

/* Reads the config again, from the same sources as at start, into out (initialised by
 * it): how SIGHUP and POST /admin/reload pick up vars and http.*. 0, or -1 with err. */
typedef int (*gateway_reread_fn)(void *arg, struct config *out, char *err, size_t errlen);

/* Runs until SIGTERM/SIGINT; returns the process exit code. reread may be NULL: the
 * config then stays as it was at start. role NULL: the only process (with the admin
 * listener). Else worker role->index of a supervisor's role->count: the webhook port is
 * shared (SO_REUSEPORT), it opens its share of the long connections, and answers the
 * supervisor over role->fd instead of serving admin. It also stops when the supervisor
 * goes away. */
int gateway_run(struct config *cfg, gateway_reread_fn reread, void *reread_arg,
                const struct worker_role *role);

/* Runs the handlers on one saved event offline (no transport, no dedup, no token
 * check) and prints the answer; returns the process exit code. */
int gateway_replay(struct config *cfg, const char *event_path);

#endif
