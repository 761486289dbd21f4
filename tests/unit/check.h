/* A minimal unit-test harness: CHECK() records a failure and continues,
 * RUN() runs one test function, and check_summary() prints the closing line
 * "N passed, N failed" and returns the exit code for main(). */
#ifndef PS_TEST_CHECK_H
#define PS_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures_in_test;
static int check_passed, check_failed;

#define CHECK(cond)                                                                                \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
                        check_failures_in_test++;                                                  \
                }                                                                                  \
        } while (0)

#define CHECK_STREQ(a, b)                                                                          \
        do {                                                                                       \
                const char *_a = (a), *_b = (b);                                                   \
                if (!_a || !_b || strcmp(_a, _b) != 0) {                                           \
                        fprintf(stderr, "%s:%d: CHECK_STREQ failed: '%s' != '%s'\n", __FILE__,     \
                                __LINE__, _a ? _a : "(null)", _b ? _b : "(null)");                 \
                        check_failures_in_test++;                                                  \
                }                                                                                  \
        } while (0)

#define CHECK_INTEQ(a, b)                                                                          \
        do {                                                                                       \
                long long _a = (long long)(a), _b = (long long)(b);                                \
                if (_a != _b) {                                                                    \
                        fprintf(stderr, "%s:%d: CHECK_INTEQ failed: %s = %lld, expected %lld\n",   \
                                __FILE__, __LINE__, #a, _a, _b);                                   \
                        check_failures_in_test++;                                                  \
                }                                                                                  \
        } while (0)

#define RUN(fn)                                                                                    \
        do {                                                                                       \
                check_failures_in_test = 0;                                                        \
                fn();                                                                              \
                if (check_failures_in_test) {                                                      \
                        check_failed++;                                                            \
                        fprintf(stderr, "FAIL %s\n", #fn);                                         \
                } else {                                                                           \
                        check_passed++;                                                            \
                        fprintf(stderr, "ok   %s\n", #fn);                                         \
                }                                                                                  \
        } while (0)

static inline int check_summary(void)
{
        printf("%d passed, %d failed\n", check_passed, check_failed);
        return check_failed ? 1 : 0;
}

#endif
