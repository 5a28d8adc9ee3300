#include "net/ws_handshake.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "crypto/crypto.h"
#include "net/http_parser.h"
#include "net/net.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void ws_handshake_key(char key[WS_KEY_LEN + 1]) {
    unsigned char nonce[16];
    crypto_random(nonce, sizeof nonce);
    crypto_base64_encode(nonce, sizeof nonce, key);
}

void ws_handshake_accept(const char *key, char out[WS_ACCEPT_LEN + 1]) {
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%s%s", key, ws_guid);
    unsigned char sha[CRYPTO_SHA1_LEN];
    crypto_sha1(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1, sha);
    crypto_base64_encode(sha, sizeof sha, out);
}

void ws_handshake_request(struct evbuffer *out, const struct net_url *u, const char *key) {
    char authority[300];
    net_url_authority(u, authority, sizeof authority);
    evbuffer_add_printf(out,
                        "GET %s HTTP/1.1\r\n"
                        "Host: %s\r\n"
                        "Upgrade: websocket\r\n"
                        "Connection: Upgrade\r\n"
                        "Sec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\n"
                        "User-Agent: larkgw/%s\r\n"
                        "\r\n",
                        u->target, authority, key, LARKGW_VERSION);
}

static int refused(const struct http_parser *p, char *why, size_t len) {
    char status[32], msg[160], auth[32];
    util_printable(http_parser_header(p, "Handshake-Status"), status, sizeof status);
    util_printable(http_parser_header(p, "Handshake-Msg"), msg, sizeof msg);
    util_printable(http_parser_header(p, "Handshake-Autherrcode"), auth, sizeof auth);
    int client = strcmp(status, "403") == 0 || strcmp(status, "514") == 0 ||
                 strcmp(auth, "1000040350") == 0 || p->status == 401 || p->status == 403;
    const char *hint = strcmp(auth, "1000040350") == 0 ? "too many connections: at most 50 per app"
                     : strcmp(status, "514") == 0 ? "auth failed: check app_id and app_secret"
                     : strcmp(status, "403") == 0 || p->status == 403 ? "forbidden"
                     : client ? "refused" : "platform busy";
    snprintf(why, len,
             "handshake refused: HTTP %d, Handshake-Status %s, Handshake-Msg \"%s\", "
             "Handshake-Autherrcode %s (%s)",
             p->status, *status ? status : "-", msg, *auth ? auth : "-", hint);
    return client ? WS_HANDSHAKE_CLIENT_ERROR : WS_HANDSHAKE_BUSY;
}

int ws_handshake_check(const struct http_parser *p, const char *key, char *why, size_t len) {
    if (p->status != 101) return refused(p, why, len);
    const char *accept = http_parser_header(p, "Sec-WebSocket-Accept");
    char want[WS_ACCEPT_LEN + 1];
    ws_handshake_accept(key, want);
    if (!http_parser_header_has_token(p, "Upgrade", "websocket") ||
        !http_parser_header_has_token(p, "Connection", "upgrade")) {
        snprintf(why, len, "handshake failed: 101 without Upgrade: websocket");
        return WS_HANDSHAKE_BUSY;
    }
    if (!accept || strcmp(accept, want) != 0) {
        snprintf(why, len, "handshake failed: wrong Sec-WebSocket-Accept");
        return WS_HANDSHAKE_BUSY;
    }
    if (http_parser_header(p, "Sec-WebSocket-Extensions")) {
        snprintf(why, len, "handshake failed: server chose an extension we did not offer");
        return WS_HANDSHAKE_BUSY;
    }
    return WS_HANDSHAKE_OK;
}
