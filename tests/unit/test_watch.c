#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/watch.h"
#include "test.h"

struct state {
    struct event_base *base;
    int fired;
};

static void on_change(void *arg) {
    struct state *s = arg;
    s->fired++;
    event_base_loopbreak(s->base);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg) {
    event_base_loopbreak(arg);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* A burst of writes settles into one callback; a later write gives another. */
static void test_debounced_burst(void) {
    char dir[] = "/tmp/larkgw-watch-XXXXXX", path[128];
    CHECK(mkdtemp(dir) != NULL);
    struct state s = { event_base_new(), 0 };
    struct watch *w = watch_new(s.base, dir, 100, on_change, &s);
    CHECK(w != NULL);
    struct event *bound = evtimer_new(s.base, on_timeout, s.base);
    struct timeval five = { 5, 0 };
    snprintf(path, sizeof path, "%s/a.lua", dir);
    for (int i = 0; i < 5; i++) write_file(path, "x = 1\n");
    evtimer_add(bound, &five);
    event_base_dispatch(s.base);
    CHECK_EQ_INT(s.fired, 1);
    /* three debounce periods more: the burst must not fire again */
    struct timeval settle = { 0, 300000 };
    evtimer_add(bound, &settle);
    event_base_dispatch(s.base);
    CHECK_EQ_INT(s.fired, 1);
    unlink(path);
    evtimer_add(bound, &five);
    event_base_dispatch(s.base);
    CHECK_EQ_INT(s.fired, 2);
    event_free(bound);
    watch_free(w);
    event_base_free(s.base);
    rmdir(dir);
}

static void test_missing_dir(void) {
    struct event_base *base = event_base_new();
    CHECK(watch_new(base, "/nonexistent/larkgw", 100, on_change, NULL) == NULL);
    event_base_free(base);
}

int main(void) {
    RUN(test_debounced_burst);
    RUN(test_missing_dir);
    return test_report();
}
