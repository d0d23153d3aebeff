/*
 * What the metrics unit tests (test-metrics.c, test-metrics-series.c) share:
 * the LeakSanitizer suppressions weft_metrics_reset() needs, fixed
 * timestamps, and look-ups in a collected model. Include once per test.
 */
#ifndef WEFT_TESTS_UNIT_METRICS_HELPERS_H
#define WEFT_TESTS_UNIT_METRICS_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "exporter/metrics.h"

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
static inline const struct weft_attr *attr_of(const struct weft_point *p, const char *key)
{
	for (size_t i = 0; i < p->n_attrs; i++)
		if (strcmp(p->attrs[i].key, key) == 0)
			return &p->attrs[i];
	return NULL;
}

static inline bool is_overflow(const struct weft_point *p)
{
	const struct weft_attr *a = attr_of(p, "otel.metric.overflow");

	return a && a->type == WEFT_VALUE_BOOL && a->v.b;
}

/* The point whose string attributes equal vals[] for keys[], or NULL. */
static inline const struct weft_point *find_point(const struct weft_metric *m, size_t n_keys,
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

static inline const struct weft_point *find_overflow(const struct weft_metric *m)
{
	for (size_t i = 0; i < m->n_points; i++)
		if (is_overflow(&m->points[i]))
			return &m->points[i];
	return NULL;
}

/* Collects and returns the metric called `name`, or NULL. */
static inline const struct weft_metric *collect_one(const char *name, size_t *n_metrics)
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

#endif
