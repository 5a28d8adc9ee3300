/* HTTP responses as http_client and the WebSocket handshake read them, fed in two
 * pieces (split at the first byte's value) so the incremental paths run too. */
#include <event2/buffer.h>
#include <stdint.h>

#include "net/http_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct http_parser p;
    if (http_parser_init(&p, 4096, size && (data[0] & 1))) return 0;
    struct evbuffer *in = evbuffer_new();
    size_t cut = size ? data[0] % (size + 1) : 0;
    evbuffer_add(in, data, cut);
    int rc = http_parser_feed(&p, in);
    if (rc == HTTP_PARSER_MORE) {
        evbuffer_add(in, data + cut, size - cut);
        rc = http_parser_feed(&p, in);
    }
    if (rc == HTTP_PARSER_MORE) rc = http_parser_eof(&p);
    if (http_parser_headers_done(&p)) {
        http_parser_header(&p, "content-type");
        http_parser_header_has_token(&p, "connection", "close");
    }
    evbuffer_free(in);
    http_parser_free(&p);
    return 0;
}
