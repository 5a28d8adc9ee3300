/* Private to src/openapi: one request to the platform and the decoding of its answer
 * envelope (HTTP status, code, msg, the X-Tt-Logid header, the body-carried token
 * errors, rate-limit headers), written once for calls, token fetches and ticket
 * resends alike. Knows nothing of tokens or retries: it reports, its callers decide. */
#ifndef LARKGW_OPENAPI_WIRE_H
#define LARKGW_OPENAPI_WIRE_H

#include "openapi/openapi.h"

#define OPENAPI_WIRE_MSG_MAX 512
#define OPENAPI_WIRE_LOGID_MAX 128
#define OPENAPI_WIRE_TOKEN_MAX 2048    /* longest Bearer token sent or accepted */

/* An error whose strings live in the struct, so it outlives the HTTP answer. */
struct openapi_wire_error {
    int code;                      /* 0, a platform code or an openapi_errcode */
    int http_status;               /* 0 when no HTTP answer came */
    char msg[OPENAPI_WIRE_MSG_MAX];
    char log_id[OPENAPI_WIRE_LOGID_MAX];
};

/* One decoded answer, alive during the callback only. */
struct openapi_wire_answer {
    struct openapi_wire_error err; /* err.code 0: a 2xx answer with code 0 */
    cJSON *json;                   /* the body when it is a JSON object, else NULL; freed
                                      after the callback unless it takes it (sets NULL) */
    int token_invalid;             /* code 99991663, 99991664 or 99991671 */
    int rate_limited;              /* code 99991400 or HTTP 429 */
    int reset_ms;                  /* x-ogw-ratelimit-reset in ms; 1000 when absent */
    /* raw requests with err.code 0: the body, malloc'd (taken by setting it NULL), and
       its Content-Type and Content-Disposition (printable, cut to fit) */
    char *raw;
    size_t raw_len;
    char content_type[128], disposition[512];
};

struct openapi_wire {
    struct openapi_transport t;
    char *domain;                  /* without a trailing '/' */
    size_t max_response;
};

struct openapi_wire_req {
    const char *method;            /* GET POST PUT PATCH DELETE */
    const char *target;            /* path and ?query, appended to the domain */
    const char *token;             /* Bearer token; NULL: no Authorization header */
    const char *body;              /* JSON bytes or NULL; copied by the transport */
    size_t body_len;
    int timeout_ms;                /* the HTTP request's bound */
    const char *content_type;      /* NULL: JSON */
    size_t max_response;           /* 0: the wire's */
    int raw;                       /* 1: a 2xx answer that is not JSON is a success too */
};

typedef void (*openapi_wire_fn)(void *arg, struct openapi_wire_answer *ans);

/* One request in flight, embedded in whoever sends it (zeroed before first use). */
struct openapi_wire_call {
    struct openapi_wire *wire;
    void *http;
    int active;                    /* 1 from send until the callback starts */
    int raw;                       /* the request's raw flag */
    openapi_wire_fn done;
    void *arg;
};

/* Copies t and domain (trailing '/' stripped). 0, or -1 when out of memory. */
int openapi_wire_init(struct openapi_wire *w, const struct openapi_transport *t,
                      const char *domain, size_t max_response);
void openapi_wire_free(struct openapi_wire *w);

/* Sends req; done gets the decoded answer exactly once unless cancelled, perhaps before
 * send returns (the transport may answer at once: done must not free wc then, so every
 * caller defers its own completion to the loop). Returns 0, or -1 when the request
 * cannot start (done is never called then). */
int openapi_wire_send(struct openapi_wire *w, struct openapi_wire_call *wc,
                      const struct openapi_wire_req *req, openapi_wire_fn done, void *arg);
/* Stops a request in flight; a no-op when none is. */
void openapi_wire_cancel(struct openapi_wire_call *wc);

/* The envelope decoder, bytes in: fills ans (log_id and reset_ms aside) from an HTTP
 * status and body, and returns ans->err.code. ans->json is the caller's to free. */
int openapi_wire_decode(int http_status, const char *body, size_t len, size_t max,
                        struct openapi_wire_answer *ans);

/* Sets err's code, status and msg, keeping printable characters only so a platform's
 * msg cannot forge log lines. */
void openapi_wire_error_set(struct openapi_wire_error *err, int code, int http_status,
                            const char *msg);

#endif
