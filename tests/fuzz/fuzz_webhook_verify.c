/* Fuzzes webhook_verify. The first byte picks the mode, the rest is the request:
 *   0: plain mode, the rest is the body
 *   1: encrypt key, no signature headers (challenge-only), the rest is the body
 *   2: encrypt key, "timestamp\nnonce\nbody": the harness signs it, so the fuzzer gets
 *      past the signature into the JSON, base64 and AES checks
 *   3: encrypt key, "timestamp\nnonce\nsignature\nbody" as sent */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "ingress/webhook_verify.h"

#define KEY "test-encrypt-key-9f3a"

/* Splits off the next line as a NUL-terminated string; NULL when there is no '\n'. */
static char *next_line(char **p, char *end) {
    char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl) return NULL;
    char *line = *p;
    *nl = '\0';
    *p = nl + 1;
    return line;
}

static void run(const struct webhook_verifier *v, struct webhook_input *in) {
    unsigned char *scratch = malloc(webhook_scratch_size(in->len));
    struct webhook_verdict out;
    int rc = webhook_verify(v, in, scratch, &out);
    /* touch the whole verdict so ASan sees a bad pointer or length */
    if (rc == 0 && out.json_len) {
        volatile unsigned char sink = 0;
        for (size_t i = 0; i < out.json_len; i++) sink ^= (unsigned char)out.json[i];
        (void)sink;
    } else if (rc != 0 && (rc < 400 || !out.reason)) {
        abort();
    }
    free(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static struct webhook_verifier plain, keyed, windowed;
    static int ready;
    if (!ready) {
        webhook_verifier_init(&plain, NULL, 300);
        webhook_verifier_init(&keyed, KEY, 0);
        webhook_verifier_init(&windowed, KEY, 300);
        ready = 1;
    }
    int mode = data[0] % 4;
    /* a private, non-terminated copy so ASan catches reads past the body */
    char *buf = malloc(size - 1 ? size - 1 : 1);
    memcpy(buf, data + 1, size - 1);
    char *p = buf, *end = buf + size - 1;
    struct webhook_input in = { .now = 1732406400 };
    if (mode == 0 || mode == 1) {
        in.body = buf;
        in.len = size - 1;
        run(mode == 0 ? &plain : &keyed, &in);
    } else {
        char *ts = next_line(&p, end), *nonce = ts ? next_line(&p, end) : NULL;
        char *sig = mode == 3 && nonce ? next_line(&p, end) : NULL;
        char want[65];
        if (nonce && (mode == 2 || sig)) {
            in.body = p;
            in.len = (size_t)(end - p);
            in.timestamp = ts;
            in.nonce = nonce;
            if (mode == 2) {
                struct iovec parts[4] = { { ts, strlen(ts) }, { nonce, strlen(nonce) },
                                          { (void *)KEY, strlen(KEY) }, { p, in.len } };
                crypto_sha256_hex_parts(parts, 4, want);
                sig = want;
            }
            in.signature = sig;
            run(mode == 2 ? &keyed : &windowed, &in);
        }
    }
    free(buf);
    return 0;
}
