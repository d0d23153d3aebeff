/*
 * A tiny test harness: expect_* records a failure and continues, assert_*
 * stops the test. A test binary exits 0 when everything held, 1 on a failure,
 * 77 to say it was skipped.
 */
#ifndef WEFT_TESTS_HARNESS_H
#define WEFT_TESTS_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int harness_failures;
static int harness_checks;

#define HARNESS_FAIL(fatal, ...)                                                                   \
	do {                                                                                       \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                    \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fputc('\n', stderr);                                                               \
		harness_failures++;                                                                \
		if (fatal)                                                                         \
			exit(1);                                                                   \
	} while (0)

#define HARNESS_CHECK(fatal, cond)                                                                 \
	do {                                                                                       \
		harness_checks++;                                                                  \
		if (!(cond))                                                                       \
			HARNESS_FAIL(fatal, "check failed: %s", #cond);                            \
	} while (0)

#define HARNESS_CHECK_INT(fatal, a, b)                                                             \
	do {                                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		harness_checks++;                                                                  \
		if (_a != _b)                                                                      \
			HARNESS_FAIL(fatal, "%s == %s: %lld != %lld", #a, #b, _a, _b);             \
	} while (0)

#define HARNESS_CHECK_STR(fatal, a, b)                                                             \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		harness_checks++;                                                                  \
		if (!_a || !_b || strcmp(_a, _b) != 0)                                             \
			HARNESS_FAIL(fatal, "%s == %s:\n  got      \"%s\"\n  expected \"%s\"", #a, \
				     #b, _a ? _a : "(null)", _b ? _b : "(null)");                  \
	} while (0)

#define expect_true(c)   HARNESS_CHECK(0, c)
#define assert_true(c)   HARNESS_CHECK(1, c)
#define expect_int(a, b) HARNESS_CHECK_INT(0, a, b)
#define assert_int(a, b) HARNESS_CHECK_INT(1, a, b)
#define expect_str(a, b) HARNESS_CHECK_STR(0, a, b)
#define assert_str(a, b) HARNESS_CHECK_STR(1, a, b)

/* Call at the end of main: prints the plain closing line and the exit code. */
static inline int harness_done(void)
{
	printf("%d passed, %d failed\n", harness_checks - harness_failures, harness_failures);
	return harness_failures ? 1 : 0;
}

#define HARNESS_SKIP 77

#endif
