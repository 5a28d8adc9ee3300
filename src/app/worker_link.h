/* The channel between the supervisor and one worker: one end of a socketpair each.
 * The supervisor asks (metrics, reload, ready?) and the worker answers on its event
 * loop; the worker also says hello once it serves. Both ends run on the same host, so
 * the frames are native-endian structs:
 *   supervisor -> worker: { u8 cmd, 3 pad, u32 seq }
 *   worker -> supervisor: { u8 kind, u8 status, 2 pad, u32 seq, u32 len } + len bytes
 * An answer carries the seq of its question, so the supervisor can tell an answer that
 * came too late for an earlier question from the one it waits for. */
#ifndef LARKGW_APP_WORKER_LINK_H
#define LARKGW_APP_WORKER_LINK_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evbuffer;
struct admin_hooks;
struct worker_link;

enum worker_link_cmd {
    WORKER_LINK_METRICS = 'm',   /* answer: the worker's /metrics text */
    WORKER_LINK_RELOAD = 'r',    /* answer: status 0, or 1 with the error text */
    WORKER_LINK_READY = 'q',     /* answer: status 1 when ready; text: why degraded */
    WORKER_LINK_JOBS = 'j',      /* answer: the /admin/jobs JSON, or status 1 */
};

enum worker_link_kind {
    WORKER_LINK_HELLO = 'h',     /* unasked: the worker is serving */
    WORKER_LINK_ANSWER = 'a',
};

#define WORKER_LINK_MAX_PAYLOAD (16u << 20)

/* Worker side: answers the supervisor's questions on fd (the link takes it and closes
 * it on free) through hooks (copied; as for the admin listener). When the supervisor
 * goes away (end of file), lost(arg) is called once. NULL when out of memory. */
struct worker_link *worker_link_serve(struct event_base *base, int fd,
                                      const struct admin_hooks *hooks,
                                      void (*lost)(void *arg), void *arg);
/* Tells the supervisor this worker serves. */
void worker_link_hello(struct worker_link *l);
void worker_link_free(struct worker_link *l);

/* Supervisor side. One message from a worker; data is malloc'd (NUL-terminated, the
 * NUL not counted in len) and the caller's to free. */
struct worker_link_msg {
    int kind, status;
    uint32_t seq;
    char *data;
    size_t len;
};

/* Writes one question to fd (a few bytes into an empty-enough socket buffer); 0, or -1
 * when the worker's end is gone. */
int worker_link_ask(int fd, enum worker_link_cmd cmd, uint32_t seq);

/* Takes one whole message off the front of in: 1 when taken, 0 when more bytes are
 * needed, -1 when the bytes are not a message (a length over the bound). */
int worker_link_take(struct evbuffer *in, struct worker_link_msg *m);

#endif
