/*
 * OTLP protobuf encoding of spans: ExportTraceServiceRequest, written
 * straight from the model (see otlp_encode.c).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "exporter/otlp_encode.h"
#include "exporter/otlp_pb.h"

/*
 * Field numbers (opentelemetry/proto/trace/v1/trace.proto). weft's span
 * kinds and status codes are OTLP's numbers, written as they are
 * (encode-sample.c checks them against the generated code).
 */
enum {
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
};

static int wire_span(struct weft_wire *w, const struct weft_span *s)
{
	size_t at = weft_wire_begin(w, WEFT_OTLP_ITEMS, 2);
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
	if ((err = weft_otlp_attrs(w, SPAN_ATTRIBUTES, s->attrs, s->n_attrs)))
		return err;
	weft_wire_varint(w, SPAN_DROPPED_ATTRIBUTES, s->dropped_attrs);
	if (s->n_events && !s->events)
		return -EINVAL;
	for (size_t i = 0; i < s->n_events; i++) {
		const struct weft_span_event *e = &s->events[i];
		size_t ev = weft_wire_begin(w, SPAN_EVENTS, 2);

		weft_wire_fixed64(w, EVENT_TIME, e->time_unix_nano);
		weft_wire_string(w, EVENT_NAME, e->name);
		if ((err = weft_otlp_attrs(w, EVENT_ATTRIBUTES, e->attrs, e->n_attrs)))
			return err;
		weft_wire_end(w, ev);
	}
	weft_wire_varint(w, SPAN_DROPPED_EVENTS, s->dropped_events);
	if (s->n_links && !s->links)
		return -EINVAL;
	for (size_t i = 0; i < s->n_links; i++) {
		const struct weft_span_link *l = &s->links[i];
		size_t link = weft_wire_begin(w, SPAN_LINKS, 1);

		weft_wire_bytes(w, LINK_TRACE_ID, l->trace_id.b, sizeof(l->trace_id.b));
		weft_wire_bytes(w, LINK_SPAN_ID, l->span_id.b, sizeof(l->span_id.b));
		if ((err = weft_otlp_attrs(w, LINK_ATTRIBUTES, l->attrs, l->n_attrs)))
			return err;
		weft_wire_end(w, link);
	}
	weft_wire_varint(w, SPAN_DROPPED_LINKS, s->dropped_links);
	/* An unset status without a message is the default: leave it out. */
	if (s->status != WEFT_STATUS_UNSET || (s->status_message && *s->status_message)) {
		size_t st = weft_wire_begin(w, SPAN_STATUS, 1);

		weft_wire_string(w, STATUS_MESSAGE, s->status_message);
		weft_wire_varint(w, STATUS_CODE, (uint64_t)s->status);
		weft_wire_end(w, st);
	}
	weft_wire_fixed32(w, SPAN_FLAGS, s->flags);
	weft_wire_end(w, at);
	return 0;
}

/* A typical span's size: a first buffer that most batches do not outgrow. */
#define SPAN_ESTIMATE 320

int weft_otlp_encode_traces(const struct weft_resource *res, const struct weft_span *spans,
			    size_t n, uint8_t **out, size_t *out_len)
{
	struct weft_otlp_request r;

	if (!res || (n && !spans) || !out || !out_len)
		return -EINVAL;
	if (n == 0)
		return weft_otlp_empty(out, out_len);
	weft_otlp_begin(&r, res, n < SIZE_MAX / 2 / SPAN_ESTIMATE ? n * SPAN_ESTIMATE + 1024 : 0);
	for (size_t i = 0; i < n && !r.err; i++)
		r.err = wire_span(&r.w, &spans[i]);
	return weft_otlp_finish(&r, out, out_len);
}
