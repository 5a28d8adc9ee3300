/* Private to src/emulator: the state all of the emulator's files read. One struct emu
 * per process owns everything below it; emu_main.c makes it, wires it and frees it all.
 * Each file's shared functions are declared in its own emu_<file>.h; the only public
 * face is emulator.h. */
#ifndef LARKGW_EMU_H
#define LARKGW_EMU_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

struct event_base;
struct event;
struct http_server;
struct http_client;
struct emu_req;
struct emu_ws;
struct emu_event;
struct emu_hook;
struct emu_oapi;
struct emu_tokens;
struct emu_cards;
struct emu_llm;
struct emu_files;
struct emu_legacy;
struct emu_flood;

#define EMU_MODULE "emulator"
#define EMU_MAX_CONNS 50            /* per app, as on the platform */
#define EMU_MAX_BODY (40 << 20)     /* HTTP request body: a 30 MB file upload fits */
#define EMU_MAX_WS_MSG (4 << 20)    /* one WebSocket message from a client */
#define EMU_MAX_FRAGMENTS 1000
#define EMU_MAX_DUPLICATES 100
#define EMU_MAX_PENDING 10000       /* unacked events kept for re-delivery */
#define EMU_MAX_ACKS 10000          /* ack records kept for GET /_emu/acks */
#define EMU_MAX_TICKETS 256
#define EMU_MAX_CLOSED 256          /* closed connections kept for GET /_emu/connections */
#define EMU_MAX_FLOOD 1000000000L   /* events one POST /_emu/events {"count"} may ask for */

/* The default credentials. The official Node SDK's WSClient refuses an app id not
 * shaped like the platform's ("cli_" and 16 hex digits), so the default has that shape. */
#define EMU_DEFAULT_APP_ID "cli_e3a1a70000000001"
#define EMU_DEFAULT_APP_SECRET "emulator-secret"

struct emu_ticket {
    char ticket[33], access_key[33];
    char device_id[24];
    uint64_t expires_ms;            /* 0: slot unused */
};

struct emu {
    struct event_base *base;
    struct http_server *http;
    void (*route)(struct emu_req *r);   /* emu_http.c hands every request to it */
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
    int nws;                        /* their count (emu_ws.c keeps it) */
    int next_ws_id, rr_last;
    cJSON *closed;                  /* array of closed connection records */
    /* Where a data frame (an ack) from a client goes, a const Pbbp2__Frame *; set by
     * emu_main.c, so the WebSocket side need not know the delivery side. */
    void (*on_ack)(struct emu *emu, struct emu_ws *ws, const void *frame);

    /* Delivered, not yet acked, oldest first: acks mostly come back in order, so under
     * a flood the one acked is found near the head. */
    struct emu_event *events, *events_last;
    int nevents;
    /* Called when an event leaves the pending list (settled or given up); set by
     * emu_main.c to the flood's refill, so delivery need not know the flood. */
    void (*on_settle)(struct emu *emu);
    struct emu_flood *flood;        /* emu_flood.c: POST /_emu/events {"count": N} */
    cJSON *acks;                    /* array of ack records, oldest first */
    int nacks;                      /* cJSON_GetArraySize walks the list */
    struct { char message_id[33], event_id[65]; } recent[256]; /* for late acks' records */
    unsigned nrecent;
    uint64_t next_log_id;

    struct emu_hook *hooks;         /* webhook deliveries in flight */
    struct http_client *hook_http;  /* their client, made at the first delivery */
    struct emu_oapi *oapi;          /* emu_openapi.c: call records, latency, 429s */
    struct emu_tokens *tokens;      /* emu_token.c: access tokens, app tickets */
    struct emu_cards *cards;        /* emu_cardkit.c: card entities, card messages */
    struct emu_llm *llm;            /* emu_llm.c: the chat completions endpoint */
    struct emu_files *files;        /* emu_files.c: uploaded images and files */
    struct emu_legacy *legacy;      /* emu_legacy.c: card URL posts, delayed card updates */
    char *card_url;                 /* legacy card request URL; NULL: webhook's host +
                                       /webhook/card */
    struct { long chats, members; } lists;  /* emu_lists.c: items the list endpoints hold */

    struct {
        long discoveries, handshakes, refused, events, deliveries, acks, pings;
        long settled, acks_failed, redeliveries, given_up;
    } stats;
};

#endif
