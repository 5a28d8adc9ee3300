/* Small helpers shared by every module. */
#ifndef LARKGW_CORE_UTIL_H
#define LARKGW_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Splits "host:port", "[::1]:port" or ":port" (host "0.0.0.0"); -1 if malformed.
 * Port 0 is allowed: the kernel picks one, and the listener logs it. */
int util_parse_hostport(const char *s, char *host, size_t hostlen, int *port);

/* Milliseconds on the monotonic clock. */
uint64_t util_now_ms(void);

/* Reads a whole file (at most max bytes) into a NUL-terminated malloc'd buffer;
 * NULL on error or when larger than max. */
char *util_read_file(const char *path, size_t max, size_t *len);

/* The directory holding the running executable, or "." when unknown. */
void util_exe_dir(char *out, size_t len);

#endif
