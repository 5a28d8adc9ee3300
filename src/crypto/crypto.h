/* Crypto primitives on OpenSSL EVP: what the webhook, the WebSocket handshake and the
 * emulator need, and nothing more. No function here allocates or logs. */
#ifndef LARKGW_CRYPTO_H
#define LARKGW_CRYPTO_H

#include <stddef.h>
#include <sys/uio.h>

#define CRYPTO_SHA256_LEN 32
#define CRYPTO_SHA1_LEN 20
#define CRYPTO_AES_IV_LEN 16

void crypto_sha256(const void *data, size_t len, unsigned char out[CRYPTO_SHA256_LEN]);
void crypto_sha1(const void *data, size_t len, unsigned char out[CRYPTO_SHA1_LEN]);

/* Lowercase hex of len bytes; out needs 2*len+1 bytes (NUL-terminated). */
void crypto_hex(const unsigned char *in, size_t len, char *out);

/* Lowercase hex SHA-256 over several parts hashed in order, without concatenating them
 * (the webhook signature is timestamp || nonce || encrypt_key || body). out: 65 bytes. */
void crypto_sha256_hex_parts(const struct iovec *parts, int nparts, char out[65]);

/* The AES key for an Encrypt Key is SHA-256 of its bytes; derive it once at startup. */
void crypto_aes_key_derive(const char *encrypt_key, unsigned char key[32]);

/* Decrypts IV (16 bytes) || AES-256-CBC ciphertext with PKCS#7 padding. out needs len
 * bytes. Returns the plaintext length, or -1 on a short input, a length that is not a
 * whole number of blocks, or bad padding. */
long crypto_aes_decrypt(const unsigned char key[32], const unsigned char *in, size_t len,
                        unsigned char *out);

/* Encrypts into IV || ciphertext (what the platform sends). out needs
 * 16 + len + 16 bytes. Returns the output length. */
long crypto_aes_encrypt(const unsigned char key[32], const unsigned char iv[16],
                        const void *in, size_t len, unsigned char *out);

/* Standard base64 with padding. encode: out needs 4*((len+2)/3)+1 bytes, NUL-terminated,
 * returns the length. decode: out needs 3*(len/4)+3 bytes; returns the decoded length or
 * -1 on any invalid character, bad length or bad padding. */
size_t crypto_base64_encode(const void *in, size_t len, char *out);
long crypto_base64_decode(const char *in, size_t len, unsigned char *out);

/* 1 when equal; time depends on len only. */
int crypto_equal(const void *a, const void *b, size_t len);

/* Cryptographically random bytes (masks, nonces, jitter); aborts if the RNG fails. */
void crypto_random(void *buf, size_t len);

#endif
