/* A Server-Sent Events parser (the text/event-stream format): bytes in, events out, no
 * sockets. Lines end with LF, CRLF or a lone CR; "field: value" lines build an event
 * and a blank line ends it; lines starting with ':' are comments (keep-alives); several
 * data lines are joined with '\n'. Bounded: a line or an event's data longer than
 * max_event bytes is an error. Used by lark.http's res:sse(). */
#ifndef LARKGW_NET_SSE_H
#define LARKGW_NET_SSE_H

#include <stddef.h>

enum sse_rc { SSE_MORE = 0, SSE_EVENT = 1, SSE_ERROR = -1 };

/* One event; the strings are NUL-terminated and live until the next sse_* call. */
struct sse_event {
    const char *event;       /* the "event:" field, "message" when absent */
    const char *data;        /* the data lines joined by '\n' */
    size_t data_len;
    const char *id;          /* the last "id:" seen on the stream (it persists), or "" */
    long retry_ms;           /* the "retry:" field of this event, -1 when absent */
};

struct sse {
    char *in;                /* bytes fed and not yet parsed: in[pos .. len) */
    size_t pos, len, cap;
    int skip_lf;             /* the last line ended in CR: an LF right after belongs to it */
    int ended;               /* sse_end was called */
    char *data;              /* the event being built */
    size_t data_len, data_cap;
    int has_data;
    int dispatched;          /* the event is out: clear it on the next call */
    char event[128];
    char id[256];
    long retry_ms;
    size_t max_event;
    const char *error;       /* static text once SSE_ERROR */
};

/* max_event bounds one line and one event's data (0: 1 MiB). Never fails. */
void sse_init(struct sse *p, size_t max_event);
void sse_free(struct sse *p);

/* Appends bytes to parse. -1 (SSE_ERROR, p->error set) when out of memory or when the
 * unparsed bytes would exceed the bound. */
int sse_feed(struct sse *p, const char *buf, size_t len);

/* The stream ended: a last line without its line break counts, and an event whose blank
 * line never came is still delivered (a lenient reading: servers that end the stream
 * with "data: [DONE]\n" lose nothing). */
void sse_end(struct sse *p);

/* Parses what was fed: SSE_EVENT with *ev filled, SSE_MORE when it needs more bytes (or,
 * after sse_end, when the stream is exhausted), SSE_ERROR with p->error. */
int sse_next(struct sse *p, struct sse_event *ev);

#endif
