/* pbbp2 frames as they come off the WebSocket: decode, read the headers the client
 * reads, build the ack, and push data frames through a reassembler with tight bounds.
 * Input: one frame, or several as [2-byte big-endian length][frame] records. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"
#include "proto/reassembly.h"

static void one_frame(struct reassembly *r, const uint8_t *data, size_t len, uint64_t now) {
    frame_t *f = frame_decode(data, len, 1 << 20, NULL);
    if (!f) return;
    long long sum = 1, seq = 0;
    frame_header_int(f, "sum", &sum);
    frame_header_int(f, "seq", &seq);
    unsigned char *out = NULL;
    size_t out_len = 0;
    if (reassembly_add(r, frame_header(f, "message_id"), sum, seq, f->payload.data,
                       f->payload.len, now, &out, &out_len) == REASM_COMPLETE) {
        size_t alen;
        uint8_t *ack = frame_build_ack(f, 200, (const char *)out, out_len, 1, &alen);
        const char *why = NULL;
        frame_t *back = ack ? frame_decode(ack, alen, (size_t)-1, &why) : NULL;
        /* our own ack must always decode; only the memory budget may refuse it, since
         * the ack drops the payload that paid for many tiny headers */
        if (ack && !back && strcmp(why, "frame expands beyond its memory budget") != 0)
            abort();
        frame_free(back);
        free(ack);
        free(out);
    }
    frame_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const struct reassembly_limits lim = { 64, 1 << 16, 1 << 17, 8, 1000 };
    struct reassembly *r = reassembly_new(&lim);
    one_frame(r, data, size, 0);
    uint64_t now = 0;
    for (size_t i = 0; i + 2 <= size;) {
        size_t n = (size_t)data[i] << 8 | data[i + 1];
        i += 2;
        if (n > size - i) break;
        one_frame(r, data + i, n, now);
        i += n;
        now += 100;
        reassembly_expire(r, now);
    }
    reassembly_free(r);
    return 0;
}
