#include "lua/cron.h"

#include "lua/tz.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CRON_SEARCH_DAYS (366 * 10)
#define CRON_MAX_INSTANT (INT64_C(1) << 40)  /* some 35,000 years: no overflow below */

struct cron_field {
    const char *name;
    int lo, hi;
    const char *const *names;  /* names[i] stands for lo + i; NULL: numbers only */
};

static const char *const month_names[] = {
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL,
};
static const char *const weekday_names[] = {
    "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL,
};

static const struct cron_field fields[] = {
    { "minute", 0, 59, NULL },
    { "hour", 0, 23, NULL },
    { "day-of-month", 1, 31, NULL },
    { "month", 1, 12, month_names },
    { "day-of-week", 0, 7, weekday_names },
};

static const struct { const char *name, *spec; } macros[] = {
    { "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
    { "@weekly", "0 0 * * 0" }, { "@daily", "0 0 * * *" }, { "@midnight", "0 0 * * *" },
    { "@hourly", "0 * * * *" },
};

/* A number or (for months and weekdays) a three-letter name; the end, or NULL. */
static const char *cron_value(const char *p, const char *end, const struct cron_field *f,
                              int *out) {
    if (isdigit((unsigned char)*p)) {
        int n = 0;
        while (p < end && isdigit((unsigned char)*p) && n < 1000) n = n * 10 + (*p++ - '0');
        *out = n;
        return p;
    }
    for (int i = 0; f->names && f->names[i]; i++)
        if (end - p >= 3 && strncasecmp(p, f->names[i], 3) == 0 &&
            (end - p == 3 || !isalpha((unsigned char)p[3]))) {
            *out = f->lo + i;
            return p + 3;
        }
    return NULL;
}

/* One comma-separated item [p, end) of field f into *bits. */
static int cron_item(const char *p, const char *end, const struct cron_field *f,
                     uint64_t *bits, char *err, size_t errlen) {
    int lo = f->lo, hi = f->hi, step = 1, single = 0;
    const char *start = p;
    if (*p == '*') {
        p++;
    } else {
        if (!(p = cron_value(p, end, f, &lo))) goto bad;
        hi = lo;
        single = 1;
        if (p < end && *p == '-') {
            if (!(p = cron_value(p + 1, end, f, &hi))) goto bad;
            single = 0;
        }
    }
    if (p < end && *p == '/') {
        if (!(p = cron_value(p + 1, end, &fields[0], &step)) || step < 1) goto bad;
        if (single) hi = f->hi;  /* `a/step`: from a to the end */
    }
    if (p != end) goto bad;
    if (lo < f->lo || hi > f->hi || lo > hi) {
        snprintf(err, errlen, "%s: \"%.*s\" is out of range %d-%d", f->name,
                 (int)(end - start), start, f->lo, f->hi);
        return -1;
    }
    for (int v = lo; v <= hi; v += step) *bits |= 1ull << v;
    return 0;
bad:
    snprintf(err, errlen, "%s: cannot read \"%.*s\"", f->name, (int)(end - start), start);
    return -1;
}

static int cron_field_parse(const char *p, const char *end, const struct cron_field *f,
                            uint64_t *bits, char *err, size_t errlen) {
    *bits = 0;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *item_end = comma ? comma : end;
        if (item_end == p || cron_item(p, item_end, f, bits, err, errlen) < 0) {
            if (item_end == p) snprintf(err, errlen, "%s: empty list item", f->name);
            return -1;
        }
        p = comma ? comma + 1 : end;
        if (comma && p == end) {
            snprintf(err, errlen, "%s: empty list item", f->name);
            return -1;
        }
    }
    return 0;
}

/* With only the day of month restricted, some chosen month must have a chosen day. */
static int cron_possible(const struct cron *c, char *err, size_t errlen) {
    if (!c->days_star && !c->weekdays_star) return 0;
    for (int m = 1; m <= 12; m++)
        if ((c->months >> m & 1) &&
            (c->days & ((2ull << (m == 2 ? 29 : tz_days_in_month(1, m))) - 2)))
            return 0;
    snprintf(err, errlen, "day-of-month: none of the days chosen happens in the months "
             "chosen");
    return -1;
}

int cron_parse(const char *spec, struct cron *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    while (isspace((unsigned char)*spec)) spec++;
    for (size_t i = 0; spec[0] == '@' && i < sizeof macros / sizeof macros[0]; i++) {
        size_t n = strlen(macros[i].name);
        if (strncasecmp(spec, macros[i].name, n) == 0 &&
            (!spec[n] || isspace((unsigned char)spec[n]))) {
            const char *rest = spec + n;
            while (isspace((unsigned char)*rest)) rest++;
            if (*rest) break;
            return cron_parse(macros[i].spec, out, err, errlen);
        }
    }
    if (spec[0] == '@') {
        snprintf(err, errlen, "unknown macro \"%.32s\" (@yearly, @monthly, @weekly, @daily, "
                 "@hourly)", spec);
        return -1;
    }
    uint64_t bits[5];
    const char *p = spec;
    for (int i = 0; i < 5; i++) {
        while (isspace((unsigned char)*p)) p++;
        const char *end = p;
        while (*end && !isspace((unsigned char)*end)) end++;
        if (end == p) {
            snprintf(err, errlen, "%d fields, 5 expected (minute hour day-of-month month "
                     "day-of-week)", i);
            return -1;
        }
        if (cron_field_parse(p, end, &fields[i], &bits[i], err, errlen) < 0) return -1;
        if (i == 2) out->days_star = *p == '*';
        if (i == 4) out->weekdays_star = *p == '*';
        p = end;
    }
    while (isspace((unsigned char)*p)) p++;
    if (*p) {
        snprintf(err, errlen, "more than 5 fields (minute hour day-of-month month "
                 "day-of-week)");
        return -1;
    }
    out->minutes = bits[0];
    out->hours = (uint32_t)bits[1];
    out->days = (uint32_t)bits[2];
    out->months = (uint16_t)bits[3];
    out->weekdays = (uint8_t)((bits[4] | bits[4] >> 7) & 0x7f);  /* 7 is Sunday */
    return cron_possible(out, err, errlen);
}

static int cron_day_matches(const struct cron *c, int day, int weekday) {
    int dom = (int)(c->days >> day & 1), dow = c->weekdays >> weekday & 1;
    return c->days_star || c->weekdays_star ? dom && dow : dom || dow;
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

/* The first local wall time (seconds, as if the zone were UTC) at or after `from`, which
 * is on a minute boundary, matching the spec; -1 when none within the search bound. */
static int64_t cron_next_local(const struct cron *c, int64_t from) {
    int64_t days = floor_div(from, 86400);
    int h = (int)(from - days * 86400) / 3600, m = (int)(from - days * 86400) % 3600 / 60;
    for (int i = 0; i < CRON_SEARCH_DAYS; i++, days++, h = 0, m = 0) {
        int64_t y;
        int mon, d;
        tz_civil_from_days(days, &y, &mon, &d);
        if (!(c->months >> mon & 1) || !cron_day_matches(c, d, tz_weekday(days))) continue;
        for (; h < 24; h++, m = 0) {
            if (!(c->hours >> h & 1)) continue;
            for (; m < 60; m++)
                if (c->minutes >> m & 1) return days * 86400 + h * 3600 + m * 60;
        }
    }
    return -1;
}

/* The instant a local wall time stands for: its first occurrence when the clock went
 * back over it, the end of the gap when the clock jumped over it. */
static int64_t cron_resolve(const struct tz *tz, int64_t local) {
    long offs[4] = { tz_offset(tz, local - 129600), tz_offset(tz, local),
                     tz_offset(tz, local + 129600), 0 };
    offs[3] = tz_offset(tz, local - offs[1]);
    int64_t best = INT64_MAX;
    long lo = offs[0], hi = offs[0];
    for (int i = 0; i < 4; i++) {
        int64_t u = local - offs[i];
        if (u + tz_offset(tz, u) == local && u < best) best = u;
        if (offs[i] < lo) lo = offs[i];
        if (offs[i] > hi) hi = offs[i];
    }
    if (best != INT64_MAX) return best;
    /* in a gap: the transition lies in (local - hi, local - lo] */
    int64_t a = local - hi, b = local - lo;
    long after = tz_offset(tz, b);
    while (b - a > 1) {
        int64_t mid = a + (b - a) / 2;
        if (tz_offset(tz, mid) == after) b = mid;
        else a = mid;
    }
    return b;
}

int64_t cron_next(const struct cron *c, const struct tz *tz, int64_t after) {
    if (after < -CRON_MAX_INSTANT || after > CRON_MAX_INSTANT) return -1;
    int64_t local = after + tz_offset(tz, after);
    int64_t from = floor_div(local, 60) * 60 + 60;
    /* local times whose instant is not after `after` (the second pass through a repeated
     * hour) are skipped; a repeated hour has at most a few hundred minutes */
    for (int tries = 0; tries < 2000; tries++) {
        int64_t next = cron_next_local(c, from);
        if (next < 0) return -1;
        int64_t u = cron_resolve(tz, next);
        if (u > after) return u;
        from = next + 60;
    }
    return -1;
}
