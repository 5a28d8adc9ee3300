#include "lua/tz.h"

#include "base/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TZ_MAX_FILE (256u << 10)
#define TZ_MAX_NAME 255
#define TZ_MAX_OFFSET (26 * 3600)  /* beyond any zone there has been (RFC 8536) */

/* One end of daylight time in a POSIX rule: Jn (1-365, no Feb 29), n (0-365) or
 * Mm.w.d (weekday d of week w, 5 = last, of month m), at `time` local seconds. */
struct tz_date {
    char kind;  /* 'J', 'n' or 'M' */
    int n, m, w, d;
    long time;
};

struct tz_rule {
    long std_off, dst_off;  /* seconds east of UTC */
    int has_dst;
    struct tz_date start, end;
};

struct tz {
    size_t ntrans;
    int64_t *trans;   /* transition instants, ascending */
    long *offs;       /* the offset from trans[i] on */
    long first_off;   /* before the first transition */
    int has_rule;
    struct tz_rule rule;  /* after the last transition */
};

int64_t tz_days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void tz_civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int tz_weekday(int64_t days) {
    int64_t w = (days + 4) % 7;  /* 1970-01-01 was a Thursday */
    return (int)(w < 0 ? w + 7 : w);
}

static int tz_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int tz_days_in_month(int64_t y, int m) {
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && tz_leap(y) ? 29 : days[m - 1];
}

static const char *rule_name(const char *p) {
    if (*p == '<') {
        const char *q = strchr(p, '>');
        return q && q - p >= 4 ? q + 1 : NULL;
    }
    const char *q = p;
    while (isalpha((unsigned char)*q)) q++;
    return q - p >= 3 ? q : NULL;
}

/* [+-]hh[:mm[:ss]] into seconds; hours up to 167 (RFC 8536 extension). */
static const char *rule_time(const char *p, long *out) {
    int sign = 1;
    if (*p == '+' || *p == '-') sign = *p++ == '-' ? -1 : 1;
    if (!isdigit((unsigned char)*p)) return NULL;
    long h = 0, m = 0, s = 0;
    while (isdigit((unsigned char)*p) && h < 1000) h = h * 10 + (*p++ - '0');
    if (h > 167) return NULL;
    for (long *part = &m; *p == ':' && part; part = part == &m ? &s : NULL) {
        p++;
        if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1])) return NULL;
        *part = (p[0] - '0') * 10 + (p[1] - '0');
        if (*part > 59) return NULL;
        p += 2;
    }
    *out = sign * (h * 3600 + m * 60 + s);
    return p;
}

static const char *rule_num(const char *p, int *out, int lo, int hi) {
    if (!isdigit((unsigned char)*p)) return NULL;
    int n = 0;
    while (isdigit((unsigned char)*p) && n <= hi) n = n * 10 + (*p++ - '0');
    if (n < lo || n > hi) return NULL;
    *out = n;
    return p;
}

static const char *rule_date(const char *p, struct tz_date *dt) {
    memset(dt, 0, sizeof *dt);
    if (*p == 'M') {
        dt->kind = 'M';
        if (!(p = rule_num(p + 1, &dt->m, 1, 12)) || *p++ != '.') return NULL;
        if (!(p = rule_num(p, &dt->w, 1, 5)) || *p++ != '.') return NULL;
        if (!(p = rule_num(p, &dt->d, 0, 6))) return NULL;
    } else if (*p == 'J') {
        dt->kind = 'J';
        if (!(p = rule_num(p + 1, &dt->n, 1, 365))) return NULL;
    } else {
        dt->kind = 'n';
        if (!(p = rule_num(p, &dt->n, 0, 365))) return NULL;
    }
    dt->time = 7200;
    if (*p == '/') p = rule_time(p + 1, &dt->time);
    return p;
}

static int rule_parse(const char *p, struct tz_rule *r) {
    memset(r, 0, sizeof *r);
    long off;
    if (!(p = rule_name(p)) || !(p = rule_time(p, &off))) return -1;
    r->std_off = -off;  /* POSIX counts west of Greenwich */
    if (!*p) return 0;
    if (!(p = rule_name(p))) return -1;
    r->has_dst = 1;
    r->dst_off = r->std_off + 3600;
    if (*p && *p != ',') {
        if (!(p = rule_time(p, &off))) return -1;
        r->dst_off = -off;
    }
    if (!*p) {  /* no dates: the US rules, as POSIX leaves it to the implementation */
        p = ",M3.2.0,M11.1.0";
    }
    if (*p++ != ',' || !(p = rule_date(p, &r->start))) return -1;
    if (*p++ != ',' || !(p = rule_date(p, &r->end))) return -1;
    return *p ? -1 : 0;
}

/* The local day (days since the epoch) a rule date falls on in year y. */
static int64_t rule_day(const struct tz_date *dt, int64_t y) {
    int64_t jan1 = tz_days_from_civil(y, 1, 1);
    if (dt->kind == 'J') return jan1 + dt->n - 1 + (tz_leap(y) && dt->n >= 60);
    if (dt->kind == 'n') return jan1 + dt->n;
    int64_t first = tz_days_from_civil(y, dt->m, 1);
    int day = 1 + (dt->d - tz_weekday(first) + 7) % 7 + (dt->w - 1) * 7;
    if (day > tz_days_in_month(y, dt->m)) day -= 7;
    return first + day - 1;
}

static long rule_offset(const struct tz_rule *r, int64_t t) {
    if (!r->has_dst) return r->std_off;
    int64_t y;
    int m, d;
    int64_t local = t + r->std_off;
    tz_civil_from_days(local >= 0 ? local / 86400 : (local - 86399) / 86400, &y, &m, &d);
    /* start is written in standard time, end in daylight time */
    int64_t start = rule_day(&r->start, y) * 86400 + r->start.time - r->std_off;
    int64_t end = rule_day(&r->end, y) * 86400 + r->end.time - r->dst_off;
    int dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    return dst ? r->dst_off : r->std_off;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p) {
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chars;
};

static size_t tzif_block(const struct tzif_counts *c, size_t tsize) {
    return c->time * tsize + c->time + c->type * 6 + c->chars + c->leap * (tsize + 4)
           + c->isstd + c->isut;
}

/* Reads the header at p; 0 and the counts, or -1. */
static int tzif_header(const unsigned char *p, size_t left, struct tzif_counts *c) {
    if (left < 44 || memcmp(p, "TZif", 4) != 0) return -1;
    uint32_t *f[] = { &c->isut, &c->isstd, &c->leap, &c->time, &c->type, &c->chars };
    for (int i = 0; i < 6; i++) *f[i] = be32(p + 20 + 4 * i);
    if (c->type == 0 || c->type > 256 || c->time > 100000 || c->leap > 10000 ||
        c->chars > 10000 || c->isut > 256 || c->isstd > 256)
        return -1;
    return 0;
}

static int tzif_data(struct tz *tz, const unsigned char *p, const struct tzif_counts *c,
                     size_t tsize) {
    const unsigned char *times = p, *idx = p + c->time * tsize, *types = idx + c->time;
    tz->trans = malloc((c->time ? c->time : 1) * sizeof *tz->trans);
    tz->offs = malloc((c->time ? c->time : 1) * sizeof *tz->offs);
    if (!tz->trans || !tz->offs) return -1;
    for (uint32_t i = 0; i < c->time; i++) {
        tz->trans[i] = tsize == 8 ? be64(times + 8 * i) : (int32_t)be32(times + 4 * i);
        if (idx[i] >= c->type || (i && tz->trans[i] <= tz->trans[i - 1])) return -1;
        tz->offs[i] = (int32_t)be32(types + 6 * idx[i]);
        if (tz->offs[i] < -TZ_MAX_OFFSET || tz->offs[i] > TZ_MAX_OFFSET) return -1;
    }
    tz->ntrans = c->time;
    tz->first_off = (int32_t)be32(types);
    return tz->first_off < -TZ_MAX_OFFSET || tz->first_off > TZ_MAX_OFFSET ? -1 : 0;
}

struct tz *tz_parse(const unsigned char *buf, size_t len) {
    struct tzif_counts c;
    if (tzif_header(buf, len, &c) < 0) return NULL;
    int version = buf[4] ? buf[4] - '0' : 1;
    size_t tsize = 4, pos = 44;
    if (version >= 2) {  /* skip the 32-bit block: the 64-bit one follows */
        pos += tzif_block(&c, 4);
        if (pos > len || tzif_header(buf + pos, len - pos, &c) < 0) return NULL;
        pos += 44;
        tsize = 8;
    }
    size_t block = tzif_block(&c, tsize);
    if (block > len - pos) return NULL;
    struct tz *tz = calloc(1, sizeof *tz);
    if (!tz || tzif_data(tz, buf + pos, &c, tsize) < 0) {
        tz_free(tz);
        return NULL;
    }
    pos += block;
    /* the footer: "\n" POSIX-rule "\n"; an empty rule says none */
    if (tsize == 8 && pos + 2 <= len && buf[pos] == '\n') {
        const unsigned char *nl = memchr(buf + pos + 1, '\n', len - pos - 1);
        char rule[128];
        size_t n = nl ? (size_t)(nl - buf - pos - 1) : 0;
        if (nl && n > 0 && n < sizeof rule) {
            memcpy(rule, buf + pos + 1, n);
            rule[n] = '\0';
            tz->has_rule = rule_parse(rule, &tz->rule) == 0;
        }
    }
    return tz;
}

struct tz *tz_posix(const char *rule) {
    struct tz *tz = calloc(1, sizeof *tz);
    if (!tz) return NULL;
    if (rule_parse(rule, &tz->rule) < 0) {
        free(tz);
        return NULL;
    }
    tz->has_rule = 1;
    tz->first_off = tz->rule.std_off;
    return tz;
}

static int tz_name_ok(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > TZ_MAX_NAME || name[0] == '/' || strstr(name, "..")) return 0;
    for (const char *c = name; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("/_-+", *c)) return 0;
    return 1;
}

struct tz *tz_load(const char *name, char *err, size_t errlen) {
    if (!tz_name_ok(name)) {
        snprintf(err, errlen, "unknown time zone \"%.64s\" (an IANA name like "
                 "\"Asia/Shanghai\" expected)", name);
        return NULL;
    }
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
    size_t len;
    unsigned char *buf = (unsigned char *)util_read_file(path, TZ_MAX_FILE, &len);
    struct tz *tz = buf ? tz_parse(buf, len) : NULL;
    free(buf);
    if (!tz)
        snprintf(err, errlen, "unknown time zone \"%s\" (no valid %s)", name, path);
    return tz;
}

void tz_free(struct tz *tz) {
    if (!tz) return;
    free(tz->trans);
    free(tz->offs);
    free(tz);
}

long tz_offset(const struct tz *tz, int64_t t) {
    if (!tz) return 0;
    if (tz->ntrans == 0 || t < tz->trans[0])
        return tz->ntrans == 0 && tz->has_rule ? rule_offset(&tz->rule, t) : tz->first_off;
    if (t >= tz->trans[tz->ntrans - 1] && tz->has_rule) return rule_offset(&tz->rule, t);
    size_t lo = 0, hi = tz->ntrans;  /* trans[lo] <= t < trans[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t) lo = mid;
        else hi = mid;
    }
    return tz->offs[lo];
}
