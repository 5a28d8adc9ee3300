/* The gateway: owns the event loop and every module of a running daemon, starts them
 * in order, and stops them in reverse on SIGTERM/SIGINT. */
#ifndef LARKGW_APP_GATEWAY_H
#define LARKGW_APP_GATEWAY_H

struct config;
struct worker_role;

/* Runs until SIGTERM/SIGINT; returns the process exit code. role NULL: the only
 * process (with the admin listener). Else worker role->index of a supervisor's
 * role->count: the webhook port is shared (SO_REUSEPORT), it opens its share of the
 * long connections, and answers the supervisor over role->fd instead of serving admin.
 * It also stops when the supervisor goes away. */
int gateway_run(struct config *cfg, const struct worker_role *role);

/* Runs the handlers on one saved event offline (no transport, no dedup, no token
 * check) and prints the answer; returns the process exit code. */
int gateway_replay(struct config *cfg, const char *event_path);

#endif
