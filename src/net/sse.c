#include "net/sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSE_DEFAULT_MAX (1u << 20)

void sse_init(struct sse *p, size_t max_event) {
    memset(p, 0, sizeof *p);
    p->max_event = max_event ? max_event : SSE_DEFAULT_MAX;
    p->retry_ms = -1;
}

void sse_free(struct sse *p) {
    free(p->in);
    free(p->data);
    p->in = p->data = NULL;
}

static int fail(struct sse *p, const char *why) {
    p->error = why;
    return SSE_ERROR;
}

static int grow(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need) n *= 2;
    char *b = realloc(*buf, n);
    if (!b) return -1;
    *buf = b;
    *cap = n;
    return 0;
}

int sse_feed(struct sse *p, const char *buf, size_t len) {
    if (p->error) return SSE_ERROR;
    if (p->pos) {                       /* parsed bytes go: the buffer holds one line at most */
        memmove(p->in, p->in + p->pos, p->len - p->pos);
        p->len -= p->pos;
        p->pos = 0;
    }
    /* a partial line is at most max_event; what follows its end may be any size */
    if (p->len > p->max_event && !memchr(p->in, '\n', p->len) && !memchr(p->in, '\r', p->len))
        return fail(p, "event stream line too long");
    if (grow(&p->in, &p->cap, p->len + len + 1)) return fail(p, "out of memory");
    if (len) memcpy(p->in + p->len, buf, len);
    p->len += len;
    return SSE_MORE;
}

void sse_end(struct sse *p) { p->ended = 1; }

/* The next line as [*start, *start + *n); 0 when none is complete yet. */
static int next_line(struct sse *p, const char **start, size_t *n) {
    if (!p->in) return 0;              /* nothing fed yet (NULL + 0 is undefined) */
    if (p->skip_lf && p->pos < p->len) {
        if (p->in[p->pos] == '\n') p->pos++;
        p->skip_lf = 0;
    }
    const char *s = p->in + p->pos, *end = p->in + p->len, *c = s;
    while (c < end && *c != '\n' && *c != '\r') c++;
    if (c == end) {
        if (!p->ended || s == end) return 0;
        *start = s;                    /* the stream ended inside a line: take it whole */
        *n = (size_t)(end - s);
        p->pos = p->len;
        return 1;
    }
    *start = s;
    *n = (size_t)(c - s);
    p->skip_lf = *c == '\r';
    p->pos = (size_t)(c + 1 - p->in);
    return 1;
}

static void copy_field(char *dst, size_t cap, const char *v, size_t n) {
    if (n >= cap) n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static int add_data(struct sse *p, const char *v, size_t n) {
    size_t need = p->data_len + (p->has_data ? 1 : 0) + n;
    if (need > p->max_event) return fail(p, "event stream event too large");
    if (grow(&p->data, &p->data_cap, need + 1)) return fail(p, "out of memory");
    if (p->has_data) p->data[p->data_len++] = '\n';
    memcpy(p->data + p->data_len, v, n);
    p->data_len += n;
    p->data[p->data_len] = '\0';
    p->has_data = 1;
    return SSE_MORE;
}

/* The value of n ASCII digits, -1 when any is not one. */
static long digits(const char *v, size_t n) {
    long r = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return -1;
        r = r * 10 + (v[i] - '0');
    }
    return r;
}

static int field(struct sse *p, const char *line, size_t n) {
    const char *colon = memchr(line, ':', n);
    size_t nlen = colon ? (size_t)(colon - line) : n;
    const char *v = colon ? colon + 1 : line + n;
    size_t vlen = (size_t)(line + n - v);
    if (vlen && *v == ' ') {
        v++;
        vlen--;
    }
    if (nlen == 4 && memcmp(line, "data", 4) == 0) return add_data(p, v, vlen);
    if (nlen == 5 && memcmp(line, "event", 5) == 0) copy_field(p->event, sizeof p->event, v, vlen);
    else if (nlen == 2 && memcmp(line, "id", 2) == 0 && !memchr(v, '\0', vlen))
        copy_field(p->id, sizeof p->id, v, vlen);
    else if (nlen == 5 && memcmp(line, "retry", 5) == 0 && vlen && vlen < 10)
        p->retry_ms = digits(v, vlen);
    return SSE_MORE;                   /* unknown fields are ignored, as the format says */
}

static int dispatch(struct sse *p, struct sse_event *ev) {
    ev->event = p->event[0] ? p->event : "message";
    ev->data = p->data ? p->data : "";
    ev->data_len = p->data_len;
    ev->id = p->id;
    ev->retry_ms = p->retry_ms;
    p->has_data = 0;
    p->dispatched = 1;                 /* the rest is cleared on the next call */
    return SSE_EVENT;
}

/* Forget the event handed out last (its strings lived until this call). */
static void reset_event(struct sse *p) {
    p->dispatched = 0;
    p->data_len = 0;
    if (p->data) p->data[0] = '\0';
    p->event[0] = '\0';
    p->retry_ms = -1;
}

int sse_next(struct sse *p, struct sse_event *ev) {
    if (p->error) return SSE_ERROR;
    if (p->dispatched) reset_event(p);
    const char *line;
    size_t n;
    while (next_line(p, &line, &n)) {
        if (n > p->max_event) return fail(p, "event stream line too long");
        if (n == 0) {
            if (p->has_data) return dispatch(p, ev);
            reset_event(p);            /* an event without data is not dispatched */
            continue;
        }
        if (line[0] == ':') continue;
        if (field(p, line, n) == SSE_ERROR) return SSE_ERROR;
    }
    if (p->ended && p->has_data) return dispatch(p, ev);
    return SSE_MORE;
}
