/* Cost of one next-run computation (src/lua/cron.c) in America/New_York for a few
 * specs, from instants spread over a year. A job computes one per run, so this bounds
 * what a schedule costs beyond the run itself.
 *   cc -O2 -D_GNU_SOURCE -Isrc -o /tmp/cron_next bench/cron_next.c src/lua/cron.c \
 *      src/lua/tz.c src/base/util.c $(pkg-config --cflags --libs libcjson) && /tmp/cron_next */
#include <stdio.h>
#include <time.h>

#include "lua/cron.h"
#include "lua/tz.h"

int main(void) {
    static const char *const specs[] = { "*/5 9-18 * * 1-5", "0 10 * * 1-5", "30 2 * * *",
                                         "0 0 29 2 *" };
    char err[256];
    struct tz *tz = tz_load("America/New_York", err, sizeof err);
    if (!tz) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        struct cron c;
        if (cron_parse(specs[k], &c, err, sizeof err) < 0) return 1;
        struct timespec a, b;
        long long sink = 0;
        const int n = 200000;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int i = 0; i < n; i++) sink += cron_next(&c, tz, 1764633600 + (long long)i * 157);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3 / n;
        printf("%-18s %6.2f us per cron_next (%lld)\n", specs[k], us, sink % 7);
    }
    tz_free(tz);
    return 0;
}
