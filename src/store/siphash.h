/* SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit hash for hash tables whose
 * keys come from outside. With a secret random key, whoever picks the keys cannot
 * predict where they land, so cannot pile them into one chain. */
#ifndef LARKGW_STORE_SIPHASH_H
#define LARKGW_STORE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN 16

/* The hash of len bytes at in under the 16-byte key, as the reference implementation's
 * 8 output bytes read little-endian. */
uint64_t siphash(const unsigned char key[SIPHASH_KEY_LEN], const void *in, size_t len);

/* Fills key with random bytes from the kernel (getrandom), else OpenSSL's generator;
 * 0 on success, -1 when neither can give any. */
int siphash_random_key(unsigned char key[SIPHASH_KEY_LEN]);

#endif
