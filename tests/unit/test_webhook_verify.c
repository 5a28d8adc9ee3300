/* ingress/webhook_verify: the webhook's checks on bytes, against the fixtures in
 * data/webhook/ (made with `openssl enc` and hashlib). Working directory: tests/. */
#include "test.h"

#include <stdlib.h>

#include "base/util.h"
#include "crypto/crypto.h"
#include "event/dispatch.h"
#include "ingress/webhook_verify.h"

#define KEY "test-encrypt-key-9f3a"
#define FIXTURE_TS "1732406400"
#define FIXTURE_NONCE "13579"
#define FIXTURE_SIG "aefdd2ff1cd30faf8c119558fdc177c30789bf33940000aa1e7926b32c8120e1"

static char *fixture(const char *name, size_t *len) {
    char path[256];
    snprintf(path, sizeof path, "data/webhook/%s", name);
    char *s = util_read_file(path, 1 << 20, len);
    if (!s) { fprintf(stderr, "cannot read %s (cwd must be tests/)\n", path); exit(1); }
    return s;
}

/* Runs webhook_verify with its own scratch; the verdict's json is copied into json_out. */
static int verify(const struct webhook_verifier *v, struct webhook_input *in,
                  struct webhook_verdict *out, char *json_out, size_t json_cap) {
    unsigned char *scratch = malloc(webhook_scratch_size(in->len));
    int rc = webhook_verify(v, in, scratch, out);
    if (rc == 0 && json_out) {
        size_t n = out->json_len < json_cap - 1 ? out->json_len : json_cap - 1;
        memcpy(json_out, out->json, n);
        json_out[n] = '\0';
    }
    free(scratch);
    return rc;
}

static void sign(const char *ts, const char *nonce, const char *body, size_t len, char out[65]) {
    struct iovec parts[4] = {
        { (void *)ts, strlen(ts) }, { (void *)nonce, strlen(nonce) },
        { (void *)KEY, strlen(KEY) }, { (void *)body, len },
    };
    crypto_sha256_hex_parts(parts, 4, out);
}

static struct webhook_input signed_input(const char *body, size_t len, char sig[65]) {
    sign(FIXTURE_TS, FIXTURE_NONCE, body, len, sig);
    return (struct webhook_input){ body, len, FIXTURE_TS, FIXTURE_NONCE, sig, 1732406400 };
}

static void test_fixture_event(void) {
    size_t blen, plen;
    char *body = fixture("event.encrypted.body", &blen), *plain = fixture("event.plain.json", &plen);
    struct webhook_verifier v;
    webhook_verifier_init(&v, KEY, 0);
    struct webhook_input in = { body, blen, FIXTURE_TS, FIXTURE_NONCE, FIXTURE_SIG, 1900000000 };
    struct webhook_verdict out;
    char json[4096];
    CHECK_EQ_INT(verify(&v, &in, &out, json, sizeof json), 0);
    CHECK_EQ_STR(json, plain);
    CHECK_EQ_INT(out.flags, 0);
    free(body);
    free(plain);
}

static void test_timestamp_window(void) {
    size_t blen;
    char *body = fixture("event.encrypted.body", &blen);
    struct webhook_verifier v;
    webhook_verifier_init(&v, KEY, 300);
    struct webhook_input in = { body, blen, FIXTURE_TS, FIXTURE_NONCE, FIXTURE_SIG, 0 };
    struct webhook_verdict out;
    in.now = 1732406400 + 300;
    CHECK_EQ_INT(verify(&v, &in, &out, NULL, 0), 0);
    in.now = 1732406400 - 300;
    CHECK_EQ_INT(verify(&v, &in, &out, NULL, 0), 0);
    in.now = 1732406400 + 301;
    CHECK_EQ_INT(verify(&v, &in, &out, NULL, 0), 401);
    CHECK_CONTAINS(out.reason, "stale");
    in.now = 1732406400 - 301;
    CHECK_EQ_INT(verify(&v, &in, &out, NULL, 0), 401);
    in.now = 1900000000;
    CHECK_EQ_INT(verify(&v, &in, &out, NULL, 0), 401);
    free(body);
}

static void test_bad_timestamps(void) {
    size_t blen;
    char *body = fixture("event.encrypted.body", &blen);
    struct webhook_verifier v;
    webhook_verifier_init(&v, KEY, 0);
    const char *bad[] = { "", "-1", "+1732406400", " 1732406400", "1732406400 ", "17324064OO",
                          "1234567890123456789" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct webhook_input in = { body, blen, bad[i], FIXTURE_NONCE, FIXTURE_SIG, 0 };
        struct webhook_verdict out;
        CHECK_EQ_INT(verify(&v, &in, &out, NULL, 0), 401);
    }
    free(body);
}

static void test_bad_signatures(void) {
    size_t blen;
    char *body = fixture("event.encrypted.body", &blen);
    struct webhook_verifier v;
    webhook_verifier_init(&v, KEY, 0);
    char sig[80];
    const char *variants[] = { "flip", "upper", "short", "long", "empty" };
    for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
        strcpy(sig, FIXTURE_SIG);
        if (i == 0) sig[10] = sig[10] == '0' ? '1' : '0';
        if (i == 1) for (char *p = sig; *p; p++) if (*p >= 'a' && *p <= 'f') *p -= 32;
        if (i == 2) sig[63] = '\0';
        if (i == 3) strcat(sig, "0");
        if (i == 4) sig[0] = '\0';
        struct webhook_input in = { body, blen, FIXTURE_TS, FIXTURE_NONCE, sig, 0 };
        struct webhook_verdict out;
        CHECK_EQ_INT(verify(&v, &in, &out, NULL, 0), 401);
        CHECK_EQ_STR(out.reason, "bad signature");
    }
    /* the signature covers the body, the nonce and the timestamp */
    struct webhook_input in = { body, blen, FIXTURE_TS, "13578", FIXTURE_SIG, 0 };
    struct webhook_verdict out;
    CHECK_EQ_INT(verify(&v, &in, &out, NULL, 0), 401);
    in.nonce = FIXTURE_NONCE;
    in.timestamp = "1732406401";
    CHECK_EQ_INT(verify(&v, &in, &out, NULL, 0), 401);
    in.timestamp = FIXTURE_TS;
    body[20] ^= 1;
    CHECK_EQ_INT(verify(&v, &in, &out, NULL, 0), 401);
    /* another encrypt key signs differently */
    body[20] ^= 1;
    webhook_verifier_init(&v, "another-key", 0);
    CHECK_EQ_INT(verify(&v, &in, &out, NULL, 0), 401);
    free(body);
}

static void test_incomplete_headers(void) {
    size_t blen;
    char *body = fixture("event.encrypted.body", &blen);
    struct webhook_verifier v;
    webhook_verifier_init(&v, KEY, 0);
    for (int mask = 1; mask < 7; mask++) {
        struct webhook_input in = { body, blen, mask & 1 ? FIXTURE_TS : NULL,
                                    mask & 2 ? FIXTURE_NONCE : NULL,
                                    mask & 4 ? FIXTURE_SIG : NULL, 0 };
        struct webhook_verdict out;
        CHECK_EQ_INT(verify(&v, &in, &out, NULL, 0), 401);
        CHECK_EQ_STR(out.reason, "incomplete signature headers");
    }
    free(body);
}

static void test_unsigned_is_challenge_only(void) {
    size_t blen, plen;
    char *body = fixture("challenge.encrypted.body", &blen);
    char *plain = fixture("challenge.plain.json", &plen);
    struct webhook_verifier v;
    webhook_verifier_init(&v, KEY, 300);
    struct webhook_input in = { body, blen, NULL, NULL, NULL, 1900000000 };
    struct webhook_verdict out;
    char json[1024];
    CHECK_EQ_INT(verify(&v, &in, &out, json, sizeof json), 0);
    CHECK_EQ_STR(json, plain);
    CHECK_EQ_INT(out.flags, EVENT_CHALLENGE_ONLY);
    free(body);
    free(plain);
}

/* Other spellings of {"encrypt": ...} that are the same JSON: escaped '/', whitespace,
 * extra members. */
static void test_json_variants(void) {
    size_t blen, plen;
    char *body = fixture("challenge.encrypted.body", &blen);
    char *plain = fixture("challenge.plain.json", &plen);
    const char *b64 = strstr(body, "\"encrypt\":\"") + 11;
    size_t b64len = (size_t)(strchr(b64, '"') - b64);
    char escaped[512] = "", variant[1024];
    for (size_t i = 0, o = 0; i < b64len; i++) {
        if (b64[i] == '/') escaped[o++] = '\\';
        escaped[o++] = b64[i];
    }
    const char *formats[] = { "{\"encrypt\":\"%s\"}", " { \"encrypt\" :\n\"%s\" }\r\n",
                              "{\"x\":1,\"encrypt\":\"%s\",\"y\":[true]}" };
    struct webhook_verifier v;
    webhook_verifier_init(&v, KEY, 0);
    for (int i = 0; i < 3; i++) {
        for (int esc = 0; esc < 2; esc++) {
            char plainb64[512];
            snprintf(plainb64, sizeof plainb64, "%.*s", (int)b64len, b64);
            snprintf(variant, sizeof variant, formats[i], esc ? escaped : plainb64);
            struct webhook_input in = { variant, strlen(variant), NULL, NULL, NULL, 0 };
            struct webhook_verdict out;
            char json[1024];
            CHECK_EQ_INT(verify(&v, &in, &out, json, sizeof json), 0);
            CHECK_EQ_STR(json, plain);
        }
    }
    free(body);
    free(plain);
}

static void expect_400(const char *body, const char *reason_part) {
    struct webhook_verifier v;
    webhook_verifier_init(&v, KEY, 0);
    char sig[65];
    struct webhook_input in = signed_input(body, strlen(body), sig);
    struct webhook_verdict out;
    CHECK_EQ_INT(verify(&v, &in, &out, NULL, 0), 400);
    if (!strstr(out.reason, reason_part))
        fprintf(stderr, "body %s: reason '%s', expected '%s'\n", body, out.reason, reason_part);
    CHECK_CONTAINS(out.reason, reason_part);
}

static void test_malformed_bodies(void) {
    expect_400("{\"encrypt\":", "not JSON");
    expect_400("not json", "not JSON");
    expect_400("{\"encrypt\":\"QUJD\"} trailing", "not JSON");
    expect_400("{\"foo\":\"bar\"}", "no 'encrypt'");
    expect_400("{\"encrypt\":5}", "no 'encrypt'");
    expect_400("[\"encrypt\"]", "no 'encrypt'");
    expect_400("\"encrypt\"", "no 'encrypt'");
    expect_400("{\"encrypt\":\"!!!!\"}", "base64");
    expect_400("{\"encrypt\":\"QUJ\"}", "base64");
    expect_400("{\"encrypt\":\"QU=D\"}", "base64");
    expect_400("{\"encrypt\":\"\"}", "decrypt");
    /* an IV alone */
    expect_400("{\"encrypt\":\"ABEiM0RVZneImaq7zN3u/w==\"}", "decrypt");
    /* IV and one block that is not whole blocks long */
    expect_400("{\"encrypt\":\"ABEiM0RVZneImaq7zN3u/3qOw4J8LbYbNDvt4aLWj7Jh\"}", "decrypt");
    /* printf '0123456789abcde\0' | openssl enc -aes-256-cbc -nopad -K <sha256 of KEY>
     *   -iv 00112233445566778899aabbccddeeff, IV prepended, | openssl base64 -A:
     * the last byte 0x00 is bad padding */
    expect_400("{\"encrypt\":\"ABEiM0RVZneImaq7zN3u/3qOw4J8LbYbNDvt4aLWj7I=\"}", "decrypt");
    expect_400("", "empty");
}

static void test_decrypts_openssl_vector(void) {
    /* printf '{"challenge":"x","token":"v-token-7c1e","type":"url_verification"}' |
     *   openssl enc -aes-256-cbc -K <sha256 of KEY> -iv 00112233445566778899aabbccddeeff,
     * IV prepended, | openssl base64 -A */
    const char *body = "{\"encrypt\":\"ABEiM0RVZneImaq7zN3u/yvv77WYTUhuBkN8dxg5KAM0nlmVbCZU5iL"
                       "GEtMcM62D/bqfUz0zG3ZvxxqslsEm3nGnnLQdhljIlJWnptCHijrMsUfija88+Rh9uHMrJSwy\"}";
    struct webhook_verifier v;
    webhook_verifier_init(&v, KEY, 0);
    char sig[65], json[256];
    struct webhook_input in = signed_input(body, strlen(body), sig);
    struct webhook_verdict out;
    CHECK_EQ_INT(verify(&v, &in, &out, json, sizeof json), 0);
    CHECK_EQ_STR(json, "{\"challenge\":\"x\",\"token\":\"v-token-7c1e\",\"type\":\"url_verification\"}");
}

static void test_plain_mode(void) {
    size_t plen, blen;
    char *plain = fixture("event.plain.json", &plen);
    char *enc = fixture("event.encrypted.body", &blen);
    struct webhook_verifier v;
    webhook_verifier_init(&v, NULL, 300);
    struct webhook_input in = { plain, plen, NULL, NULL, NULL, 0 };
    struct webhook_verdict out;
    CHECK_EQ_INT(verify(&v, &in, &out, NULL, 0), 0);
    CHECK(out.json == plain && out.json_len == plen);
    /* signature headers mean nothing without a key */
    in.timestamp = "1";
    in.signature = "x";
    CHECK_EQ_INT(verify(&v, &in, &out, NULL, 0), 0);
    in = (struct webhook_input){ enc, blen, FIXTURE_TS, FIXTURE_NONCE, FIXTURE_SIG, 0 };
    CHECK_EQ_INT(verify(&v, &in, &out, NULL, 0), 400);
    CHECK_CONTAINS(out.reason, "no encrypt_key");
    /* "encrypt" below the top level is just event content; malformed JSON is the
     * dispatcher's to refuse */
    const char *nested = "{\"event\":{\"encrypt\":\"x\"}}";
    in = (struct webhook_input){ nested, strlen(nested), NULL, NULL, NULL, 0 };
    CHECK_EQ_INT(verify(&v, &in, &out, NULL, 0), 0);
    const char *broken = "{\"encrypt\":";
    in = (struct webhook_input){ broken, strlen(broken), NULL, NULL, NULL, 0 };
    CHECK_EQ_INT(verify(&v, &in, &out, NULL, 0), 0);
    in.len = 0;
    CHECK_EQ_INT(verify(&v, &in, &out, NULL, 0), 400);
    webhook_verifier_init(&v, "", 300);
    CHECK(v.encrypt_key == NULL);
    free(plain);
    free(enc);
}

int main(void) {
    RUN(test_fixture_event);
    RUN(test_timestamp_window);
    RUN(test_bad_timestamps);
    RUN(test_bad_signatures);
    RUN(test_incomplete_headers);
    RUN(test_unsigned_is_challenge_only);
    RUN(test_json_variants);
    RUN(test_malformed_bodies);
    RUN(test_decrypts_openssl_vector);
    RUN(test_plain_mode);
    return test_report();
}
