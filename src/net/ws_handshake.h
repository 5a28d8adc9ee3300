/* The RFC 6455 opening handshake (pure: text in, verdicts out): the accept key, which
 * the emulator's server side shares, and the client's request and verdicts. */
#ifndef LARKGW_NET_WS_HANDSHAKE_H
#define LARKGW_NET_WS_HANDSHAKE_H

#include <stddef.h>

struct evbuffer;
struct net_url;
struct http_parser;

#define WS_KEY_LEN 24         /* base64 of 16 random bytes */
#define WS_ACCEPT_LEN 28      /* base64 of a SHA-1 */

/* A fresh random Sec-WebSocket-Key. */
void ws_handshake_key(char key[WS_KEY_LEN + 1]);

/* base64(SHA-1(key || 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)). */
void ws_handshake_accept(const char *key, char out[WS_ACCEPT_LEN + 1]);

/* Appends the upgrade request for u to out. */
void ws_handshake_request(struct evbuffer *out, const struct net_url *u, const char *key);

enum ws_handshake_verdict {
    WS_HANDSHAKE_OK = 0,
    WS_HANDSHAKE_BUSY = 1,        /* refused or broken: retry later */
    WS_HANDSHAKE_CLIENT_ERROR = 2 /* refused for auth, permission or the connection limit */
};

/* Judges a parsed response head. Not OK: why holds one log-ready line, e.g.
 * "handshake refused: HTTP 403, Handshake-Status 514, Handshake-Msg \"auth failed\",
 * Handshake-Autherrcode 1000040350 (too many connections: at most 50 per app)". */
int ws_handshake_check(const struct http_parser *p, const char *key, char *why, size_t len);

#endif
