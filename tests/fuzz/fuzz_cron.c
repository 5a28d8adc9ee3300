/* Fuzzes the cron parser and next-run calculator (src/lua/cron.c) and the zone reader
 * (src/lua/tz.c). Input layout:
 *   byte 0: bits 0-1 pick what the rest is: 0-1 a cron spec, 2 TZif bytes, 3 a POSIX TZ
 *           rule; bits 2-4 pick the zone for a spec (UTC, Berlin, New York, Shanghai, a
 *           POSIX rule for Sydney)
 *   bytes 1-8: an instant (little-endian seconds, folded into +-2^36)
 *   the rest: the text or bytes.
 * A spec that parses must give, from a real zone, a next run after the instant (or -1),
 * and asking again from one second before that run must give the same run: the first
 * match after the instant is unique. Zones from fuzzed bytes must only never crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lua/cron.h"
#include "lua/tz.h"

#define NZONES 5

static struct tz *zones[NZONES];

static void zones_load(void) {
    static int loaded;
    static const char *const names[] = { "Europe/Berlin", "America/New_York", "Asia/Shanghai" };
    char err[256];
    if (loaded) return;
    loaded = 1;
    zones[0] = NULL;  /* UTC */
    for (int i = 0; i < 3; i++) zones[i + 1] = tz_load(names[i], err, sizeof err);
    zones[4] = tz_posix("AEST-10AEDT,M10.1.0,M4.1.0/3");
}

static int64_t instant(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return (int64_t)(v % (UINT64_C(1) << 37)) - (INT64_C(1) << 36);
}

static void fuzz_spec(const char *spec, const struct tz *tz, int64_t t) {
    struct cron c;
    char err[256];
    if (cron_parse(spec, &c, err, sizeof err) < 0) {
        if (!err[0]) abort();  /* a refusal always says why */
        return;
    }
    int64_t next = cron_next(&c, tz, t);
    if (next == -1) return;
    if (next <= t) abort();
    if (cron_next(&c, tz, next - 1) != next) abort();
}

static void fuzz_zone(struct tz *tz, int64_t t) {
    struct cron c;
    char err[256];
    if (!tz) return;
    (void)tz_offset(tz, t);
    if (cron_parse("*/7 1-3 * * *", &c, err, sizeof err) == 0) (void)cron_next(&c, tz, t);
    tz_free(tz);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 9) return 0;
    zones_load();
    int64_t t = instant(data + 1);
    const uint8_t *rest = data + 9;
    size_t n = size - 9;
    char *text = malloc(n + 1);
    if (!text) return 0;
    memcpy(text, rest, n);
    text[n] = '\0';
    switch (data[0] & 3) {
    case 2:
        fuzz_zone(tz_parse(rest, n), t);
        break;
    case 3:
        fuzz_zone(tz_posix(text), t);
        break;
    default:
        fuzz_spec(text, zones[(data[0] >> 2 & 7) % NZONES], t);
    }
    free(text);
    return 0;
}
