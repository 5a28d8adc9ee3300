/* crypto/ against answers computed outside our code: the openssl command line (each
 * vector gives its command) and the webhook fixtures in data/webhook/ (made with
 * `openssl enc` and Python's hashlib). Runs with the working directory tests/. */
#include "test.h"

#include <stdlib.h>

#include "base/util.h"
#include "crypto/crypto.h"

static void hex_decode(const char *hex, unsigned char *out, size_t *len) {
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
    *len = n;
}

static void hex_of(const unsigned char *in, size_t len, char *out) { crypto_hex(in, len, out); }

/* openssl ... -K of every AES vector below. */
static const char *const test_key_hex =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char *const test_iv_hex = "00112233445566778899aabbccddeeff";

static void test_sha256(void) {
    unsigned char md[CRYPTO_SHA256_LEN];
    char hex[65];
    /* printf 'abc' | openssl dgst -sha256 */
    crypto_sha256("abc", 3, md);
    hex_of(md, sizeof md, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    /* printf '' | openssl dgst -sha256 */
    crypto_sha256("", 0, md);
    hex_of(md, sizeof md, hex);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
}

static void test_sha1(void) {
    unsigned char md[CRYPTO_SHA1_LEN];
    char hex[41];
    /* printf 'abc' | openssl dgst -sha1 */
    crypto_sha1("abc", 3, md);
    hex_of(md, sizeof md, hex);
    CHECK(strcmp(hex, "a9993e364706816aba3e25717850c26c9cd0d89d") == 0);
}

static void test_sha256_hex_parts(void) {
    char hex[65];
    struct iovec parts[3] = { { "a", 1 }, { "", 0 }, { "bc", 2 } };
    crypto_sha256_hex_parts(parts, 3, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    crypto_sha256_hex_parts(parts, 0, hex);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
}

static void test_aes_key_derive(void) {
    unsigned char key[32];
    char hex[65];
    /* printf 'test-encrypt-key-9f3a' | openssl dgst -sha256 */
    crypto_aes_key_derive("test-encrypt-key-9f3a", key);
    hex_of(key, sizeof key, hex);
    CHECK(strcmp(hex, "dd60525c6b6e7d2b82611c8d0f4a010c8514434bec2ba39c9aaae4f6958492c8") == 0);
}

/* IV || ciphertext as the platform sends it, from hex. */
static size_t iv_ct(const char *ct_hex, unsigned char *out) {
    size_t n, m;
    hex_decode(test_iv_hex, out, &n);
    hex_decode(ct_hex, out + n, &m);
    return n + m;
}

static void test_aes_decrypt_known(void) {
    unsigned char key[32], in[128], out[128];
    size_t klen, n;
    hex_decode(test_key_hex, key, &klen);
    /* printf 'hello larkgw' | openssl enc -aes-256-cbc -K <test_key> -iv <test_iv> | xxd -p */
    n = iv_ct("5a66e7582f6646b3911eb76a09b23187", in);
    CHECK(crypto_aes_decrypt(key, in, n, out) == 12);
    CHECK(memcmp(out, "hello larkgw", 12) == 0);
    /* a whole block gets a whole block of padding:
     * printf '0123456789abcdef' | openssl enc -aes-256-cbc -K <test_key> -iv <test_iv> | xxd -p */
    n = iv_ct("b9c3114c00e71ca3d7a59bb43c4b71019fb79bed936010fc05e062d55e7a4e52", in);
    CHECK(crypto_aes_decrypt(key, in, n, out) == 16);
    CHECK(memcmp(out, "0123456789abcdef", 16) == 0);
    /* printf '' | openssl enc -aes-256-cbc -K <test_key> -iv <test_iv> | xxd -p */
    n = iv_ct("8e440cd74647c29d142a34b21107942e", in);
    CHECK(crypto_aes_decrypt(key, in, n, out) == 0);
}

static void test_aes_decrypt_bad_padding(void) {
    unsigned char key[32], in[128], out[128];
    size_t klen, n;
    hex_decode(test_key_hex, key, &klen);
    /* last byte 0x00 is never valid PKCS#7:
     * printf '0123456789abcde\0' | openssl enc -aes-256-cbc -nopad -K <test_key> -iv <test_iv> */
    n = iv_ct("5be46573e9291b36e24e786030f9d72c", in);
    CHECK(crypto_aes_decrypt(key, in, n, out) == -1);
    /* claims 3 bytes of padding but the bytes before are not 0x03:
     * printf '0123456789abcd\x02\x03' | openssl enc -aes-256-cbc -nopad -K <test_key> -iv <test_iv> */
    n = iv_ct("1cc87b95850eb6d247c99e45a8ec6d0f", in);
    CHECK(crypto_aes_decrypt(key, in, n, out) == -1);
    /* printf '0123456789abcd\x03\x03' | openssl enc ... -nopad: 3 claimed, 2 present */
    n = iv_ct("0170ee536d8c73c13a00f8da30c8dbe7", in);
    CHECK(crypto_aes_decrypt(key, in, n, out) == -1);
}

static void test_aes_decrypt_bad_length(void) {
    unsigned char key[32] = { 0 }, in[64] = { 0 }, out[64];
    CHECK(crypto_aes_decrypt(key, in, 0, out) == -1);
    CHECK(crypto_aes_decrypt(key, in, 15, out) == -1);
    CHECK(crypto_aes_decrypt(key, in, 16, out) == -1);  /* an IV and no block */
    CHECK(crypto_aes_decrypt(key, in, 31, out) == -1);
    CHECK(crypto_aes_decrypt(key, in, 33, out) == -1);  /* not whole blocks */
    CHECK(crypto_aes_decrypt(key, in, 47, out) == -1);
}

static void test_aes_encrypt_known(void) {
    unsigned char key[32], iv[16], out[64], back[64];
    size_t klen, ivlen;
    char hex[129];
    hex_decode(test_key_hex, key, &klen);
    hex_decode(test_iv_hex, iv, &ivlen);
    long n = crypto_aes_encrypt(key, iv, "hello larkgw", 12, out);
    CHECK(n == 32);
    hex_of(out, (size_t)n, hex);
    /* IV followed by the ciphertext of test_aes_decrypt_known's first vector */
    CHECK(strcmp(hex, "00112233445566778899aabbccddeeff5a66e7582f6646b3911eb76a09b23187") == 0);
    CHECK(crypto_aes_decrypt(key, out, (size_t)n, back) == 12);
    CHECK(memcmp(back, "hello larkgw", 12) == 0);
}

static void test_base64_encode(void) {
    char out[64];
    /* printf 'foobar' | openssl base64, and so on */
    CHECK(crypto_base64_encode("foobar", 6, out) == 8 && strcmp(out, "Zm9vYmFy") == 0);
    CHECK(crypto_base64_encode("fooba", 5, out) == 8 && strcmp(out, "Zm9vYmE=") == 0);
    CHECK(crypto_base64_encode("foob", 4, out) == 8 && strcmp(out, "Zm9vYg==") == 0);
    CHECK(crypto_base64_encode("\xff\xfe\x00\x01", 4, out) == 8 && strcmp(out, "//4AAQ==") == 0);
    CHECK(crypto_base64_encode("", 0, out) == 0 && out[0] == '\0');
}

static long dec(const char *s, unsigned char *out) { return crypto_base64_decode(s, strlen(s), out); }

static void test_base64_decode(void) {
    unsigned char out[64];
    CHECK(dec("Zm9vYmFy", out) == 6 && memcmp(out, "foobar", 6) == 0);
    CHECK(dec("Zm9vYmE=", out) == 5 && memcmp(out, "fooba", 5) == 0);
    CHECK(dec("Zm9vYg==", out) == 4 && memcmp(out, "foob", 4) == 0);
    CHECK(dec("//4AAQ==", out) == 4 && memcmp(out, "\xff\xfe\x00\x01", 4) == 0);
    CHECK(dec("", out) == 0);
    /* printf 'abc' | openssl enc -aes-256-cbc -K <test_key> -iv <test_iv> | openssl base64 */
    CHECK(dec("MWqJbXRsULv+sebPF4EYjA==", out) == 16);
}

static void test_base64_decode_invalid(void) {
    unsigned char out[64];
    CHECK(dec("Zm9v!mFy", out) == -1);      /* bad character */
    CHECK(dec("Zm9v-mFy", out) == -1);      /* URL-safe alphabet is not ours */
    CHECK(dec("Zm9v_mFy", out) == -1);
    CHECK(dec("Zm9vYmF\n", out) == -1);     /* no whitespace inside */
    CHECK(dec("Zm9vYmE", out) == -1);       /* bad length */
    CHECK(dec("Zm9vY", out) == -1);
    CHECK(dec("Zm9vYm=y", out) == -1);      /* '=' then data */
    CHECK(dec("Zm=vYmFy", out) == -1);
    CHECK(dec("Zm9vY===", out) == -1);      /* three '=' */
    CHECK(dec("====", out) == -1);
    CHECK(dec("Zm9vYg==Zm9v", out) == -1);  /* padding before the end */
    CHECK(crypto_base64_decode("Zm9v\0mFy", 8, out) == -1);
}

static char *read_fixture(const char *name, size_t *len) {
    char path[256];
    snprintf(path, sizeof path, "data/webhook/%s", name);
    char *s = util_read_file(path, 1 << 20, len);
    if (!s) { fprintf(stderr, "cannot read %s (cwd must be tests/)\n", path); exit(1); }
    return s;
}

/* The "encrypt" value of a fixture body, located by hand so this test needs no JSON. */
static const char *encrypt_field(const char *body, size_t *len) {
    const char *p = strstr(body, "\"encrypt\":\"");
    if (!p) return NULL;
    p += strlen("\"encrypt\":\"");
    *len = (size_t)(strchr(p, '"') - p);
    return p;
}

static void fixture_decrypts(const char *enc_name, const char *plain_name) {
    size_t blen = 0, plen = 0, flen = 0;
    char *body = read_fixture(enc_name, &blen), *plain = read_fixture(plain_name, &plen);
    unsigned char key[32];
    crypto_aes_key_derive("test-encrypt-key-9f3a", key);
    const char *b64 = encrypt_field(body, &flen);
    CHECK(b64 != NULL);
    unsigned char *raw = malloc(flen), *out = malloc(flen);
    long n = crypto_base64_decode(b64, flen, raw);
    CHECK(n > 32);
    CHECK(memcmp(raw, "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff", 16) == 0);
    long m = crypto_aes_decrypt(key, raw, (size_t)n, out);
    CHECK(m == (long)plen && memcmp(out, plain, plen) == 0);
    /* the wrong key: the padding check catches it */
    crypto_aes_key_derive("not-the-key", key);
    CHECK(crypto_aes_decrypt(key, raw, (size_t)n, out) == -1);
    free(raw);
    free(out);
    free(body);
    free(plain);
}

static void test_fixture_event_decrypts(void) {
    fixture_decrypts("event.encrypted.body", "event.plain.json");
}

static void test_fixture_challenge_decrypts(void) {
    fixture_decrypts("challenge.encrypted.body", "challenge.plain.json");
}

static void test_fixture_signature(void) {
    size_t blen, hlen;
    char *body = read_fixture("event.encrypted.body", &blen);
    char *headers = read_fixture("event.encrypted.headers", &hlen);
    const char *sig = strstr(headers, "X-Lark-Signature: ");
    CHECK(sig != NULL);
    sig += strlen("X-Lark-Signature: ");
    const char *key = "test-encrypt-key-9f3a";
    struct iovec parts[4] = {
        { "1732406400", 10 }, { "13579", 5 }, { (void *)key, strlen(key) }, { body, blen },
    };
    char hex[65];
    crypto_sha256_hex_parts(parts, 4, hex);
    CHECK(strncmp(hex, sig, 64) == 0);
    /* one changed body byte changes the signature */
    body[blen / 2] ^= 1;
    crypto_sha256_hex_parts(parts, 4, hex);
    CHECK(strncmp(hex, sig, 64) != 0);
    free(body);
    free(headers);
}

static void test_equal(void) {
    CHECK(crypto_equal("abcdef", "abcdef", 6));
    CHECK(!crypto_equal("abcdef", "abcdeg", 6));
    CHECK(!crypto_equal("xbcdef", "abcdef", 6));
    CHECK(crypto_equal("a", "b", 0));
}

static void test_random(void) {
    unsigned char a[32], b[32];
    crypto_random(a, sizeof a);
    crypto_random(b, sizeof b);
    CHECK(memcmp(a, b, sizeof a) != 0);
}

int main(void) {
    RUN(test_sha256);
    RUN(test_sha1);
    RUN(test_sha256_hex_parts);
    RUN(test_aes_key_derive);
    RUN(test_aes_decrypt_known);
    RUN(test_aes_decrypt_bad_padding);
    RUN(test_aes_decrypt_bad_length);
    RUN(test_aes_encrypt_known);
    RUN(test_base64_encode);
    RUN(test_base64_decode);
    RUN(test_base64_decode_invalid);
    RUN(test_fixture_event_decrypts);
    RUN(test_fixture_challenge_decrypts);
    RUN(test_fixture_signature);
    RUN(test_equal);
    RUN(test_random);
    return test_report();
}
