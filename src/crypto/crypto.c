#include "crypto/crypto.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>

/* OpenSSL 3 fetches an algorithm from its providers on every init with EVP_sha256()
 * (a lock and a hash lookup per event); fetch each once and keep it for the process. */
static struct {
    pthread_once_t once;
    EVP_MD *sha256, *sha1;
    EVP_CIPHER *aes;
} algs = { PTHREAD_ONCE_INIT, NULL, NULL, NULL };

static void algs_fetch(void) {
    algs.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    algs.sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    algs.aes = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
    if (!algs.sha256 || !algs.sha1 || !algs.aes) abort();
}

static const EVP_MD *md_sha256(void) {
    pthread_once(&algs.once, algs_fetch);
    return algs.sha256;
}

static const EVP_CIPHER *cipher_aes(void) {
    pthread_once(&algs.once, algs_fetch);
    return algs.aes;
}

static void digest(const EVP_MD *md, const void *data, size_t len, unsigned char *out) {
    if (!EVP_Digest(data, len, out, NULL, md, NULL)) abort();
}

void crypto_sha256(const void *data, size_t len, unsigned char out[CRYPTO_SHA256_LEN]) {
    digest(md_sha256(), data, len, out);
}

void crypto_sha1(const void *data, size_t len, unsigned char out[CRYPTO_SHA1_LEN]) {
    pthread_once(&algs.once, algs_fetch);
    digest(algs.sha1, data, len, out);
}

void crypto_hex(const unsigned char *in, size_t len, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

void crypto_sha256_hex_parts(const struct iovec *parts, int nparts, char out[65]) {
    unsigned char md[CRYPTO_SHA256_LEN];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, md_sha256(), NULL)) abort();
    for (int i = 0; i < nparts; i++)
        if (!EVP_DigestUpdate(ctx, parts[i].iov_base, parts[i].iov_len)) abort();
    if (!EVP_DigestFinal_ex(ctx, md, NULL)) abort();
    EVP_MD_CTX_free(ctx);
    crypto_hex(md, sizeof md, out);
}

void crypto_aes_key_derive(const char *encrypt_key, unsigned char key[32]) {
    size_t n = 0;
    while (encrypt_key[n]) n++;
    crypto_sha256(encrypt_key, n, key);
}

long crypto_aes_decrypt(const unsigned char key[32], const unsigned char *in, size_t len,
                        unsigned char *out) {
    /* IV plus at least one whole block: PKCS#7 always adds a block's worth of padding. */
    if (len < 2 * CRYPTO_AES_IV_LEN || (len - CRYPTO_AES_IV_LEN) % 16 != 0 ||
        len - CRYPTO_AES_IV_LEN > (size_t)1 << 30)
        return -1;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx) abort();
    int n = 0, fin = 0;
    long res = -1;
    if (EVP_DecryptInit_ex(ctx, cipher_aes(), NULL, key, in) &&
        EVP_DecryptUpdate(ctx, out, &n, in + CRYPTO_AES_IV_LEN,
                          (int)(len - CRYPTO_AES_IV_LEN)) &&
        EVP_DecryptFinal_ex(ctx, out + n, &fin))
        res = (long)n + fin;
    else
        ERR_clear_error(); /* bad padding leaves an entry on this thread's error queue */
    EVP_CIPHER_CTX_free(ctx);
    return res;
}

long crypto_aes_encrypt(const unsigned char key[32], const unsigned char iv[16],
                        const void *in, size_t len, unsigned char *out) {
    if (len > (size_t)1 << 30) abort();
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    if (!ctx || !EVP_EncryptInit_ex(ctx, cipher_aes(), NULL, key, iv) ||
        !EVP_EncryptUpdate(ctx, out + CRYPTO_AES_IV_LEN, &n, in, (int)len) ||
        !EVP_EncryptFinal_ex(ctx, out + CRYPTO_AES_IV_LEN + n, &fin))
        abort();
    EVP_CIPHER_CTX_free(ctx);
    for (int i = 0; i < CRYPTO_AES_IV_LEN; i++) out[i] = iv[i];
    return CRYPTO_AES_IV_LEN + (long)n + fin;
}

size_t crypto_base64_encode(const void *in, size_t len, char *out) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = in;
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    if (i < len) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0);
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

/* Value + 1 for the alphabet (1..64), 65 for '=', 0 for anything else. */
static const unsigned char b64_value[256] = {
    ['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7,
    ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13,
    ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19,
    ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25,
    ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31,
    ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37,
    ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42, ['q'] = 43,
    ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49,
    ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55,
    ['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61,
    ['9'] = 62, ['+'] = 63, ['/'] = 64, ['='] = 65,
};

/* Table value - 1: 0..63 for the alphabet, 64 for '=', UINT_MAX for anything else. */
static unsigned b64_get(const unsigned char *p) { return b64_value[*p] - 1u; }

long crypto_base64_decode(const char *in, size_t len, unsigned char *out) {
    if (len % 4 != 0) return -1;
    if (len == 0) return 0;
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0, last = len - 4;
    for (size_t i = 0; i < last; i += 4) {
        unsigned a = b64_get(p + i), b = b64_get(p + i + 1);
        unsigned c = b64_get(p + i + 2), d = b64_get(p + i + 3);
        if ((a | b | c | d) > 63) return -1;   /* also '=' before the last quantum */
        unsigned v = a << 18 | b << 12 | c << 6 | d;
        out[o++] = (unsigned char)(v >> 16);
        out[o++] = (unsigned char)(v >> 8);
        out[o++] = (unsigned char)v;
    }
    /* The last quantum may end in "=" or "==". */
    unsigned a = b64_get(p + last), b = b64_get(p + last + 1);
    unsigned c = b64_get(p + last + 2), d = b64_get(p + last + 3);
    if ((a | b) > 63 || c > 64 || d > 64 || (c == 64 && d != 64)) return -1;
    unsigned v = a << 18 | b << 12 | (c & 63) << 6 | (d & 63);
    out[o++] = (unsigned char)(v >> 16);
    if (c != 64) out[o++] = (unsigned char)(v >> 8);
    if (d != 64) out[o++] = (unsigned char)v;
    return (long)o;
}

int crypto_equal(const void *a, const void *b, size_t len) {
    return CRYPTO_memcmp(a, b, len) == 0;
}

void crypto_random(void *buf, size_t len) {
    if (len > (size_t)1 << 30 || RAND_bytes(buf, (int)len) != 1) abort();
}
