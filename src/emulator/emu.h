/* Private to src/emulator: the emulator's state and the functions its files share.
 * One struct emu per process owns everything below it; emu_main.c frees it all. */
#ifndef LARKGW_EMU_H
#define LARKGW_EMU_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

struct event_base;
struct event;
struct bufferevent;
struct http_server;
struct http_server_req;
struct emu_ws;
struct emu_event;
struct emu_hook;
struct http_client;
struct emu_oapi;
struct emu_tokens;
struct emu_cards;
struct emu_llm;

#define EMU_MODULE "emulator"
#define EMU_MAX_CONNS 50            /* per app, as on the platform */
#define EMU_MAX_BODY (8 << 20)      /* HTTP request body */
#define EMU_MAX_WS_MSG (4 << 20)    /* one WebSocket message from a client */
#define EMU_MAX_FRAGMENTS 1000
#define EMU_MAX_DUPLICATES 100
#define EMU_MAX_PENDING 10000       /* unacked events kept for re-delivery */
#define EMU_MAX_ACKS 10000          /* ack records kept for GET /_emu/acks */
#define EMU_MAX_TICKETS 256
#define EMU_MAX_CLOSED 256          /* closed connections kept for GET /_emu/connections */

struct emu_ticket {
    char ticket[33], access_key[33];
    char device_id[24];
    uint64_t expires_ms;            /* 0: slot unused */
};

struct emu {
    struct event_base *base;
    struct http_server *http;
    struct event *sigterm, *sigint;
    char host[64];
    int port;

    /* settings from the command line, some changeable via POST /_emu/settings */
    char *app_id, *app_secret;
    char *encrypt_key, *verification_token, *webhook_url;
    int redeliver_ms, retries, ticket_ttl_ms;
    cJSON *client_config;           /* object; discovery and pongs */
    int32_t service_id;

    /* failures injected through the control API */
    struct { int count, status; char msg[128], autherrcode[32]; } refuse;
    struct { int count, code, http_status; } discovery_fail;

    struct emu_ticket tickets[EMU_MAX_TICKETS];
    uint64_t next_device_id;

    struct emu_req *reqs;           /* requests being handled or deferred */
    struct emu_ws *ws;              /* WebSocket connections, newest first */
    int next_ws_id, rr_last;
    cJSON *closed;                  /* array of closed connection records */

    struct emu_event *events;       /* delivered, not yet acked (or out of attempts) */
    int nevents;
    cJSON *acks;                    /* array of ack records, oldest first */
    int nacks;                 /* cJSON_GetArraySize walks the list */
    struct { char message_id[33], event_id[65]; } recent[256]; /* for late acks' records */
    unsigned nrecent;
    uint64_t next_log_id;

    struct emu_hook *hooks;         /* webhook deliveries in flight */
    struct http_client *hook_http;  /* their client, made at the first delivery */
    struct emu_oapi *oapi;          /* emu_openapi.c: call records, latency, 429s */
    struct emu_tokens *tokens;      /* emu_token.c: access tokens, app tickets */
    struct emu_cards *cards;        /* emu_cardkit.c: card entities, card messages */
    struct emu_llm *llm;            /* emu_llm.c: the chat completions endpoint */

    struct {
        long discoveries, handshakes, refused, events, deliveries, acks, pings;
    } stats;
};

/* emu_http.c: the emulator's routes on net/http_server. One request as the
 * emulator's handlers see it; http is NULL when a unit test calls a handler directly. */
struct emu_req {
    struct emu *emu;
    struct http_server_req *http;
    struct emu_req *prev, *next;    /* emu->reqs */
    const char *peer;
    const char *method, *path, *query;
    const char *body;               /* NUL-terminated */
    size_t body_len;
    int in_handler, replied, deferred;
    void (*drop)(struct emu_req *r, void *arg);
    void *drop_arg;
};

int emu_http_listen(struct emu *emu, const char *host, int port);
void emu_http_free_all(struct emu *emu);
const char *emu_req_header(const struct emu_req *r, const char *name);
/* A query parameter, percent-decoded into out; -1 when absent or too long. */
int emu_req_query(const struct emu_req *r, const char *key, char *out, size_t outlen);
/* headers: extra "Name: value\r\n" lines or NULL. One reply per request; the reply to
 * a deferred request frees it. */
void emu_http_reply(struct emu_req *r, int status, const char *headers,
                    const char *ctype, const char *body, size_t len);
/* Serialises and frees json. */
void emu_http_reply_json(struct emu_req *r, int status, cJSON *json);
void emu_http_reply_error(struct emu_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Keeps r after its handler returns, for an answer sent later with emu_http_reply. The
 * connection reads no further request meanwhile (answers stay in order). When the
 * connection goes away first, drop(r, arg) is called; r stays valid, and the later
 * answer is discarded and frees it. */
void emu_http_defer(struct emu_req *r, void (*drop)(struct emu_req *r, void *arg), void *arg);
/* Detaches the connection's bufferevent (for a WebSocket upgrade), from the handler;
 * the caller owns the bufferevent. */
struct bufferevent *emu_http_take(struct emu_req *r);

/* emu_discovery.c: POST /callback/ws/endpoint and its single-use tickets. */
void emu_discovery_handle(struct emu_req *r);
/* Consumes a ticket matching the URL's query; 0 and the device id, or -1. */
int emu_ticket_consume(struct emu *emu, const struct emu_req *r, char *device_id, size_t len);

/* emu_ws.c: WebSocket connections. */
void emu_ws_upgrade(struct emu_req *r);
/* The next open, non-silent connection, round robin (advance 0: only look); NULL when none. */
struct emu_ws *emu_ws_pick(struct emu *emu, int advance);
struct emu_ws *emu_ws_find(struct emu *emu, int id);
int emu_ws_id(const struct emu_ws *ws);
int32_t emu_ws_service(const struct emu_ws *ws);
/* Packs and sends one pbbp2 frame as a binary message; ws_chunk > 0 splits the message
 * into WebSocket continuation frames of that size. Returns the SeqID used, 0 on error. */
uint64_t emu_ws_send_data(struct emu_ws *ws, uint64_t log_id, const char *const *headers,
                          int nheaders, const void *payload, size_t len, size_t ws_chunk);
/* Whether (seq_id, log_id) is a data frame recently sent on this connection. */
int emu_ws_sent_recently(const struct emu_ws *ws, uint64_t seq_id, uint64_t log_id);
int emu_ws_kick(struct emu *emu, int id);            /* id 0: all; returns the count */
int emu_ws_silence(struct emu *emu, int on);         /* returns the count affected */
int emu_ws_count(struct emu *emu);
cJSON *emu_ws_list(struct emu *emu);
void emu_ws_free_all(struct emu *emu);

/* emu_deliver.c: events, fragments, re-delivery, ack records. */
enum emu_delivery { EMU_DELIVER_WS, EMU_DELIVER_WEBHOOK };
struct emu_event_spec {
    char *payload;                  /* taken over by emu_deliver_submit */
    size_t len;
    const char *event_id;           /* for the records; may be NULL */
    const char *frame_type;         /* "event" | "card" */
    enum emu_delivery delivery;
    int fragments, shuffle, duplicate, retries;
    size_t ws_chunk;
    int sign, encrypt;              /* webhook: -1 = as configured */
};
/* Delivers and keeps the event until acked. Returns 0 and the frame message_id, or an
 * HTTP status (503 no client, 400 no webhook URL, 429 too many pending). */
int emu_deliver_submit(struct emu *emu, struct emu_event_spec *spec, char message_id[33]);
/* A data frame a client sent back: records the ack, settles the event on code 200. */
void emu_deliver_ack(struct emu *emu, struct emu_ws *ws, const void *frame);
/* Records a webhook answer (status 0 when none came) and settles the event on 2xx. */
void emu_deliver_hook_done(struct emu *emu, const char *message_id, int status,
                           const char *body, size_t len, long elapsed_ms, const char *error);
void emu_deliver_free_all(struct emu *emu);
void emu_record_ack(struct emu *emu, cJSON *rec);

/* emu_webhook.c: POSTs an event to the webhook URL, plain or encrypted and signed. */
int emu_webhook_post(struct emu *emu, const char *message_id, const char *payload,
                     size_t len, int sign, int encrypt);
void emu_webhook_free_all(struct emu *emu);

/* emu_envelope.c: ids and the schema 2.0 im.message.receive_v1 envelope. */
void emu_random_hex(char *out, size_t nbytes);       /* out: 2*nbytes+1 */
/* Builds the envelope from {"text","chat_id","tenant_key","open_id",...}; NULL with a
 * message in err when a field has the wrong type. */
cJSON *emu_envelope_text(struct emu *emu, const cJSON *req, char *err, size_t errlen);
/* The dedup id of an envelope: header.event_id (2.0) or uuid (1.0); NULL if none. */
const char *emu_envelope_event_id(const cJSON *env);

/* emu_openapi.c: everything under /open-apis/ (PROTOCOL.md §4). */
#define EMU_TENANT_KEY_MAX 64
enum emu_token_kind { EMU_TOKEN_NONE, EMU_TOKEN_TENANT, EMU_TOKEN_APP };

/* One /open-apis/ request being answered; the endpoint handlers fill in the answer. */
struct emu_call {
    struct emu *emu;
    struct emu_req *r;
    const cJSON *body;              /* the request's JSON body; NULL when none or not JSON */
    const char *token;              /* the Bearer token; NULL when none */
    enum emu_token_kind token_kind; /* set once the token checked out */
    char tenant_key[EMU_TENANT_KEY_MAX + 1];  /* the token's tenant; "" for app tokens */
    int invalid_status;             /* HTTP status of "token invalid" answers */
    char log_id[40];                /* X-Tt-Logid */
    int status;
    cJSON *answer;                  /* an object, or a string sent as text/plain */
};

int emu_openapi_new(struct emu *emu);
void emu_openapi_free(struct emu *emu);
void emu_openapi_handle(struct emu_req *r);
/* Replaces c's answer with {"code","msg"} (plus "error":{"log_id"} when code != 0) and
 * the HTTP status; returns the object for the caller to add to (NULL: out of memory). */
cJSON *emu_call_answer(struct emu_call *c, int status, long code, const char *msg);
/* Settings of POST /_emu/openapi: with out NULL only validates in (0, or -1 and err);
 * with out, applies in and writes the settings now into out. */
int emu_openapi_settings(struct emu *emu, const cJSON *in, cJSON *out, char *err, size_t errlen);
/* The call records, oldest first; only paths starting with prefix when not NULL. */
cJSON *emu_openapi_calls(struct emu *emu, const char *prefix);
int emu_openapi_clear_calls(struct emu *emu);      /* returns the count cleared */
/* An integer member of obj: 0 absent, 1 read into *out, -1 (with err) not an integer
 * in [min, max]. */
int emu_json_int(const cJSON *obj, const char *name, long min, long max, long *out,
                 char *err, size_t errlen);

/* emu_token.c: tenant and app access tokens, app tickets (PROTOCOL.md §4). */
int emu_tokens_new(struct emu *emu);
void emu_tokens_free(struct emu *emu);
/* Answers a call under /open-apis/auth/; -1 when its path is no token endpoint. */
int emu_token_endpoint(struct emu_call *c);
/* 0 when token is valid (its kind and tenant key, "" for app tokens, in c), else the code
 * to answer: 99991663 tenant token, 99991664 app token, 99991671 unknown token. */
long emu_token_check(struct emu_call *c, const char *token);
/* Like emu_openapi_settings, for expiry, tenants, invalidation and app tickets. */
int emu_token_settings(struct emu *emu, const cJSON *in, cJSON *out, char *err, size_t errlen);
cJSON *emu_token_list(struct emu *emu);
/* Issues an app_ticket and pushes it now as a schema 1.0 event; 0, or an HTTP status as
 * emu_deliver_submit returns. */
int emu_ticket_push(struct emu *emu, enum emu_delivery how, char ticket[33],
                    char message_id[33]);
int emu_ticket_revoke(struct emu *emu);             /* returns the count revoked */

/* emu_im.c: POST /open-apis/im/v1/messages and .../messages/{message_id}/reply; -1 when
 * the call is neither. */
int emu_im_handle(struct emu_call *c);

/* emu_cardkit.c: card entities (cardkit v1), interactive sends and PATCH of a card
 * message; -1 when the call is none of these. */
int emu_cards_new(struct emu *emu);
void emu_cards_free(struct emu *emu);
int emu_cardkit_handle(struct emu_call *c);
/* GET|DELETE /_emu/cards and /_emu/card_messages. */
void emu_cardkit_control(struct emu_req *r);

/* emu_llm.c: an OpenAI-compatible POST /v1/chat/completions, plain and
 * streamed (SSE), with a scripted or echoed answer, and GET|POST /_emu/llm. */
int emu_llm_new(struct emu *emu);
void emu_llm_free(struct emu *emu);
void emu_llm_handle(struct emu_req *r);
void emu_llm_control(struct emu_req *r);

/* emu_control.c: /_emu/... */
void emu_control_handle(struct emu_req *r);

/* emu_send.c: `larkgw emulator send ...` */
int emu_send_main(int argc, char **argv);

#endif
