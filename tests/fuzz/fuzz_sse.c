/* Event streams as res:sse() reads them, fed in pieces whose size the first byte picks,
 * so every split of a line (CR at the end of a piece, a field cut in two) runs. */
#include <stdint.h>

#include "net/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct sse p;
    struct sse_event ev;
    size_t piece = size ? (size_t)(data[0] % 16) + 1 : 1;
    sse_init(&p, 512);
    for (size_t off = size ? 1 : 0; off < size; off += piece) {
        size_t n = size - off < piece ? size - off : piece;
        if (sse_feed(&p, (const char *)data + off, n) < 0) break;
        int rc;
        while ((rc = sse_next(&p, &ev)) == SSE_EVENT)
            if (ev.data_len && ev.data[ev.data_len] != '\0') __builtin_trap();
        if (rc < 0) break;
    }
    sse_end(&p);
    while (sse_next(&p, &ev) == SSE_EVENT) {}
    sse_free(&p);
    return 0;
}
