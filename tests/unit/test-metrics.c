/*
 * Metric instruments and aggregation: sums (monotonic and not), gauges,
 * explicit-bucket histograms, attribute tuples (several keys, values whose
 * hashes share a table slot, values that concatenate alike), the cardinality
 * limit and its overflow series, the collected model, value look-ups, reset.
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

/*
 * weft_metrics_reset() forgets the instruments and the collection buffers
 * without freeing them, by design (metrics.h), and these tests reset often.
 * Under LeakSanitizer, leave out exactly those allocations: the instruments
 * (and what hangs off them) and collect's output. A series or table leaked
 * while its instrument is alive is still reported. Only sanitizer runtimes
 * call this.
 */
__attribute__((visibility("default"), used)) const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:instrument_new\nleak:weft_metrics_collect\n";
}

#define START 1000000000ull
#define NOW   2000000000ull

/* Attribute `key` of a point, or NULL. */
static const struct weft_attr *attr_of(const struct weft_point *p, const char *key)
{
	for (size_t i = 0; i < p->n_attrs; i++)
		if (strcmp(p->attrs[i].key, key) == 0)
			return &p->attrs[i];
	return NULL;
}

static bool is_overflow(const struct weft_point *p)
{
	const struct weft_attr *a = attr_of(p, "otel.metric.overflow");

	return a && a->type == WEFT_VALUE_BOOL && a->v.b;
}

/* The point whose string attributes equal vals[] for keys[], or NULL. */
static const struct weft_point *find_point(const struct weft_metric *m, size_t n_keys,
					   const char *const *keys, const char *const *vals)
{
	for (size_t i = 0; i < m->n_points; i++) {
		const struct weft_point *p = &m->points[i];
		bool match = p->n_attrs == n_keys;

		for (size_t k = 0; match && k < n_keys; k++) {
			const struct weft_attr *a = attr_of(p, keys[k]);
			match = a && a->type == WEFT_VALUE_STRING && strcmp(a->v.s, vals[k]) == 0;
		}
		if (match)
			return p;
	}
	return NULL;
}

static const struct weft_point *find_overflow(const struct weft_metric *m)
{
	for (size_t i = 0; i < m->n_points; i++)
		if (is_overflow(&m->points[i]))
			return &m->points[i];
	return NULL;
}

/* Collects and returns the metric called `name`, or NULL. */
static const struct weft_metric *collect_one(const char *name, size_t *n_metrics)
{
	const struct weft_metric *ms = NULL;
	size_t n = weft_metrics_collect(&ms, START, NOW);

	if (n_metrics)
		*n_metrics = n;
	for (size_t i = 0; i < n; i++)
		if (strcmp(ms[i].name, name) == 0)
			return &ms[i];
	return NULL;
}

static void test_sums(void)
{
	static const char *const keys[] = {"kind"};
	const char *mutex[] = {"mutex"}, *cond[] = {"cond"}, *none[] = {"none"};
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
	static const char *const keys[] = {"state"};
	const char *run[] = {"running"}, *blk[] = {"blocked"};
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
	static const char *const keys[] = {"kind"};
	static const double bounds[] = {0, 5, 10, 25};
	const char *a[] = {"a"}, *b[] = {"b"};
	struct weft_instrument *h;
	const struct weft_metric *m;
	const struct weft_point *p;
	/*
	 * Bucket i is (bounds[i-1], bounds[i]]: a value equal to a bound goes to
	 * that bound's bucket; the last bucket is (25, +inf).
	 */
	static const double vals[] = {-3, 0, 0.5, 5, 5.0001, 10, 10.5, 25, 25.0000001, 1e9};
	static const size_t bucket[] = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4};
	const size_t n_vals = sizeof(vals) / sizeof(vals[0]);
	uint64_t want[5] = {0};
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
	expect_true(p->bounds == bounds);
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
		const char *c[] = {"c"}, *d[] = {"d"};

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

static void test_keys(void)
{
	static const char *const keys[] = {"k1", "k2", "k3"};
	const char *v1[] = {"a", "b", "c"}, *v2[] = {"a", "b", "d"}, *v3[] = {"x", "b", "c"};
	/* Tuples whose concatenations are equal must stay apart. */
	const char *c1[] = {"ab", "c", ""}, *c2[] = {"a", "bc", ""}, *c3[] = {"", "abc", ""};
	/* Values that are prefixes of one another. */
	const char *p1[] = {"wait", "", ""}, *p2[] = {"waiting", "", ""};
	const char *p3[] = {"wai", "", ""};
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
		const char *vb[] = {buf, "b", "c"};

		snprintf(buf, sizeof(buf), "temp");
		weft_metrics_add(s, vb, 1000);
		snprintf(buf, sizeof(buf), "other");
		expect_int(weft_metrics_value(s, vb), 0);
		snprintf(buf, sizeof(buf), "temp");
		expect_int(weft_metrics_value(s, vb), 1000);
		m = collect_one("test.keys", NULL);
		assert_true(m != NULL);
		p = find_point(m, 3, keys, (const char *[]){"temp", "b", "c"});
		assert_true(p != NULL);
		expect_true(p->attrs[0].v.s != buf);
	}

	/* More keys than WEFT_METRICS_MAX_KEYS: no instrument. */
	{
		static const char *const four[] = {"a", "b", "c", "d"};

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
	static const char *const keys[] = {"v"};
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
		const char *v[] = {names[i]};
		weft_metrics_add(s, v, i + 1);
	}
	/* Again, after the table has grown and been rehashed. */
	for (int i = 0; i < N_COLLIDE; i++) {
		const char *v[] = {names[i]};
		weft_metrics_add(s, v, 1000);
	}
	for (int i = 0; i < N_COLLIDE; i++) {
		const char *v[] = {names[i]};
		if (weft_metrics_value(s, v) == i + 1001)
			found++;
	}
	expect_int(found, N_COLLIDE);
	m = collect_one("test.slot", NULL);
	assert_true(m != NULL);
	expect_int(m->n_points, N_COLLIDE);
	found = 0;
	for (int i = 0; i < N_COLLIDE; i++) {
		const char *v[] = {names[i]};
		const struct weft_point *p = find_point(m, 1, keys, v);
		if (p && p->as_int == i + 1001)
			found++;
	}
	expect_int(found, N_COLLIDE);

	/* A value absent from a crowded table is absent, not a neighbour's. */
	{
		const char *v[] = {"absent"};

		expect_int(weft_metrics_value(s, v), 0);
	}
}

/*
 * With limit L an instrument has at most L series: L - 1 tuples of its own and
 * the overflow series, which takes every later tuple. Nothing is lost. Each of
 * n_tuples tuples is added twice, so tuples that have a series hold both.
 */
static void check_limit(uint32_t limit, int n_tuples, size_t want_series, bool want_overflow)
{
	static const char *const keys[] = {"id", "side"};
	static const double bounds[] = {10};
	struct weft_instrument *s, *h;
	const struct weft_metric *m;
	const struct weft_point *ov;
	int64_t want = 0, got = 0;
	uint64_t hcount = 0;
	int own = 0, n_own = (int)want_series - (want_overflow ? 1 : 0);
	char buf[32];
	const char *vals[] = {buf, "x"};

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
		const char *v[] = {buf};

		weft_metrics_reset();
		weft_metrics_set_limit(500);
		before = weft_metrics_sum("test.before", "", "1", true, 1, (const char *[]){"k"});
		weft_metrics_set_limit(4);
		after = weft_metrics_sum("test.after", "", "1", true, 1, (const char *[]){"k"});
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

static void test_collect_model(void)
{
	static const double bounds[] = {1, 2};
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
	test_keys();
	test_same_slot();
	test_limit();
	test_collect_model();
	test_reset();
	return harness_done();
}
