#include "ingress/webhook_verify.h"

#include <cjson/cJSON.h>
#include <string.h>

#include "base/util.h"
#include "crypto/crypto.h"
#include "event/dispatch.h"

#define SIGNATURE_HEX_LEN 64

void webhook_verifier_init(struct webhook_verifier *v, const char *encrypt_key, int max_skew_s) {
    memset(v, 0, sizeof *v);
    v->max_skew_s = max_skew_s;
    if (encrypt_key && *encrypt_key) {
        v->encrypt_key = encrypt_key;
        v->encrypt_key_len = strlen(encrypt_key);
        crypto_aes_key_derive(encrypt_key, v->aes_key);
    }
}

/* Room for the decoded base64 (IV || ciphertext), then as much again for the plaintext. */
size_t webhook_scratch_size(size_t len) {
    return 2 * (3 * (len / 4) + 3);
}

static int refuse(struct webhook_verdict *out, int status, const char *reason) {
    out->reason = reason;
    return status;
}

static size_t skip_ws(const char *s, size_t i, size_t n) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

/* The shape the platform sends, {"encrypt":"<base64>"} (whitespace allowed), found in
 * place without a parse. -1 for anything else, which then goes through cJSON. */
static int encrypt_field_fast(const char *s, size_t n, const char **val, size_t *vlen) {
    static const char key[] = "\"encrypt\"";
    size_t i = skip_ws(s, 0, n);
    if (i >= n || s[i++] != '{') return -1;
    i = skip_ws(s, i, n);
    if (n - i < sizeof key - 1 || memcmp(s + i, key, sizeof key - 1) != 0) return -1;
    i = skip_ws(s, i + sizeof key - 1, n);
    if (i >= n || s[i++] != ':') return -1;
    i = skip_ws(s, i, n);
    if (i >= n || s[i++] != '"') return -1;
    /* Control characters inside are left to the base64 decoder, which refuses them. */
    const char *close = memchr(s + i, '"', n - i);
    if (!close || memchr(s + i, '\\', (size_t)(close - (s + i)))) return -1;
    size_t start = i, end = (size_t)(close - s);
    i = end + 1;
    i = skip_ws(s, i, n);
    if (i >= n || s[i++] != '}') return -1;
    if (skip_ws(s, i, n) != n) return -1;
    *val = s + start;
    *vlen = end - start;
    return 0;
}

/* Decodes base64 into scratch and decrypts into the second half; 0 or an HTTP status. */
static int decrypt_value(const struct webhook_verifier *v, const char *b64, size_t b64len,
                         size_t body_len, unsigned char *scratch, struct webhook_verdict *out) {
    unsigned char *raw = scratch, *plain = scratch + webhook_scratch_size(body_len) / 2;
    long n = crypto_base64_decode(b64, b64len, raw);
    if (n < 0) return refuse(out, 400, "'encrypt' is not valid base64");
    long m = crypto_aes_decrypt(v->aes_key, raw, (size_t)n, plain);
    if (m < 0) return refuse(out, 400, "cannot decrypt 'encrypt' (bad length or padding, or another encrypt key)");
    out->json = (const char *)plain;
    out->json_len = (size_t)m;
    return 0;
}

static int decrypt_body(const struct webhook_verifier *v, const struct webhook_input *in,
                        unsigned char *scratch, struct webhook_verdict *out) {
    const char *b64;
    size_t b64len;
    if (encrypt_field_fast(in->body, in->len, &b64, &b64len) == 0)
        return decrypt_value(v, b64, b64len, in->len, scratch, out);
    cJSON *root = util_json_parse_one(in->body, in->len);
    if (!root) return refuse(out, 400, "body is not JSON");
    const cJSON *field = cJSON_GetObjectItemCaseSensitive(root, "encrypt");
    int rc;
    if (!cJSON_IsObject(root) || !cJSON_IsString(field))
        rc = refuse(out, 400, "body has no 'encrypt' string (is encrypt_key set on this side only?)");
    else
        rc = decrypt_value(v, field->valuestring, strlen(field->valuestring), in->len, scratch, out);
    cJSON_Delete(root);
    return rc;
}

int webhook_verify_parse_timestamp(const char *s, long long *ts) {
    long long t = 0;
    size_t i = 0;
    for (; s[i]; i++) {
        if (s[i] < '0' || s[i] > '9' || i >= 18) return -1;
        t = t * 10 + (s[i] - '0');
    }
    if (i == 0) return -1;
    *ts = t;
    return 0;
}

static int check_signature(const struct webhook_verifier *v, const struct webhook_input *in,
                           struct webhook_verdict *out) {
    long long ts;
    if (webhook_verify_parse_timestamp(in->timestamp, &ts) < 0)
        return refuse(out, 401, "malformed X-Lark-Request-Timestamp");
    long long skew = in->now > ts ? in->now - ts : ts - in->now;
    if (v->max_skew_s > 0 && skew > v->max_skew_s)
        return refuse(out, 401, "stale X-Lark-Request-Timestamp (outside webhook.max_skew_s)");
    if (strlen(in->signature) != SIGNATURE_HEX_LEN)
        return refuse(out, 401, "bad signature");
    struct iovec parts[4] = {
        { (void *)in->timestamp, strlen(in->timestamp) },
        { (void *)in->nonce, strlen(in->nonce) },
        { (void *)v->encrypt_key, v->encrypt_key_len },
        { (void *)in->body, in->len },
    };
    char want[SIGNATURE_HEX_LEN + 1];
    crypto_sha256_hex_parts(parts, 4, want);
    if (!crypto_equal(want, in->signature, SIGNATURE_HEX_LEN))
        return refuse(out, 401, "bad signature");
    return 0;
}

/* Plain mode: the body goes to the dispatcher as is, unless it is an encrypted one. */
static int plain_body(const struct webhook_input *in, struct webhook_verdict *out) {
    if (memmem(in->body, in->len, "\"encrypt\"", 9)) {
        cJSON *root = util_json_parse_one(in->body, in->len);
        int encrypted = cJSON_IsObject(root) && cJSON_GetObjectItemCaseSensitive(root, "encrypt");
        cJSON_Delete(root);
        if (encrypted)
            return refuse(out, 400, "encrypted body but no encrypt_key is configured");
    }
    out->json = in->body;
    out->json_len = in->len;
    return 0;
}

int webhook_verify(const struct webhook_verifier *v, const struct webhook_input *in,
                   unsigned char *scratch, struct webhook_verdict *out) {
    memset(out, 0, sizeof *out);
    if (in->len == 0) return refuse(out, 400, "empty body");
    if (!v->encrypt_key) return plain_body(in, out);
    int present = !!in->timestamp + !!in->nonce + !!in->signature;
    if (present == 0) {
        /* The platform does not sign url_verification; the dispatcher lets only that by. */
        out->flags = EVENT_CHALLENGE_ONLY;
    } else if (present < 3) {
        return refuse(out, 401, "incomplete signature headers");
    } else {
        int rc = check_signature(v, in, out);
        if (rc) return rc;
    }
    return decrypt_body(v, in, scratch, out);
}
