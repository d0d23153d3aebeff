/*
 * OTLP protobuf encoding of metrics: ExportMetricsServiceRequest (see
 * otlp_encode.c for how the mirror is built and packed).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "exporter/otlp_encode.h"
#include "exporter/otlp_pb.h"

/* Shorter names for the generated metric types and constants used here. */
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics pb_resource_metrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics pb_scope_metrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric pb_metric;
typedef Opentelemetry__Proto__Metrics__V1__Gauge pb_gauge;
typedef Opentelemetry__Proto__Metrics__V1__Sum pb_sum;
typedef Opentelemetry__Proto__Metrics__V1__Histogram pb_histogram;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint pb_number_point;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint pb_histogram_point;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest
	pb_metrics_request;

#define PB_METRIC_DATA(x) OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_##x
#define PB_NUMBER(x)      OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_##x
#define PB_HIST(x)        OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__##x
#define PB_TEMPORALITY(x)                                                                          \
	OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_##x
#define PB_CUMULATIVE PB_TEMPORALITY(CUMULATIVE)

_Static_assert(WEFT_TEMPORALITY_CUMULATIVE == PB_CUMULATIVE, "temporality is OTLP's");

static int weft_otlp_number_points(struct weft_otlp_arena *a, const struct weft_metric *m,
				   size_t *n_out, pb_number_point ***out)
{
	pb_number_point *pts, **ptrs;

	pts = weft_otlp_arena_array(a, m->n_points, sizeof(*pts));
	ptrs = weft_otlp_arena_array(a, m->n_points, sizeof(*ptrs));
	if (!pts || !ptrs)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_points; i++) {
		const struct weft_point *p = &m->points[i];
		int err;

		pts[i] =
			(pb_number_point)OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
		pts[i].start_time_unix_nano = p->start_unix_nano;
		pts[i].time_unix_nano = p->time_unix_nano;
		if (p->is_double) {
			pts[i].value_case = PB_NUMBER(AS_DOUBLE);
			pts[i].as_double = p->as_double;
		} else {
			pts[i].value_case = PB_NUMBER(AS_INT);
			pts[i].as_int = p->as_int;
		}
		err = weft_otlp_attrs(a, p->attrs, p->n_attrs, &pts[i].n_attributes,
				      &pts[i].attributes);
		if (err)
			return err;
		ptrs[i] = &pts[i];
	}
	*n_out = m->n_points;
	*out = ptrs;
	return 0;
}

static int weft_otlp_histogram_points(struct weft_otlp_arena *a, const struct weft_metric *m,
				      pb_histogram *h)
{
	pb_histogram_point *pts, **ptrs;

	pts = weft_otlp_arena_array(a, m->n_points, sizeof(*pts));
	ptrs = weft_otlp_arena_array(a, m->n_points, sizeof(*ptrs));
	if (!pts || !ptrs)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_points; i++) {
		const struct weft_point *p = &m->points[i];
		pb_histogram_point *hp = &pts[i];
		int err;

		if ((p->n_bounds && !p->bounds) || !p->bucket_counts)
			return -EINVAL;
		*hp = (pb_histogram_point)
			OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__INIT;
		hp->start_time_unix_nano = p->start_unix_nano;
		hp->time_unix_nano = p->time_unix_nano;
		hp->count = p->count;
		hp->_sum_case = PB_HIST(_SUM_SUM);
		hp->sum = p->sum;
		hp->n_bucket_counts = p->n_bounds + 1;
		hp->bucket_counts = (uint64_t *)p->bucket_counts;
		hp->n_explicit_bounds = p->n_bounds;
		hp->explicit_bounds = (double *)p->bounds;
		if (p->count > 0) {
			hp->_min_case = PB_HIST(_MIN_MIN);
			hp->min = p->min;
			hp->_max_case = PB_HIST(_MAX_MAX);
			hp->max = p->max;
		}
		err = weft_otlp_attrs(a, p->attrs, p->n_attrs, &hp->n_attributes, &hp->attributes);
		if (err)
			return err;
		ptrs[i] = hp;
	}
	h->n_data_points = m->n_points;
	h->data_points = ptrs;
	return 0;
}

static int weft_otlp_metric(struct weft_otlp_arena *a, const struct weft_metric *m, pb_metric *pm)
{
	*pm = (pb_metric)OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
	pm->name = (char *)m->name;
	pm->description = (char *)m->description;
	pm->unit = (char *)m->unit;
	if (m->n_points && !m->points)
		return -EINVAL;

	switch (m->type) {
	case WEFT_METRIC_SUM: {
		pb_sum *sum = weft_otlp_arena_alloc(a, sizeof(*sum));

		if (!sum)
			return -ENOMEM;
		*sum = (pb_sum)OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT;
		sum->aggregation_temporality = PB_CUMULATIVE;
		sum->is_monotonic = m->monotonic;
		pm->data_case = PB_METRIC_DATA(SUM);
		pm->sum = sum;
		if (!m->n_points)
			return 0;
		return weft_otlp_number_points(a, m, &sum->n_data_points, &sum->data_points);
	}
	case WEFT_METRIC_GAUGE: {
		pb_gauge *gauge = weft_otlp_arena_alloc(a, sizeof(*gauge));

		if (!gauge)
			return -ENOMEM;
		*gauge = (pb_gauge)OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT;
		pm->data_case = PB_METRIC_DATA(GAUGE);
		pm->gauge = gauge;
		if (!m->n_points)
			return 0;
		return weft_otlp_number_points(a, m, &gauge->n_data_points, &gauge->data_points);
	}
	case WEFT_METRIC_HISTOGRAM: {
		pb_histogram *h = weft_otlp_arena_alloc(a, sizeof(*h));

		if (!h)
			return -ENOMEM;
		*h = (pb_histogram)OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM__INIT;
		h->aggregation_temporality = PB_CUMULATIVE;
		pm->data_case = PB_METRIC_DATA(HISTOGRAM);
		pm->histogram = h;
		if (!m->n_points)
			return 0;
		return weft_otlp_histogram_points(a, m, h);
	}
	}
	return -EINVAL;
}

int weft_otlp_encode_metrics(const struct weft_resource *res, const struct weft_metric *m, size_t n,
			     uint8_t **out, size_t *out_len)
{
	pb_metrics_request req =
		OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
	pb_resource_metrics rm = OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
	pb_scope_metrics sm = OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
	pb_resource_metrics *rm_ptr = &rm;
	pb_scope_metrics *sm_ptr = &sm;
	struct weft_otlp_arena a;
	pb_resource resource;
	pb_scope scope;
	pb_metric *pm, **ptrs;
	size_t n_points = 0;
	int err;

	if (!res || (n && !m) || !out || !out_len)
		return -EINVAL;
	if (n == 0)
		return weft_otlp_empty(out, out_len);

	for (size_t i = 0; i < n; i++)
		n_points += m[i].n_points;
	weft_otlp_arena_init(&a, n_points < SIZE_MAX / 4096 ? n_points * 512 : SIZE_MAX);
	err = weft_otlp_resource(&a, res, &resource, &scope);
	if (err)
		goto out;
	pm = weft_otlp_arena_array(&a, n, sizeof(*pm));
	ptrs = weft_otlp_arena_array(&a, n, sizeof(*ptrs));
	if (!pm || !ptrs) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		err = weft_otlp_metric(&a, &m[i], &pm[i]);
		if (err)
			goto out;
		ptrs[i] = &pm[i];
	}

	sm.scope = &scope;
	sm.n_metrics = n;
	sm.metrics = ptrs;
	rm.resource = &resource;
	rm.n_scope_metrics = 1;
	rm.scope_metrics = &sm_ptr;
	req.n_resource_metrics = 1;
	req.resource_metrics = &rm_ptr;
	err = weft_otlp_pack(&req.base, out, out_len);
out:
	weft_otlp_arena_release(&a);
	return err;
}
