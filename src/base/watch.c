#include "base/watch.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "base/log.h"

struct watch {
    int fd;
    struct event *readable, *settle;
    struct timeval debounce;
    watch_fn fn;
    void *arg;
};

static void watch_on_settle(evutil_socket_t fd, short what, void *arg) {
    struct watch *w = arg;
    w->fn(w->arg);
}

/* Drains the inotify queue; every event just (re)arms the settle timer. */
static void watch_on_readable(evutil_socket_t fd, short what, void *arg) {
    struct watch *w = arg;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;
    while ((n = read(w->fd, buf, sizeof buf)) > 0) {}
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
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
                    IN_ATTRIB | IN_MODIFY;
    if (w->fd < 0 || inotify_add_watch(w->fd, dir, mask) < 0) {
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
    free(w);
}
