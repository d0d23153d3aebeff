/*
 * Metric instruments and their aggregation, on the exporter thread only.
 *
 * An instrument has a fixed list of attribute keys; a series is one tuple of
 * string values for them. Series are found by hashing the values and are kept
 * for the life of the process (cumulative temporality). Past the cardinality
 * limit, new tuples go to the single overflow series `otel.metric.overflow`.
 */
#ifndef WEFT_EXPORTER_METRICS_H
#define WEFT_EXPORTER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "exporter/model.h"

#define WEFT_METRICS_MAX_KEYS 3

struct weft_instrument;
struct weft_series;

struct weft_instrument *weft_metrics_sum(const char *name, const char *desc, const char *unit,
					 bool monotonic, size_t n_keys, const char *const *keys);
/*
 * A sum of durations in seconds, added to in whole nanoseconds
 * (weft_metrics_add) and exported as a double: exact to the nanosecond for
 * 292 years of time added up.
 */
struct weft_instrument *weft_metrics_sum_ns(const char *name, const char *desc, bool monotonic,
					    size_t n_keys, const char *const *keys);
struct weft_instrument *weft_metrics_gauge(const char *name, const char *desc, const char *unit,
					   size_t n_keys, const char *const *keys);
struct weft_instrument *weft_metrics_histogram(const char *name, const char *desc, const char *unit,
					       size_t n_keys, const char *const *keys,
					       const double *bounds, size_t n_bounds);

/* vals has one string per key of the instrument. */
/*
 * The keys (bit i: key i) whose values are integers written in decimal: their
 * attributes are integers (server.port), and an empty value leaves the
 * attribute out. Set before the first series is made.
 */
void weft_metrics_int_keys(struct weft_instrument *inst, unsigned mask);

void weft_metrics_add(struct weft_instrument *inst, const char *const *vals, int64_t delta);
void weft_metrics_set(struct weft_instrument *inst, const char *const *vals, int64_t value);
void weft_metrics_record(struct weft_instrument *inst, const char *const *vals, double value);

/*
 * A series found once and kept (a histogram's or a sum's series live as long
 * as the instrument): for a caller that records into the same series again
 * and again, without hashing its values each time. NULL when it cannot be
 * made (no memory); recording into NULL does nothing.
 */
struct weft_series *weft_metrics_series(struct weft_instrument *inst, const char *const *vals);
void weft_metrics_series_record(struct weft_instrument *inst, struct weft_series *s, double value);
/* Adds to a sum's kept series (weft_metrics_add without the lookup); NULL does nothing. */
void weft_metrics_series_add(struct weft_series *s, int64_t delta);

/* A series' current value (sums and gauges), for reports and tests; 0 if absent. */
/*
 * Drops a series (a gauge of something that is gone): it is no longer
 * exported. Its memory is freed at the next collect, after the model that
 * may show it has been used.
 */
void weft_metrics_forget(struct weft_instrument *inst, const char *const *vals);

int64_t weft_metrics_value(struct weft_instrument *inst, const char *const *vals);

/*
 * Builds the model of every instrument with at least one series. The result
 * stays valid until the next collect or reset.
 */
size_t weft_metrics_collect(const struct weft_metric **out, uint64_t start_unix_nano,
			    uint64_t now_unix_nano);

/* Sets the cardinality limit for instruments created afterwards. */
void weft_metrics_set_limit(uint32_t limit);

/* Forgets every instrument (a forked child starts over); leaks rather than frees. */
void weft_metrics_reset(void);

#endif
