#include "app/admin.h"
#include "test.h"

static const struct admin_options loopback = { "127.0.0.1:9900", NULL };
static const struct admin_options with_token = { "10.1.2.3:9900", "s3cret-admin" };
static const struct admin_options wildcard = { "0.0.0.0:9900", "s3cret-admin" };
static const struct admin_options unix_sock = { "unix:/run/larkgw/admin.sock", NULL };

static int admit(const struct admin_options *o, const char *method, const char *host,
                 const char *origin, const char *auth) {
    struct admin_head h = { method, host, origin, auth };
    const char *why = NULL;
    int status = admin_admit(o, 9900, &h, &why);
    CHECK(status == 0 || why != NULL);
    return status;
}

/* A browser page says where it comes from; no page may drive the admin listener. */
static void test_origin_refused(void) {
    CHECK_EQ_INT(admit(&loopback, "GET", "127.0.0.1:9900", "http://evil.example", NULL), 403);
    CHECK_EQ_INT(admit(&loopback, "POST", "127.0.0.1:9900", "null", NULL), 403);
    CHECK_EQ_INT(admit(&unix_sock, "POST", "x", "http://127.0.0.1:9900", NULL), 403);
    CHECK_EQ_INT(admit(&with_token, "POST", "10.1.2.3:9900", "http://10.1.2.3:9900",
                       "Bearer s3cret-admin"), 403);
}

/* DNS rebinding: the page's own name arrives as Host. */
static void test_host_names_this_listener(void) {
    CHECK_EQ_INT(admit(&loopback, "GET", "127.0.0.1:9900", NULL, NULL), 0);
    CHECK_EQ_INT(admit(&loopback, "GET", "localhost:9900", NULL, NULL), 0);
    CHECK_EQ_INT(admit(&loopback, "GET", "LocalHost:9900", NULL, NULL), 0);
    CHECK_EQ_INT(admit(&loopback, "GET", "[::1]:9900", NULL, NULL), 0);
    CHECK_EQ_INT(admit(&with_token, "GET", "10.1.2.3:9900", NULL, NULL), 0);
    CHECK_EQ_INT(admit(&loopback, "GET", NULL, NULL, NULL), 0);
    CHECK_EQ_INT(admit(&loopback, "GET", "evil.example:9900", NULL, NULL), 403);
    CHECK_EQ_INT(admit(&loopback, "GET", "127.0.0.1:9901", NULL, NULL), 403);
    CHECK_EQ_INT(admit(&loopback, "GET", "127.0.0.1", NULL, NULL), 403);
    CHECK_EQ_INT(admit(&loopback, "GET", "10.1.2.3:9900", NULL, NULL), 403);
    CHECK_EQ_INT(admit(&loopback, "GET", "", NULL, NULL), 403);
    /* a unix socket has no name a browser could reach */
    CHECK_EQ_INT(admit(&unix_sock, "GET", "anything", NULL, NULL), 0);
}

static void test_token_guards_post(void) {
    CHECK_EQ_INT(admit(&with_token, "POST", "10.1.2.3:9900", NULL, NULL), 401);
    CHECK_EQ_INT(admit(&with_token, "POST", "10.1.2.3:9900", NULL, "Bearer wrong"), 401);
    CHECK_EQ_INT(admit(&with_token, "POST", "10.1.2.3:9900", NULL, "Bearer s3cret-admin0"), 401);
    CHECK_EQ_INT(admit(&with_token, "POST", "10.1.2.3:9900", NULL, "Bearer s3cret-admi"), 401);
    CHECK_EQ_INT(admit(&with_token, "POST", "10.1.2.3:9900", NULL, "Basic s3cret-admin"), 401);
    CHECK_EQ_INT(admit(&with_token, "POST", "10.1.2.3:9900", NULL, "Bearer s3cret-admin"), 0);
    CHECK_EQ_INT(admit(&with_token, "POST", "10.1.2.3:9900", NULL, "bearer s3cret-admin"), 0);
    CHECK_EQ_INT(admit(&with_token, "GET", "10.1.2.3:9900", NULL, NULL), 0);
    /* the token proves the caller whatever Host it names (a scraper of 0.0.0.0) */
    CHECK_EQ_INT(admit(&wildcard, "GET", "gw.internal:9900", NULL, NULL), 403);
    CHECK_EQ_INT(admit(&wildcard, "GET", "gw.internal:9900", NULL, "Bearer nope"), 403);
    CHECK_EQ_INT(admit(&wildcard, "GET", "gw.internal:9900", NULL, "Bearer s3cret-admin"), 0);
    CHECK_EQ_INT(admit(&wildcard, "POST", "gw.internal:9900", NULL, "Bearer s3cret-admin"), 0);
    CHECK_EQ_INT(admit(&wildcard, "GET", "localhost:9900", NULL, NULL), 0);
    /* without a token (loopback, unix), POST goes on */
    CHECK_EQ_INT(admit(&loopback, "POST", "127.0.0.1:9900", NULL, NULL), 0);
    CHECK_EQ_INT(admit(&unix_sock, "POST", NULL, NULL, NULL), 0);
}

int main(void) {
    RUN(test_origin_refused);
    RUN(test_host_names_this_listener);
    RUN(test_token_guards_post);
    return test_report();
}
