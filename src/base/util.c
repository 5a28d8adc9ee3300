#include "base/util.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

int util_parse_hostport(const char *s, char *host, size_t hostlen, int *port) {
    const char *colon;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') return -1;
        hlen = (size_t)(close - s - 1);
        s++;
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) return -1;
        hlen = (size_t)(colon - s);
    }
    if (hlen >= hostlen) return -1;
    if (hlen == 0) snprintf(host, hostlen, "0.0.0.0");
    else {
        memcpy(host, s, hlen);
        host[hlen] = '\0';
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || p < 0 || p > 65535) return -1;
    *port = (int)p;
    return 0;
}

int util_host_is_loopback(const char *host) {
    struct in_addr a4;
    struct in6_addr a6;
    if (strcasecmp(host, "localhost") == 0) return 1;
    if (inet_pton(AF_INET, host, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

uint64_t util_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t util_now_ms(void) { return util_now_us() / 1000; }

uint64_t util_cpu_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

char *util_read_file(const char *path, size_t max, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            char *nb = realloc(buf, cap + 1);
            if (!nb) goto fail;
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n > max) goto fail;
        if (r == 0) break;
    }
    if (ferror(f)) goto fail;
    fclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
fail:
    free(buf);
    fclose(f);
    return NULL;
}

int util_list_has_token(const char *list, const char *token) {
    size_t tlen = strlen(token);
    const char *v = list;
    while (*v) {
        while (*v == ' ' || *v == '\t' || *v == ',') v++;
        size_t n = strcspn(v, ","), m = n;
        while (m && (v[m - 1] == ' ' || v[m - 1] == '\t')) m--;
        if (m == tlen && strncasecmp(v, token, tlen) == 0) return 1;
        v += n;
    }
    return 0;
}

void util_printable(const char *in, char *out, size_t len) {
    size_t i = 0;
    if (!len) return;
    for (; in && in[i] && i + 1 < len; i++)
        out[i] = (in[i] >= ' ' && in[i] < 0x7f && in[i] != '"') ? in[i] : '?';
    out[i] = '\0';
}

cJSON *util_json_parse_one(const char *s, size_t n) {
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    /* cJSON stops after the first value; anything but whitespace after it is garbage */
    while (root && end < s + n && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
        end++;
    if (root && end != s + n) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}
