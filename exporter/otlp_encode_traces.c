/*
 * OTLP protobuf encoding of spans: ExportTraceServiceRequest, written
 * straight from the model (otlp_wire.h) rather than mirrored into protobuf-c's
 * structs and packed as metrics are (otlp_encode.c): spans are most of what a
 * busy program exports, and protobuf-c's descriptor-driven packing was 85% of
 * their encoding time. The bytes are the same.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/alloc.h"
#include "exporter/otlp_encode.h"
#include "exporter/otlp_pb.h"
#include "exporter/otlp_wire.h"

/* The generated enums, to check that weft's values are OTLP's. */
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

/* Field numbers (opentelemetry/proto/trace/v1/trace.proto and common.proto). */
enum {
	REQ_RESOURCE_SPANS = 1,
	RS_RESOURCE = 1,
	RS_SCOPE_SPANS = 2,
	RESOURCE_ATTRIBUTES = 1,
	SS_SCOPE = 1,
	SS_SPANS = 2,
	SCOPE_NAME = 1,
	SCOPE_VERSION = 2,
	SPAN_TRACE_ID = 1,
	SPAN_SPAN_ID = 2,
	SPAN_PARENT_SPAN_ID = 4,
	SPAN_NAME = 5,
	SPAN_KIND = 6,
	SPAN_START = 7,
	SPAN_END = 8,
	SPAN_ATTRIBUTES = 9,
	SPAN_DROPPED_ATTRIBUTES = 10,
	SPAN_EVENTS = 11,
	SPAN_DROPPED_EVENTS = 12,
	SPAN_LINKS = 13,
	SPAN_DROPPED_LINKS = 14,
	SPAN_STATUS = 15,
	SPAN_FLAGS = 16,
	EVENT_TIME = 1,
	EVENT_NAME = 2,
	EVENT_ATTRIBUTES = 3,
	LINK_TRACE_ID = 1,
	LINK_SPAN_ID = 2,
	LINK_ATTRIBUTES = 4,
	STATUS_MESSAGE = 2,
	STATUS_CODE = 3,
	KV_KEY = 1,
	KV_VALUE = 2,
	VALUE_STRING = 1,
	VALUE_BOOL = 2,
	VALUE_INT = 3,
	VALUE_DOUBLE = 4,
	VALUE_ARRAY = 5,
	ARRAY_VALUES = 1,
};

/* An AnyValue, as a message in `field`. */
static int wire_value(struct weft_wire *w, uint32_t field, const struct weft_attr *a)
{
	size_t at = weft_wire_begin(w, field, 1);
	uint8_t *o;

	/* A oneof member is written even when it is zero or empty. */
	switch (a->type) {
	case WEFT_VALUE_STRING:
		weft_wire_bytes(w, VALUE_STRING, a->v.s ? a->v.s : "", a->v.s ? strlen(a->v.s) : 0);
		break;
	case WEFT_VALUE_BOOL:
		if ((o = weft_wire_room(w, 2))) {
			*o++ = VALUE_BOOL << 3 | WEFT_WIRE_VARINT;
			*o++ = a->v.b ? 1 : 0;
			w->len = (size_t)(o - w->buf);
		}
		break;
	case WEFT_VALUE_INT:
		if ((o = weft_wire_room(w, 11))) {
			*o++ = VALUE_INT << 3 | WEFT_WIRE_VARINT;
			o = weft_wire_put_varint(o, (uint64_t)a->v.i);
			w->len = (size_t)(o - w->buf);
		}
		break;
	case WEFT_VALUE_DOUBLE:
		if ((o = weft_wire_room(w, 9))) {
			uint64_t bits;

			memcpy(&bits, &a->v.d, sizeof(bits));
			*o++ = VALUE_DOUBLE << 3 | WEFT_WIRE_FIXED64;
			for (int i = 0; i < 8; i++)
				*o++ = (uint8_t)(bits >> (8 * i));
			w->len = (size_t)(o - w->buf);
		}
		break;
	case WEFT_VALUE_STRING_ARRAY: {
		size_t arr;

		if (a->v.strs.n && !a->v.strs.items)
			return -EINVAL;
		arr = weft_wire_begin(w, VALUE_ARRAY, 2);
		for (size_t i = 0; i < a->v.strs.n; i++) {
			const char *s = a->v.strs.items[i] ? a->v.strs.items[i] : "";
			size_t item = weft_wire_begin(w, ARRAY_VALUES, 1);

			weft_wire_bytes(w, VALUE_STRING, s, strlen(s));
			weft_wire_end(w, item, 1);
		}
		weft_wire_end(w, arr, 2);
		break;
	}
	default:
		return -EINVAL;
	}
	weft_wire_end(w, at, 1);
	return 0;
}

/* Repeated KeyValue in `field`. */
static int wire_attrs(struct weft_wire *w, uint32_t field, const struct weft_attr *attrs, size_t n)
{
	if (n && !attrs)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		size_t at = weft_wire_begin(w, field, 1);
		int err;

		weft_wire_string(w, KV_KEY, attrs[i].key);
		if ((err = wire_value(w, KV_VALUE, &attrs[i])))
			return err;
		weft_wire_end(w, at, 1);
	}
	return 0;
}

static int wire_span(struct weft_wire *w, const struct weft_span *s)
{
	size_t at = weft_wire_begin(w, SS_SPANS, 2);
	uint64_t parent;
	int err;

	weft_wire_bytes(w, SPAN_TRACE_ID, s->trace_id.b, sizeof(s->trace_id.b));
	weft_wire_bytes(w, SPAN_SPAN_ID, s->span_id.b, sizeof(s->span_id.b));
	/* A root span has no parent_span_id at all: a zero length is not encoded. */
	memcpy(&parent, s->parent_span_id.b, sizeof(parent));
	if (parent)
		weft_wire_bytes(w, SPAN_PARENT_SPAN_ID, s->parent_span_id.b,
				sizeof(s->parent_span_id.b));
	weft_wire_string(w, SPAN_NAME, s->name);
	weft_wire_varint(w, SPAN_KIND, (uint64_t)s->kind);
	weft_wire_fixed64(w, SPAN_START, s->start_unix_nano);
	weft_wire_fixed64(w, SPAN_END, s->end_unix_nano);
	if ((err = wire_attrs(w, SPAN_ATTRIBUTES, s->attrs, s->n_attrs)))
		return err;
	weft_wire_varint(w, SPAN_DROPPED_ATTRIBUTES, s->dropped_attrs);
	if (s->n_events && !s->events)
		return -EINVAL;
	for (size_t i = 0; i < s->n_events; i++) {
		const struct weft_span_event *e = &s->events[i];
		size_t ev = weft_wire_begin(w, SPAN_EVENTS, 2);

		weft_wire_fixed64(w, EVENT_TIME, e->time_unix_nano);
		weft_wire_string(w, EVENT_NAME, e->name);
		if ((err = wire_attrs(w, EVENT_ATTRIBUTES, e->attrs, e->n_attrs)))
			return err;
		weft_wire_end(w, ev, 2);
	}
	weft_wire_varint(w, SPAN_DROPPED_EVENTS, s->dropped_events);
	if (s->n_links && !s->links)
		return -EINVAL;
	for (size_t i = 0; i < s->n_links; i++) {
		const struct weft_span_link *l = &s->links[i];
		size_t link = weft_wire_begin(w, SPAN_LINKS, 1);

		weft_wire_bytes(w, LINK_TRACE_ID, l->trace_id.b, sizeof(l->trace_id.b));
		weft_wire_bytes(w, LINK_SPAN_ID, l->span_id.b, sizeof(l->span_id.b));
		if ((err = wire_attrs(w, LINK_ATTRIBUTES, l->attrs, l->n_attrs)))
			return err;
		weft_wire_end(w, link, 1);
	}
	weft_wire_varint(w, SPAN_DROPPED_LINKS, s->dropped_links);
	/* An unset status without a message is the default: leave it out. */
	if (s->status != WEFT_STATUS_UNSET || (s->status_message && *s->status_message)) {
		size_t st = weft_wire_begin(w, SPAN_STATUS, 1);

		weft_wire_string(w, STATUS_MESSAGE, s->status_message);
		weft_wire_varint(w, STATUS_CODE, (uint64_t)s->status);
		weft_wire_end(w, st, 1);
	}
	weft_wire_fixed32(w, SPAN_FLAGS, s->flags);
	weft_wire_end(w, at, 2);
	return 0;
}

/* A typical span's size: a first buffer that most batches do not outgrow. */
#define SPAN_ESTIMATE 320

int weft_otlp_encode_traces(const struct weft_resource *res, const struct weft_span *spans,
			    size_t n, uint8_t **out, size_t *out_len)
{
	struct weft_wire w;
	size_t rs, resource, ss, scope;
	int err;

	if (!res || (n && !spans) || !out || !out_len)
		return -EINVAL;
	if (n == 0)
		return weft_otlp_empty(out, out_len);
	weft_wire_init(&w, n < SIZE_MAX / 2 / SPAN_ESTIMATE ? n * SPAN_ESTIMATE + 1024 : 0);
	/* The request's one ResourceSpans and its one ScopeSpans hold the whole batch: 5 bytes. */
	rs = weft_wire_begin(&w, REQ_RESOURCE_SPANS, 5);
	resource = weft_wire_begin(&w, RS_RESOURCE, 2);
	err = wire_attrs(&w, RESOURCE_ATTRIBUTES, res->attrs, res->n_attrs);
	weft_wire_end(&w, resource, 2);
	ss = weft_wire_begin(&w, RS_SCOPE_SPANS, 5);
	scope = weft_wire_begin(&w, SS_SCOPE, 1);
	weft_wire_string(&w, SCOPE_NAME, res->scope_name);
	weft_wire_string(&w, SCOPE_VERSION, res->scope_version);
	weft_wire_end(&w, scope, 1);
	for (size_t i = 0; i < n && !err; i++)
		err = wire_span(&w, &spans[i]);
	weft_wire_end(&w, ss, 5);
	weft_wire_end(&w, rs, 5);
	if (!err)
		err = w.err;
	if (err) {
		weft_free(w.buf);
		return err;
	}
	*out = w.buf;
	*out_len = w.len;
	return 0;
}
