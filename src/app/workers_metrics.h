/* /metrics of a supervisor: the workers' Prometheus texts merged into one, each
 * sample labelled with the worker it came from. Text in, text out: no I/O. */
#ifndef LARKGW_APP_WORKERS_METRICS_H
#define LARKGW_APP_WORKERS_METRICS_H

#include <stddef.h>

struct evbuffer;

/* One worker's /metrics text (borrowed). */
struct workers_metrics_text {
    int worker;
    const char *text;
    size_t len;
};

/* Appends to out each metric family once, in the order first seen: its HELP and TYPE
 * lines (the first worker's that had them), then every worker's samples with
 * worker="i" as the first label: name{worker="1",script="a.lua"} 42. Comment lines
 * other than HELP/TYPE and blank lines are dropped. */
void workers_metrics_merge(const struct workers_metrics_text *texts, int n,
                           struct evbuffer *out);

#endif
