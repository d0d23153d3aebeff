/*
 * OTLP protobuf encoding of metrics: ExportMetricsServiceRequest, written
 * straight from the model (see otlp_encode.c).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "exporter/otlp_encode.h"
#include "exporter/otlp_pb.h"

/* Field numbers (opentelemetry/proto/metrics/v1/metrics.proto). */
enum {
	METRIC_NAME = 1,
	METRIC_DESCRIPTION = 2,
	METRIC_UNIT = 3,
	METRIC_GAUGE = 5,
	METRIC_SUM = 7,
	METRIC_HISTOGRAM = 9,
	DATA_POINTS = 1, /* of Gauge, Sum and Histogram */
	AGGREGATION_TEMPORALITY = 2,
	SUM_IS_MONOTONIC = 3,
	POINT_START = 2,
	POINT_TIME = 3,
	NUMBER_AS_DOUBLE = 4,
	NUMBER_AS_INT = 6,
	NUMBER_ATTRIBUTES = 7,
	HIST_COUNT = 4,
	HIST_SUM = 5,
	HIST_BUCKET_COUNTS = 6,
	HIST_EXPLICIT_BOUNDS = 7,
	HIST_ATTRIBUTES = 9,
	HIST_MIN = 11,
	HIST_MAX = 12,
};

/* A NumberDataPoint: its value is a oneof, written even when zero (as_int is an sfixed64). */
static int wire_number_point(struct weft_wire *w, const struct weft_point *p)
{
	size_t at = weft_wire_begin(w, DATA_POINTS, 1);
	int err;

	weft_wire_fixed64(w, POINT_START, p->start_unix_nano);
	weft_wire_fixed64(w, POINT_TIME, p->time_unix_nano);
	if (p->is_double)
		weft_wire_double(w, NUMBER_AS_DOUBLE, p->as_double);
	else
		weft_wire_fixed64_field(w, NUMBER_AS_INT, (uint64_t)p->as_int);
	if ((err = weft_otlp_attrs(w, NUMBER_ATTRIBUTES, p->attrs, p->n_attrs)))
		return err;
	weft_wire_end(w, at);
	return 0;
}

/*
 * A HistogramDataPoint. sum, min and max are proto3 `optional`: sum is always
 * present, min and max only when something was recorded.
 */
static int wire_histogram_point(struct weft_wire *w, const struct weft_point *p)
{
	size_t at;
	int err;

	if ((p->n_bounds && !p->bounds) || !p->bucket_counts)
		return -EINVAL;
	at = weft_wire_begin(w, DATA_POINTS, 2);
	weft_wire_fixed64(w, POINT_START, p->start_unix_nano);
	weft_wire_fixed64(w, POINT_TIME, p->time_unix_nano);
	weft_wire_fixed64(w, HIST_COUNT, p->count);
	weft_wire_double(w, HIST_SUM, p->sum);
	weft_wire_packed64(w, HIST_BUCKET_COUNTS, p->bucket_counts, NULL, p->n_bounds + 1);
	weft_wire_packed64(w, HIST_EXPLICIT_BOUNDS, NULL, p->bounds, p->n_bounds);
	if ((err = weft_otlp_attrs(w, HIST_ATTRIBUTES, p->attrs, p->n_attrs)))
		return err;
	if (p->count > 0) {
		weft_wire_double(w, HIST_MIN, p->min);
		weft_wire_double(w, HIST_MAX, p->max);
	}
	weft_wire_end(w, at);
	return 0;
}

static int wire_metric(struct weft_wire *w, const struct weft_metric *m)
{
	size_t at, data;
	uint32_t field;
	int err = 0;

	if (m->n_points && !m->points)
		return -EINVAL;
	switch (m->type) {
	case WEFT_METRIC_SUM:
		field = METRIC_SUM;
		break;
	case WEFT_METRIC_GAUGE:
		field = METRIC_GAUGE;
		break;
	case WEFT_METRIC_HISTOGRAM:
		field = METRIC_HISTOGRAM;
		break;
	default:
		return -EINVAL;
	}
	at = weft_wire_begin(w, WEFT_OTLP_ITEMS, 2);
	weft_wire_string(w, METRIC_NAME, m->name);
	weft_wire_string(w, METRIC_DESCRIPTION, m->description);
	weft_wire_string(w, METRIC_UNIT, m->unit);
	/* The data is a oneof: its message is written even when it holds no point. */
	data = weft_wire_begin(w, field, 3);
	for (size_t i = 0; i < m->n_points && !err; i++)
		err = m->type == WEFT_METRIC_HISTOGRAM ? wire_histogram_point(w, &m->points[i])
						       : wire_number_point(w, &m->points[i]);
	if (err)
		return err;
	if (m->type != WEFT_METRIC_GAUGE)
		weft_wire_varint(w, AGGREGATION_TEMPORALITY, WEFT_TEMPORALITY_CUMULATIVE);
	if (m->type == WEFT_METRIC_SUM)
		weft_wire_varint(w, SUM_IS_MONOTONIC, m->monotonic);
	weft_wire_end(w, data);
	weft_wire_end(w, at);
	return 0;
}

int weft_otlp_encode_metrics(const struct weft_resource *res, const struct weft_metric *m, size_t n,
			     uint8_t **out, size_t *out_len)
{
	struct weft_otlp_request r;
	size_t n_points = 0;

	if (!res || (n && !m) || !out || !out_len)
		return -EINVAL;
	if (n == 0)
		return weft_otlp_empty(out, out_len);
	for (size_t i = 0; i < n; i++)
		n_points += m[i].n_points;
	weft_otlp_begin(&r, res, n_points < SIZE_MAX / 1024 ? n_points * 256 + n * 128 : 0);
	for (size_t i = 0; i < n && !r.err; i++)
		r.err = wire_metric(&r.w, &m[i]);
	return weft_otlp_finish(&r, out, out_len);
}
