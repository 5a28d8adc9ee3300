/* Cron specs for lark.cron: a parser and a next-run calculator. Pure: a spec, a zone
 * and an instant in, the next instant out; no I/O, no clock, no global state.
 *
 * A spec is five fields, minute hour day-of-month month day-of-week, each a list of
 * `*`, `n` or `a-b`, optionally `/step` (`*` + `/5`, `9-18`, `1,15`, `10/20` = 10-59/20);
 * months and weekdays also by name (`jan`-`dec`, `sun`-`sat`, any case), weekday 7 is
 * Sunday too; or a macro: @yearly (@annually), @monthly, @weekly, @daily (@midnight),
 * @hourly. As in Vixie cron, when both day fields are restricted (neither starts with
 * `*`), a day matching either runs.
 *
 * Times are local to the zone. Daylight saving: a local time that does not exist (the
 * hour skipped in spring) runs once, at the first instant after the gap; a local time
 * that happens twice (the hour repeated in autumn) runs once, at its first occurrence.
 * Private to src/lua/. */
#ifndef LARKGW_LUA_CRON_H
#define LARKGW_LUA_CRON_H

#include <stddef.h>
#include <stdint.h>

struct tz;

struct cron {
    uint64_t minutes;   /* bit n: minute n */
    uint32_t hours;     /* bit n: hour n */
    uint32_t days;      /* bit n: day of month n (1-31) */
    uint16_t months;    /* bit n: month n (1-12) */
    uint8_t weekdays;   /* bit n: weekday n (Sunday 0) */
    unsigned char days_star, weekdays_star;  /* the field started with `*` */
};

/* Parses spec into *out. 0, or -1 with the reason in err ("hour: 24 is out of range
 * 0-23", "day-of-month 31 never happens in month 2"): a spec that can never match
 * is refused too. */
int cron_parse(const char *spec, struct cron *out, char *err, size_t errlen);

/* The first instant strictly after `after` (seconds since the epoch) the spec matches in
 * zone tz (NULL: UTC), with the daylight saving rules above; -1 when none comes within
 * ten years (cannot happen for a spec cron_parse accepted) or `after` is more than 2^40
 * seconds away from the epoch. */
int64_t cron_next(const struct cron *c, const struct tz *tz, int64_t after);

#endif
