#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "app/config.h"
#include "test.h"

static const char *write_tmp(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/larkgw-config-test-%d.lua", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_defaults(void) {
    struct config c;
    config_init(&c);
    CHECK_EQ_STR(c.domain, "https://open.feishu.cn");
    CHECK_EQ_INT(c.mode, CONFIG_MODE_WS);
    CHECK_EQ_STR(c.webhook.path, "/webhook/event");
    CHECK_EQ_INT(c.webhook.max_body, 1048576);
    CHECK_EQ_INT(c.webhook.max_skew_s, 300);
    CHECK_EQ_INT(c.dedup.ttl_s, 28800);
    CHECK_EQ_INT(c.ack_deadline_ms, 2500);
    CHECK_EQ_INT(c.order, CONFIG_ORDER_CHAT);
    char err[256];
    CHECK_EQ_INT(config_validate(&c, err, sizeof err), 0);
    config_free(&c);
}

static void test_every_design_key(void) {
    struct config c;
    config_init(&c);
    setenv("LARKGW_TEST_SECRET", "s3cret", 1);
    const char *path = write_tmp(
        "app_id = 'cli_x'\napp_secret = env('LARKGW_TEST_SECRET')\n"
        "encrypt_key = 'ek'\nverification_token = 'vt'\ndomain = 'http://127.0.0.1:1'\n"
        "app_type = 'self_built'\nmode = 'both'\nconnections = 3\nscripts = 'x'\n"
        "webhook = { listen = '127.0.0.1:0', path = '/hook', max_body = 4096, max_skew_s = 0,\n"
        "            insecure = true }\n"
        "admin = { listen = '127.0.0.1:1', token = 'adm' }\n"
        "limits = { memory_mb = 8, handler_timeout_ms = 100, handler_max_s = 5 }\n"
        "ack_deadline_ms = 1000\norder = 'none'\ndedup = { ttl_s = 10, max_entries = 5 }\n"
        "state_dir = '/tmp'\nlog = { level = 'debug', format = 'json' }\n");
    char err[256] = "";
    CHECK_EQ_INT(config_load_file(&c, path, err, sizeof err), 0);
    CHECK_EQ_STR(err, "");
    CHECK_EQ_STR(c.app_secret, "s3cret");
    CHECK_EQ_INT(c.mode, CONFIG_MODE_BOTH);
    CHECK_EQ_INT(c.connections, 3);
    CHECK_EQ_STR(c.webhook.path, "/hook");
    CHECK_EQ_INT(c.webhook.max_body, 4096);
    CHECK(c.webhook.insecure);
    CHECK_EQ_INT(c.limits.memory_mb, 8);
    CHECK_EQ_INT(c.order, CONFIG_ORDER_NONE);
    CHECK_EQ_INT(c.dedup.max_entries, 5);
    CHECK_EQ_STR(c.log.format, "json");
    CHECK_EQ_STR(c.admin.token, "adm");
    config_free(&c);
    unlink(path);
}

static void expect_error(const char *text, const char *want) {
    struct config c;
    config_init(&c);
    const char *path = write_tmp(text);
    char err[256] = "";
    CHECK_EQ_INT(config_load_file(&c, path, err, sizeof err), -1);
    if (!strstr(err, want)) {
        test_failures++;
        fprintf(stderr, "error \"%s\" does not contain \"%s\"\n", err, want);
    }
    config_free(&c);
    unlink(path);
}

static void test_errors_name_the_key(void) {
    expect_error("webhook = { lisen = '1' }\n", "unknown key 'webhook.lisen'");
    expect_error("colour = 1\n", "unknown key 'colour'");
    expect_error("connections = 'two'\n", "key 'connections': integer expected, got string");
    expect_error("connections = 51\n", "key 'connections': 51 is out of range");
    expect_error("webhook = 5\n", "key 'webhook': table expected, got number");
    expect_error("mode = 'carrier-pigeon'\n", "key 'mode': \"carrier-pigeon\" is not one of");
    expect_error("webhook = { insecure = 'yes' }\n", "key 'webhook.insecure': boolean expected");
    expect_error("limits = { memory_mb = 1.5 }\n", "non-integer number");
    /* syntax and runtime errors carry file:line */
    expect_error("mode = \n", ":2:");
    expect_error("\n\nlocal t = nil; t.x = 1\n", ":3: attempt to index");
    expect_error("os.exit(1)\n", "attempt to index a nil value");
}

static void test_set_and_env(void) {
    struct config c;
    config_init(&c);
    char err[256];
    setenv("LARK_APP_ID", "cli_env", 1);
    setenv("LARK_DOMAIN", "http://127.0.0.1:9800", 1);
    config_apply_env(&c);
    CHECK_EQ_STR(c.app_id, "cli_env");
    CHECK_EQ_STR(c.domain, "http://127.0.0.1:9800");
    CHECK_EQ_INT(config_set(&c, "webhook.max_body", "65536", err, sizeof err), 0);
    CHECK_EQ_INT(c.webhook.max_body, 65536);
    CHECK_EQ_INT(config_set(&c, "mode", "webhook", err, sizeof err), 0);
    CHECK_EQ_INT(c.mode, CONFIG_MODE_WEBHOOK);
    CHECK_EQ_INT(config_set(&c, "webhook.insecure", "true", err, sizeof err), 0);
    CHECK(c.webhook.insecure);
    CHECK_EQ_INT(config_set(&c, "nope", "1", err, sizeof err), -1);
    CHECK_EQ_STR(err, "unknown key 'nope'");
    CHECK_EQ_INT(config_set(&c, "connections", "3x", err, sizeof err), -1);
    CHECK_EQ_INT(config_set(&c, "app_type", "marketplace", err, sizeof err), 0);
    CHECK_EQ_INT(config_validate(&c, err, sizeof err), 0);
    CHECK_EQ_INT(config_set(&c, "mode", "ws", err, sizeof err), 0);
    CHECK_EQ_INT(config_validate(&c, err, sizeof err), -1);
    unsetenv("LARK_APP_ID");
    unsetenv("LARK_DOMAIN");
    config_free(&c);
}

static int validate_admin(const char *listen, const char *token, char *err, size_t len) {
    struct config c;
    config_init(&c);
    config_set(&c, "admin.listen", listen, err, len);
    if (token) config_set(&c, "admin.token", token, err, len);
    err[0] = '\0';
    int rc = config_validate(&c, err, len);
    config_free(&c);
    return rc;
}

/* Beyond loopback, the admin listener reloads scripts only for a token holder. */
static void test_admin_token_beyond_loopback(void) {
    char err[256];
    CHECK_EQ_INT(validate_admin("127.0.0.1:9900", NULL, err, sizeof err), 0);
    CHECK_EQ_INT(validate_admin("localhost:9900", NULL, err, sizeof err), 0);
    CHECK_EQ_INT(validate_admin("[::1]:9900", NULL, err, sizeof err), 0);
    CHECK_EQ_INT(validate_admin("unix:/run/larkgw.sock", NULL, err, sizeof err), 0);
    CHECK_EQ_INT(validate_admin("", NULL, err, sizeof err), 0);
    CHECK_EQ_INT(validate_admin("0.0.0.0:9900", NULL, err, sizeof err), -1);
    CHECK_CONTAINS(err, "key 'admin.token': required");
    CHECK_EQ_INT(validate_admin(":9900", "", err, sizeof err), -1);
    CHECK_CONTAINS(err, "key 'admin.token'");
    CHECK_EQ_INT(validate_admin("127.0.0.5:9900", "t0ken", err, sizeof err), 0);
    CHECK_EQ_INT(validate_admin("unix:relative.sock", NULL, err, sizeof err), -1);
    CHECK_CONTAINS(err, "key 'admin.listen'");
    CHECK_EQ_INT(validate_admin("9900", NULL, err, sizeof err), -1);
    CHECK_CONTAINS(err, "key 'admin.listen'");
}

static void test_redis_keys(void) {
    struct config c;
    char err[256] = "";
    config_init(&c);
    CHECK_EQ_STR(c.redis.prefix, "larkgw:");
    CHECK(c.redis.url == NULL);
    setenv("LARKGW_REDIS_PASSWORD", "pw-from-env", 1);
    config_apply_env(&c);
    unsetenv("LARKGW_REDIS_PASSWORD");
    CHECK_EQ_STR(c.redis.password, "pw-from-env");
    const char *path = write_tmp("scripts = 'x'\n"
                                 "redis = { url = 'redis://127.0.0.5:6380/2', prefix = 'bot1:' }\n");
    CHECK_EQ_INT(config_load_file(&c, path, err, sizeof err), 0);
    unlink(path);
    CHECK_EQ_STR(c.redis.url, "redis://127.0.0.5:6380/2");
    CHECK_EQ_STR(c.redis.prefix, "bot1:");
    CHECK_EQ_INT(config_validate(&c, err, sizeof err), 0);
    CHECK_EQ_INT(config_set(&c, "redis.url", "rediss://127.0.0.5:6380", err, sizeof err), 0);
    CHECK_EQ_INT(config_validate(&c, err, sizeof err), -1);
    CHECK_CONTAINS(err, "key 'redis.url'");
    CHECK_CONTAINS(err, "TLS");
    CHECK_EQ_INT(config_set(&c, "redis.url", "redis://:pw@", err, sizeof err), 0);
    CHECK_EQ_INT(config_validate(&c, err, sizeof err), -1);
    CHECK_NOT_CONTAINS(err, "pw");
    config_free(&c);
}

/* More than one worker would keep dedup and lark.store per process without Redis. */
static void test_workers_need_redis(void) {
    struct config c;
    char err[256] = "";
    config_init(&c);
    CHECK_EQ_INT(c.workers, 1);
    CHECK_EQ_INT(config_set(&c, "workers", "65", err, sizeof err), -1);
    CHECK_CONTAINS(err, "key 'workers'");
    CHECK_EQ_INT(config_set(&c, "workers", "2", err, sizeof err), 0);
    CHECK_EQ_INT(config_validate(&c, err, sizeof err), -1);
    CHECK_CONTAINS(err, "key 'workers'");
    CHECK_CONTAINS(err, "'redis'");
    CHECK_EQ_INT(config_set(&c, "redis.url", "redis://127.0.0.1:6379/0", err, sizeof err), 0);
    CHECK_EQ_INT(config_validate(&c, err, sizeof err), 0);
    CHECK_EQ_INT(config_set(&c, "mode", "webhook", err, sizeof err), 0);
    CHECK_EQ_INT(config_set(&c, "webhook.listen", "unix:/tmp/x.sock", err, sizeof err), 0);
    CHECK_EQ_INT(config_validate(&c, err, sizeof err), -1);
    CHECK_CONTAINS(err, "key 'webhook.listen'");
    config_free(&c);
}

int main(void) {
    RUN(test_defaults);
    RUN(test_every_design_key);
    RUN(test_errors_name_the_key);
    RUN(test_set_and_env);
    RUN(test_admin_token_beyond_loopback);
    RUN(test_redis_keys);
    RUN(test_workers_need_redis);
    return test_report();
}
