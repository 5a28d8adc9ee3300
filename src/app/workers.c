#include "app/workers.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/admin.h"
#include "app/config.h"
#include "app/options.h"
#include "app/worker_link.h"
#include "app/workers_metrics.h"
#include "base/log.h"
#include "base/util.h"

#define MAX_WORKERS 64
#define STABLE_MS 30000         /* a worker that lived this long starts its backoff over */
#define ASK_MS 2000             /* metrics and readiness: how long a worker may take */
#define RELOAD_MS 15000         /* a reload compiles every script */
#define ENV_ROLE "LARKGW_WORKER"

struct supervisor;

struct worker {
    struct supervisor *s;
    int index;
    pid_t pid;                  /* 0: not running (waiting for its restart) */
    int fd;                     /* the supervisor's end of the link; -1 when none */
    int hello;                  /* it said it serves */
    int failures;               /* deaths in a row, for the backoff */
    uint64_t started_ms;
    struct evbuffer *in;        /* bytes from the worker not yet a whole message */
    struct event *read_ev, *restart;
};

struct supervisor {
    const struct config *cfg;
    char **argv;                /* the workers' command line (owned array, borrowed strings) */
    char *listen_set;           /* "webhook.listen=HOST:PORT" when the port was 0 */
    struct event_base *base;
    struct admin *admin;
    struct event *sig_term, *sig_int, *sig_hup, *sig_chld, *stop_timer;
    int hold_fd;                /* the webhook port, bound (not listening) while we run */
    int n, starting, stopping, rc;
    uint32_t seq;
    unsigned long restarts;
    char degraded[256];         /* the last /readyz: a worker's reason, "" when none */
    struct worker w[MAX_WORKERS];
};

int workers_share(int connections, int index, int count) {
    if (count < 1 || index < 0 || index >= count) return 0;
    return connections / count + (index < connections % count ? 1 : 0);
}

int workers_backoff_ms(int failures) {
    int ms = 100;
    for (int i = 1; i < failures && ms < 10000; i++) ms *= 2;
    return ms < 10000 ? ms : 10000;
}

int workers_role_from_env(struct worker_role *role) {
    const char *v = getenv(ENV_ROLE);
    struct worker_role r;
    char tail;
    int ok = v && sscanf(v, "%d/%d/%d%c", &r.index, &r.count, &r.fd, &tail) == 3 &&
             r.count >= 1 && r.count <= MAX_WORKERS && r.index >= 0 && r.index < r.count &&
             r.fd > 2;
    unsetenv(ENV_ROLE);
    if (ok) *role = r;
    return ok;
}

static int running(const struct supervisor *s) {
    int k = 0;
    for (int i = 0; i < s->n; i++) k += s->w[i].pid > 0;
    return k;
}

static void worker_close_link(struct worker *w) {
    if (w->read_ev) event_free(w->read_ev);
    w->read_ev = NULL;
    if (w->fd >= 0) close(w->fd);
    w->fd = -1;
    evbuffer_drain(w->in, evbuffer_get_length(w->in));
}

static void supervisor_all_ready(struct supervisor *s) {
    for (int i = 0; i < s->n; i++)
        if (!s->w[i].hello) return;
    s->starting = 0;
    log_info("workers", "all %d workers ready", s->n);
}

/* Reads what the worker sent; a hello marks it serving, a late answer is dropped.
 * Returns 0, or -1 when the link is closed or broken. */
static int worker_pump(struct supervisor *s, struct worker *w, struct worker_link_msg *answer,
                       uint32_t seq) {
    int n = evbuffer_read(w->in, w->fd, -1);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return -1;
    struct worker_link_msg m;
    int rc;
    while ((rc = worker_link_take(w->in, &m)) == 1) {
        if (m.kind == WORKER_LINK_HELLO && !w->hello) {
            w->hello = 1;
            log_info("workers", "worker %d (pid %d) serving", w->index, (int)w->pid);
            if (s->starting) supervisor_all_ready(s);
        }
        if (answer && m.kind == WORKER_LINK_ANSWER && m.seq == seq && !answer->data) {
            *answer = m;
            continue;
        }
        free(m.data);
    }
    return rc < 0 ? -1 : 0;
}

static void worker_on_read(evutil_socket_t fd, short what, void *arg) {
    struct worker *w = arg;
    struct supervisor *s = w->s;
    /* the end of the link is the death of the worker: SIGCHLD does the rest */
    if (worker_pump(s, w, NULL, 0) < 0) event_del(w->read_ev);
}

/* Waits, the loop paused, for worker w's answer to question seq until deadline_ms.
 * The supervisor does nothing else meanwhile but wait for workers, and every wait is
 * bounded. Returns 1 with *m filled (the caller frees m->data), else 0. */
static int worker_wait(struct supervisor *s, struct worker *w, uint32_t seq,
                       uint64_t deadline_ms, struct worker_link_msg *m) {
    memset(m, 0, sizeof *m);
    while (w->fd >= 0 && !m->data) {
        uint64_t now = util_now_ms();
        if (now >= deadline_ms) return 0;
        struct pollfd p = { w->fd, POLLIN, 0 };
        int r = poll(&p, 1, (int)(deadline_ms - now));
        if (r < 0 && errno != EINTR) return 0;
        if (r > 0 && worker_pump(s, w, m, seq) < 0) break;
    }
    return m->data != NULL;
}

/* Asks every serving worker the same question; asked[i] says who was. */
static uint32_t supervisor_ask_all(struct supervisor *s, enum worker_link_cmd cmd,
                                   int asked[]) {
    uint32_t seq = ++s->seq;
    for (int i = 0; i < s->n; i++) {
        struct worker *w = &s->w[i];
        asked[i] = w->pid > 0 && w->hello && w->fd >= 0 && worker_link_ask(w->fd, cmd, seq) == 0;
    }
    return seq;
}

static int supervisor_ready(void *arg) {
    struct supervisor *s = arg;
    int asked[MAX_WORKERS], ready = 0;
    s->degraded[0] = '\0';
    if (s->stopping) return 0;
    uint32_t seq = supervisor_ask_all(s, WORKER_LINK_READY, asked);
    uint64_t deadline = util_now_ms() + ASK_MS;
    for (int i = 0; i < s->n; i++) {
        struct worker_link_msg m;
        if (asked[i] && worker_wait(s, &s->w[i], seq, deadline, &m)) {
            ready |= m.status == 1;
            if (m.len && !s->degraded[0])
                snprintf(s->degraded, sizeof s->degraded, "worker %d: %s", i, m.data);
            free(m.data);
        }
    }
    return ready;
}

/* Asked by the admin listener right after ready: the reason that answer brought. */
static const char *supervisor_degraded(void *arg) {
    struct supervisor *s = arg;
    return s->degraded[0] ? s->degraded : NULL;
}

static void supervisor_own_metrics(const struct supervisor *s, struct evbuffer *out) {
    evbuffer_add_printf(out,
        "# HELP larkgw_workers Worker processes configured.\n# TYPE larkgw_workers gauge\n"
        "larkgw_workers %d\n"
        "# HELP larkgw_workers_running Worker processes running.\n"
        "# TYPE larkgw_workers_running gauge\nlarkgw_workers_running %d\n"
        "# HELP larkgw_worker_restarts_total Workers started again after dying.\n"
        "# TYPE larkgw_worker_restarts_total counter\nlarkgw_worker_restarts_total %lu\n",
        s->n, running(s), s->restarts);
}

static void supervisor_metrics(void *arg, struct evbuffer *out) {
    struct supervisor *s = arg;
    int asked[MAX_WORKERS], got = 0;
    struct workers_metrics_text texts[MAX_WORKERS];
    struct worker_link_msg m[MAX_WORKERS];
    uint32_t seq = supervisor_ask_all(s, WORKER_LINK_METRICS, asked);
    uint64_t deadline = util_now_ms() + ASK_MS;
    for (int i = 0; i < s->n; i++) {
        if (!asked[i]) continue;
        if (!worker_wait(s, &s->w[i], seq, deadline, &m[got])) {
            log_warn("workers", "worker %d did not answer for /metrics in time", i);
            continue;
        }
        texts[got] = (struct workers_metrics_text){ i, m[got].data, m[got].len };
        got++;
    }
    workers_metrics_merge(texts, got, out);
    supervisor_own_metrics(s, out);
    for (int i = 0; i < got; i++) free(m[i].data);
}

/* Appends worker i's jobs to all, each tagged with "worker": i. */
static void jobs_add(cJSON *all, int i, const char *text) {
    cJSON *doc = cJSON_Parse(text), *job;
    cJSON *jobs = cJSON_GetObjectItemCaseSensitive(doc, "jobs");
    cJSON_ArrayForEach(job, jobs) {
        cJSON *copy = cJSON_Duplicate(job, 1);
        if (!copy) continue;
        cJSON_AddNumberToObject(copy, "worker", i);
        cJSON_AddItemToArray(all, copy);
    }
    cJSON_Delete(doc);
}

/* GET /admin/jobs: every worker runs its own copy of each schedule (Redis leases make
 * one run per tick), so the answer lists each worker's, tagged with its index. */
static char *supervisor_jobs(void *arg) {
    struct supervisor *s = arg;
    int asked[MAX_WORKERS];
    cJSON *doc = cJSON_CreateObject(), *all = cJSON_AddArrayToObject(doc, "jobs");
    uint32_t seq = supervisor_ask_all(s, WORKER_LINK_JOBS, asked);
    uint64_t deadline = util_now_ms() + ASK_MS;
    for (int i = 0; i < s->n && all; i++) {
        struct worker_link_msg m;
        if (!asked[i] || !worker_wait(s, &s->w[i], seq, deadline, &m)) continue;
        if (m.status == 0) jobs_add(all, i, m.data);
        free(m.data);
    }
    char *json = all ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    return json;
}

/* POST /admin/reload: every serving worker reloads; the first failure is the answer.
 * A worker starting meanwhile loads the scripts as they are now anyway. */
static int supervisor_reload(void *arg, char *err, size_t errlen) {
    struct supervisor *s = arg;
    int asked[MAX_WORKERS], rc = 0;
    uint32_t seq = supervisor_ask_all(s, WORKER_LINK_RELOAD, asked);
    uint64_t deadline = util_now_ms() + RELOAD_MS;
    for (int i = 0; i < s->n; i++) {
        struct worker_link_msg m;
        if (!asked[i]) continue;
        if (!worker_wait(s, &s->w[i], seq, deadline, &m)) {
            if (!rc) snprintf(err, errlen, "worker %d: no answer to the reload in time", i);
            rc = -1;
            continue;
        }
        if (m.status && !rc) snprintf(err, errlen, "worker %d: %s", i, m.data);
        if (m.status) rc = -1;
        free(m.data);
    }
    if (!rc) log_info("workers", "every worker reloaded");
    return rc;
}

static void worker_on_restart(evutil_socket_t fd, short what, void *arg);

/* The worker's environment: ours plus LARKGW_WORKER, built before fork so that the
 * child, between fork and exec, makes only async-signal-safe calls. NULL when out of
 * memory; the strings but the last are borrowed from environ. */
static char **worker_env(int index, int count, int fd) {
    extern char **environ;
    size_t n = 0;
    while (environ[n]) n++;
    char **env = calloc(n + 2, sizeof *env), role[64];
    if (!env) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], ENV_ROLE "=", sizeof ENV_ROLE) != 0) env[k++] = environ[i];
    snprintf(role, sizeof role, ENV_ROLE "=%d/%d/%d", index, count, fd);
    env[k] = strdup(role);
    if (!env[k]) {
        free(env);
        return NULL;
    }
    return env;
}

static void worker_env_free(char **env) {
    size_t k = 0;
    while (env[k + 1]) k++;
    free(env[k]);
    free(env);
}

static void worker_exec(struct supervisor *s, int fd, char **env, const sigset_t *mask) {
    static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE };
    for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++) signal(sigs[k], SIG_DFL);
    sigprocmask(SIG_SETMASK, mask, NULL);
    fcntl(fd, F_SETFD, 0);
    execve("/proc/self/exe", s->argv, env);
    static const char msg[] = "larkgw: cannot start a worker: exec /proc/self/exe failed\n";
    ssize_t n = write(2, msg, sizeof msg - 1);
    (void)n;
    _exit(127);
}

static int worker_spawn(struct supervisor *s, struct worker *w) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
        log_error("workers", "socketpair: %s", strerror(errno));
        return -1;
    }
    char **env = worker_env(w->index, s->n, sv[1]);
    if (!env) {
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    /* Signals wait until the child has put the default handlers back: libevent's
     * handler in the child would wake the supervisor's loop. */
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) worker_exec(s, sv[1], env, &old);
    sigprocmask(SIG_SETMASK, &old, NULL);
    worker_env_free(env);
    close(sv[1]);
    if (pid < 0) {
        log_error("workers", "fork: %s", strerror(errno));
        close(sv[0]);
        return -1;
    }
    evutil_make_socket_nonblocking(sv[0]);
    w->pid = pid;
    w->fd = sv[0];
    w->hello = 0;
    w->started_ms = util_now_ms();
    w->read_ev = event_new(s->base, w->fd, EV_READ | EV_PERSIST, worker_on_read, w);
    if (w->read_ev) event_add(w->read_ev, NULL);
    log_info("workers", "worker %d started (pid %d)", w->index, (int)pid);
    return 0;
}

static void worker_schedule(struct supervisor *s, struct worker *w, const char *how) {
    int ms = workers_backoff_ms(w->failures);
    log_warn("workers", "worker %d %s; starting it again in %d ms", w->index, how, ms);
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(w->restart, &tv);
}

static void worker_on_restart(evutil_socket_t fd, short what, void *arg) {
    struct worker *w = arg;
    struct supervisor *s = w->s;
    if (s->stopping) return;
    s->restarts++;
    if (worker_spawn(s, w)) {
        w->failures++;
        worker_schedule(s, w, "could not be started");
    }
}

static void supervisor_stop(struct supervisor *s, const char *why);

static void describe_status(int status, char *out, size_t len) {
    if (WIFEXITED(status)) snprintf(out, len, "exited with code %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status)) snprintf(out, len, "was killed by signal %d", WTERMSIG(status));
    else snprintf(out, len, "ended (status %d)", status);
}

static void worker_reaped(struct supervisor *s, struct worker *w, int status) {
    char how[64];
    describe_status(status, how, sizeof how);
    int was_serving = w->hello;
    uint64_t lived = util_now_ms() - w->started_ms;
    w->pid = 0;
    worker_close_link(w);
    if (s->stopping) {
        int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!clean) s->rc = 1;
        log_write(clean ? LOG_LEVEL_INFO : LOG_LEVEL_ERROR, "workers", "worker %d %s", w->index,
                  how);
        if (!running(s)) event_base_loopexit(s->base, NULL);
        return;
    }
    if (s->starting && !was_serving) {
        log_error("workers", "worker %d %s before serving: stopping", w->index, how);
        s->rc = 1;
        supervisor_stop(s, "a worker failed to start");
        return;
    }
    w->failures = lived >= STABLE_MS ? 1 : w->failures + 1;
    worker_schedule(s, w, how);
}

static void supervisor_reap(struct supervisor *s) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        for (int i = 0; i < s->n; i++)
            if (s->w[i].pid == pid) worker_reaped(s, &s->w[i], status);
}

static void supervisor_on_stop_timeout(evutil_socket_t fd, short what, void *arg) {
    struct supervisor *s = arg;
    log_error("workers", "workers still running at the stop deadline: killing them");
    s->rc = 1;
    for (int i = 0; i < s->n; i++)
        if (s->w[i].pid > 0) kill(s->w[i].pid, SIGKILL);
}

/* Each worker drains itself (bounded as in one process); this bound only catches a
 * worker that does not. */
static void supervisor_stop(struct supervisor *s, const char *why) {
    if (s->stopping) return;
    s->stopping = 1;
    log_info("workers", "stopping every worker: %s", why);
    for (int i = 0; i < s->n; i++) {
        evtimer_del(s->w[i].restart);
        if (s->w[i].pid > 0) kill(s->w[i].pid, SIGTERM);
    }
    int bound_s = s->cfg->limits.handler_max_s < 30 ? s->cfg->limits.handler_max_s : 30;
    struct timeval tv = { bound_s + 15, 0 };
    s->stop_timer = evtimer_new(s->base, supervisor_on_stop_timeout, s);
    if (s->stop_timer) evtimer_add(s->stop_timer, &tv);
    if (!running(s)) event_base_loopexit(s->base, NULL);
}

static void supervisor_on_signal(evutil_socket_t sig, short what, void *arg) {
    struct supervisor *s = arg;
    if (sig == SIGCHLD) {
        supervisor_reap(s);
    } else if (sig == SIGHUP) {
        log_info("workers", "SIGHUP: every worker reloads");
        for (int i = 0; i < s->n; i++)
            if (s->w[i].pid > 0) kill(s->w[i].pid, SIGHUP);
    } else {
        supervisor_stop(s, sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
}

static int supervisor_signals(struct supervisor *s) {
    struct event **evs[] = { &s->sig_term, &s->sig_int, &s->sig_hup, &s->sig_chld };
    int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
    for (int i = 0; i < 4; i++) {
        *evs[i] = evsignal_new(s->base, sigs[i], supervisor_on_signal, s);
        if (!*evs[i] || evsignal_add(*evs[i], NULL)) return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/* The webhook port, bound with SO_REUSEPORT but never listening: it stays ours while
 * workers come and go (nobody else can take it between a worker's death and its
 * restart), and port 0 becomes one port every worker binds. */
static int supervisor_hold_port(struct supervisor *s) {
    const char *listen = s->cfg->webhook.listen;
    char host[256], port_s[16];
    int port, one = 1;
    if (s->cfg->mode == CONFIG_MODE_WS) return 0;
    if (!listen || util_parse_hostport(listen, host, sizeof host, &port)) {
        log_error("workers", "webhook.listen must be HOST:PORT with workers > 1");
        return -1;
    }
    snprintf(port_s, sizeof port_s, "%d", port);
    struct evutil_addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                     .ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_NUMERICSERV };
    struct evutil_addrinfo *ai = NULL;
    if (evutil_getaddrinfo(host, port_s, &hints, &ai) != 0) {
        log_error("workers", "cannot resolve webhook.listen %s", listen);
        return -1;
    }
    s->hold_fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ok = s->hold_fd >= 0 &&
             setsockopt(s->hold_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
             setsockopt(s->hold_fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0 &&
             bind(s->hold_fd, ai->ai_addr, ai->ai_addrlen) == 0;
    evutil_freeaddrinfo(ai);
    if (!ok) {
        log_error("workers", "cannot bind webhook.listen %s: %s", listen, strerror(errno));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(s->hold_fd, (struct sockaddr *)&ss, &len);
    int bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    if (port != 0) return 0;
    char buf[300];
    snprintf(buf, sizeof buf, strchr(host, ':') ? "webhook.listen=[%s]:%d"
                                                : "webhook.listen=%s:%d", host, bound);
    s->listen_set = strdup(buf);
    return s->listen_set ? 0 : -1;
}

/* The workers run our own command line, plus the resolved port when it was 0 (flags
 * come after the config file, so this one wins). */
static int supervisor_argv(struct supervisor *s, char *const argv[]) {
    int argc = 0;
    while (argv[argc]) argc++;
    s->argv = calloc((size_t)argc + 3, sizeof *s->argv);
    if (!s->argv) return -1;
    for (int i = 0; i < argc; i++) s->argv[i] = argv[i];
    if (s->listen_set) {
        s->argv[argc++] = "--set";
        s->argv[argc++] = s->listen_set;
    }
    return 0;
}

static int supervisor_setup(struct supervisor *s, char *const argv[]) {
    s->base = event_base_new();
    if (!s->base || supervisor_signals(s) || supervisor_hold_port(s) || supervisor_argv(s, argv))
        return -1;
    for (int i = 0; i < s->n; i++) {
        struct worker *w = &s->w[i];
        w->in = evbuffer_new();
        w->restart = evtimer_new(s->base, worker_on_restart, w);
        if (!w->in || !w->restart) return -1;
    }
    if (s->cfg->admin.listen && *s->cfg->admin.listen) {
        struct admin_hooks hooks = { s, supervisor_ready, supervisor_metrics, supervisor_reload,
                                     supervisor_degraded, supervisor_jobs };
        struct admin_options opt;
        options_admin(s->cfg, &opt);
        s->admin = admin_new(s->base, &opt, &hooks);
        if (!s->admin) return -1;
    }
    return 0;
}

static void supervisor_free(struct supervisor *s) {
    admin_free(s->admin);
    for (int i = 0; i < s->n; i++) {
        struct worker *w = &s->w[i];
        if (w->in) worker_close_link(w);
        if (w->in) evbuffer_free(w->in);
        if (w->restart) event_free(w->restart);
    }
    struct event *evs[] = { s->sig_term, s->sig_int, s->sig_hup, s->sig_chld, s->stop_timer };
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i]) event_free(evs[i]);
    if (s->base) event_base_free(s->base);
    if (s->hold_fd >= 0) close(s->hold_fd);
    free(s->argv);
    free(s->listen_set);
}

int workers_supervise(const struct config *cfg, char *const argv[]) {
    static struct supervisor s;     /* big (64 workers), and one per process */
    memset(&s, 0, sizeof s);
    s.cfg = cfg;
    s.n = cfg->workers;
    s.hold_fd = -1;
    s.starting = 1;
    for (int i = 0; i < MAX_WORKERS; i++) s.w[i] = (struct worker){ .s = &s, .index = i, .fd = -1 };
    int rc = 1;
    if (supervisor_setup(&s, argv) == 0) {
        log_info("workers", "starting %d workers mode=%s", s.n, config_mode_name(cfg->mode));
        if (cfg->mode != CONFIG_MODE_WEBHOOK && cfg->connections < s.n)
            log_warn("workers", "connections = %d for %d workers: workers %d.. open no long "
                     "connection", cfg->connections, s.n, cfg->connections);
        for (int i = 0; i < s.n && !s.stopping; i++)
            if (worker_spawn(&s, &s.w[i])) {
                s.rc = 1;
                supervisor_stop(&s, "a worker could not be started");
            }
        if (running(&s)) event_base_dispatch(s.base);
        rc = s.rc;
    }
    supervisor_free(&s);
    log_info("workers", "stopped");
    return rc;
}
