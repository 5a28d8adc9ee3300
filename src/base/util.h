/* Small helpers shared by every module. */
#ifndef LARKGW_BASE_UTIL_H
#define LARKGW_BASE_UTIL_H

#include <stddef.h>
#include <stdint.h>

struct cJSON;

/* Splits "host:port", "[::1]:port" or ":port" (host "0.0.0.0"); -1 if malformed.
 * Port 0 is allowed: the kernel picks one, and the listener logs it. */
int util_parse_hostport(const char *s, char *host, size_t hostlen, int *port);

/* 1 when host (no port, no brackets) is a loopback name or address: "localhost",
 * 127.0.0.0/8, "::1". Wildcards ("0.0.0.0", "::") and anything else are not. */
int util_host_is_loopback(const char *host);

/* Milliseconds, and microseconds, on the monotonic clock. */
uint64_t util_now_ms(void);
uint64_t util_now_us(void);
/* CPU time this thread has used, in microseconds (a system call: keep it off hot paths). */
uint64_t util_cpu_us(void);

/* Reads a whole file (at most max bytes) into a NUL-terminated malloc'd buffer;
 * NULL on error or when larger than max. */
char *util_read_file(const char *path, size_t max, size_t *len);

/* 1 if the comma-separated header value list holds token (case-insensitive, OWS trimmed). */
int util_list_has_token(const char *list, const char *token);

/* Copies untrusted text bound for a log line: printable ASCII only, anything else and '"'
 * (log lines quote such text) become '?'; bounded, NUL-terminated; in may be NULL or out. */
void util_printable(const char *in, char *out, size_t len);

/* Exactly one JSON value and nothing after it but whitespace; NULL otherwise. */
struct cJSON *util_json_parse_one(const char *s, size_t n);

#endif
