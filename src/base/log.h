/* Logging: one line per record, text or JSON, to stderr or a 0600 file.
 * Never pass a secret here; callers log host names and ids, not URLs with tickets. */
#ifndef LARKGW_BASE_LOG_H
#define LARKGW_BASE_LOG_H


enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/* Sets level, format and destination; path NULL means stderr. Returns 0, or -1 when
 * the file cannot be opened (the log stays on stderr). */
int log_setup(enum log_level level, enum log_format format, const char *path);
void log_close(void);

/* Parses "debug" | "info" | "warn" | "error"; returns -1 for anything else. */
int log_level_parse(const char *name);

int log_enabled(enum log_level level);

/* Tags every later record with the worker's index ("w1 module: ..." in text, a
 * "worker" field in JSON); -1 (the default) tags nothing. */
void log_set_worker(int index);

/* module is a short tag: "webhook", "lua", "ws"... One record is one line: the
 * formatted text has newlines written as "\\n" and other control bytes but tab, DEL and
 * bytes that are not UTF-8 as "\\xNN"; JSON records stay valid JSON. Long texts are cut. */
void log_write(enum log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(mod, ...) do { if (log_enabled(LOG_LEVEL_DEBUG)) log_write(LOG_LEVEL_DEBUG, mod, __VA_ARGS__); } while (0)
#define log_info(mod, ...)  log_write(LOG_LEVEL_INFO, mod, __VA_ARGS__)
#define log_warn(mod, ...)  log_write(LOG_LEVEL_WARN, mod, __VA_ARGS__)
#define log_error(mod, ...) log_write(LOG_LEVEL_ERROR, mod, __VA_ARGS__)

#endif
