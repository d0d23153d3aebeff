/*
 * Metric instruments and aggregation: sums (monotonic and not), gauges,
 * explicit-bucket histograms, the collected model, value look-ups, reset.
 * Series identity and the cardinality limit are in test-metrics-series.c.
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

static void test_sums(void)
{
	static const char *const keys[] = { "kind" };
	const char *mutex[] = { "mutex" }, *cond[] = { "cond" }, *none[] = { "none" };
	struct weft_instrument *c, *ud;
	const struct weft_metric *m;
	const struct weft_point *p;
	size_t n;

	weft_metrics_reset();
	c = weft_metrics_sum("test.count", "A counter", "{event}", true, 1, keys);
	ud = weft_metrics_sum("test.updown", "An up-down counter", "{thread}", false, 0, NULL);
	assert_true(c && ud);

	/* No series yet: nothing is collected. */
	expect_int(weft_metrics_collect(&m, START, NOW), 0);
	expect_int(weft_metrics_value(c, mutex), 0);

	weft_metrics_add(c, mutex, 3);
	weft_metrics_add(c, mutex, 4);
	weft_metrics_add(c, cond, 1);
	weft_metrics_add(c, cond, 0);
	expect_int(weft_metrics_value(c, mutex), 7);
	expect_int(weft_metrics_value(c, cond), 1);
	expect_int(weft_metrics_value(c, none), 0);

	weft_metrics_add(ud, NULL, 5);
	weft_metrics_add(ud, NULL, -8);
	expect_int(weft_metrics_value(ud, NULL), -3);
	weft_metrics_add(ud, NULL, 3);
	expect_int(weft_metrics_value(ud, NULL), 0);

	/* A NULL instrument (creation failed) is ignored. */
	weft_metrics_add(NULL, mutex, 1);
	expect_int(weft_metrics_value(NULL, mutex), 0);

	m = collect_one("test.count", &n);
	expect_int(n, 2);
	assert_true(m != NULL);
	expect_str(m->description, "A counter");
	expect_str(m->unit, "{event}");
	expect_int(m->type, WEFT_METRIC_SUM);
	expect_true(m->monotonic);
	expect_int(m->n_points, 2);
	p = find_point(m, 1, keys, mutex);
	assert_true(p != NULL);
	expect_int(p->as_int, 7);
	expect_true(!p->is_double);
	expect_int(p->n_attrs, 1);
	expect_true(p->attrs[0].key == keys[0]);
	expect_int(p->start_unix_nano, START);
	expect_int(p->time_unix_nano, NOW);
	p = find_point(m, 1, keys, cond);
	assert_true(p != NULL);
	expect_int(p->as_int, 1);

	m = collect_one("test.updown", NULL);
	assert_true(m != NULL);
	expect_int(m->type, WEFT_METRIC_SUM);
	expect_true(!m->monotonic);
	assert_int(m->n_points, 1);
	expect_int(m->points[0].n_attrs, 0);
	expect_int(m->points[0].as_int, 0);
	expect_int(m->points[0].start_unix_nano, START);

	/* Cumulative: a second collect reports the running totals, with new timestamps. */
	weft_metrics_add(c, mutex, 1);
	{
		const struct weft_metric *ms;

		n = weft_metrics_collect(&ms, START, NOW + 5);
		expect_int(n, 2);
		for (size_t i = 0; i < n; i++) {
			if (strcmp(ms[i].name, "test.count") != 0)
				continue;
			p = find_point(&ms[i], 1, keys, mutex);
			assert_true(p != NULL);
			expect_int(p->as_int, 8);
			expect_int(p->start_unix_nano, START);
			expect_int(p->time_unix_nano, NOW + 5);
		}
	}
}

static void test_gauges(void)
{
	static const char *const keys[] = { "state" };
	const char *run[] = { "running" }, *blk[] = { "blocked" };
	struct weft_instrument *g;
	const struct weft_metric *m;
	const struct weft_point *p;

	weft_metrics_reset();
	g = weft_metrics_gauge("test.gauge", "A gauge", "{thread}", 1, keys);
	assert_true(g != NULL);
	weft_metrics_set(g, run, 5);
	weft_metrics_set(g, run, 2);
	weft_metrics_set(g, blk, -4);
	expect_int(weft_metrics_value(g, run), 2);
	expect_int(weft_metrics_value(g, blk), -4);
	weft_metrics_set(g, blk, 0);
	expect_int(weft_metrics_value(g, blk), 0);

	m = collect_one("test.gauge", NULL);
	assert_true(m != NULL);
	expect_int(m->type, WEFT_METRIC_GAUGE);
	expect_int(m->n_points, 2);
	p = find_point(m, 1, keys, run);
	assert_true(p != NULL);
	expect_int(p->as_int, 2);
	/* A gauge has no start time. */
	expect_int(p->start_unix_nano, 0);
	expect_int(p->time_unix_nano, NOW);
	p = find_point(m, 1, keys, blk);
	assert_true(p != NULL);
	expect_int(p->as_int, 0);
	expect_int(p->start_unix_nano, 0);
}

static void test_histogram(void)
{
	static const char *const keys[] = { "kind" };
	static const double bounds[] = { 0, 5, 10, 25 };
	const char *a[] = { "a" }, *b[] = { "b" };
	struct weft_instrument *h;
	const struct weft_metric *m;
	const struct weft_point *p;
	/*
	 * Bucket i is (bounds[i-1], bounds[i]]: a value equal to a bound goes to
	 * that bound's bucket; the last bucket is (25, +inf).
	 */
	static const double vals[] = { -3, 0, 0.5, 5, 5.0001, 10, 10.5, 25, 25.0000001, 1e9 };
	static const size_t bucket[] = { 0, 0, 1, 1, 2, 2, 3, 3, 4, 4 };
	const size_t n_vals = sizeof(vals) / sizeof(vals[0]);
	uint64_t want[5] = { 0 };
	double sum = 0;

	weft_metrics_reset();
	h = weft_metrics_histogram("test.hist", "A histogram", "s", 1, keys, bounds, 4);
	assert_true(h != NULL);
	for (size_t i = 0; i < n_vals; i++) {
		weft_metrics_record(h, a, vals[i]);
		want[bucket[i]]++;
		sum += vals[i];
	}
	weft_metrics_record(h, b, 7);

	m = collect_one("test.hist", NULL);
	assert_true(m != NULL);
	expect_int(m->type, WEFT_METRIC_HISTOGRAM);
	expect_int(m->n_points, 2);
	p = find_point(m, 1, keys, a);
	assert_true(p != NULL);
	expect_int(p->count, n_vals);
	expect_true(p->sum == sum);
	expect_true(p->min == -3);
	expect_true(p->max == 1e9);
	expect_int(p->n_bounds, 4);
	/* The instrument's copy of the bounds (with +inf after them, not exported). */
	assert_true(p->bounds != NULL);
	expect_true(memcmp(p->bounds, bounds, sizeof(bounds)) == 0);
	expect_int(p->start_unix_nano, START);
	expect_int(p->time_unix_nano, NOW);
	assert_true(p->bucket_counts != NULL);
	for (size_t i = 0; i < 5; i++)
		expect_int(p->bucket_counts[i], want[i]);

	/* A single value is both min and max; it sits in (5, 10]. */
	p = find_point(m, 1, keys, b);
	assert_true(p != NULL);
	expect_int(p->count, 1);
	expect_true(p->sum == 7 && p->min == 7 && p->max == 7);
	expect_int(p->bucket_counts[0], 0);
	expect_int(p->bucket_counts[1], 0);
	expect_int(p->bucket_counts[2], 1);
	expect_int(p->bucket_counts[3], 0);
	expect_int(p->bucket_counts[4], 0);

	/* min and max start from the first value, even when all values are positive or negative. */
	{
		const char *c[] = { "c" }, *d[] = { "d" };

		weft_metrics_record(h, c, 3);
		weft_metrics_record(h, c, 4);
		weft_metrics_record(h, d, -7);
		weft_metrics_record(h, d, -2);
		m = collect_one("test.hist", NULL);
		assert_true(m != NULL);
		p = find_point(m, 1, keys, c);
		assert_true(p != NULL);
		expect_true(p->min == 3 && p->max == 4 && p->sum == 7);
		p = find_point(m, 1, keys, d);
		assert_true(p != NULL);
		expect_true(p->min == -7 && p->max == -2 && p->sum == -9);
		expect_int(p->bucket_counts[0], 2);
	}

	/* No bounds: one bucket holds everything. */
	{
		struct weft_instrument *h0 =
			weft_metrics_histogram("test.hist0", "", "1", 0, NULL, NULL, 0);

		assert_true(h0 != NULL);
		weft_metrics_record(h0, NULL, 1);
		weft_metrics_record(h0, NULL, -1);
		m = collect_one("test.hist0", NULL);
		assert_true(m != NULL);
		assert_int(m->n_points, 1);
		expect_int(m->points[0].count, 2);
		expect_int(m->points[0].n_bounds, 0);
		expect_int(m->points[0].bucket_counts[0], 2);
	}
}

static void test_collect_model(void)
{
	static const double bounds[] = { 1, 2 };
	const struct weft_metric *ms;
	struct weft_instrument *a, *b, *c, *unused;
	size_t n;

	weft_metrics_reset();
	a = weft_metrics_sum("m.a", "da", "ua", true, 0, NULL);
	unused = weft_metrics_gauge("m.unused", "", "1", 0, NULL);
	b = weft_metrics_gauge("m.b", "db", "ub", 0, NULL);
	c = weft_metrics_histogram("m.c", "dc", "uc", 0, NULL, bounds, 2);
	assert_true(a && b && c && unused);
	weft_metrics_add(a, NULL, 1);
	weft_metrics_set(b, NULL, 2);
	weft_metrics_record(c, NULL, 1.5);

	/* Instruments without a series are left out; the others come in creation order. */
	n = weft_metrics_collect(&ms, 11, 22);
	assert_int(n, 3);
	expect_str(ms[0].name, "m.a");
	expect_str(ms[1].name, "m.b");
	expect_str(ms[2].name, "m.c");
	expect_str(ms[0].description, "da");
	expect_str(ms[1].unit, "ub");
	expect_int(ms[0].type, WEFT_METRIC_SUM);
	expect_int(ms[1].type, WEFT_METRIC_GAUGE);
	expect_int(ms[2].type, WEFT_METRIC_HISTOGRAM);
	for (size_t i = 0; i < n; i++) {
		assert_int(ms[i].n_points, 1);
		expect_int(ms[i].points[0].n_attrs, 0);
		expect_int(ms[i].points[0].time_unix_nano, 22);
	}
	expect_int(ms[0].points[0].start_unix_nano, 11);
	expect_int(ms[1].points[0].start_unix_nano, 0);
	expect_int(ms[2].points[0].start_unix_nano, 11);
	expect_int(ms[0].points[0].as_int, 1);
	expect_int(ms[1].points[0].as_int, 2);
	expect_int(ms[2].points[0].count, 1);
	expect_int(ms[2].points[0].bucket_counts[1], 1);

	/* Points of different metrics do not overlap. */
	expect_true(ms[0].points != ms[1].points && ms[1].points != ms[2].points);

	/* The unused one appears once it has a series. */
	weft_metrics_set(unused, NULL, 9);
	n = weft_metrics_collect(&ms, 11, 22);
	expect_int(n, 4);
	expect_str(ms[1].name, "m.unused");
}

static void test_reset(void)
{
	struct weft_instrument *s, *all[64];
	const struct weft_metric *ms;
	int made = 0;

	weft_metrics_reset();
	s = weft_metrics_sum("r.a", "", "1", true, 0, NULL);
	weft_metrics_add(s, NULL, 5);
	expect_int(weft_metrics_collect(&ms, 1, 2), 1);
	weft_metrics_reset();
	expect_int(weft_metrics_collect(&ms, 1, 2), 0);

	/* A new instrument of the same name starts from zero. */
	s = weft_metrics_sum("r.a", "", "1", true, 0, NULL);
	assert_true(s != NULL);
	expect_int(weft_metrics_value(s, NULL), 0);
	weft_metrics_add(s, NULL, 1);
	expect_int(weft_metrics_value(s, NULL), 1);

	/* 64 instruments at most per process; reset frees the table. */
	weft_metrics_reset();
	for (int i = 0; i < 64; i++) {
		all[i] = weft_metrics_sum("r.many", "", "1", true, 0, NULL);
		made += all[i] != NULL;
		weft_metrics_add(all[i], NULL, i);
	}
	expect_int(made, 64);
	expect_true(weft_metrics_sum("r.one-more", "", "1", true, 0, NULL) == NULL);
	expect_true(weft_metrics_gauge("r.one-more", "", "1", 0, NULL) == NULL);
	expect_int(weft_metrics_collect(&ms, 1, 2), 64);
	weft_metrics_reset();
	expect_true(weft_metrics_sum("r.after", "", "1", true, 0, NULL) != NULL);
}

int main(void)
{
	test_sums();
	test_gauges();
	test_histogram();
	test_collect_model();
	test_reset();
	return harness_done();
}
