/* The gateway: owns the event loop and every module of a running daemon, starts them
 * in order, and stops them in reverse on SIGTERM/SIGINT. */
#ifndef LARKGW_APP_GATEWAY_H
#define LARKGW_APP_GATEWAY_H

struct config;

/* Runs until SIGTERM/SIGINT; returns the process exit code. */
int gateway_run(struct config *cfg);

/* Runs the handlers on one saved event offline (no transport, no dedup, no token
 * check) and prints the answer; returns the process exit code. */
int gateway_replay(struct config *cfg, const char *event_path);

#endif
