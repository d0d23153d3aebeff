/*
 * Trace and span ids: never zero, no repeats within a generator, across
 * threads, or across a fork; the span id byte order; and the W3C traceparent
 * parser against the Trace Context specification (level 1, section 3.2:
 * "traceparent Header Field Values" and "Versioning of traceparent") and the
 * cases of its conformance suite (w3c/trace-context test/test.py).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/ids.h"
#include "tests/unit/harness.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorts `v` and returns how many entries equal their predecessor. */
static size_t count_dups(uint64_t *v, size_t n)
{
	size_t d = 0;

	qsort(v, n, sizeof(*v), cmp_u64);
	for (size_t i = 1; i < n; i++)
		if (v[i] == v[i - 1])
			d++;
	return d;
}

static bool trace_is_zero(const struct weft_trace_id *t)
{
	for (size_t i = 0; i < sizeof(t->b); i++)
		if (t->b[i])
			return false;
	return true;
}

enum { N_SPANS = 1000000 };

static void test_span_unique(void)
{
	struct weft_rng rng;
	uint64_t *v = malloc(N_SPANS * sizeof(*v));
	size_t zeros = 0;

	assert_true(v != NULL);
	weft_ids_seed(&rng, 1);
	for (size_t i = 0; i < N_SPANS; i++) {
		v[i] = weft_ids_span(&rng);
		zeros += v[i] == 0;
	}
	expect_int(zeros, 0);
	expect_int(count_dups(v, N_SPANS), 0);
	free(v);
}

/* A generator whose state makes weft_ids_next return 0 first: weft_ids_span must skip it. */
static void test_span_skips_zero(void)
{
	/* xoshiro256** returns rotl(s[1] * 5, 7) * 9: zero exactly when s[1] == 0. */
	struct weft_rng rng = { .s = { 1, 0, 2, 3 } };
	struct weft_rng copy = rng;

	expect_int(weft_ids_next(&copy), 0);
	expect_true(weft_ids_span(&rng) != 0);
}

static void test_trace_nonzero(void)
{
	struct weft_rng rng;
	struct weft_trace_id t, prev;
	size_t zeros = 0, repeats = 0;

	weft_ids_seed(&rng, 2);
	memset(&prev, 0, sizeof(prev));
	for (int i = 0; i < 100000; i++) {
		weft_ids_trace(&rng, &t);
		zeros += trace_is_zero(&t);
		repeats += memcmp(&t, &prev, sizeof(t)) == 0;
		prev = t;
	}
	expect_int(zeros, 0);
	expect_int(repeats, 0);

	/* Both halves are random: neither is stuck at zero across draws. */
	{
		uint64_t hi_or = 0, lo_or = 0;

		for (int i = 0; i < 64; i++) {
			weft_ids_trace(&rng, &t);
			for (int j = 0; j < 8; j++) {
				hi_or |= (uint64_t)t.b[j] << (8 * j);
				lo_or |= (uint64_t)t.b[8 + j] << (8 * j);
			}
		}
		expect_true(hi_or == UINT64_MAX);
		expect_true(lo_or == UINT64_MAX);
	}
}

/* --- Across threads ------------------------------------------------------------------ */

enum { N_THREADS = 8, PER_THREAD = 100000 };

struct worker {
	pthread_t th;
	uint64_t tid;
	uint64_t *out;
};

static void *ids_worker(void *arg)
{
	struct worker *w = arg;
	struct weft_rng rng;

	weft_ids_seed(&rng, w->tid);
	for (size_t i = 0; i < PER_THREAD; i++)
		w->out[i] = weft_ids_span(&rng);
	return NULL;
}

static void test_threads(void)
{
	struct worker w[N_THREADS];
	uint64_t *all = malloc(N_THREADS * PER_THREAD * sizeof(*all));

	assert_true(all != NULL);
	for (int i = 0; i < N_THREADS; i++) {
		/* Neighbouring tids, as a real process has. */
		w[i].tid = (uint64_t)getpid() + 1 + (uint64_t)i;
		w[i].out = all + (size_t)i * PER_THREAD;
		assert_int(pthread_create(&w[i].th, NULL, ids_worker, &w[i]), 0);
	}
	for (int i = 0; i < N_THREADS; i++)
		assert_int(pthread_join(w[i].th, NULL), 0);
	expect_int(count_dups(all, N_THREADS * PER_THREAD), 0);
	free(all);
}

/* --- Across processes ---------------------------------------------------------------- */

enum { N_FIRST = 4096 };

static void draw(uint64_t salt, uint64_t *out, size_t n)
{
	struct weft_rng rng;

	weft_ids_seed(&rng, salt);
	for (size_t i = 0; i < n; i++)
		out[i] = weft_ids_span(&rng);
}

/* Re-drawing the process secret (what a forked child does) changes the sequence for a salt. */
static void test_reinit(void)
{
	static uint64_t a[N_FIRST], b[N_FIRST * 2];

	draw(42, a, N_FIRST);
	weft_ids_init_process();
	draw(42, b, N_FIRST);
	expect_true(memcmp(a, b, sizeof(a)) != 0);
	memcpy(b + N_FIRST, a, sizeof(a));
	expect_int(count_dups(b, N_FIRST * 2), 0);
}

static void test_fork(void)
{
	static uint64_t mine[N_FIRST], theirs[N_FIRST], both[N_FIRST * 2];
	int fds[2];
	pid_t pid;
	int status;
	size_t got = 0;

	assert_int(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The child: as weft's atfork handler does, then the same salt as the parent. */
		const char *p = (const char *)theirs;
		size_t left = sizeof(theirs);

		close(fds[0]);
		weft_ids_init_process();
		draw(7, theirs, N_FIRST);
		while (left) {
			ssize_t n = write(fds[1], p, left);
			if (n <= 0)
				_exit(2);
			p += n;
			left -= (size_t)n;
		}
		_exit(0);
	}
	close(fds[1]);
	draw(7, mine, N_FIRST);
	while (got < sizeof(theirs)) {
		ssize_t n = read(fds[0], (char *)theirs + got, sizeof(theirs) - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fds[0]);
	assert_int(waitpid(pid, &status, 0), pid);
	expect_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int(got, sizeof(theirs));
	memcpy(both, mine, sizeof(mine));
	memcpy(both + N_FIRST, theirs, sizeof(theirs));
	expect_int(count_dups(both, N_FIRST * 2), 0);
}

/* --- Span id byte order -------------------------------------------------------------- */

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static void test_span_bytes(void)
{
	static const uint64_t vals[] = { 1, 0x0123456789abcdefull, 0xff00000000000000ull,
					 UINT64_MAX, 0x8000000000000001ull };
	struct weft_span_id id;
	char got[17], want[17];

	weft_span_id_from_u64(0x0123456789abcdefull, &id);
	expect_int(id.b[0], 0x01);
	expect_int(id.b[7], 0xef);
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		weft_span_id_from_u64(vals[i], &id);
		expect_true(weft_span_id_to_u64(&id) == vals[i]);
		/* Big-endian: the hex of the bytes reads as the number. */
		hex(id.b, 8, got);
		snprintf(want, sizeof(want), "%016" PRIx64, vals[i]);
		expect_str(got, want);
	}

	/* And a random round trip. */
	{
		struct weft_rng rng;
		int bad = 0;

		weft_ids_seed(&rng, 3);
		for (int i = 0; i < 10000; i++) {
			uint64_t v = weft_ids_next(&rng);
			weft_span_id_from_u64(v, &id);
			bad += weft_span_id_to_u64(&id) != v;
		}
		expect_int(bad, 0);
	}
}

/* --- traceparent --------------------------------------------------------------------- */

#define TID  "4bf92f3577b34da6a3ce929d0e0e4736"
#define SID  "00f067aa0ba902b7"
#define TID2 "12345678901234567890123456789012"
#define SID2 "1234567890123456"

static void expect_valid(const char *s, const char *trace_hex, uint64_t span, uint8_t flags)
{
	struct weft_trace_id t;
	uint64_t sp = 0;
	uint8_t f = 0xee;
	char got[33];
	int r = weft_ids_parse_traceparent(s, &t, &sp, &f);

	harness_checks++;
	if (r != 0) {
		HARNESS_FAIL(0, "valid traceparent \"%s\" rejected (%d)", s, r);
		return;
	}
	hex(t.b, 16, got);
	expect_str(got, trace_hex);
	expect_true(sp == span);
	expect_int(f, flags);
}

static void expect_invalid(const char *s)
{
	struct weft_trace_id t;
	uint64_t sp = 0;
	uint8_t f = 0;
	int r = weft_ids_parse_traceparent(s, &t, &sp, &f);

	harness_checks++;
	if (r != -EINVAL)
		HARNESS_FAIL(0, "invalid traceparent \"%s\": got %d, expected -EINVAL", s, r);
}

static void test_traceparent(void)
{
	/* The specification's two examples: sampled and not sampled. */
	expect_valid("00-" TID "-" SID "-01", TID, 0x00f067aa0ba902b7ull, 0x01);
	expect_valid("00-" TID "-" SID "-00", TID, 0x00f067aa0ba902b7ull, 0x00);
	expect_valid("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		     "0af7651916cd43dd8448eb211c80319c", 0xb7ad6b7169203331ull, 0x01);
	/* Flags are a bit field: unknown bits parse (the reader masks what it uses). */
	expect_valid("00-" TID2 "-" SID2 "-09", TID2, 0x1234567890123456ull, 0x09);
	expect_valid("00-" TID2 "-" SID2 "-ff", TID2, 0x1234567890123456ull, 0xff);
	/* One nonzero byte is enough for either id. */
	expect_valid("00-00000000000000000000000000000001-0000000000000001-01",
		     "00000000000000000000000000000001", 1, 0x01);
	expect_valid("00-10000000000000000000000000000000-8000000000000000-00",
		     "10000000000000000000000000000000", 0x8000000000000000ull, 0x00);

	/* Version 00 is exactly 55 characters: anything after the flags is invalid. */
	expect_invalid("00-" TID2 "-" SID2 "-01.");
	expect_invalid("00-" TID2 "-" SID2 "-01-what-the-future-will-be-like");
	expect_invalid("00-" TID2 "-" SID2 "-01-");
	expect_invalid("00-" TID2 "-" SID2 "-01 ");

	/* A future version is parsed as 00 is, if what follows the flags starts a field. */
	expect_valid("cc-" TID2 "-" SID2 "-01", TID2, 0x1234567890123456ull, 0x01);
	expect_valid("cc-" TID2 "-" SID2 "-01-what-the-future-will-be-like", TID2,
		     0x1234567890123456ull, 0x01);
	expect_valid("01-" TID2 "-" SID2 "-00-x", TID2, 0x1234567890123456ull, 0x00);
	expect_valid("fe-" TID2 "-" SID2 "-01", TID2, 0x1234567890123456ull, 0x01);
	expect_invalid("cc-" TID2 "-" SID2 "-01.what-the-future-will-be-like");
	expect_invalid("cc-" TID2 "-" SID2 "-011");
	expect_invalid("cc-" TID2 "-" SID2 "-1");
	expect_invalid("cc-" TID2 "3-" SID2 "-01-xx");
	expect_invalid("cc-00000000000000000000000000000000-" SID2 "-01-xx");
	expect_invalid("cc-" TID2 "-0000000000000000-01");

	/* Version ff is forbidden. */
	expect_invalid("ff-" TID2 "-" SID2 "-01");
	expect_invalid("ff-" TID2 "-" SID2 "-01-future");

	/* Version: exactly 2 lowercase hex digits followed by a dash. */
	expect_invalid(".0-" TID2 "-" SID2 "-01");
	expect_invalid("0.-" TID2 "-" SID2 "-01");
	expect_invalid("000-" TID2 "-" SID2 "-01");
	expect_invalid("0000-" TID2 "-" SID2 "-01");
	expect_invalid("0-" TID2 "-" SID2 "-01");
	expect_invalid("0A-" TID2 "-" SID2 "-01");
	expect_invalid("CC-" TID2 "-" SID2 "-01");

	/* All-zero ids are invalid. */
	expect_invalid("00-00000000000000000000000000000000-" SID2 "-01");
	expect_invalid("00-" TID2 "-0000000000000000-01");

	/* Uppercase hex is not HEXDIGLC, in any field. */
	expect_invalid("00-4BF92F3577B34DA6A3CE929D0E0E4736-" SID "-01");
	expect_invalid("00-4bf92f3577b34da6a3ce929d0e0e473A-" SID "-01");
	expect_invalid("00-" TID "-00F067AA0BA902B7-01");
	expect_invalid("00-" TID "-" SID "-0A");

	/* Illegal characters in each field. */
	expect_invalid("00-.2345678901234567890123456789012-" SID2 "-01");
	expect_invalid("00-1234567890123456789012345678901.-" SID2 "-01");
	expect_invalid("00-" TID2 "-.234567890123456-01");
	expect_invalid("00-" TID2 "-123456789012345.-01");
	expect_invalid("00-" TID2 "-" SID2 "-.0");
	expect_invalid("00-" TID2 "-" SID2 "-0.");
	expect_invalid("00-" TID2 "-" SID2 "-0g");
	expect_invalid("00-" TID2 "-12345678901234 6-01");

	/* Fields too long or too short (the total length may still be 55). */
	expect_invalid("00-123456789012345678901234567890123-" SID2 "-01");
	expect_invalid("00-1234567890123456789012345678901-" SID2 "-01");
	expect_invalid("00-" TID2 "-12345678901234567-01");
	expect_invalid("00-" TID2 "-123456789012345-01");
	expect_invalid("00-" TID2 "-" SID2 "-001");
	expect_invalid("00-" TID2 "-" SID2 "-1");
	expect_invalid("00-1234567890123456789012345678901-12345678901234567-01");
	expect_invalid("00-" TID2 "-123456789012345-001");

	/* Wrong separators. */
	expect_invalid("00_" TID2 "-" SID2 "-01");
	expect_invalid("00-" TID2 "_" SID2 "-01");
	expect_invalid("00-" TID2 "-" SID2 "_01");
	expect_invalid("00 " TID2 " " SID2 " 01");
	expect_invalid("00-" TID2 SID2 "--01");

	/* Short strings, down to empty. */
	expect_invalid("");
	expect_invalid("0");
	expect_invalid("00");
	expect_invalid("00-");
	expect_invalid("00-" TID2);
	expect_invalid("00-" TID2 "-" SID2);
	expect_invalid("00-" TID2 "-" SID2 "-");
	expect_invalid("00-" TID2 "-" SID2 "-0");
}

/* A generator never seeded (a zeroed thread state) still gives ids, at once. */
static void test_unseeded(void)
{
	struct weft_rng zero = { { 0 } };
	struct weft_trace_id t;

	expect_true(weft_ids_span(&zero) != 0);
	weft_ids_trace(&zero, &t);
	expect_true(!trace_is_zero(&t));
	memset(&zero, 0, sizeof(zero));
	weft_ids_trace(&zero, &t);
	expect_true(!trace_is_zero(&t));
}

/*
 * A trace derived from its root span: distinct spans give distinct traces,
 * neither half is stuck, and a span equal to either key (the one input that
 * zeroes a half) still gives a trace that is not zero.
 */
static void test_trace_of(void)
{
	struct weft_rng rng;
	struct weft_trace_id t, prev;
	uint64_t hi_or = 0, lo_or = 0;
	size_t repeats = 0;

	weft_ids_seed(&rng, 3);
	memset(&prev, 0, sizeof(prev));
	for (int i = 0; i < 100000; i++) {
		weft_ids_trace_of(weft_ids_span(&rng), &t);
		expect_true(!trace_is_zero(&t));
		repeats += memcmp(&t, &prev, sizeof(t)) == 0;
		prev = t;
	}
	expect_int(repeats, 0);
	for (int i = 0; i < 64; i++) {
		weft_ids_trace_of(weft_ids_span(&rng), &t);
		for (int j = 0; j < 8; j++) {
			hi_or |= (uint64_t)t.b[j] << (8 * j);
			lo_or |= (uint64_t)t.b[8 + j] << (8 * j);
		}
	}
	expect_true(hi_or == UINT64_MAX);
	expect_true(lo_or == UINT64_MAX);
	/* Consecutive spans (a bijection of each): no two traces alike. */
	weft_ids_trace_of(1, &prev);
	for (uint64_t s = 2; s < 1000; s++) {
		weft_ids_trace_of(s, &t);
		expect_true(memcmp(&t, &prev, 8) != 0);
		prev = t;
	}
	expect_true(weft_ids_trace_keys[0] != weft_ids_trace_keys[1]);
	weft_ids_trace_of(weft_ids_trace_keys[0], &t);
	expect_true(!trace_is_zero(&t));
	weft_ids_trace_of(weft_ids_trace_keys[1], &t);
	expect_true(!trace_is_zero(&t));
}

int main(void)
{
	weft_ids_init_process();
	test_unseeded();
	test_span_unique();
	test_span_skips_zero();
	test_trace_nonzero();
	test_trace_of();
	test_threads();
	test_reinit();
	test_fork();
	test_span_bytes();
	test_traceparent();
	return harness_done();
}
