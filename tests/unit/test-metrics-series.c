/*
 * Metric series: attribute tuples (several keys, values whose hashes share a
 * table slot, values that concatenate alike), series that stay put while the
 * table grows, the cardinality limit and its overflow series.
 *
 * Instruments are process-global (at most 64), so every test starts with
 * weft_metrics_reset().
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "exporter/metrics.h"
#include "tests/unit/harness.h"
#include "tests/unit/metrics-helpers.h"

static void test_keys(void)
{
	static const char *const keys[] = { "k1", "k2", "k3" };
	const char *v1[] = { "a", "b", "c" }, *v2[] = { "a", "b", "d" }, *v3[] = { "x", "b", "c" };
	/* Tuples whose concatenations are equal must stay apart. */
	const char *c1[] = { "ab", "c", "" }, *c2[] = { "a", "bc", "" }, *c3[] = { "", "abc", "" };
	/* Values that are prefixes of one another. */
	const char *p1[] = { "wait", "", "" }, *p2[] = { "waiting", "", "" };
	const char *p3[] = { "wai", "", "" };
	struct weft_instrument *s;
	const struct weft_metric *m;
	const struct weft_point *p;

	weft_metrics_reset();
	s = weft_metrics_sum("test.keys", "", "1", true, 3, keys);
	assert_true(s != NULL);
	weft_metrics_add(s, v1, 1);
	weft_metrics_add(s, v2, 2);
	weft_metrics_add(s, v3, 4);
	weft_metrics_add(s, c1, 8);
	weft_metrics_add(s, c2, 16);
	weft_metrics_add(s, c3, 32);
	weft_metrics_add(s, p1, 64);
	weft_metrics_add(s, p2, 128);
	weft_metrics_add(s, p3, 256);
	expect_int(weft_metrics_value(s, v1), 1);
	expect_int(weft_metrics_value(s, v2), 2);
	expect_int(weft_metrics_value(s, v3), 4);
	expect_int(weft_metrics_value(s, c1), 8);
	expect_int(weft_metrics_value(s, c2), 16);
	expect_int(weft_metrics_value(s, c3), 32);
	expect_int(weft_metrics_value(s, p1), 64);
	expect_int(weft_metrics_value(s, p2), 128);
	expect_int(weft_metrics_value(s, p3), 256);

	m = collect_one("test.keys", NULL);
	assert_true(m != NULL);
	expect_int(m->n_points, 9);
	p = find_point(m, 3, keys, c2);
	assert_true(p != NULL);
	expect_int(p->as_int, 16);
	expect_int(p->n_attrs, 3);
	/* Keys come out in the instrument's order. */
	expect_str(p->attrs[0].key, "k1");
	expect_str(p->attrs[1].key, "k2");
	expect_str(p->attrs[2].key, "k3");
	expect_str(p->attrs[0].v.s, "a");
	expect_str(p->attrs[1].v.s, "bc");
	expect_str(p->attrs[2].v.s, "");

	/* The series owns copies of the values: the caller's buffers may change. */
	{
		char buf[16];
		const char *vb[] = { buf, "b", "c" };

		snprintf(buf, sizeof(buf), "temp");
		weft_metrics_add(s, vb, 1000);
		snprintf(buf, sizeof(buf), "other");
		expect_int(weft_metrics_value(s, vb), 0);
		snprintf(buf, sizeof(buf), "temp");
		expect_int(weft_metrics_value(s, vb), 1000);
		m = collect_one("test.keys", NULL);
		assert_true(m != NULL);
		p = find_point(m, 3, keys, (const char *[]){ "temp", "b", "c" });
		assert_true(p != NULL);
		expect_true(p->attrs[0].v.s != buf);
	}

	/* More keys than WEFT_METRICS_MAX_KEYS: no instrument. */
	{
		static const char *const four[] = { "a", "b", "c", "d" };

		expect_true(weft_metrics_sum("test.four", "", "1", true, 4, four) == NULL);
	}
}

/*
 * FNV-1a over the values, as exporter/metrics.c hashes them. Only used to pick
 * values whose hashes share their low bits (the same home slot in the series
 * table); if the hash changes, the test still holds, only less pointedly.
 */
static uint64_t fnv(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return (h ^ 0xff) * 0x100000001b3ull;
}

enum { N_COLLIDE = 40 };

static void test_same_slot(void)
{
	static const char *const keys[] = { "v" };
	static char names[N_COLLIDE][16];
	struct weft_instrument *s;
	const struct weft_metric *m;
	int found = 0;
	uint64_t target = fnv("v0") & 63;

	weft_metrics_reset();
	s = weft_metrics_sum("test.slot", "", "1", true, 1, keys);
	assert_true(s != NULL);
	/* 40 values whose hashes agree in their low 6 bits: one home slot at capacities 16..64. */
	for (int i = 0, n = 0; n < N_COLLIDE; i++) {
		char v[16];

		snprintf(v, sizeof(v), "v%d", i);
		if ((fnv(v) & 63) != target)
			continue;
		memcpy(names[n++], v, sizeof(v));
	}
	for (int i = 0; i < N_COLLIDE; i++) {
		const char *v[] = { names[i] };
		weft_metrics_add(s, v, i + 1);
	}
	/* Again, after the table has grown and been rehashed. */
	for (int i = 0; i < N_COLLIDE; i++) {
		const char *v[] = { names[i] };
		weft_metrics_add(s, v, 1000);
	}
	for (int i = 0; i < N_COLLIDE; i++) {
		const char *v[] = { names[i] };
		if (weft_metrics_value(s, v) == i + 1001)
			found++;
	}
	expect_int(found, N_COLLIDE);
	m = collect_one("test.slot", NULL);
	assert_true(m != NULL);
	expect_int(m->n_points, N_COLLIDE);
	found = 0;
	for (int i = 0; i < N_COLLIDE; i++) {
		const char *v[] = { names[i] };
		const struct weft_point *p = find_point(m, 1, keys, v);
		if (p && p->as_int == i + 1001)
			found++;
	}
	expect_int(found, N_COLLIDE);

	/* A value absent from a crowded table is absent, not a neighbour's. */
	{
		const char *v[] = { "absent" };

		expect_int(weft_metrics_value(s, v), 0);
	}
}

/*
 * The collected model points into the series (their attributes, their
 * buckets), so a series must not move when later tuples grow the table:
 * what an earlier collect returned stays readable until the next collect.
 */
static void test_series_stay_put(void)
{
	static const char *const keys[] = { "k" };
	static const double bounds[] = { 1 };
	const struct weft_attr *attrs_before;
	const uint64_t *buckets_before;
	const struct weft_metric *m;
	const struct weft_point *p;
	const char *first[] = { "first" };
	char buf[16];
	const char *v[] = { buf };
	struct weft_instrument *h;

	weft_metrics_reset();
	h = weft_metrics_histogram("test.stay", "", "1", 1, keys, bounds, 1);
	assert_true(h != NULL);
	weft_metrics_record(h, first, 5);
	m = collect_one("test.stay", NULL);
	assert_true(m != NULL);
	p = find_point(m, 1, keys, first);
	assert_true(p != NULL);
	attrs_before = p->attrs;
	buckets_before = p->bucket_counts;

	/* 300 more tuples: the table grows from 16 slots to 1024. */
	for (int i = 0; i < 300; i++) {
		snprintf(buf, sizeof(buf), "t%d", i);
		weft_metrics_record(h, v, 0.5);
	}
	expect_str(attrs_before[0].key, "k");
	expect_str(attrs_before[0].v.s, "first");
	expect_int(buckets_before[1], 1);

	m = collect_one("test.stay", NULL);
	assert_true(m != NULL);
	expect_int(m->n_points, 301);
	p = find_point(m, 1, keys, first);
	assert_true(p != NULL);
	expect_true(p->attrs == attrs_before);
	expect_true(p->bucket_counts == buckets_before);
}

/*
 * With limit L an instrument has at most L series: L - 1 tuples of its own and
 * the overflow series, which takes every later tuple. Nothing is lost. Each of
 * n_tuples tuples is added twice, so tuples that have a series hold both.
 */
static void check_limit(uint32_t limit, int n_tuples, size_t want_series, bool want_overflow)
{
	static const char *const keys[] = { "id", "side" };
	static const double bounds[] = { 10 };
	struct weft_instrument *s, *h;
	const struct weft_metric *m;
	const struct weft_point *ov;
	int64_t want = 0, got = 0;
	uint64_t hcount = 0;
	int own = 0, n_own = (int)want_series - (want_overflow ? 1 : 0);
	char buf[32];
	const char *vals[] = { buf, "x" };

	weft_metrics_reset();
	weft_metrics_set_limit(limit);
	s = weft_metrics_sum("test.limit", "", "1", true, 2, keys);
	h = weft_metrics_histogram("test.limit.h", "", "1", 2, keys, bounds, 1);
	assert_true(s && h);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < n_tuples; i++) {
			snprintf(buf, sizeof(buf), "t%d", i);
			weft_metrics_add(s, vals, i + 1);
			weft_metrics_record(h, vals, i);
			want += i + 1;
		}
	}

	m = collect_one("test.limit", NULL);
	assert_true(m != NULL);
	expect_int(m->n_points, want_series);
	for (size_t i = 0; i < m->n_points; i++)
		got += m->points[i].as_int;
	expect_int(got, want);

	/* The first tuples kept their own series; the later ones have none. */
	for (int i = 0; i < n_tuples; i++) {
		const struct weft_point *p;

		snprintf(buf, sizeof(buf), "t%d", i);
		p = find_point(m, 2, keys, vals);
		if (i < n_own) {
			expect_true(p != NULL && p->as_int == 2 * (i + 1));
			expect_int(weft_metrics_value(s, vals), 2 * (i + 1));
			own += p != NULL;
		} else {
			expect_true(p == NULL);
			expect_int(weft_metrics_value(s, vals), 0);
		}
	}
	expect_int(own, n_own);

	ov = find_overflow(m);
	if (want_overflow) {
		int64_t rest = 0;

		for (int i = n_own; i < n_tuples; i++)
			rest += 2 * (i + 1);
		assert_true(ov != NULL);
		expect_int(ov->as_int, rest);
		expect_int(ov->n_attrs, 1);
		expect_str(ov->attrs[0].key, "otel.metric.overflow");
		expect_int(ov->attrs[0].type, WEFT_VALUE_BOOL);
		expect_true(ov->attrs[0].v.b);
		expect_int(ov->start_unix_nano, START);
		expect_int(ov->time_unix_nano, NOW);
	} else {
		expect_true(ov == NULL);
	}

	/* The histogram conserves counts and sums too. */
	m = collect_one("test.limit.h", NULL);
	assert_true(m != NULL);
	expect_int(m->n_points, want_series);
	{
		double hsum = 0;

		for (size_t i = 0; i < m->n_points; i++) {
			hcount += m->points[i].count;
			hsum += m->points[i].sum;
		}
		expect_int(hcount, 2 * n_tuples);
		expect_true(hsum == (double)n_tuples * (n_tuples - 1));
		ov = find_overflow(m);
		expect_true(want_overflow ? ov != NULL : ov == NULL);
	}
	weft_metrics_set_limit(500);
}

static void test_limit(void)
{
	check_limit(10, 100, 10, true);
	check_limit(10, 9, 9, false);  /* L - 1 tuples: no overflow series yet */
	check_limit(10, 10, 10, true); /* the L-th tuple already overflows */
	check_limit(2, 50, 2, true);
	check_limit(1, 50, 2, true); /* clamped to 2 */
	check_limit(300, 1000, 300, true);

	/* The limit applies to instruments created after it is set. */
	{
		struct weft_instrument *before, *after;
		const struct weft_metric *m;
		char buf[16];
		const char *v[] = { buf };

		weft_metrics_reset();
		weft_metrics_set_limit(500);
		before = weft_metrics_sum("test.before", "", "1", true, 1, (const char *[]){ "k" });
		weft_metrics_set_limit(4);
		after = weft_metrics_sum("test.after", "", "1", true, 1, (const char *[]){ "k" });
		assert_true(before && after);
		for (int i = 0; i < 20; i++) {
			snprintf(buf, sizeof(buf), "%d", i);
			weft_metrics_add(before, v, 1);
			weft_metrics_add(after, v, 1);
		}
		m = collect_one("test.before", NULL);
		assert_true(m != NULL);
		expect_int(m->n_points, 20);
		expect_true(find_overflow(m) == NULL);
		m = collect_one("test.after", NULL);
		assert_true(m != NULL);
		expect_int(m->n_points, 4);
		expect_true(find_overflow(m) != NULL);
		weft_metrics_set_limit(500);
	}
}

int main(void)
{
	test_keys();
	test_same_slot();
	test_series_stay_put();
	test_limit();
	return harness_done();
}
