/* Fuzzes webhook_legacy_verify, the legacy card URL's check. The first byte picks the
 * mode, the rest is the request:
 *   0: no signature headers (challenge-only), the rest is the body
 *   1: "timestamp\nnonce\nbody": the harness signs it (SHA-1 with the token), so the
 *      fuzzer gets past the signature into the JSON and the envelope built from it
 *   2: "timestamp\nnonce\nsignature\nbody" as sent, with a timestamp window */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "ingress/webhook_legacy.h"

#define TOKEN "test-verification-token-5c2e"

static char *next_line(char **p, char *end) {
    char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl) return NULL;
    char *line = *p;
    *nl = '\0';
    *p = nl + 1;
    return line;
}

static void run(struct webhook_input *in, int window) {
    struct webhook_legacy_verdict out;
    int rc = webhook_legacy_verify(TOKEN, window ? 300 : 0, in, &out);
    if (rc == 0) {
        /* touch the whole envelope so ASan sees a bad pointer or length */
        volatile unsigned char sink = 0;
        for (size_t i = 0; i < out.json_len; i++) sink ^= (unsigned char)out.json[i];
        (void)sink;
        free(out.json);
    } else if (rc < 400 || !out.reason || out.json) {
        abort();
    }
}

static void sign(const char *ts, const char *nonce, const char *body, size_t len, char *hex) {
    size_t a = strlen(ts), b = strlen(nonce), c = strlen(TOKEN);
    char *buf = malloc(a + b + c + len + 1);
    unsigned char digest[CRYPTO_SHA1_LEN];
    memcpy(buf, ts, a);
    memcpy(buf + a, nonce, b);
    memcpy(buf + a + b, TOKEN, c);
    if (len) memcpy(buf + a + b + c, body, len);
    crypto_sha1(buf, a + b + c + len, digest);
    crypto_hex(digest, sizeof digest, hex);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int mode = data[0] % 3;
    char *buf = malloc(size - 1 ? size - 1 : 1);
    memcpy(buf, data + 1, size - 1);
    char *p = buf, *end = buf + size - 1;
    struct webhook_input in = { .now = 1732406400 };
    if (mode == 0) {
        in.body = buf;
        in.len = size - 1;
        run(&in, 0);
    } else {
        char *ts = next_line(&p, end), *nonce = ts ? next_line(&p, end) : NULL;
        char *sig = mode == 2 && nonce ? next_line(&p, end) : NULL;
        char want[2 * CRYPTO_SHA1_LEN + 1];
        if (nonce && (mode == 1 || sig)) {
            in.body = p;
            in.len = (size_t)(end - p);
            in.timestamp = ts;
            in.nonce = nonce;
            if (mode == 1) {
                sign(ts, nonce, p, in.len, want);
                sig = want;
            }
            in.signature = sig;
            run(&in, mode == 2);
        }
    }
    free(buf);
    return 0;
}
