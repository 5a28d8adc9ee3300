/* The allow-list's matching and the internal-address classes. */
#include "net/http_allow.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "test.h"

static int internal(const char *text) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(text, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, text, &s6->sin6_addr) != 1) return -1;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        if (inet_pton(AF_INET, text, &s4->sin_addr) != 1) return -1;
    }
    return http_allow_addr_internal((struct sockaddr *)&ss);
}

static void test_internal_addresses(void) {
    const char *yes[] = { "127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255",
                          "192.168.1.1", "169.254.169.254", "0.0.0.0", "100.64.0.1", "224.0.0.1",
                          "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fd12::1",
                          "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1",
                          "64:ff9b::a9fe:a9fe", "fec0::1" };
    const char *no[] = { "8.8.8.8", "1.1.1.1", "172.32.0.1", "192.169.0.1", "100.128.0.1",
                         "2606:4700::1111", "::ffff:8.8.8.8", "2001:4860::8888" };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (internal(yes[i]) != 1) fprintf(stderr, "  %s should be internal\n", yes[i]);
        CHECK_EQ_INT(internal(yes[i]), 1);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        if (internal(no[i]) != 0) fprintf(stderr, "  %s should be public\n", no[i]);
        CHECK_EQ_INT(internal(no[i]), 0);
    }
    struct sockaddr unknown = { .sa_family = AF_UNIX };
    CHECK_EQ_INT(http_allow_addr_internal(&unknown), 1);
}

static void test_matching(void) {
    const char *entries[] = { "api.example.com", "llm.internal.example:8443", "*.corp.example",
                              "[::1]:8080", "LOCALHOST.", "10.0.0.5" };
    char err[200];
    struct http_allow *a = http_allow_new(entries, 6, err, sizeof err);
    CHECK(a != NULL);
    CHECK_EQ_INT(http_allow_match(a, "api.example.com", 443), HTTP_ALLOW_EXACT);
    CHECK_EQ_INT(http_allow_match(a, "API.Example.com.", 80), HTTP_ALLOW_EXACT);
    CHECK_EQ_INT(http_allow_match(a, "x.api.example.com", 443), HTTP_ALLOW_NO);
    CHECK_EQ_INT(http_allow_match(a, "example.com", 443), HTTP_ALLOW_NO);
    CHECK_EQ_INT(http_allow_match(a, "llm.internal.example", 8443), HTTP_ALLOW_EXACT);
    CHECK_EQ_INT(http_allow_match(a, "llm.internal.example", 443), HTTP_ALLOW_NO);
    CHECK_EQ_INT(http_allow_match(a, "a.corp.example", 443), HTTP_ALLOW_DOMAIN);
    CHECK_EQ_INT(http_allow_match(a, "a.b.corp.example", 1), HTTP_ALLOW_DOMAIN);
    CHECK_EQ_INT(http_allow_match(a, "corp.example", 443), HTTP_ALLOW_NO);   /* the bare domain */
    CHECK_EQ_INT(http_allow_match(a, "evilcorp.example", 443), HTTP_ALLOW_NO);
    CHECK_EQ_INT(http_allow_match(a, "::1", 8080), HTTP_ALLOW_EXACT);
    CHECK_EQ_INT(http_allow_match(a, "::1", 80), HTTP_ALLOW_NO);
    CHECK_EQ_INT(http_allow_match(a, "localhost", 5000), HTTP_ALLOW_EXACT);
    CHECK_EQ_INT(http_allow_match(a, "10.0.0.5", 80), HTTP_ALLOW_EXACT);
    CHECK_EQ_INT(http_allow_match(NULL, "api.example.com", 443), HTTP_ALLOW_NO);
    http_allow_free(a);
    a = http_allow_new(NULL, 0, err, sizeof err);
    CHECK(a != NULL);
    CHECK_EQ_INT(http_allow_match(a, "api.example.com", 443), HTTP_ALLOW_NO);
    http_allow_free(a);
}

static void test_malformed_entries(void) {
    const char *bad[] = { "", "*", "*.", "a*.example.com", "host:0", "host:99999", "host:x",
                          "[::1", "http://host", "a b" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[200] = "";
        const char *one[] = { "ok.example", bad[i] };
        struct http_allow *a = http_allow_new(one, 2, err, sizeof err);
        if (a) fprintf(stderr, "  \"%s\" accepted\n", bad[i]);
        CHECK(a == NULL);
        CHECK_CONTAINS(err, "http.allow[2]");
    }
}

int main(void) {
    RUN(test_internal_addresses);
    RUN(test_matching);
    RUN(test_malformed_entries);
    return test_report();
}
