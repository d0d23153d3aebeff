/*
 * The report's pools (exporter/report.h): the percentile histogram — exact
 * below 8 ns and at a lone value, within 12.5% of the exact nearest-rank
 * percentile over durations spread from 1 ns to 10 s, the largest value it
 * can hold — and the pool lines: threads, tasks, busy fraction, durations in
 * human units, `-` for what is not known, names cut to fit, the table's
 * overflow counted.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/json.h"
#include "exporter/report.h"
#include "tests/unit/harness.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_hist_exact(void)
{
	static struct weft_report_hist h;

	expect_int(weft_report_hist_percentile(&h, 0.5), 0); /* empty */
	for (uint64_t v = 0; v < 8; v++)
		weft_report_hist_add(&h, v);
	expect_int(weft_report_hist_percentile(&h, 0.125), 0);
	expect_int(weft_report_hist_percentile(&h, 0.5), 3);
	expect_int(weft_report_hist_percentile(&h, 0.51), 4);
	expect_int(weft_report_hist_percentile(&h, 1), 7);

	/* A lone value is exact: the answer stays within the smallest and largest seen. */
	memset(&h, 0, sizeof(h));
	weft_report_hist_add(&h, 12345);
	expect_int(weft_report_hist_percentile(&h, 0.5), 12345);
	expect_int(weft_report_hist_percentile(&h, 0.99), 12345);

	/* 8 and 9 share a bucket, [8, 10); 20 is in [20, 24). */
	memset(&h, 0, sizeof(h));
	weft_report_hist_add(&h, 8);
	weft_report_hist_add(&h, 9);
	weft_report_hist_add(&h, 20);
	expect_int(weft_report_hist_percentile(&h, 0.34), 9);
	expect_int(weft_report_hist_percentile(&h, 0.99), 20);

	/* The largest durations have a bucket. */
	memset(&h, 0, sizeof(h));
	weft_report_hist_add(&h, UINT64_MAX);
	weft_report_hist_add(&h, (uint64_t)1 << 63);
	expect_true(weft_report_hist_percentile(&h, 1) == UINT64_MAX);
	expect_true(weft_report_hist_percentile(&h, 0.5) == (uint64_t)1 << 63);
}

/* Durations spread evenly over the powers of ten from 1 ns to 10 s. */
static void test_hist_precision(void)
{
	enum { N = 20000 };
	static const double ps[] = { 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1 };
	static uint64_t v[N];
	static struct weft_report_hist h;
	uint64_t x = 0x9e3779b97f4a7c15u, prev = 0;
	double worst = 0;

	for (int i = 0; i < N; i++) {
		/* xorshift64: a mantissa in [1, 10) and a power of ten from 0 to 9. */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v[i] = 1 + x % 9;
		for (uint64_t e = (x >> 32) % 10; e > 0; e--)
			v[i] = v[i] * 10 + (x >> (e + 8)) % 10;
		weft_report_hist_add(&h, v[i]);
	}
	qsort(v, N, sizeof(v[0]), cmp_u64);
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		size_t rank = (size_t)(ps[i] * N + 0.999999);
		uint64_t exact = v[rank - 1], got = weft_report_hist_percentile(&h, ps[i]);
		double err = ((double)got - (double)exact) / (double)exact;

		if (err < 0)
			err = -err;
		if (err > worst)
			worst = err;
		if (!(err <= 0.125))
			fprintf(stderr, "p%g: %llu for %llu\n", ps[i] * 100,
				(unsigned long long)got, (unsigned long long)exact);
		expect_true(err <= 0.125);
		expect_true(got >= prev); /* in order */
		prev = got;
	}
	expect_true(weft_report_hist_percentile(&h, 1) == v[N - 1]);
	printf("worst relative error %.3f\n", worst);
}

/* The lines from "  pools:" to the next section. */
static char *pool_lines(const struct weft_report *r)
{
	struct weft_json b;
	char *text, *start, *end;

	weft_json_init(&b);
	weft_report_format(r, &b);
	text = strndup(b.buf, b.len);
	weft_json_free(&b);
	start = strstr(text, "  pools:\n");
	end = strstr(text, "  blocking calls:");
	if (!start || !end || end < start) {
		free(text);
		return strdup("");
	}
	*end = '\0';
	memmove(text, start, strlen(start) + 1);
	return text;
}

static void test_pool_lines(void)
{
	static struct weft_report r;
	char *got;

	r.end_ns = 1000000000;
	for (int i = 0; i < 4; i++)
		weft_report_thread_ended(&r, "worker", 0, 1000000000);
	for (int i = 0; i < 980; i++)
		weft_report_task(&r, "worker", 12000, UINT64_MAX);
	for (int i = 0; i < 20; i++)
		weft_report_task(&r, "worker", 1500000, UINT64_MAX);
	/* A pool with tasks but no thread ended yet, and queue times. */
	weft_report_task(&r, "io", 850, 2500);
	weft_report_thread_ended(&r, "main", 0, 1000000000);
	got = pool_lines(&r);
	expect_str(got, "  pools:\n"
			"    worker  threads 4  tasks 1000  busy   1%  task p50 12us  p99 1.4ms"
			"  queue p50 -     p99 -\n"
			"    io      threads 0  tasks    1  busy    -  task p50 850ns p99 850ns"
			"  queue p50 2.5us p99 2.5us\n"
			"    main    threads 1  tasks    0  busy   0%  task p50 -     p99 -    "
			"  queue p50 -     p99 -\n");
	free(got);
}

static void test_units_and_overflow(void)
{
	static const uint64_t durations[] = { 999499, 999500, 1500000000, 2000000000, 9960 };
	static struct weft_report r;
	char name[128], *got;

	/* A long name is cut to fit, and is then the same pool every time. */
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	weft_report_thread_ended(&r, name, 10, 20);
	weft_report_thread_ended(&r, name, 5, 1); /* an end before the start: no time */
	weft_report_task(&r, name, 2, UINT64_MAX);
	expect_int(r.n_pools, 1);
	expect_int(r.pools[0].threads, 2);
	expect_int(r.pools[0].thread_ns, 10);
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		snprintf(name, sizeof(name), "p%zu", i);
		weft_report_task(&r, name, durations[i], durations[i]);
	}
	/* Little work in a long life is not "0%". */
	weft_report_thread_ended(&r, "p4", 0, 100000000000);
	got = pool_lines(&r);
	expect_true(strstr(got, "  tasks 1  busy  20%  task p50 2ns ") != NULL);
	expect_true(strstr(got, "threads 0  tasks 1  busy    -  task p50 999us p99 999us"
				"  queue p50 999us p99 999us\n") != NULL);
	expect_true(strstr(got, "task p50 1ms   p99 1ms    queue p50 1ms   p99 1ms\n") != NULL);
	expect_true(strstr(got, "task p50 1.5s  p99 1.5s   queue p50 1.5s  p99 1.5s\n") != NULL);
	expect_true(strstr(got, "task p50 2s    p99 2s     queue p50 2s    p99 2s\n") != NULL);
	expect_true(strstr(got, "threads 1  tasks 1  busy  <1%  task p50 10us ") != NULL);
	free(got);

	/* Pools beyond the table are counted, not listed. */
	for (int i = 0; i < WEFT_REPORT_POOLS + 3; i++) {
		snprintf(name, sizeof(name), "pool%d", i);
		weft_report_thread_ended(&r, name, 0, 1);
		weft_report_task(&r, name, 1, UINT64_MAX);
	}
	expect_int(r.n_pools, WEFT_REPORT_POOLS);
	got = pool_lines(&r);
	expect_true(strstr(got, "    (more pools than 16: 9 threads, 9 tasks not listed)\n") !=
		    NULL);
	expect_true(strstr(got, "pool9 ") != NULL);
	expect_true(strstr(got, "pool10 ") == NULL);
	free(got);
}

int main(void)
{
	test_hist_exact();
	test_hist_precision();
	test_pool_lines();
	test_units_and_overflow();
	return harness_done();
}
