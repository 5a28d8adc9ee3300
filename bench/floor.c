/* The C floor: the least a webhook receiver can do per signed, encrypted event, with no
 * Lua and no gateway around it. libevent's evhttp serves; each POST has its signature
 * checked (X-Lark-Signature = hex SHA-256(timestamp + nonce + encrypt_key + body),
 * compared in constant time), its {"encrypt": base64} body decoded and decrypted
 * (AES-256-CBC, key SHA-256(encrypt_key), IV the first 16 bytes), the plaintext parsed
 * with cJSON and header.event_id and event.message.content read; then 200 "{}".
 * The crypto is larkgw's own src/crypto/crypto.c (thin OpenSSL EVP wrappers), so the
 * two differ in everything but that. bench/cpu.sh compiles and runs it.
 *   floor PORT ENCRYPT_KEY */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "crypto/crypto.h"

#define MAX_BODY (1 << 20)

static const char *encrypt_key;
static unsigned char aes_key[32];
static struct evbuffer *answer;     /* emptied by each evhttp_send_reply */

static void reply(struct evhttp_request *req, int status, const char *reason, const char *body) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/json");
    evbuffer_add(answer, body, strlen(body));
    evhttp_send_reply(req, status, reason, answer);
}

static int signature_ok(struct evkeyvalq *h, const char *body, size_t len) {
    const char *ts = evhttp_find_header(h, "X-Lark-Request-Timestamp");
    const char *nonce = evhttp_find_header(h, "X-Lark-Request-Nonce");
    const char *sig = evhttp_find_header(h, "X-Lark-Signature");
    if (!ts || !nonce || !sig || strlen(sig) != 64) return 0;
    struct iovec parts[4] = { { (void *)ts, strlen(ts) }, { (void *)nonce, strlen(nonce) },
                              { (void *)encrypt_key, strlen(encrypt_key) },
                              { (void *)body, len } };
    char want[65];
    crypto_sha256_hex_parts(parts, 4, want);
    return crypto_equal(want, sig, 64);
}

/* The event's plaintext from {"encrypt": base64}; its length, or -1. *out is malloc'd. */
static long decrypt_body(const char *body, size_t len, char **out) {
    cJSON *outer = cJSON_ParseWithLength(body, len);
    const cJSON *enc = cJSON_GetObjectItemCaseSensitive(outer, "encrypt");
    long n = -1;
    *out = NULL;
    if (cJSON_IsString(enc)) {
        size_t elen = strlen(enc->valuestring);
        unsigned char *raw = malloc(3 * (elen / 4) + 3);
        long rlen = raw ? crypto_base64_decode(enc->valuestring, elen, raw) : -1;
        if (rlen > 0 && (*out = malloc((size_t)rlen + 1)))
            n = crypto_aes_decrypt(aes_key, raw, (size_t)rlen, (unsigned char *)*out);
        free(raw);
    }
    cJSON_Delete(outer);
    if (n < 0) {
        free(*out);
        *out = NULL;
    }
    return n;
}

static void on_request(struct evhttp_request *req, void *arg) {
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        reply(req, 405, "Method Not Allowed", "{\"error\":\"POST only\"}");
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *body = (const char *)evbuffer_pullup(in, -1);
    if (!body || !signature_ok(evhttp_request_get_input_headers(req), body, len)) {
        reply(req, 401, "Unauthorized", "{\"error\":\"bad signature\"}");
        return;
    }
    char *plain;
    long n = decrypt_body(body, len, &plain);
    cJSON *event = n < 0 ? NULL : cJSON_ParseWithLength(plain, (size_t)n);
    const cJSON *header = cJSON_GetObjectItemCaseSensitive(event, "header");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(header, "event_id");
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(event, "event");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(ev, "message");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    if (cJSON_IsString(id) && cJSON_IsString(content))
        reply(req, 200, "OK", "{}");
    else
        reply(req, 400, "Bad Request", "{\"error\":\"not an encrypted message event\"}");
    cJSON_Delete(event);
    free(plain);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: floor PORT ENCRYPT_KEY\n");
        return 2;
    }
    encrypt_key = argv[2];
    crypto_aes_key_derive(encrypt_key, aes_key);
    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    struct evhttp *http = base ? evhttp_new(base) : NULL;
    answer = evbuffer_new();
    if (!http || !answer) return 1;
    evhttp_set_max_body_size(http, MAX_BODY);
    evhttp_set_gencb(http, on_request, NULL);
    if (evhttp_bind_socket(http, "127.0.0.1", (unsigned short)atoi(argv[1])) != 0) {
        fprintf(stderr, "floor: cannot listen on 127.0.0.1:%s\n", argv[1]);
        return 1;
    }
    event_base_dispatch(base);      /* until SIGTERM ends the process */
    return 0;
}
