#include "net/ws_handshake.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "net/http_parser.h"
#include "net/net.h"

static void test_accept_rfc_vector(void) {
    char out[WS_ACCEPT_LEN + 1];
    ws_handshake_accept("dGhlIHNhbXBsZSBub25jZQ==", out);     /* RFC 6455 section 1.3 */
    CHECK_EQ_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_key(void) {
    char a[WS_KEY_LEN + 1], b[WS_KEY_LEN + 1];
    ws_handshake_key(a);
    ws_handshake_key(b);
    CHECK_EQ_INT(strlen(a), 24);
    CHECK(strcmp(a, b) != 0);
    CHECK(a[22] == '=' && a[23] == '=');
}

static void test_request(void) {
    struct net_url u;
    CHECK_EQ_INT(net_url_parse("wss://msg.example.com/ws/v2?device_id=1&ticket=t", &u), 0);
    struct evbuffer *b = evbuffer_new();
    ws_handshake_request(b, &u, "dGhlIHNhbXBsZSBub25jZQ==");
    evbuffer_add(b, "", 1);
    const char *req = (const char *)evbuffer_pullup(b, -1);
    const char *line = "GET /ws/v2?device_id=1&ticket=t HTTP/1.1\r\n";
    CHECK(strncmp(req, line, strlen(line)) == 0);
    CHECK_CONTAINS(req, "\r\nHost: msg.example.com\r\n");
    CHECK_CONTAINS(req, "\r\nUpgrade: websocket\r\n");
    CHECK_CONTAINS(req, "\r\nConnection: Upgrade\r\n");
    CHECK_CONTAINS(req, "\r\nSec-WebSocket-Version: 13\r\n");
    CHECK_CONTAINS(req, "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n");
    CHECK(strstr(req, "\r\n\r\n") == req + strlen(req) - 4);
    evbuffer_free(b);
    net_url_free(&u);
}

static int judge(const char *response, char *why, size_t len, size_t *left) {
    struct http_parser p;
    http_parser_init(&p, 65536, 0);
    struct evbuffer *in = evbuffer_new();
    evbuffer_add(in, response, strlen(response));
    int rc = http_parser_feed(&p, in);
    CHECK(rc == HTTP_PARSER_DONE || http_parser_headers_done(&p));
    int verdict = ws_handshake_check(&p, "dGhlIHNhbXBsZSBub25jZQ==", why, len);
    if (left) *left = evbuffer_get_length(in);
    evbuffer_free(in);
    http_parser_free(&p);
    return verdict;
}

static void test_check(void) {
    char why[400];
    size_t left = 0;
    /* 101 with the right accept; the bytes after the head stay for the WebSocket. */
    CHECK_EQ_INT(judge("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x82\x01x",
                       why, sizeof why, &left), WS_HANDSHAKE_OK);
    CHECK_EQ_INT(left, 3);
    CHECK_EQ_INT(judge("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n",
                       why, sizeof why, NULL), WS_HANDSHAKE_BUSY);
    CHECK_CONTAINS(why, "Sec-WebSocket-Accept");
    CHECK_EQ_INT(judge("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                       why, sizeof why, NULL), WS_HANDSHAKE_BUSY);
}

static void test_refused(void) {
    char why[400];
    CHECK_EQ_INT(judge("HTTP/1.1 403 Forbidden\r\nHandshake-Status: 514\r\n"
                       "Handshake-Msg: auth failed\r\nHandshake-Autherrcode: 1000040350\r\n"
                       "Content-Length: 0\r\n\r\n", why, sizeof why, NULL),
                 WS_HANDSHAKE_CLIENT_ERROR);
    CHECK_CONTAINS(why, "HTTP 403");
    CHECK_CONTAINS(why, "Handshake-Status 514");
    CHECK_CONTAINS(why, "Handshake-Msg \"auth failed\"");
    CHECK_CONTAINS(why, "Handshake-Autherrcode 1000040350");
    CHECK_CONTAINS(why, "too many connections");
    CHECK_EQ_INT(judge("HTTP/1.1 400 Bad Request\r\nHandshake-Status: 514\r\n"
                       "Handshake-Msg: auth failed\r\nContent-Length: 0\r\n\r\n",
                       why, sizeof why, NULL), WS_HANDSHAKE_CLIENT_ERROR);
    CHECK_CONTAINS(why, "check app_id and app_secret");
    CHECK_EQ_INT(judge("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n",
                       why, sizeof why, NULL), WS_HANDSHAKE_BUSY);
    CHECK_CONTAINS(why, "HTTP 502");
    CHECK_CONTAINS(why, "Handshake-Status -");
}

int main(void) {
    RUN(test_accept_rfc_vector);
    RUN(test_key);
    RUN(test_request);
    RUN(test_check);
    RUN(test_refused);
    return test_report();
}
