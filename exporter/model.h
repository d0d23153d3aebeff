/*
 * The one span model and one metric model that every output encodes.
 *
 * The exporter thread assembles these from raw events; an output (JSON Lines
 * file, console, OTLP/HTTP protobuf) only reads them. Everything here lives on
 * the exporter thread, so nothing is atomic or locked. Strings are owned by
 * whoever built the record (the exporter's arena or static storage) and stay
 * valid for the duration of one export call.
 */
#ifndef WEFT_EXPORTER_MODEL_H
#define WEFT_EXPORTER_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/ids.h"

enum weft_value_type {
	WEFT_VALUE_STRING,
	WEFT_VALUE_INT,
	WEFT_VALUE_DOUBLE,
	WEFT_VALUE_BOOL,
	WEFT_VALUE_STRING_ARRAY,
};

struct weft_attr {
	const char *key;
	enum weft_value_type type;
	union {
		const char *s;
		int64_t i;
		double d;
		bool b;
		struct {
			const char *const *items;
			size_t n;
		} strs;
	} v;
};

/* Appends a string attribute to a[*n] (none for a NULL value). */
static inline void weft_attr_str(struct weft_attr *a, size_t *n, const char *key, const char *v)
{
	if (v)
		a[(*n)++] = (struct weft_attr){ .key = key, .type = WEFT_VALUE_STRING, .v.s = v };
}

/* Appends an integer attribute to a[*n]. */
static inline void weft_attr_int(struct weft_attr *a, size_t *n, const char *key, int64_t v)
{
	a[(*n)++] = (struct weft_attr){ .key = key, .type = WEFT_VALUE_INT, .v.i = v };
}

/* OTLP SpanKind values. */
enum weft_span_kind {
	WEFT_SPAN_KIND_UNSPECIFIED = 0,
	WEFT_SPAN_KIND_INTERNAL = 1,
	WEFT_SPAN_KIND_SERVER = 2,
	WEFT_SPAN_KIND_CLIENT = 3,
	WEFT_SPAN_KIND_PRODUCER = 4,
	WEFT_SPAN_KIND_CONSUMER = 5,
};

/* OTLP Status.code values. */
enum weft_status_code {
	WEFT_STATUS_UNSET = 0,
	WEFT_STATUS_OK = 1,
	WEFT_STATUS_ERROR = 2,
};

struct weft_span_event {
	const char *name;
	uint64_t time_unix_nano;
	const struct weft_attr *attrs;
	size_t n_attrs;
};

struct weft_span_link {
	struct weft_trace_id trace_id;
	struct weft_span_id span_id;
	const struct weft_attr *attrs;
	size_t n_attrs;
};

struct weft_span {
	struct weft_trace_id trace_id;
	struct weft_span_id span_id;
	struct weft_span_id parent_span_id; /* all zero: a root span */
	uint32_t flags;                     /* W3C trace flags (bit 0: sampled) */
	const char *name;
	enum weft_span_kind kind;
	uint64_t start_unix_nano;
	uint64_t end_unix_nano;
	const struct weft_attr *attrs;
	size_t n_attrs;
	uint32_t dropped_attrs;
	const struct weft_span_event *events;
	size_t n_events;
	uint32_t dropped_events;
	const struct weft_span_link *links;
	size_t n_links;
	uint32_t dropped_links;
	enum weft_status_code status;
	const char *status_message; /* NULL: none */
};

enum weft_metric_type {
	WEFT_METRIC_SUM, /* Counter (monotonic) or UpDownCounter */
	WEFT_METRIC_GAUGE,
	WEFT_METRIC_HISTOGRAM, /* explicit buckets */
};

/* OTLP AggregationTemporality; weft only exports cumulative. */
#define WEFT_TEMPORALITY_CUMULATIVE 2

struct weft_point {
	const struct weft_attr *attrs;
	size_t n_attrs;
	uint64_t start_unix_nano;
	uint64_t time_unix_nano;
	bool is_double; /* sum and gauge: which of the two values */
	int64_t as_int;
	double as_double;
	/* Histogram only. */
	uint64_t count;
	double sum;
	double min, max; /* meaningful only when count > 0 */
	const double *bounds;
	size_t n_bounds;
	const uint64_t *bucket_counts; /* n_bounds + 1 entries */
};

struct weft_metric {
	const char *name;
	const char *description;
	const char *unit;
	enum weft_metric_type type;
	bool monotonic; /* sums only */
	const struct weft_point *points;
	size_t n_points;
};

/* What identifies the producer of every span and metric in one export. */
struct weft_resource {
	const struct weft_attr *attrs;
	size_t n_attrs;
	const char *scope_name;
	const char *scope_version;
};

#endif
