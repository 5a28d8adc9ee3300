#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "test.h"

static char path[64];

/* Logs one record to a fresh file and returns the file's whole text (malloc'd). */
static char *log_one(enum log_format format, const char *msg) {
    unlink(path);
    CHECK_EQ_INT(log_setup(LOG_LEVEL_DEBUG, format, path), 0);
    log_info("test", "%s", msg);
    log_close();
    return util_read_file(path, 1 << 20, NULL);
}

static int count_lines(const char *s) {
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

/* A script's error text cannot forge a second record. */
static void test_newline_is_escaped(void) {
    char *text = log_one(LOG_FORMAT_TEXT,
                         "unknown command: x\n2026-01-01T00:00:00.000Z ERROR gateway: fake");
    CHECK_EQ_INT(count_lines(text), 1);
    CHECK_CONTAINS(text, "INFO  test: unknown command: x\\n2026-01-01T00:00:00.000Z ERROR");
    free(text);
}

static void test_control_bytes_and_del(void) {
    char *text = log_one(LOG_FORMAT_TEXT, "a\rb\tc\x1b[31md\x7f" "e");
    CHECK_EQ_INT(count_lines(text), 1);
    CHECK_CONTAINS(text, "a\\x0db\tc\\x1b[31md\\x7fe\n");
    free(text);
}

/* Valid UTF-8 stays readable; bytes that are not UTF-8 are escaped. */
static void test_utf8_kept_invalid_escaped(void) {
    char *text = log_one(LOG_FORMAT_TEXT, "你好 caf\xc3\xa9 \xff \xc3( \xed\xa0\x80 \xf0\x9f\x98\x80");
    CHECK_CONTAINS(text, "你好 caf\xc3\xa9 \\xff \\xc3( \\xed\\xa0\\x80 \xf0\x9f\x98\x80\n");
    free(text);
}

/* JSON records: one line, and the escapes are themselves escaped for JSON. */
static void test_json_stays_one_valid_line(void) {
    char *text = log_one(LOG_FORMAT_JSON, "say \"hi\"\nback\\slash\x01\tend");
    CHECK_EQ_INT(count_lines(text), 1);
    CHECK_CONTAINS(text, "\"module\":\"test\",\"msg\":\"say \\\"hi\\\"\\\\nback\\\\slash\\\\x01\\tend\"}\n");
    free(text);
}

static void test_long_message_is_cut_on_an_escape(void) {
    char msg[3000];
    memset(msg, '\n', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    char *text = log_one(LOG_FORMAT_TEXT, msg);
    CHECK_EQ_INT(count_lines(text), 1);
    CHECK_CONTAINS(text, "\\n\\n\n");
    free(text);
}

static void test_file_is_0600_and_level_filters(void) {
    unlink(path);
    CHECK_EQ_INT(log_setup(LOG_LEVEL_WARN, LOG_FORMAT_TEXT, path), 0);
    log_info("test", "hidden");
    log_warn("test", "shown");
    CHECK(!log_enabled(LOG_LEVEL_DEBUG));
    log_close();
    struct stat st;
    CHECK_EQ_INT(stat(path, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);
    char *text = util_read_file(path, 1 << 20, NULL);
    CHECK_NOT_CONTAINS(text, "hidden");
    CHECK_CONTAINS(text, "WARN  test: shown\n");
    free(text);
    CHECK_EQ_INT(log_level_parse("warn"), LOG_LEVEL_WARN);
    CHECK_EQ_INT(log_level_parse("loud"), -1);
}

/* Workers share one file: each record says whose it is. */
static void test_worker_tag(void) {
    log_set_worker(3);
    char *text = log_one(LOG_FORMAT_TEXT, "hello");
    CHECK_CONTAINS(text, "INFO  w3 test: hello\n");
    free(text);
    text = log_one(LOG_FORMAT_JSON, "hello");
    CHECK_CONTAINS(text, "\"worker\":3,\"module\":\"test\"");
    free(text);
    log_set_worker(-1);
    text = log_one(LOG_FORMAT_TEXT, "hello");
    CHECK_CONTAINS(text, "INFO  test: hello\n");
    free(text);
}

int main(void) {
    snprintf(path, sizeof path, "/tmp/larkgw-test-log-%d", (int)getpid());
    RUN(test_newline_is_escaped);
    RUN(test_control_bytes_and_del);
    RUN(test_utf8_kept_invalid_escaped);
    RUN(test_json_stays_one_valid_line);
    RUN(test_long_message_is_cut_on_an_escape);
    RUN(test_file_is_0600_and_level_filters);
    RUN(test_worker_tag);
    unlink(path);
    return test_report();
}
