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

/* Runs the loop until the callback has fired want times, or 5 s. */
static void wait_fired(struct state *s, struct event *bound, int want) {
    struct timeval five = { 5, 0 };
    while (s->fired < want) {
        int before = s->fired;
        evtimer_add(bound, &five);
        event_base_dispatch(s->base);
        if (s->fired == before) break;       /* the bound went off */
    }
}

/* Deleted, or moved away, and made again: saves in the new directory are still seen. */
static void test_directory_replaced(void) {
    char dir[] = "/tmp/larkgw-watch-XXXXXX", path[192], away[160];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/a.lua", dir);
    snprintf(away, sizeof away, "%s.away", dir);
    struct state s = { event_base_new(), 0 };
    struct watch *w = watch_new(s.base, dir, 50, on_change, &s);
    struct event *bound = evtimer_new(s.base, on_timeout, s.base);
    CHECK(w != NULL);
    CHECK_EQ_INT(rmdir(dir), 0);
    wait_fired(&s, bound, 1);                /* gone */
    CHECK_EQ_INT(s.fired, 1);
    CHECK_EQ_INT(mkdir(dir, 0700), 0);
    wait_fired(&s, bound, 2);                /* back */
    CHECK_EQ_INT(s.fired, 2);
    write_file(path, "x = 2\n");
    wait_fired(&s, bound, 3);
    CHECK_EQ_INT(s.fired, 3);
    /* moved away: the watch must leave the old inode and find the new directory */
    CHECK_EQ_INT(rename(dir, away), 0);
    CHECK_EQ_INT(mkdir(dir, 0700), 0);
    wait_fired(&s, bound, 4);
    int fired = s.fired;
    unlink(path);
    snprintf(path, sizeof path, "%s/a.lua", away);
    unlink(path);
    rmdir(away);
    snprintf(path, sizeof path, "%s/b.lua", dir);
    write_file(path, "x = 3\n");
    wait_fired(&s, bound, fired + 1);
    CHECK_EQ_INT(s.fired, fired + 1);
    unlink(path);
    event_free(bound);
    watch_free(w);
    event_base_free(s.base);
    rmdir(dir);
}

int main(void) {
    RUN(test_debounced_burst);
    RUN(test_missing_dir);
    RUN(test_directory_replaced);
    return test_report();
}
