/* A throwaway TLS server identity for tests: a self-signed CA certificate for one
 * subjectAltName ("IP:127.0.0.1", "DNS:other.example"), a server SSL_CTX holding it,
 * and the certificate written to a PEM file a client can trust (tls_ca_file). */
#ifndef LARKGW_TEST_TLS_H
#define LARKGW_TEST_TLS_H

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct test_tls {
    SSL_CTX *server;
    char ca_path[64];
    X509 *cert;
    EVP_PKEY *key;
};

static inline void test_tls_add_ext(X509 *x, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
}

static inline void test_tls_init(struct test_tls *t, const char *san) {
    t->key = EVP_EC_gen("P-256");
    X509 *x = t->cert = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, t->key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"test", -1, -1, 0);
    X509_set_issuer_name(x, name);
    test_tls_add_ext(x, NID_subject_alt_name, san);
    test_tls_add_ext(x, NID_basic_constraints, "critical,CA:TRUE");
    X509_sign(x, t->key, EVP_sha256());
    t->server = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(t->server, x);
    SSL_CTX_use_PrivateKey(t->server, t->key);
    snprintf(t->ca_path, sizeof t->ca_path, "/tmp/larkgw-test-ca-XXXXXX");
    FILE *f = fdopen(mkstemp(t->ca_path), "w");
    PEM_write_X509(f, x);
    fclose(f);
}

static inline void test_tls_free(struct test_tls *t) {
    SSL_CTX_free(t->server);
    X509_free(t->cert);
    EVP_PKEY_free(t->key);
    unlink(t->ca_path);
}

#endif
