/*
 * weft's own snprintf (agent/format.h): for every format it takes, the same
 * text and the same return value as libc's snprintf, at every buffer size
 * (cut and terminated alike); formats it leaves to libc give libc's.
 */
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/format.h"
#include "harness.h"

/* weft_format and snprintf, at sizes 0, 1, a cut and room: the same text and length. */
#define SAME(...)                                                                                  \
	do {                                                                                       \
		char want_[256], got_[256];                                                        \
		int n_ = snprintf(want_, sizeof(want_), __VA_ARGS__);                              \
		size_t sizes_[] = { 0, 1, 3, (size_t)n_ / 2 + 1, (size_t)n_, sizeof(got_) };       \
		expect_int(weft_format(got_, sizeof(got_), __VA_ARGS__), n_);                      \
		expect_str(got_, want_);                                                           \
		for (size_t i_ = 0; i_ < sizeof(sizes_) / sizeof(sizes_[0]); i_++) {               \
			char cut_w[256], cut_g[256];                                               \
			memset(cut_w, 'x', sizeof(cut_w));                                         \
			memset(cut_g, 'x', sizeof(cut_g));                                         \
			snprintf(cut_w, sizes_[i_], __VA_ARGS__);                                  \
			expect_int(weft_format(cut_g, sizes_[i_], __VA_ARGS__), n_);               \
			expect_int(memcmp(cut_w, cut_g, sizeof(cut_w)), 0);                        \
		}                                                                                  \
	} while (0)

static void test_strings(void)
{
	const char *volatile null = NULL; /* not known to the compiler's format checks */

	SAME("plain text");
	SAME("%s", "");
	SAME("100%%");
	SAME("%s", "x");
	SAME("[%s|%s]", "ab", "");
	SAME("[%8s]", "abc");
	SAME("[%-8s]", "abc");
	SAME("[%2s]", "abcdef");
	SAME("[%.3s]", "abcdef");
	SAME("[%.*s]", 2, "abcdef");
	SAME("[%.*s]", -1, "abcdef");
	SAME("[%-*s]", 6, "ab");
	SAME("[%*s]", -6, "ab");
	SAME("[%*s]", 6, "ab");
	SAME("[%s]", null);
	SAME("[%.3s]", null);
	SAME("[%.8s]", null);
	SAME("[%c%c]", 'a', 0x142);
	SAME("[%3c|%-3c]", 'a', 'b');
	SAME("%s%s%s%s", "a long piece of text that goes beyond the sizes tried ", "and another ",
	     "and a third ", "to be sure");
}

static void test_integers(void)
{
	SAME("%d %i %u", 0, -7, 7u);
	SAME("%d %d", INT_MIN, INT_MAX);
	SAME("%u %x %X", UINT_MAX, 0xbeefu, 0xbeefu);
	SAME("%ld %lu %lx", LONG_MIN, ULONG_MAX, ULONG_MAX);
	SAME("%lld %llu", LLONG_MIN, ULLONG_MAX);
	SAME("%zu %zd %jd %ju %td", (size_t)12, (ssize_t)-12, INTMAX_MIN, UINTMAX_MAX,
	     (ptrdiff_t)-3);
	SAME("%hhd %hhu %hd %hu", 300, 300, 70000, 70000);
	SAME("%" PRIu64 " %" PRId64 " %" PRIx64, UINT64_MAX, INT64_MIN, (uint64_t)0xabc);
	SAME("[%5d|%-5d|%05d]", 42, 42, 42);
	SAME("[%05d|%5d|%*d|%*lld]", -42, -42, 7, -3, -7, 99LL);
	SAME("[%0*d]", 6, 3);
	SAME("[%1d|%0200d]", 12345, 7);
}

/* What is left to libc: the same as libc, as it is libc. */
static void test_left_to_libc(void)
{
	SAME("%.1f ms", 1.25);
	SAME("%g", 1e-300);
	SAME("[%+d|% d|%#x]", 5, 5, 255);
	SAME("[%.3d]", 7);
	{
		/* Positional arguments: not ISO C, so past the compiler's checks. */
		const char *volatile positional = "%2$s %1$s";

		SAME(positional, "a", "b");
	}
	SAME("%s and %.2f", "text", 2.0 / 3);
}

static void test_copy(void)
{
	char out[6];

	weft_copy(out, sizeof(out), "abc");
	expect_str(out, "abc");
	weft_copy(out, sizeof(out), "abcdefgh");
	expect_str(out, "abcde");
	weft_copy(out, 1, "abc");
	expect_str(out, "");
}

int main(void)
{
	test_strings();
	test_integers();
	test_left_to_libc();
	test_copy();
	return harness_done();
}
