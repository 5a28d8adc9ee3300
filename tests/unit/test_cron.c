/* The cron parser and next-run calculator (src/lua/cron.c) against a table of specs and
 * instants, daylight saving transitions of Asia/Shanghai (1991), America/New_York and
 * Europe/Berlin included, and the zone reader it uses (src/lua/tz.c). */
#include "test.h"

#include <stdlib.h>

#include "lua/cron.h"
#include "lua/tz.h"

/* "2026-12-02T08:59" (UTC) in seconds since the epoch. */
static int64_t at(const char *iso) {
    int y, mo, d, h, mi;
    if (sscanf(iso, "%d-%d-%dT%d:%d", &y, &mo, &d, &h, &mi) != 5) abort();
    return tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

static void iso(int64_t t, char *out, size_t len) {
    int64_t y;
    int m, d;
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400, s = t - days * 86400;
    tz_civil_from_days(days, &y, &m, &d);
    snprintf(out, len, "%04lld-%02d-%02dT%02d:%02d", (long long)y, m, d, (int)(s / 3600),
             (int)(s % 3600 / 60));
}

struct next_case {
    const char *spec, *zone, *after, *want;
};

static const struct next_case next_cases[] = {
    { "*/5 9-18 * * 1-5", NULL, "2026-12-02T08:59", "2026-12-02T09:00" },
    { "*/5 9-18 * * 1-5", NULL, "2026-12-02T09:00", "2026-12-02T09:05" },
    { "*/5 9-18 * * 1-5", NULL, "2026-12-04T18:55", "2026-12-07T09:00" },
    { "@hourly", NULL, "2026-12-02T10:00", "2026-12-02T11:00" },
    { "@weekly", NULL, "2026-12-02T10:00", "2026-12-06T00:00" },
    { "@monthly", NULL, "2026-12-02T10:00", "2027-01-01T00:00" },
    { "@yearly", NULL, "2026-12-02T10:00", "2027-01-01T00:00" },
    { "0 0 29 2 *", NULL, "2026-01-01T00:00", "2028-02-29T00:00" },
    { "0 12 13 * 5", NULL, "2026-12-02T12:00", "2026-12-04T12:00" },  /* 13th OR Friday */
    { "0 12 */2 * 5", NULL, "2026-12-02T12:00", "2026-12-11T12:00" }, /* odd day AND Fri */
    { "0 0 1 jan,JUL *", NULL, "2026-12-02T00:00", "2027-01-01T00:00" },
    { "0 9 * * 7", NULL, "2026-12-02T00:00", "2026-12-06T09:00" },    /* 7 is Sunday */
    { "10/20 * * * *", NULL, "2026-12-02T00:31", "2026-12-02T00:50" },
    { "0 9 * * mon-fri", "Asia/Shanghai", "2026-12-02T00:00", "2026-12-02T01:00" },
    { "0 9 * * mon-fri", "Asia/Shanghai", "2026-12-04T01:00", "2026-12-07T01:00" },
    { "@daily", "Europe/Berlin", "2026-12-02T12:00", "2026-12-02T23:00" },
    /* New York, spring: 02:00-02:59 does not exist on 2026-03-08 (07:00Z) */
    { "30 2 * * *", "America/New_York", "2026-03-07T12:00", "2026-03-08T07:00" },
    { "30 2 * * *", "America/New_York", "2026-03-08T07:00", "2026-03-09T06:30" },
    { "*/15 * * * *", "America/New_York", "2026-03-08T06:50", "2026-03-08T07:00" },
    { "*/15 * * * *", "America/New_York", "2026-03-08T07:00", "2026-03-08T07:15" },
    /* New York, autumn: 01:00-01:59 happens twice on 2026-11-01; only the first runs */
    { "30 1 * * *", "America/New_York", "2026-10-31T12:00", "2026-11-01T05:30" },
    { "30 1 * * *", "America/New_York", "2026-11-01T05:30", "2026-11-02T06:30" },
    { "*/15 * * * *", "America/New_York", "2026-11-01T05:45", "2026-11-01T07:00" },
    { "*/15 * * * *", "America/New_York", "2026-11-01T06:10", "2026-11-01T07:00" },
    /* past the transitions listed in the file: the zone's POSIX rule */
    { "30 2 * * *", "America/New_York", "2040-03-10T12:00", "2040-03-11T07:00" },
    { "0 12 * * *", "America/New_York", "2040-07-01T00:00", "2040-07-01T16:00" },
    { "30 1 * * *", "America/New_York", "2040-11-03T12:00", "2040-11-04T05:30" },
    /* Berlin: the gap is 02:00-02:59 on 2026-03-29, the repeat 02:00-02:59 on 10-25 */
    { "0 2 * * *", "Europe/Berlin", "2026-03-28T12:00", "2026-03-29T01:00" },
    { "30 2 * * *", "Europe/Berlin", "2026-10-24T12:00", "2026-10-25T00:30" },
    { "30 2 * * *", "Europe/Berlin", "2026-10-25T00:30", "2026-10-26T01:30" },
    { "30 2 * * *", "Europe/Berlin", "2040-10-27T12:00", "2040-10-28T00:30" },
    /* Shanghai kept daylight time in 1991: 02:00 jumped to 03:00 on 04-14 */
    { "30 2 * * *", "Asia/Shanghai", "1991-04-13T12:00", "1991-04-13T18:00" },
    { "30 1 * * *", "Asia/Shanghai", "1991-09-14T12:00", "1991-09-14T16:30" },
    { "30 1 * * *", "Asia/Shanghai", "1991-09-14T16:30", "1991-09-15T17:30" },
};

static void test_next_table(void) {
    for (size_t i = 0; i < sizeof next_cases / sizeof next_cases[0]; i++) {
        const struct next_case *c = &next_cases[i];
        char err[256] = "", got[32] = "none";
        struct cron cr;
        struct tz *tz = NULL;
        if (c->zone) {
            tz = tz_load(c->zone, err, sizeof err);
            CHECK(tz != NULL);
        }
        CHECK_EQ_INT(cron_parse(c->spec, &cr, err, sizeof err), 0);
        int64_t next = cron_next(&cr, tz, at(c->after));
        if (next >= 0) iso(next, got, sizeof got);
        if (strcmp(got, c->want) != 0)
            fprintf(stderr, "case %zu: \"%s\" in %s after %s\n", i, c->spec,
                    c->zone ? c->zone : "UTC", c->after);
        CHECK_EQ_STR(got, c->want);
        tz_free(tz);
    }
}

static void test_parse_errors(void) {
    static const struct { const char *spec, *want; } bad[] = {
        { "* * * *", "4 fields, 5 expected" },
        { "* * * * * *", "more than 5 fields" },
        { "60 * * * *", "minute: \"60\" is out of range 0-59" },
        { "* 24 * * *", "hour: \"24\" is out of range 0-23" },
        { "* * 0 * *", "day-of-month: \"0\" is out of range 1-31" },
        { "* * * 13 *", "month" },
        { "* * * * 8", "day-of-week" },
        { "* * * foo *", "month: cannot read \"foo\"" },
        { "*/0 * * * *", "minute: cannot read" },
        { "1,,2 * * * *", "empty list item" },
        { "1, * * * *", "empty list item" },
        { "5-1 * * * *", "out of range" },
        { "0 0 30 2 *", "none of the days chosen" },
        { "@often", "unknown macro" },
        { "@daily 5", "unknown macro" },
        { "", "0 fields" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        struct cron c;
        CHECK_EQ_INT(cron_parse(bad[i].spec, &c, err, sizeof err), -1);
        CHECK_CONTAINS(err, bad[i].want);
    }
}

static void test_parse_fields(void) {
    char err[256];
    struct cron c;
    CHECK_EQ_INT(cron_parse("  0,30 9-17/2 1 jan-mar SUN,sat  ", &c, err, sizeof err), 0);
    CHECK(c.minutes == (1ull | 1ull << 30));
    CHECK(c.hours == (1u << 9 | 1u << 11 | 1u << 13 | 1u << 15 | 1u << 17));
    CHECK(c.days == 1u << 1);
    CHECK(c.months == (1u << 1 | 1u << 2 | 1u << 3));
    CHECK(c.weekdays == (1u << 0 | 1u << 6));
    CHECK(!c.days_star && !c.weekdays_star);
    CHECK_EQ_INT(cron_parse("0 0 31 2,3 *", &c, err, sizeof err), 0);  /* March has a 31st */
    CHECK_EQ_INT(cron_parse("0 0 30 2 mon", &c, err, sizeof err), 0);  /* Mondays in Feb */
    CHECK_EQ_INT(cron_parse("@Daily", &c, err, sizeof err), 0);
}

static void test_zones(void) {
    char err[256] = "";
    CHECK(tz_load("../../etc/passwd", err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "unknown time zone");
    CHECK(tz_load("/etc/localtime", err, sizeof err) == NULL);
    CHECK(tz_load("Mars/Olympus_Mons", err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "Mars/Olympus_Mons");
    struct tz *utc = tz_load("UTC", err, sizeof err);
    CHECK(utc != NULL);
    CHECK_EQ_INT(tz_offset(utc, at("2026-07-01T00:00")), 0);
    tz_free(utc);
    CHECK(tz_parse((const unsigned char *)"TZif2garbage", 12) == NULL);
    struct tz *cet = tz_posix("CET-1CEST,M3.5.0,M10.5.0/3");
    CHECK(cet != NULL);
    CHECK_EQ_INT(tz_offset(cet, at("2026-01-15T00:00")), 3600);
    CHECK_EQ_INT(tz_offset(cet, at("2026-03-29T00:59")), 3600);
    CHECK_EQ_INT(tz_offset(cet, at("2026-03-29T01:00")), 7200);
    CHECK_EQ_INT(tz_offset(cet, at("2026-10-25T00:59")), 7200);
    CHECK_EQ_INT(tz_offset(cet, at("2026-10-25T01:00")), 3600);
    tz_free(cet);
    struct tz *south = tz_posix("<-03>3<-02>,M9.1.6/24,M4.1.6/24");  /* southern summer */
    CHECK(south != NULL);
    CHECK_EQ_INT(tz_offset(south, at("2026-01-15T00:00")), -7200);
    CHECK_EQ_INT(tz_offset(south, at("2026-06-15T00:00")), -10800);
    tz_free(south);
    CHECK(tz_posix("nonsense") == NULL);
    CHECK(tz_posix("EST5EDT,M3.2.0") == NULL);
}

static void test_calendar(void) {
    int64_t y;
    int m, d;
    CHECK_EQ_INT(tz_days_from_civil(1970, 1, 1), 0);
    CHECK_EQ_INT(tz_weekday(0), 4);
    CHECK_EQ_INT(tz_weekday(-1), 3);
    tz_civil_from_days(tz_days_from_civil(2000, 2, 29), &y, &m, &d);
    CHECK(y == 2000 && m == 2 && d == 29);
    tz_civil_from_days(-1, &y, &m, &d);
    CHECK(y == 1969 && m == 12 && d == 31);
    CHECK_EQ_INT(tz_days_in_month(2100, 2), 28);
    CHECK_EQ_INT(tz_days_in_month(2400, 2), 29);
}

int main(void) {
    RUN(test_next_table);
    RUN(test_parse_errors);
    RUN(test_parse_fields);
    RUN(test_zones);
    RUN(test_calendar);
    return test_report();
}
