/* Webhook delivery: POSTs the event to the configured URL, plain or
 * as {"encrypt": base64(IV || AES-256-CBC)}, signed whenever an Encrypt Key is set, and
 * records the answer like an ack. The project's HTTP client carries it (bounded answer,
 * 3 s timeout, keep-alive); it never calls back before emu_webhook_post returns. */
#include "emulator/emu_webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "crypto/crypto.h"
#include "emulator/emu.h"
#include "emulator/emu_envelope.h"
#include "net/http_client.h"

#define ANSWER_MAX (1 << 20)
#define ANSWER_TIMEOUT_MS 3000      /* the platform's patience */

struct emu_hook {
    struct emu_hook *next;
    struct emu *emu;
    char message_id[33];
    uint64_t started_ms;
    emu_webhook_done_fn *done;
};

static void hook_free(struct emu_hook *h) {
    struct emu_hook **pp = &h->emu->hooks;
    while (*pp && *pp != h) pp = &(*pp)->next;
    if (*pp) *pp = h->next;
    free(h);
}

static void hook_done(void *arg, const struct http_client_response *res) {
    struct emu_hook *h = arg;
    long elapsed = (long)(util_now_ms() - h->started_ms);
    if (res->error) log_warn(EMU_MODULE, "message_id %s: webhook: %s", h->message_id, res->error);
    h->done(h->emu, h->message_id, res->status, res->status ? res->body : NULL,
            res->status ? res->body_len : 0, elapsed, res->error);
    hook_free(h);
}

/* The body to POST: the event itself, or {"encrypt": ...}. Caller frees. */
static char *hook_body(struct emu *emu, const char *payload, size_t len, int encrypt) {
    if (!encrypt) return strndup(payload, len);
    unsigned char key[32], iv[16];
    crypto_aes_key_derive(emu->encrypt_key, key);
    crypto_random(iv, sizeof iv);
    unsigned char *ct = malloc(len + 32);
    size_t n = 0, b64len = 4 * ((len + 32 + 2) / 3) + 1;
    char *b64 = ct ? malloc(b64len + 16) : NULL;
    if (b64) n = (size_t)crypto_aes_encrypt(key, iv, payload, len, ct);
    if (b64) {
        memcpy(b64, "{\"encrypt\":\"", 12);
        size_t m = crypto_base64_encode(ct, n, b64 + 12);
        memcpy(b64 + 12 + m, "\"}", 3);
    }
    free(ct);
    return b64;
}

/* The platform's signature: hex SHA-256 of timestamp, nonce, key and the exact body
 * bytes, so a receiver must verify over the raw bytes it got. */
static void hook_sign(const struct emu *emu, const char *body, char ts[24], char nonce[33],
                      char sig[65]) {
    snprintf(ts, 24, "%lld", (long long)time(NULL));
    emu_random_hex(nonce, 16);
    struct iovec parts[] = { { ts, strlen(ts) }, { nonce, strlen(nonce) },
                             { emu->encrypt_key, strlen(emu->encrypt_key) },
                             { (void *)body, strlen(body) } };
    crypto_sha256_hex_parts(parts, 4, sig);
}

int emu_webhook_post(struct emu *emu, const char *message_id, const char *payload,
                     size_t len, int sign, int encrypt, emu_webhook_done_fn *done) {
    if (sign < 0) sign = emu->encrypt_key != NULL;
    if (encrypt < 0) encrypt = emu->encrypt_key != NULL;
    if ((sign || encrypt) && !emu->encrypt_key) return -1;
    if (!emu->webhook_url || strncmp(emu->webhook_url, "http://", 7) != 0) {
        log_warn(EMU_MODULE, "message_id %s: webhook URL is not http://host[:port]/path",
                 message_id);
        return -1;
    }
    if (!emu->hook_http && !(emu->hook_http = http_client_new(emu->base, NULL))) return -1;
    struct emu_hook *h = calloc(1, sizeof *h);
    char *body = h ? hook_body(emu, payload, len, encrypt) : NULL;
    char ts[24], nonce[33], sig[65];
    if (body && sign) hook_sign(emu, body, ts, nonce, sig);
    const char *headers[] = {
        "Content-Type", "application/json; charset=utf-8", "User-Agent", "larkgw-emulator",
        sign ? "X-Lark-Request-Timestamp" : NULL, ts, "X-Lark-Request-Nonce", nonce,
        "X-Lark-Signature", sig, NULL,
    };
    struct http_client_request req = { .method = "POST", .url = emu->webhook_url,
        .headers = headers, .body = body, .body_len = body ? strlen(body) : 0,
        .timeout_ms = ANSWER_TIMEOUT_MS, .max_response = ANSWER_MAX };
    if (h) {
        h->emu = emu;
        memcpy(h->message_id, message_id, sizeof h->message_id);
        h->started_ms = util_now_ms();
        h->done = done;
    }
    if (!body || !http_client_request(emu->hook_http, &req, hook_done, h)) {
        log_warn(EMU_MODULE, "message_id %s: webhook: cannot send to that URL", message_id);
        free(h);
        free(body);
        return -1;
    }
    h->next = emu->hooks;
    emu->hooks = h;
    log_info(EMU_MODULE, "message_id %s -> webhook (%s%s)", message_id,
             encrypt ? "encrypted" : "plain", sign ? ", signed" : "");
    free(body);
    return 0;
}

void emu_webhook_free_all(struct emu *emu) {
    http_client_free(emu->hook_http);    /* cancels what is in flight: no callback runs */
    emu->hook_http = NULL;
    while (emu->hooks) hook_free(emu->hooks);
}
