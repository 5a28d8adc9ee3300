#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "app/workers_metrics.h"
#include "test.h"

static const char w0[] =
    "# HELP larkgw_events_received_total Events received.\n"
    "# TYPE larkgw_events_received_total counter\n"
    "larkgw_events_received_total 3\n"
    "# HELP larkgw_lua_memory_bytes Bytes a script's state uses.\n"
    "# TYPE larkgw_lua_memory_bytes gauge\n"
    "larkgw_lua_memory_bytes{script=\"a.lua\"} 100\n"
    "larkgw_lua_memory_bytes{script=\"b.lua\"} 200\n";

static const char w1[] =
    "# HELP larkgw_events_received_total Events received.\n"
    "# TYPE larkgw_events_received_total counter\n"
    "larkgw_events_received_total 5\n"
    "# a comment of no family\n"
    "\n"
    "# HELP larkgw_lua_memory_bytes Bytes a script's state uses.\n"
    "# TYPE larkgw_lua_memory_bytes gauge\n"
    "larkgw_lua_memory_bytes{script=\"a.lua\"} 150\n"
    "# HELP larkgw_ws_open Long connections open.\n"
    "# TYPE larkgw_ws_open gauge\n"
    "larkgw_ws_open 1";                       /* no final newline */

static char *merge(const struct workers_metrics_text *t, int n) {
    struct evbuffer *out = evbuffer_new();
    workers_metrics_merge(t, n, out);
    size_t len = evbuffer_get_length(out);
    char *s = malloc(len + 1);
    evbuffer_remove(out, s, len);
    s[len] = '\0';
    evbuffer_free(out);
    return s;
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++) n++;
    return n;
}

/* Prometheus wants a family's lines together, HELP and TYPE once. */
static void test_each_family_once_with_every_worker(void) {
    struct workers_metrics_text t[] = { { 0, w0, strlen(w0) }, { 1, w1, strlen(w1) } };
    char *s = merge(t, 2);
    CHECK_EQ_STR(s,
        "# HELP larkgw_events_received_total Events received.\n"
        "# TYPE larkgw_events_received_total counter\n"
        "larkgw_events_received_total{worker=\"0\"} 3\n"
        "larkgw_events_received_total{worker=\"1\"} 5\n"
        "# HELP larkgw_lua_memory_bytes Bytes a script's state uses.\n"
        "# TYPE larkgw_lua_memory_bytes gauge\n"
        "larkgw_lua_memory_bytes{worker=\"0\",script=\"a.lua\"} 100\n"
        "larkgw_lua_memory_bytes{worker=\"0\",script=\"b.lua\"} 200\n"
        "larkgw_lua_memory_bytes{worker=\"1\",script=\"a.lua\"} 150\n"
        "# HELP larkgw_ws_open Long connections open.\n"
        "# TYPE larkgw_ws_open gauge\n"
        "larkgw_ws_open{worker=\"1\"} 1\n");
    CHECK_EQ_INT(count(s, "# HELP"), 3);
    CHECK_NOT_CONTAINS(s, "a comment");
    free(s);
}

static void test_empty_labels_and_samples_without_help(void) {
    static const char text[] = "odd_metric{} 1\nbare 2\n";
    struct workers_metrics_text t[] = { { 3, text, strlen(text) } };
    char *s = merge(t, 1);
    CHECK_EQ_STR(s, "odd_metric{worker=\"3\"} 1\nbare{worker=\"3\"} 2\n");
    free(s);
}

static void test_no_workers_no_text(void) {
    char *s = merge(NULL, 0);
    CHECK_EQ_STR(s, "");
    free(s);
}

int main(void) {
    RUN(test_each_family_once_with_every_worker);
    RUN(test_empty_labels_and_samples_without_help);
    RUN(test_no_workers_no_text);
    return test_report();
}
