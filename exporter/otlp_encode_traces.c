/*
 * OTLP protobuf encoding of spans: ExportTraceServiceRequest (see
 * otlp_encode.c for how the mirror is built and packed).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "exporter/otlp_encode.h"
#include "exporter/otlp_pb.h"

/* Shorter names for the generated trace types and constants used here. */
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans pb_resource_spans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans pb_scope_spans;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event pb_event;
typedef Opentelemetry__Proto__Trace__V1__Span__Link pb_link;
typedef Opentelemetry__Proto__Trace__V1__Status pb_status;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest pb_trace_request;

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
