/*
 * OTLP protobuf encoding of the span and metric models (exporter/model.h).
 *
 * The model is mirrored into the protobuf-c structs generated from
 * the .proto files in exporter/proto/ and packed in two linear passes:
 * protobuf_c_message_get_packed_size() sizes the request, then
 * protobuf_c_message_pack() writes it into one weft_alloc'd buffer.
 *
 * The mirror is built in a bump arena of a few large weft_alloc'd chunks that
 * is released whole at the end, so encoding a batch costs a handful of
 * allocations however many spans, attributes and points it has. Strings, ids
 * and bucket arrays are not copied: the generated structs point into the
 * model, which stays valid and unmodified for the duration of the call
 * (protobuf-c only reads through those pointers while packing, so casting away
 * const is safe).
 *
 * The program's malloc is never called: the arena, the output buffer and the
 * ProtobufCAllocator that unpacks responses all go through agent/alloc.h.
 */
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "metrics_service.pb-c.h"
#include "trace_service.pb-c.h"

#include "agent/alloc.h"
#include "exporter/otlp_encode.h"

/* Shorter names for the generated types and constants used here. */
typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any_value;
typedef Opentelemetry__Proto__Common__V1__ArrayValue pb_array_value;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_key_value;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope pb_scope;
typedef Opentelemetry__Proto__Resource__V1__Resource pb_resource;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans pb_resource_spans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans pb_scope_spans;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event pb_event;
typedef Opentelemetry__Proto__Trace__V1__Span__Link pb_link;
typedef Opentelemetry__Proto__Trace__V1__Status pb_status;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics pb_resource_metrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics pb_scope_metrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric pb_metric;
typedef Opentelemetry__Proto__Metrics__V1__Gauge pb_gauge;
typedef Opentelemetry__Proto__Metrics__V1__Sum pb_sum;
typedef Opentelemetry__Proto__Metrics__V1__Histogram pb_histogram;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint pb_number_point;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint pb_histogram_point;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest pb_trace_request;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse pb_trace_response;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest
    pb_metrics_request;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse
    pb_metrics_response;

#define PB_VALUE(x)	  OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##x
#define PB_METRIC_DATA(x) OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_##x
#define PB_NUMBER(x)	  OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_##x
#define PB_HIST(x)	  OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__##x
#define PB_TEMPORALITY(x)                                                                          \
	OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_##x
#define PB_CUMULATIVE PB_TEMPORALITY(CUMULATIVE)
#define PB_TRACE_RESPONSE                                                                          \
	opentelemetry__proto__collector__trace__v1__export_trace_service_response__descriptor
#define PB_METRICS_RESPONSE                                                                        \
	opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__descriptor

/* The model's enums are OTLP's numbers, so they are copied as they are. */
#define WEFT_OTLP_SAME(a, b) ((int)(a) == (int)(b))

#define PB_KIND(x)   OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_##x
#define PB_STATUS(x) OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_##x
_Static_assert(WEFT_OTLP_SAME(WEFT_SPAN_KIND_UNSPECIFIED, PB_KIND(UNSPECIFIED)) &&
		   WEFT_OTLP_SAME(WEFT_SPAN_KIND_INTERNAL, PB_KIND(INTERNAL)) &&
		   WEFT_OTLP_SAME(WEFT_SPAN_KIND_SERVER, PB_KIND(SERVER)) &&
		   WEFT_OTLP_SAME(WEFT_SPAN_KIND_CLIENT, PB_KIND(CLIENT)) &&
		   WEFT_OTLP_SAME(WEFT_SPAN_KIND_PRODUCER, PB_KIND(PRODUCER)) &&
		   WEFT_OTLP_SAME(WEFT_SPAN_KIND_CONSUMER, PB_KIND(CONSUMER)),
	       "span kinds are OTLP's");
_Static_assert(WEFT_OTLP_SAME(WEFT_STATUS_UNSET, PB_STATUS(UNSET)) &&
		   WEFT_OTLP_SAME(WEFT_STATUS_OK, PB_STATUS(OK)) &&
		   WEFT_OTLP_SAME(WEFT_STATUS_ERROR, PB_STATUS(ERROR)),
	       "status codes are OTLP's");
_Static_assert(WEFT_TEMPORALITY_CUMULATIVE == PB_CUMULATIVE, "temporality is OTLP's");

/*
 * The bump arena. Chunks are linked for release; each allocation is rounded
 * up to the strictest alignment so any generated struct can live there.
 */
struct weft_otlp_chunk {
	struct weft_otlp_chunk *next;
	alignas(max_align_t) unsigned char data[];
};

struct weft_otlp_arena {
	struct weft_otlp_chunk *chunks;
	unsigned char *cur, *end;
	size_t next_size; /* data size of the next chunk */
};

#define WEFT_OTLP_CHUNK_MIN ((size_t)16 << 10)
#define WEFT_OTLP_CHUNK_MAX ((size_t)8 << 20)
#define WEFT_OTLP_ALIGN	    alignof(max_align_t)

static void weft_otlp_arena_init(struct weft_otlp_arena *a, size_t estimate)
{
	a->chunks = NULL;
	a->cur = a->end = NULL;
	if (estimate < WEFT_OTLP_CHUNK_MIN)
		estimate = WEFT_OTLP_CHUNK_MIN;
	if (estimate > WEFT_OTLP_CHUNK_MAX)
		estimate = WEFT_OTLP_CHUNK_MAX;
	a->next_size = estimate;
}

static void weft_otlp_arena_release(struct weft_otlp_arena *a)
{
	struct weft_otlp_chunk *c = a->chunks;

	while (c) {
		struct weft_otlp_chunk *next = c->next;

		weft_free(c);
		c = next;
	}
	a->chunks = NULL;
	a->cur = a->end = NULL;
}

static void *weft_otlp_arena_grow(struct weft_otlp_arena *a, size_t size)
{
	size_t data_size = a->next_size;
	struct weft_otlp_chunk *c;

	if (size > SIZE_MAX / 2)
		return NULL;
	if (data_size < size)
		data_size = size;
	c = weft_alloc(sizeof(*c) + data_size);
	if (!c)
		return NULL;
	c->next = a->chunks;
	a->chunks = c;
	a->cur = c->data + size;
	a->end = c->data + data_size;
	if (a->next_size < WEFT_OTLP_CHUNK_MAX)
		a->next_size *= 2;
	return c->data;
}

static inline void *weft_otlp_arena_alloc(struct weft_otlp_arena *a, size_t size)
{
	void *p;

	size = (size + WEFT_OTLP_ALIGN - 1) & ~(WEFT_OTLP_ALIGN - 1);
	if ((size_t)(a->end - a->cur) < size)
		return weft_otlp_arena_grow(a, size);
	p = a->cur;
	a->cur += size;
	return p;
}

/* Room for n objects of the given size, or NULL when n is 0 or memory runs out. */
static inline void *weft_otlp_arena_array(struct weft_otlp_arena *a, size_t n, size_t size)
{
	if (n == 0 || n > (SIZE_MAX / 4) / size)
		return NULL;
	return weft_otlp_arena_alloc(a, n * size);
}

/* A key-value pair and its value, allocated together. */
struct weft_otlp_kv {
	pb_key_value kv;
	pb_any_value value;
};

static int weft_otlp_string_array(struct weft_otlp_arena *a, pb_any_value *v,
				  const struct weft_attr *at)
{
	size_t n = at->v.strs.n;
	pb_array_value *arr;
	pb_any_value *items, **ptrs = NULL;

	arr = weft_otlp_arena_alloc(a, sizeof(*arr));
	if (!arr)
		return -ENOMEM;
	*arr = (pb_array_value)OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;
	if (n > 0) {
		if (!at->v.strs.items)
			return -EINVAL;
		items = weft_otlp_arena_array(a, n, sizeof(*items));
		ptrs = weft_otlp_arena_array(a, n, sizeof(*ptrs));
		if (!items || !ptrs)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			const char *s = at->v.strs.items[i];

			items[i] = (pb_any_value)OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
			items[i].value_case = PB_VALUE(STRING_VALUE);
			items[i].string_value = (char *)(s ? s : "");
			ptrs[i] = &items[i];
		}
	}
	arr->n_values = n;
	arr->values = ptrs;
	v->value_case = PB_VALUE(ARRAY_VALUE);
	v->array_value = arr;
	return 0;
}

static int weft_otlp_value(struct weft_otlp_arena *a, pb_any_value *v, const struct weft_attr *at)
{
	*v = (pb_any_value)OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
	switch (at->type) {
	case WEFT_VALUE_STRING:
		v->value_case = PB_VALUE(STRING_VALUE);
		v->string_value = (char *)(at->v.s ? at->v.s : "");
		return 0;
	case WEFT_VALUE_INT:
		v->value_case = PB_VALUE(INT_VALUE);
		v->int_value = at->v.i;
		return 0;
	case WEFT_VALUE_DOUBLE:
		v->value_case = PB_VALUE(DOUBLE_VALUE);
		v->double_value = at->v.d;
		return 0;
	case WEFT_VALUE_BOOL:
		v->value_case = PB_VALUE(BOOL_VALUE);
		v->bool_value = at->v.b;
		return 0;
	case WEFT_VALUE_STRING_ARRAY:
		return weft_otlp_string_array(a, v, at);
	}
	return -EINVAL;
}

/* Mirror an attribute list into *n_out / *out (both left empty for n == 0). */
static int weft_otlp_attrs(struct weft_otlp_arena *a, const struct weft_attr *attrs, size_t n,
			   size_t *n_out, pb_key_value ***out)
{
	struct weft_otlp_kv *kvs;
	pb_key_value **ptrs;

	*n_out = 0;
	*out = NULL;
	if (n == 0)
		return 0;
	if (!attrs)
		return -EINVAL;
	kvs = weft_otlp_arena_array(a, n, sizeof(*kvs));
	ptrs = weft_otlp_arena_array(a, n, sizeof(*ptrs));
	if (!kvs || !ptrs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int err;

		kvs[i].kv = (pb_key_value)OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
		kvs[i].kv.key = (char *)(attrs[i].key ? attrs[i].key : "");
		kvs[i].kv.value = &kvs[i].value;
		err = weft_otlp_value(a, &kvs[i].value, &attrs[i]);
		if (err)
			return err;
		ptrs[i] = &kvs[i].kv;
	}
	*n_out = n;
	*out = ptrs;
	return 0;
}

static int weft_otlp_resource(struct weft_otlp_arena *a, const struct weft_resource *res,
			      pb_resource *r, pb_scope *scope)
{
	*r = (pb_resource)OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
	*scope = (pb_scope)OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
	scope->name = (char *)res->scope_name;
	scope->version = (char *)res->scope_version;
	return weft_otlp_attrs(a, res->attrs, res->n_attrs, &r->n_attributes, &r->attributes);
}

static inline ProtobufCBinaryData weft_otlp_bytes(const uint8_t *b, size_t len)
{
	return (ProtobufCBinaryData){.len = len, .data = (uint8_t *)b};
}

static inline bool weft_otlp_span_id_is_zero(const struct weft_span_id *id)
{
	uint64_t v;

	memcpy(&v, id->b, sizeof(v));
	return v == 0;
}

static int weft_otlp_events(struct weft_otlp_arena *a, const struct weft_span *s, pb_span *ps)
{
	pb_event *evs, **ptrs;

	if (!s->events)
		return -EINVAL;
	evs = weft_otlp_arena_array(a, s->n_events, sizeof(*evs));
	ptrs = weft_otlp_arena_array(a, s->n_events, sizeof(*ptrs));
	if (!evs || !ptrs)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_events; i++) {
		const struct weft_span_event *e = &s->events[i];
		int err;

		evs[i] = (pb_event)OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
		evs[i].time_unix_nano = e->time_unix_nano;
		evs[i].name = (char *)e->name;
		err = weft_otlp_attrs(a, e->attrs, e->n_attrs, &evs[i].n_attributes,
				      &evs[i].attributes);
		if (err)
			return err;
		ptrs[i] = &evs[i];
	}
	ps->n_events = s->n_events;
	ps->events = ptrs;
	return 0;
}

static int weft_otlp_links(struct weft_otlp_arena *a, const struct weft_span *s, pb_span *ps)
{
	pb_link *links, **ptrs;

	if (!s->links)
		return -EINVAL;
	links = weft_otlp_arena_array(a, s->n_links, sizeof(*links));
	ptrs = weft_otlp_arena_array(a, s->n_links, sizeof(*ptrs));
	if (!links || !ptrs)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_links; i++) {
		const struct weft_span_link *l = &s->links[i];
		int err;

		links[i] = (pb_link)OPENTELEMETRY__PROTO__TRACE__V1__SPAN__LINK__INIT;
		links[i].trace_id = weft_otlp_bytes(l->trace_id.b, sizeof(l->trace_id.b));
		links[i].span_id = weft_otlp_bytes(l->span_id.b, sizeof(l->span_id.b));
		err = weft_otlp_attrs(a, l->attrs, l->n_attrs, &links[i].n_attributes,
				      &links[i].attributes);
		if (err)
			return err;
		ptrs[i] = &links[i];
	}
	ps->n_links = s->n_links;
	ps->links = ptrs;
	return 0;
}

static int weft_otlp_span(struct weft_otlp_arena *a, const struct weft_span *s, pb_span *ps)
{
	int err;

	*ps = (pb_span)OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
	ps->trace_id = weft_otlp_bytes(s->trace_id.b, sizeof(s->trace_id.b));
	ps->span_id = weft_otlp_bytes(s->span_id.b, sizeof(s->span_id.b));
	/* A root span has no parent_span_id at all: a zero length is not encoded. */
	if (!weft_otlp_span_id_is_zero(&s->parent_span_id))
		ps->parent_span_id =
		    weft_otlp_bytes(s->parent_span_id.b, sizeof(s->parent_span_id.b));
	ps->flags = s->flags;
	ps->name = (char *)s->name;
	ps->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)s->kind;
	ps->start_time_unix_nano = s->start_unix_nano;
	ps->end_time_unix_nano = s->end_unix_nano;
	ps->dropped_attributes_count = s->dropped_attrs;
	ps->dropped_events_count = s->dropped_events;
	ps->dropped_links_count = s->dropped_links;

	err = weft_otlp_attrs(a, s->attrs, s->n_attrs, &ps->n_attributes, &ps->attributes);
	if (!err && s->n_events)
		err = weft_otlp_events(a, s, ps);
	if (!err && s->n_links)
		err = weft_otlp_links(a, s, ps);
	if (err)
		return err;

	/* An unset status without a message is the default: leave it out. */
	if (s->status != WEFT_STATUS_UNSET || (s->status_message && *s->status_message)) {
		pb_status *st = weft_otlp_arena_alloc(a, sizeof(*st));

		if (!st)
			return -ENOMEM;
		*st = (pb_status)OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
		st->code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)s->status;
		st->message = (char *)s->status_message;
		ps->status = st;
	}
	return 0;
}

/* Size the packed message, then pack it into a weft_alloc'd buffer. */
static int weft_otlp_pack(const ProtobufCMessage *msg, uint8_t **out, size_t *out_len)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = weft_alloc(len);

	if (!buf)
		return -ENOMEM;
	if (protobuf_c_message_pack(msg, buf) != len) {
		weft_free(buf);
		return -EPROTO;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

/* An empty request: zero bytes, still a buffer the caller can weft_free. */
static int weft_otlp_empty(uint8_t **out, size_t *out_len)
{
	*out = weft_alloc(1);
	if (!*out)
		return -ENOMEM;
	*out_len = 0;
	return 0;
}

/* A first arena chunk for a typical span: the span, its status, eight attributes. */
#define WEFT_OTLP_SPAN_ESTIMATE                                                                    \
	(sizeof(pb_span) + sizeof(pb_span *) + sizeof(pb_status) +                                 \
	 8 * (sizeof(struct weft_otlp_kv) + sizeof(pb_key_value *)))

int weft_otlp_encode_traces(const struct weft_resource *res, const struct weft_span *spans,
			    size_t n, uint8_t **out, size_t *out_len)
{
	pb_trace_request req =
	    OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
	pb_resource_spans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
	pb_scope_spans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
	pb_resource_spans *rs_ptr = &rs;
	pb_scope_spans *ss_ptr = &ss;
	struct weft_otlp_arena a;
	pb_resource resource;
	pb_scope scope;
	pb_span *ps, **ptrs;
	int err;

	if (!res || (n && !spans) || !out || !out_len)
		return -EINVAL;
	if (n == 0)
		return weft_otlp_empty(out, out_len);

	weft_otlp_arena_init(&a, n < SIZE_MAX / 2048 ? n * WEFT_OTLP_SPAN_ESTIMATE : SIZE_MAX);
	err = weft_otlp_resource(&a, res, &resource, &scope);
	if (err)
		goto out;
	ps = weft_otlp_arena_array(&a, n, sizeof(*ps));
	ptrs = weft_otlp_arena_array(&a, n, sizeof(*ptrs));
	if (!ps || !ptrs) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		err = weft_otlp_span(&a, &spans[i], &ps[i]);
		if (err)
			goto out;
		ptrs[i] = &ps[i];
	}

	ss.scope = &scope;
	ss.n_spans = n;
	ss.spans = ptrs;
	rs.resource = &resource;
	rs.n_scope_spans = 1;
	rs.scope_spans = &ss_ptr;
	req.n_resource_spans = 1;
	req.resource_spans = &rs_ptr;
	err = weft_otlp_pack(&req.base, out, out_len);
out:
	weft_otlp_arena_release(&a);
	return err;
}

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

static void *weft_otlp_pb_alloc(void *data, size_t size)
{
	return weft_alloc(size);
}

static void weft_otlp_pb_free(void *data, void *p)
{
	weft_free(p);
}

/* Copy a server-supplied message for a log line: truncated, control bytes as '?'. */
static void weft_otlp_copy_message(char *dst, size_t dstlen, const char *src)
{
	size_t i = 0;

	if (dstlen == 0)
		return;
	for (; src && src[i] && i < dstlen - 1; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[i] = '\0';
}

int weft_otlp_decode_partial_success(int signal, const uint8_t *buf, size_t len, int64_t *rejected,
				     char *msg, size_t msglen)
{
	ProtobufCAllocator allocator = {
	    .alloc = weft_otlp_pb_alloc,
	    .free = weft_otlp_pb_free,
	    .allocator_data = NULL,
	};
	const ProtobufCMessageDescriptor *desc;
	ProtobufCMessage *resp;
	const char *error_message = NULL;

	if ((len && !buf) || !rejected || (msglen && !msg))
		return -EINVAL;
	if (signal == WEFT_OTLP_SIGNAL_TRACES)
		desc = &PB_TRACE_RESPONSE;
	else if (signal == WEFT_OTLP_SIGNAL_METRICS)
		desc = &PB_METRICS_RESPONSE;
	else
		return -EINVAL;

	*rejected = 0;
	weft_otlp_copy_message(msg, msglen, "");
	resp = protobuf_c_message_unpack(desc, &allocator, len, buf);
	if (!resp)
		return -EBADMSG;
	if (signal == WEFT_OTLP_SIGNAL_TRACES) {
		const pb_trace_response *r = (const pb_trace_response *)resp;

		if (r->partial_success) {
			*rejected = r->partial_success->rejected_spans;
			error_message = r->partial_success->error_message;
		}
	} else {
		const pb_metrics_response *r = (const pb_metrics_response *)resp;

		if (r->partial_success) {
			*rejected = r->partial_success->rejected_data_points;
			error_message = r->partial_success->error_message;
		}
	}
	weft_otlp_copy_message(msg, msglen, error_message);
	protobuf_c_message_free_unpacked(resp, &allocator);
	return 0;
}
