/* workers = N: a supervisor process and N worker processes, each a whole gateway with
 * its own event loop and Lua states. The supervisor starts each worker by running this
 * same binary again with the same arguments (a fresh process: no event loop or Lua
 * state crosses the fork) and tells it who it is in LARKGW_WORKER. Workers share the
 * webhook port (SO_REUSEPORT) and split the long connections; the supervisor holds
 * the admin listener and reaches each worker over a socketpair (worker_link.h) for
 * /metrics (a worker="i" label on every sample), /readyz and /admin/reload. A worker
 * that dies is started again after a backoff while the others serve; SIGHUP is passed
 * on to every worker, SIGTERM/SIGINT drains them all, and the supervisor exits once
 * they have. */
#ifndef LARKGW_APP_WORKERS_H
#define LARKGW_APP_WORKERS_H

#include <stddef.h>

struct config;
struct evbuffer;

/* Who a worker process is: worker index (0..count-1) of count, and its end of the
 * link to the supervisor. */
struct worker_role {
    int index, count, fd;
};

/* 1 and fills role when this process was started by a supervisor (LARKGW_WORKER set
 * and well formed), else 0. The variable is removed from the environment. */
int workers_role_from_env(struct worker_role *role);

/* Runs the supervisor of cfg->workers workers until they have all exited after
 * SIGTERM/SIGINT; argv (NULL-terminated) is the command line each worker runs. Returns
 * the process exit code: 0 when every worker drained and exited 0, 1 otherwise (and
 * when a worker fails at the first start: a broken config or script stops the lot). */
int workers_supervise(const struct config *cfg, char *const argv[]);

/* The long connections worker index of count opens, out of connections: an even
 * split, the first ones taking one more. 0 when there are fewer than workers. */
int workers_share(int connections, int index, int count);

/* Wait before restarting a worker that has died failures times in a row: 100 ms
 * doubling up to 10 s. failures < 1 counts as 1. */
int workers_backoff_ms(int failures);

#endif
