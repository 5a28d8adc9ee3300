/* net/net: URL parsing (schemes, default ports, IPv6 literals, targets, what is refused)
 * and the authority written into the Host header; the TLS context's settings. */
#include "test.h"

#include <openssl/ssl.h>

#include "base/log.h"
#include "net/net.h"

static void test_url_schemes_and_ports(void) {
    struct net_url u;
    CHECK_EQ_INT(net_url_parse("http://example.com", &u), 0);
    CHECK_EQ_INT(u.tls, 0);
    CHECK_EQ_INT(u.port, 80);
    CHECK_EQ_STR(u.host, "example.com");
    CHECK_EQ_STR(u.target, "/");
    net_url_free(&u);
    CHECK(u.target == NULL);
    CHECK_EQ_INT(net_url_parse("HTTPS://open.feishu.cn/open-apis/x?a=1&b=2", &u), 0);
    CHECK_EQ_INT(u.tls, 1);
    CHECK_EQ_INT(u.port, 443);
    CHECK_EQ_STR(u.target, "/open-apis/x?a=1&b=2");
    net_url_free(&u);
    CHECK_EQ_INT(net_url_parse("ws://127.0.0.1:8080?q=1", &u), 0);
    CHECK_EQ_INT(u.port, 8080);
    CHECK_EQ_STR(u.target, "/?q=1");
    net_url_free(&u);
    CHECK_EQ_INT(net_url_parse("wss://h:65535/p", &u), 0);
    CHECK_EQ_INT(u.tls, 1);
    CHECK_EQ_INT(u.port, 65535);
    net_url_free(&u);
}

static void test_url_ipv6(void) {
    struct net_url u;
    CHECK_EQ_INT(net_url_parse("http://[::1]:9000/a", &u), 0);
    CHECK_EQ_STR(u.host, "::1");
    CHECK_EQ_INT(u.port, 9000);
    CHECK_EQ_STR(u.target, "/a");
    net_url_free(&u);
    CHECK_EQ_INT(net_url_parse("https://[2001:db8::2]", &u), 0);
    CHECK_EQ_STR(u.host, "2001:db8::2");
    CHECK_EQ_INT(u.port, 443);
    net_url_free(&u);
    CHECK_EQ_INT(net_url_parse("http://[::1", &u), -1);
    CHECK_EQ_INT(net_url_parse("http://[::1]x", &u), -1);
}

static void test_url_refused(void) {
    struct net_url u;
    static const char *const bad[] = {
        "ftp://h/", "h/path", "http://", "http:///x", "http://user@h/", "http://h:0/",
        "http://h:65536/", "http://h:8x/", "http://h:/", "http://h:123456/",
        "http://h/a#frag", "http://h/a b", "http://h/\x7f", "http://h\\x/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = net_url_parse(bad[i], &u);
        if (rc != -1) fprintf(stderr, "accepted: %s\n", bad[i]);
        CHECK_EQ_INT(rc, -1);
        CHECK(u.target == NULL);
    }
    CHECK_EQ_INT(net_url_parse(NULL, &u), -1);
    char longhost[300 + 8] = "http://";
    memset(longhost + 7, 'a', 300);
    longhost[307] = '\0';
    CHECK_EQ_INT(net_url_parse(longhost, &u), -1);
}

static void authority_of(const char *url, const char *want) {
    struct net_url u;
    char out[300];
    CHECK_EQ_INT(net_url_parse(url, &u), 0);
    net_url_authority(&u, out, sizeof out);
    CHECK_EQ_STR(out, want);
    net_url_free(&u);
}

static void test_authority(void) {
    authority_of("http://example.com/x", "example.com");
    authority_of("http://example.com:80/x", "example.com");
    authority_of("http://example.com:443/x", "example.com:443");
    authority_of("https://example.com:443/x", "example.com");
    authority_of("wss://example.com:8443", "example.com:8443");
    authority_of("http://[::1]/", "[::1]");
    authority_of("http://[::1]:8080/", "[::1]:8080");
    char small[8];
    struct net_url u;
    CHECK_EQ_INT(net_url_parse("http://example.com:8080/", &u), 0);
    net_url_authority(&u, small, sizeof small);
    CHECK_EQ_INT(strlen(small), sizeof small - 1);       /* cut, still terminated */
    net_url_free(&u);
}

static void test_tls_ctx(void) {
    SSL_CTX *ctx = net_tls_ctx_new(NULL);
    CHECK(ctx != NULL);
    if (ctx) {
        CHECK_EQ_INT(SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER, SSL_VERIFY_PEER);
        CHECK_EQ_INT(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
        SSL_CTX_free(ctx);
    }
    CHECK(net_tls_ctx_new("/nonexistent/ca.pem") == NULL);
}

int main(void) {
    log_setup(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, NULL);
    RUN(test_url_schemes_and_ports);
    RUN(test_url_ipv6);
    RUN(test_url_refused);
    RUN(test_authority);
    RUN(test_tls_ctx);
    log_close();
    return test_report();
}
