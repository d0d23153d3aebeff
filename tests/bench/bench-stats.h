/*
 * What the benchmark programs share to order their runs and read them: a
 * fixed-seed shuffle (each round runs every configuration once, in a new
 * order, so that no configuration always follows the same other: a run is
 * a little faster after one that used the same libraries) and sorting for
 * medians. Ratios are taken round by round, each run against the native run
 * of its own round, so that a slow phase of a shared machine (they come and
 * go within seconds on the development VM) falls on the round rather than
 * on one configuration.
 */
#ifndef WEFT_TESTS_BENCH_STATS_H
#define WEFT_TESTS_BENCH_STATS_H

#include <stdint.h>
#include <stdlib.h>

/* xorshift64: the same sequence from run to run. */
static inline uint64_t bench_random(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* order[0..n) becomes a random permutation of 0..n-1. */
static inline void bench_shuffle(int *order, int n, uint64_t *rng)
{
	for (int k = 0; k < n; k++)
		order[k] = k;
	for (int k = n - 1; k > 0; k--) {
		int j = (int)(bench_random(rng) % (uint64_t)(k + 1)), x = order[k];

		order[k] = order[j];
		order[j] = x;
	}
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts v[0..n) and returns its median. */
static inline double bench_median(double *v, long n)
{
	qsort(v, (size_t)n, sizeof(double), bench_cmp_double);
	return v[n / 2];
}

#define BENCH_SEED 88172645463325252ull

#endif
