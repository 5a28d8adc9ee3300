#include "base/log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *level_names[] = { "DEBUG", "INFO", "WARN", "ERROR" };

/* Process-wide by nature: one log for the whole daemon, set once at start. */
static struct {
    enum log_level level;
    enum log_format format;
    FILE *out;
    int worker;               /* -1: not a worker; else tagged "wN" on every record */
} logger = { LOG_LEVEL_INFO, LOG_FORMAT_TEXT, NULL, -1 };

static FILE *log_out(void) { return logger.out ? logger.out : stderr; }

int log_setup(enum log_level level, enum log_format format, const char *path) {
    logger.level = level;
    logger.format = format;
    if (!path || !*path) return 0;
    /* 0600: payloads may be logged on request, and they are the users' messages. */
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    FILE *f = fdopen(fd, "a");
    if (!f) { close(fd); return -1; }
    setvbuf(f, NULL, _IOLBF, 0);
    log_close();
    logger.out = f;
    return 0;
}

void log_close(void) {
    if (logger.out) fclose(logger.out);
    logger.out = NULL;
}

int log_level_parse(const char *name) {
    static const char *names[] = { "debug", "info", "warn", "error" };
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

int log_enabled(enum log_level level) { return level >= logger.level; }

void log_set_worker(int index) { logger.worker = index < 0 ? -1 : index; }

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when s does not start one:
 * overlongs, surrogates and truncated sequences are not text and get escaped. */
static size_t utf8_len(const unsigned char *s) {
    unsigned char c = s[0];
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (n == 0 || c > 0xf4) return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if (c == 0xe0 && s[1] < 0xa0) return 0;              /* overlong */
    if (c == 0xed && s[1] >= 0xa0) return 0;             /* UTF-16 surrogate */
    if (c == 0xf0 && s[1] < 0x90) return 0;              /* overlong */
    if (c == 0xf4 && s[1] >= 0x90) return 0;             /* beyond U+10FFFF */
    return n;
}

/* Every record is one line whatever its text came from (a script's error, a peer's
 * header, a file name): newlines become "\\n", other control bytes, DEL and bytes that
 * are not UTF-8 become "\\xNN", so nobody can forge a second record or drive the
 * terminal. Tabs stay (Lua's print separates with them; they cannot end a line).
 * Truncates on a whole escape; out is always NUL-terminated. */
static void log_escape(const char *in, char *out, size_t len) {
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    while (*s) {
        size_t n = *s < 0x80 ? 1 : utf8_len(s);
        char esc[8];
        if (*s == '\n') {
            memcpy(esc, "\\n", 3);
            n = 1;
        } else if ((*s < 0x20 && *s != '\t') || *s == 0x7f || n == 0) {
            snprintf(esc, sizeof esc, "\\x%02x", *s);
            n = 1;
        } else {
            if (o + n >= len) break;
            memcpy(out + o, s, n);
            o += n;
            s += n;
            continue;
        }
        size_t e = strlen(esc);
        if (o + e >= len) break;
        memcpy(out + o, esc, e);
        o += e;
        s += n;
    }
    out[o] = '\0';
}

/* The text is already escaped: tabs are the only control bytes left. Returns the
 * bytes written to out (cut short, never past len - 1). */
static size_t json_escape(const char *s, char *out, size_t len) {
    size_t o = 0;
    for (; *s && o + 2 < len; s++) {
        if (*s == '\t' || *s == '"' || *s == '\\') out[o++] = '\\';
        out[o++] = *s == '\t' ? 't' : *s;
    }
    out[o] = '\0';
    return o;
}

/* The record is built whole and written with one write(): processes sharing the file
 * (workers, O_APPEND) or stderr never interleave inside a line. */
static void log_vwrite(enum log_level level, const char *module, const char *fmt,
                       va_list ap) {
    if (!log_enabled(level)) return;
    char raw[2048], msg[4 * sizeof raw], esc[2 * sizeof msg], line[sizeof esc + 256];
    char stamp[32], who[32] = "";
    vsnprintf(raw, sizeof raw, fmt, ap);
    log_escape(raw, msg, sizeof msg);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + n, sizeof stamp - n, ".%03dZ", (int)(tv.tv_usec / 1000));
    int len;
    if (logger.format == LOG_FORMAT_JSON) {
        if (logger.worker >= 0) snprintf(who, sizeof who, "\"worker\":%d,", logger.worker);
        json_escape(msg, esc, sizeof esc);
        len = snprintf(line, sizeof line,
                       "{\"ts\":\"%s\",\"level\":\"%s\",%s\"module\":\"%s\",\"msg\":\"%s\"}\n",
                       stamp, level_names[level], who, module, esc);
    } else {
        if (logger.worker >= 0) snprintf(who, sizeof who, "w%d ", logger.worker);
        len = snprintf(line, sizeof line, "%s %-5s %s%s: %s\n", stamp, level_names[level], who,
                       module, msg);
    }
    if (len < 0) return;
    if ((size_t)len >= sizeof line) {
        len = (int)sizeof line - 1;
        line[len - 1] = '\n';
    }
    FILE *f = log_out();
    fflush(f);
    ssize_t w = write(fileno(f), line, (size_t)len);
    (void)w;
}

void log_write(enum log_level level, const char *module, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, module, fmt, ap);
    va_end(ap);
}
