#include "base/log.h"

#include <fcntl.h>
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
} logger = { LOG_LEVEL_INFO, LOG_FORMAT_TEXT, NULL };

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

static void json_escape(FILE *f, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
}

void log_vwrite(enum log_level level, const char *module, const char *fmt, va_list ap) {
    if (!log_enabled(level)) return;
    char msg[2048], stamp[32];
    vsnprintf(msg, sizeof msg, fmt, ap);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + n, sizeof stamp - n, ".%03dZ", (int)(tv.tv_usec / 1000));
    FILE *f = log_out();
    if (logger.format == LOG_FORMAT_JSON) {
        fprintf(f, "{\"ts\":\"%s\",\"level\":\"%s\",\"module\":\"%s\",\"msg\":\"",
                stamp, level_names[level], module);
        json_escape(f, msg);
        fputs("\"}\n", f);
    } else {
        fprintf(f, "%s %-5s %s: %s\n", stamp, level_names[level], module, msg);
    }
    fflush(f);
}

void log_write(enum log_level level, const char *module, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, module, fmt, ap);
    va_end(ap);
}
