/* A minimal test harness: CHECK records a failure and goes on; main returns non-zero
 * when anything failed, and a test function that made no check at all fails too (a
 * test that asserts nothing proves nothing). Each test file: static void
 * test_x(void) {...} and int main(void) { RUN(test_x); ...; return test_report(); } */
#ifndef LARKGW_TEST_H
#define LARKGW_TEST_H

#include <stdio.h>
#include <string.h>

static int test_failures, test_checks;

#define CHECK(cond) do { test_checks++; if (!(cond)) { test_failures++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_EQ_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); test_checks++; \
    if (_a != _b) { test_failures++; fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", \
    __FILE__, __LINE__, #a, _a, _b); } } while (0)
#define CHECK_EQ_STR(a, b) do { const char *_a = (a), *_b = (b); test_checks++; \
    if (!_a || !_b || strcmp(_a, _b) != 0) { test_failures++; fprintf(stderr, \
    "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, _a ? _a : "(null)", \
    _b ? _b : "(null)"); } } while (0)
/* haystack contains needle (both strings; NULL haystack fails) */
#define CHECK_CONTAINS(hay, needle) do { const char *_h = (hay), *_n = (needle); \
    test_checks++; if (!_h || !strstr(_h, _n)) { test_failures++; fprintf(stderr, \
    "%s:%d: %s does not contain \"%s\": \"%.300s\"\n", __FILE__, __LINE__, #hay, _n, \
    _h ? _h : "(null)"); } } while (0)
#define CHECK_NOT_CONTAINS(hay, needle) do { const char *_h = (hay), *_n = (needle); \
    test_checks++; if (!_h || strstr(_h, _n)) { test_failures++; fprintf(stderr, \
    "%s:%d: %s contains \"%s\": \"%.300s\"\n", __FILE__, __LINE__, #hay, _n, \
    _h ? _h : "(null)"); } } while (0)
#define RUN(fn) do { int _before = test_failures, _checks = test_checks; fn(); \
    if (test_checks == _checks) { test_failures++; \
        fprintf(stderr, "%s: made no check\n", #fn); } \
    fprintf(stderr, "%s %s\n", test_failures == _before ? "ok  " : "FAIL", #fn); } while (0)

static inline int test_report(void) {
    fprintf(stderr, "%d checks, %d failed\n", test_checks, test_failures);
    return test_failures ? 1 : 0;
}

#endif
