/* Request heads as http_server hands them to the parser: the input up to its first
 * blank line (bounded like the server), parsed in place with a small body limit, then
 * every accessor over the result. The first byte also picks the body limit so 413 and
 * the framing paths run. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *end = size >= 4 ? memmem(data, size, "\r\n\r\n", 4) : NULL;
    size_t len = end ? (size_t)(end - data) + 4 : size;
    if (len > HTTP_REQUEST_MAX_HEAD) return 0;
    char *head = malloc(len + 1);
    if (!head) return 0;
    memcpy(head, data, len);
    head[len] = '\0';
    struct http_request r;
    size_t max_body = size ? (size_t)data[0] * 16 : 0;
    if (http_request_parse(head, len, max_body, &r) == 0) {
        http_request_header(&r, "content-type");
        http_request_header_has_token(&r, "Connection", "upgrade");
        char out[64];
        http_query_param(r.query, "a", out, sizeof out);
        http_url_decode(r.path, strlen(r.path), out, sizeof out);
        if (r.content_length > max_body) abort();   /* the bound the server relies on */
    }
    free(head);
    return 0;
}
