#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "test.h"

static void test_parse_hostport(void) {
    char host[64];
    int port = -1;
    CHECK_EQ_INT(util_parse_hostport("127.0.0.1:9900", host, sizeof host, &port), 0);
    CHECK_EQ_STR(host, "127.0.0.1");
    CHECK_EQ_INT(port, 9900);
    CHECK_EQ_INT(util_parse_hostport("[::1]:0", host, sizeof host, &port), 0);
    CHECK_EQ_STR(host, "::1");
    CHECK_EQ_INT(port, 0);
    CHECK_EQ_INT(util_parse_hostport(":80", host, sizeof host, &port), 0);
    CHECK_EQ_STR(host, "0.0.0.0");
    CHECK_EQ_INT(util_parse_hostport("host", host, sizeof host, &port), -1);
    CHECK_EQ_INT(util_parse_hostport("host:", host, sizeof host, &port), -1);
    CHECK_EQ_INT(util_parse_hostport("host:65536", host, sizeof host, &port), -1);
    CHECK_EQ_INT(util_parse_hostport("host:1x", host, sizeof host, &port), -1);
    CHECK_EQ_INT(util_parse_hostport("[::1]9", host, sizeof host, &port), -1);
    CHECK_EQ_INT(util_parse_hostport("a-very-long-host-name:1", host, 8, &port), -1);
}

static void test_host_is_loopback(void) {
    CHECK(util_host_is_loopback("127.0.0.1"));
    CHECK(util_host_is_loopback("127.1.2.3"));
    CHECK(util_host_is_loopback("localhost"));
    CHECK(util_host_is_loopback("::1"));
    CHECK(!util_host_is_loopback("0.0.0.0"));
    CHECK(!util_host_is_loopback("::"));
    CHECK(!util_host_is_loopback("10.0.0.1"));
    CHECK(!util_host_is_loopback("128.0.0.1"));
    CHECK(!util_host_is_loopback("localhost.example"));
    CHECK(!util_host_is_loopback(""));
}

static void test_clock_is_monotonic(void) {
    uint64_t a = util_now_us(), b = util_now_us();
    CHECK(b >= a);
    CHECK(util_now_ms() >= a / 1000);
}

static void test_read_file(void) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/larkgw-util-%d", (int)getpid());
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    for (int i = 0; i < 1000; i++) fputs("0123456789", f);
    fclose(f);
    size_t len = 0;
    char *text = util_read_file(path, 10000, &len);
    CHECK_EQ_INT(len, 10000);
    CHECK(text && text[len] == '\0' && memcmp(text, "0123", 4) == 0);
    free(text);
    CHECK(util_read_file(path, 9999, &len) == NULL);
    unlink(path);
    CHECK(util_read_file(path, 10000, &len) == NULL);
}

static void test_list_has_token(void) {
    CHECK(util_list_has_token("keep-alive, Upgrade", "upgrade"));
    CHECK(util_list_has_token(" Upgrade ", "Upgrade"));
    CHECK(util_list_has_token("a,,\tb\t", "b"));
    CHECK(!util_list_has_token("Upgraded", "Upgrade"));
    CHECK(!util_list_has_token("", "Upgrade"));
}

static void test_printable(void) {
    char out[16];
    util_printable("ok \"q\"\n\x7f\xc3\xa9", out, sizeof out);
    CHECK_EQ_STR(out, "ok ?q???\?\?");
    util_printable("0123456789abcdefXYZ", out, sizeof out);
    CHECK_EQ_STR(out, "0123456789abcde");
    util_printable(NULL, out, sizeof out);
    CHECK_EQ_STR(out, "");
}

static void test_json_parse_one(void) {
    const char *one = "{\"a\":1} \r\n";
    cJSON *j = util_json_parse_one(one, strlen(one));
    CHECK(j != NULL);
    cJSON_Delete(j);
    const char *two = "{\"a\":1}{\"b\":2}";
    CHECK(util_json_parse_one(two, strlen(two)) == NULL);
    CHECK(util_json_parse_one("{\"a\":", 5) == NULL);
    /* the length bounds the text: a NUL-less prefix of a longer buffer */
    j = util_json_parse_one("[1]garbage", 3);
    CHECK(j != NULL);
    cJSON_Delete(j);
}

int main(void) {
    RUN(test_parse_hostport);
    RUN(test_host_is_loopback);
    RUN(test_clock_is_monotonic);
    RUN(test_read_file);
    RUN(test_list_has_token);
    RUN(test_printable);
    RUN(test_json_parse_one);
    return test_report();
}
