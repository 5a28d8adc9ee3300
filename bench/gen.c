/* Writes COUNT signed, encrypted im.message.receive_v1 webhook requests, each with its
 * own event_id and message_id (repeats would only measure the dedup fast path), as raw
 * HTTP/1.1 requests separated by NUL bytes, for bench/wrk.lua to replay.
 *   gen COUNT ENCRYPT_KEY TOKEN HOST:PORT PATH OUT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"

#define CHATS 64

static int event_json(char *out, size_t cap, const char *token, unsigned long i, time_t now) {
    unsigned char rnd[16];
    char id[33];
    crypto_random(rnd, sizeof rnd);
    crypto_hex(rnd, sizeof rnd, id);
    return snprintf(out, cap,
        "{\"schema\":\"2.0\",\"header\":{\"event_id\":\"%s\",\"event_type\":\"im.message.receive_v1\","
        "\"create_time\":\"%lld000\",\"token\":\"%s\",\"app_id\":\"cli_a5f1e2d3c4b5a697\","
        "\"tenant_key\":\"2ca1d211f64f6438\"},\"event\":{\"sender\":{\"sender_id\":{"
        "\"union_id\":\"on_8ed6aa67826108097d9ee143816345\",\"user_id\":\"e33ggbyz\","
        "\"open_id\":\"ou_84aad35d084aa403a838cf73ee18467\"},\"sender_type\":\"user\","
        "\"tenant_key\":\"2ca1d211f64f6438\"},\"message\":{\"message_id\":\"om_%s%08lx\","
        "\"root_id\":\"\",\"parent_id\":\"\",\"create_time\":\"%lld000\",\"update_time\":\"%lld000\","
        "\"chat_id\":\"oc_5ce6d572455d361153b7cb5%05lu\",\"chat_type\":\"group\","
        "\"message_type\":\"text\",\"content\":\"{\\\"text\\\":\\\"@_user_1 hello %lu\\\"}\","
        "\"mentions\":[{\"key\":\"@_user_1\",\"id\":{\"union_id\":\"on_8ed6aa67826108097d9ee143816345\","
        "\"user_id\":\"e33ggbyz\",\"open_id\":\"ou_84aad35d084aa403a838cf73ee18467\"},"
        "\"name\":\"Echo Bot\",\"tenant_key\":\"2ca1d211f64f6438\"}],\"user_agent\":\"Mozilla/5.0\"}}}",
        id, (long long)now, token, id, i, (long long)now, (long long)now, i % CHATS, i);
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: gen COUNT ENCRYPT_KEY TOKEN HOST:PORT PATH OUT\n");
        return 2;
    }
    unsigned long count = strtoul(argv[1], NULL, 10);
    const char *key = argv[2], *token = argv[3], *authority = argv[4], *path = argv[5];
    FILE *out = fopen(argv[6], "wb");
    if (!out) { perror(argv[6]); return 1; }
    unsigned char aes_key[32], iv[16];
    crypto_aes_key_derive(key, aes_key);
    static char json[4096], body[8192], b64[8192];
    static unsigned char enc[4096];
    time_t now = time(NULL);
    char ts[32];
    snprintf(ts, sizeof ts, "%lld", (long long)now);
    for (unsigned long i = 0; i < count; i++) {
        int jlen = event_json(json, sizeof json, token, i, now);
        crypto_random(iv, sizeof iv);
        long elen = crypto_aes_encrypt(aes_key, iv, json, (size_t)jlen, enc);
        crypto_base64_encode(enc, (size_t)elen, b64);
        int blen = snprintf(body, sizeof body, "{\"encrypt\":\"%s\"}", b64);
        char nonce[24], sig[65];
        snprintf(nonce, sizeof nonce, "%lx", i);
        struct iovec parts[4] = { { ts, strlen(ts) }, { nonce, strlen(nonce) },
                                  { (void *)key, strlen(key) }, { body, (size_t)blen } };
        crypto_sha256_hex_parts(parts, 4, sig);
        fprintf(out, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                "X-Lark-Request-Timestamp: %s\r\nX-Lark-Request-Nonce: %s\r\n"
                "X-Lark-Signature: %s\r\nContent-Length: %d\r\n\r\n%s",
                path, authority, ts, nonce, sig, blen, body);
        fputc('\0', out);
    }
    if (fclose(out) != 0) { perror(argv[6]); return 1; }
    return 0;
}
