#include "base/watch.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "base/log.h"

#define RETRY_MS 250            /* how often a vanished directory is looked for */

#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | \
                    IN_ATTRIB | IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF)

struct watch {
    int fd, wd;                 /* wd -1: the directory went away, not watched now */
    int gone;                   /* its owner was told once that it went away */
    char *dir;
    struct event *readable, *settle;
    struct timeval debounce;
    watch_fn fn;
    void *arg;
};

/* A directory deleted (or moved away) and made again is a new inode: watching the
 * path again is the only way to see saves in it. */
static int watch_add(struct watch *w) {
    w->wd = inotify_add_watch(w->fd, w->dir, WATCH_MASK | IN_ONLYDIR);
    return w->wd;
}

static void watch_on_settle(evutil_socket_t fd, short what, void *arg) {
    struct watch *w = arg;
    if (w->wd < 0 && watch_add(w) < 0) {
        struct timeval retry = { 0, RETRY_MS * 1000 };
        evtimer_add(w->settle, &retry);
        if (w->gone) return;
        w->gone = 1;
        log_warn("watch", "%s is gone (%s); watching for it to come back", w->dir,
                 strerror(errno));
    } else if (w->gone) {
        w->gone = 0;
        log_info("watch", "%s is back; watching it again", w->dir);
    }
    w->fn(w->arg);
}

/* Notes the watch's end (the directory deleted or moved away) among the events. */
static void watch_scan(struct watch *w, const char *buf, ssize_t n) {
    for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
        const struct inotify_event *e = (const void *)(buf + off);
        if (e->wd == w->wd && (e->mask & IN_MOVE_SELF)) {
            inotify_rm_watch(w->fd, w->wd);   /* it would follow the old inode */
            w->wd = -1;
        } else if (e->wd == w->wd && (e->mask & IN_IGNORED)) {
            w->wd = -1;
        }
        off += (ssize_t)sizeof *e + e->len;
    }
}

/* Drains the inotify queue; every event just (re)arms the settle timer. */
static void watch_on_readable(evutil_socket_t fd, short what, void *arg) {
    struct watch *w = arg;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;
    while ((n = read(w->fd, buf, sizeof buf)) > 0) watch_scan(w, buf, n);
    if (n < 0 && errno != EAGAIN) log_warn("watch", "inotify read: %s", strerror(errno));
    evtimer_add(w->settle, &w->debounce);
}

struct watch *watch_new(struct event_base *base, const char *dir, int debounce_ms,
                        watch_fn fn, void *arg) {
    struct watch *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->fn = fn;
    w->arg = arg;
    w->debounce.tv_sec = debounce_ms / 1000;
    w->debounce.tv_usec = (debounce_ms % 1000) * 1000;
    w->dir = strdup(dir);
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (!w->dir || w->fd < 0 || watch_add(w) < 0) {
        log_error("watch", "cannot watch %s: %s", dir, strerror(errno));
        goto fail;
    }
    w->readable = event_new(base, w->fd, EV_READ | EV_PERSIST, watch_on_readable, w);
    w->settle = evtimer_new(base, watch_on_settle, w);
    if (!w->readable || !w->settle || event_add(w->readable, NULL)) goto fail;
    return w;
fail:
    watch_free(w);
    return NULL;
}

void watch_free(struct watch *w) {
    if (!w) return;
    if (w->readable) event_free(w->readable);
    if (w->settle) event_free(w->settle);
    if (w->fd >= 0) close(w->fd);
    free(w->dir);
    free(w);
}
