/* The token manager against a fake platform (test_openapi_fake.h): expiry margin with an
 * injected clock, marketplace tickets (persisted, reloaded, resent, refused), one tenant
 * token per tenant key, single-flight across tenants, and a clean log. */
#include <sys/stat.h>

#include "test.h"
#include "test_openapi_fake.h"

static char state_dir[128];

static void run(struct fake *f) { event_base_dispatch(f->base); }

static void check_fetches_after(struct fake *f, struct openapi *api, uint64_t at_ms, int fetches) {
    struct result r;
    f->now = 1000000 + at_ms;
    call_tenant(api, NULL, &r);
    run(f);
    CHECK_EQ_STR(r.tenant, "self");
    CHECK_EQ_INT(f->fetches_tenant, fetches);
    result_clear(&r);
}

static void test_expiry_margin(void) {
    struct fake *f = fake_new(0);
    struct openapi *api = fake_api(f, 0, NULL, NULL);
    check_fetches_after(f, api, 0, 1);
    check_fetches_after(f, api, (7200 - 181) * 1000ull, 1);
    check_fetches_after(f, api, (7200 - 179) * 1000ull, 2);
    check_fetches_after(f, api, (7200 - 179) * 1000ull + 5000, 2);
    openapi_free(api);
    fake_free(f);
}

/* A failed refresh inside the margin keeps using the current token until it expires. */
static void test_refresh_failure_keeps_token(void) {
    struct fake *f = fake_new(0);
    struct openapi *api = fake_api(f, 0, NULL, NULL);
    check_fetches_after(f, api, 0, 1);
    f->fail_tokens = 1;
    check_fetches_after(f, api, (7200 - 60) * 1000ull, 2);
    struct result r;
    f->now = 1000000 + 7201 * 1000ull;
    call_tenant(api, NULL, &r);
    run(f);
    CHECK_EQ_INT(r.code, 99991000);
    CHECK_EQ_INT(r.http, 500);
    CHECK_EQ_STR(r.msg, "system busy");
    CHECK_EQ_INT(f->fetches_tenant, 3);
    openapi_free(api);
    fake_free(f);
}

/* A lifetime within the margin is cached for half of it. */
static void test_short_expiry(void) {
    struct fake *f = fake_new(0);
    f->expire = 100;
    struct openapi *api = fake_api(f, 0, NULL, NULL);
    check_fetches_after(f, api, 0, 1);
    check_fetches_after(f, api, 49000, 1);
    check_fetches_after(f, api, 51000, 2);
    openapi_free(api);
    fake_free(f);
}

static struct openapi *market(struct fake *f, const struct openapi_options *o) {
    struct openapi *api = fake_api(f, 1, state_dir, o);
    CHECK(api != NULL);
    return api;
}

static void test_tenant_isolation(void) {
    struct fake *f = fake_new(0);
    struct openapi *api = market(f, NULL);
    CHECK_EQ_INT(openapi_set_app_ticket(api, "tk-1"), 0);
    struct result a[5], b[5];
    for (int i = 0; i < 5; i++) {
        call_tenant(api, "tenant-A", &a[i]);
        call_tenant(api, "tenant-B", &b[i]);
    }
    run(f);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ_STR(a[i].tenant, "tenant-A");
        CHECK_EQ_STR(b[i].tenant, "tenant-B");
        result_clear(&a[i]);
        result_clear(&b[i]);
    }
    CHECK_EQ_INT(f->fetches_app, 1);
    CHECK_EQ_INT(f->fetches_tenant, 2);
    for (int i = 0; i < f->nreqs; i++) {
        if (strncmp(f->reqs[i].path, "/open-apis/im/", 14) != 0) continue;
        CHECK(strstr(f->reqs[i].auth, "Bearer t-tenant-") == f->reqs[i].auth);
    }
    CHECK_EQ_STR(f->reqs[0].path, "/open-apis/auth/v3/app_access_token");
    CHECK_CONTAINS(f->reqs[0].body, "\"app_ticket\":\"tk-1\"");
    CHECK_EQ_STR(f->reqs[1].path, "/open-apis/auth/v3/tenant_access_token");
    CHECK_CONTAINS(f->reqs[1].body, "\"tenant_key\":\"tenant-A\"");
    CHECK_CONTAINS(f->reqs[1].body, "\"app_access_token\":\"a-tok-");
    struct openapi_stats st;
    openapi_get_stats(api, &st);
    CHECK_EQ_INT(st.tokens, 3);
    openapi_free(api);
    fake_free(f);
}

static void test_tenant_key_required(void) {
    struct fake *f = fake_new(0);
    struct openapi *api = market(f, NULL);
    openapi_set_app_ticket(api, "tk-1");
    struct result r;
    call_tenant(api, NULL, &r);
    run(f);
    CHECK_EQ_INT(r.code, OPENAPI_E_INVAL);
    CHECK_EQ_INT(f->nreqs, 0);
    openapi_free(api);
    fake_free(f);
}

static void test_ticket_missing_resend(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/app_ticket.cli_test", state_dir);
    unlink(path);
    struct fake *f = fake_new(0);
    struct openapi *api = market(f, NULL);
    CHECK(!openapi_has_app_ticket(api));
    struct result r1, r2;
    call_tenant(api, "tenant-A", &r1);
    run(f);
    CHECK_EQ_INT(r1.code, OPENAPI_E_NOTICKET);
    CHECK_EQ_STR(r1.msg, "no app_ticket yet; asked the platform to resend one");
    CHECK_EQ_INT(f->resends, 1);
    CHECK_CONTAINS(f->reqs[0].body, "\"app_id\":\"cli_test\"");
    call_tenant(api, "tenant-A", &r2);
    run(f);
    CHECK_EQ_INT(r2.code, OPENAPI_E_NOTICKET);
    CHECK_EQ_INT(f->resends, 1);               /* not again within resend_interval_ms */
    f->now += 61000;
    call_tenant(api, "tenant-A", &r2);
    run(f);
    CHECK_EQ_INT(f->resends, 2);
    CHECK_EQ_INT(f->fetches_app, 0);
    openapi_free(api);
    fake_free(f);
}

static void test_ticket_persisted(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/app_ticket.cli_test", state_dir);
    struct fake *f = fake_new(0);
    struct openapi *api = market(f, NULL);
    CHECK_EQ_INT(openapi_set_app_ticket(api, "bad ticket"), -1);
    CHECK_EQ_INT(openapi_set_app_ticket(api, ""), -1);
    CHECK_EQ_INT(openapi_set_app_ticket(api, "tk-1"), 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    openapi_free(api);
    fake_free(f);

    f = fake_new(0);
    api = market(f, NULL);
    CHECK(openapi_has_app_ticket(api));
    struct result r;
    call_tenant(api, "tenant-A", &r);
    run(f);
    CHECK_EQ_STR(r.tenant, "tenant-A");
    CHECK_EQ_INT(f->resends, 0);
    result_clear(&r);
    openapi_free(api);
    fake_free(f);
}

static int log_count(const char *needle) {
    FILE *in = fopen(log_path(), "r");
    char line[4096];
    int n = 0;
    while (in && fgets(line, sizeof line, in)) n += strstr(line, needle) != NULL;
    if (in) fclose(in);
    return n;
}

/* A state_dir that cannot be made (below a device file: ENOTDIR, even for root): one
 * warning per ticket, and the ticket still serves from memory. */
static void test_ticket_unwritable(void) {
    struct fake *f = fake_new(0);
    struct openapi *api = fake_api(f, 1, "/dev/null/sub", NULL);
    int before = log_count("openapi: cannot");
    CHECK_EQ_INT(openapi_set_app_ticket(api, "tk-1"), 0);
    CHECK_EQ_INT(log_count("openapi: cannot"), before + 1);
    CHECK_EQ_INT(log_count("cannot create state_dir /dev/null/sub: Not a directory"), 1);
    CHECK_EQ_INT(openapi_set_app_ticket(api, "tk-1"), 0);    /* unchanged: not rewritten */
    CHECK_EQ_INT(log_count("openapi: cannot"), before + 1);
    CHECK(openapi_has_app_ticket(api));
    struct result r;
    call_tenant(api, "tenant-A", &r);
    run(f);
    CHECK_EQ_STR(r.tenant, "tenant-A");
    CHECK_EQ_INT(f->resends, 0);
    result_clear(&r);
    openapi_free(api);
    fake_free(f);
}

/* 10012: the ticket is dropped (from disk too) and the platform asked for a new one. */
static void test_ticket_refused(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/app_ticket.cli_test", state_dir);
    struct fake *f = fake_new(0);
    struct openapi *api = market(f, NULL);
    CHECK(openapi_has_app_ticket(api));
    snprintf(f->ticket, sizeof f->ticket, "tk-2");
    struct result r;
    call_tenant(api, "tenant-A", &r);
    run(f);
    CHECK_EQ_INT(r.code, OPENAPI_CODE_TICKET_INVALID);
    CHECK_EQ_STR(r.msg, "app ticket invalid");
    CHECK_EQ_STR(r.log_id, "log-1");
    CHECK(!openapi_has_app_ticket(api));
    CHECK(access(path, F_OK) != 0);
    CHECK_EQ_INT(f->resends, 1);
    CHECK_EQ_INT(openapi_set_app_ticket(api, "tk-2"), 0);
    call_tenant(api, "tenant-A", &r);
    run(f);
    CHECK_EQ_STR(r.tenant, "tenant-A");
    result_clear(&r);
    openapi_free(api);
    fake_free(f);
}

static void revoke_all(struct fake *f, int app) {
    for (int i = 0; i < f->ntoks; i++)
        if (f->toks[i].app == app) f->toks[i].revoked = 1;
}

/* A revoked tenant token: refetched once, the app token reused. */
static void test_marketplace_refresh(void) {
    struct fake *f = fake_new(0);
    struct openapi *api = market(f, NULL);
    openapi_set_app_ticket(api, "tk-1");
    struct result r;
    call_tenant(api, "tenant-A", &r);
    run(f);
    result_clear(&r);
    revoke_all(f, 0);
    call_tenant(api, "tenant-A", &r);
    run(f);
    CHECK_EQ_STR(r.tenant, "tenant-A");
    CHECK_EQ_INT(f->fetches_tenant, 2);
    CHECK_EQ_INT(f->fetches_app, 1);
    result_clear(&r);
    /* A revoked app token: the tenant fetch gets a new one and tries once more. */
    revoke_all(f, 1);
    call_tenant(api, "tenant-B", &r);
    run(f);
    CHECK_EQ_STR(r.tenant, "tenant-B");
    CHECK_EQ_INT(f->fetches_app, 2);
    CHECK_EQ_INT(f->fetches_tenant, 4);
    result_clear(&r);
    openapi_free(api);
    fake_free(f);
}

static void test_cache_bounded(void) {
    struct openapi_options o = { .max_tokens = 3 };
    struct fake *f = fake_new(0);
    struct openapi *api = market(f, &o);
    openapi_set_app_ticket(api, "tk-1");
    const char *tenants[] = { "t1", "t2", "t3", "t4", "t1" };
    for (int i = 0; i < 5; i++) {
        struct result r;
        call_tenant(api, tenants[i], &r);
        run(f);
        CHECK_EQ_STR(r.tenant, tenants[i]);
        result_clear(&r);
        struct openapi_stats st;
        openapi_get_stats(api, &st);
        CHECK(st.tokens <= 3);
    }
    openapi_free(api);
    fake_free(f);
}

static void test_no_secret_in_log(void) {
    int lines;
    CHECK_EQ_INT(log_leaks(&lines), 0);
    CHECK(lines > 5);
    CHECK(fake_nissued > 10);
}

int main(void) {
    snprintf(state_dir, sizeof state_dir, "/tmp/larkgw-token-test-%ld", (long)getpid());
    unlink(log_path());
    log_setup(LOG_LEVEL_DEBUG, LOG_FORMAT_TEXT, log_path());
    RUN(test_expiry_margin);
    RUN(test_short_expiry);
    RUN(test_refresh_failure_keeps_token);
    RUN(test_tenant_isolation);
    RUN(test_tenant_key_required);
    RUN(test_ticket_missing_resend);
    RUN(test_ticket_persisted);
    RUN(test_ticket_refused);
    RUN(test_ticket_unwritable);
    RUN(test_marketplace_refresh);
    RUN(test_cache_bounded);
    RUN(test_no_secret_in_log);
    log_close();
    unlink(log_path());
    char path[256];
    snprintf(path, sizeof path, "%s/app_ticket.cli_test", state_dir);
    unlink(path);
    rmdir(state_dir);
    return test_report();
}
