/* Time zones for schedules: the UT offset in effect at an instant, read from the
 * system's zone database (TZif files, RFC 8536) by a small reader of our own.
 *
 * Why not localtime_r/mktime: they follow the process-wide TZ, and switching it with
 * setenv is global and racy. A struct tz is plain data (transitions, offsets and the
 * POSIX rule that continues them past the last transition), so lookups are pure and
 * reentrant, and any number of zones can be used at once. Private to src/lua/.
 *
 * Also here: the proleptic Gregorian calendar arithmetic cron.c builds on. */
#ifndef LARKGW_LUA_TZ_H
#define LARKGW_LUA_TZ_H

#include <stddef.h>
#include <stdint.h>

struct tz;

/* Loads an IANA zone ("Asia/Shanghai", "UTC") from $TZDIR or /usr/share/zoneinfo.
 * The name must be relative, without "..". NULL with the reason in err. The caller
 * frees the zone with tz_free. */
struct tz *tz_load(const char *name, char *err, size_t errlen);

/* Parses the bytes of a TZif file (versions 1 to 4); NULL when malformed. No I/O. */
struct tz *tz_parse(const unsigned char *buf, size_t len);

/* A zone from a POSIX TZ rule alone ("CET-1CEST,M3.5.0,M10.5.0/3", "UTC0"); NULL when
 * the rule does not parse. */
struct tz *tz_posix(const char *rule);

void tz_free(struct tz *tz);

/* Seconds east of UTC in effect at instant t (seconds since the epoch); tz NULL: UTC. */
long tz_offset(const struct tz *tz, int64_t t);

/* Days since 1970-01-01 of a civil date (month 1-12, day 1-31), and back; weekday of a
 * day count, Sunday 0. Valid over the whole int64 range cron uses. */
int64_t tz_days_from_civil(int64_t y, int m, int d);
void tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
int tz_weekday(int64_t days);
int tz_days_in_month(int64_t y, int m);

#endif
