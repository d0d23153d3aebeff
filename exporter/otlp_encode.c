/*
 * OTLP protobuf encoding of the span and metric models (exporter/model.h):
 * here what both signals share (attributes, a request's resource and scope)
 * and the decoding of a response's partial success; spans are written in
 * otlp_encode_traces.c, metrics in otlp_encode_metrics.c.
 *
 * A request is written straight from the model into one weft_alloc'd buffer
 * by the protocol buffers writer (otlp_wire.h): fields in field-number order,
 * proto3's defaults left out, so the bytes are those protobuf-c would pack
 * from the same values (tests/otlp/unit/encode-sample.c checks it), in a
 * quarter of the time its descriptor-driven packing took. protobuf-c reads
 * the collector's response.
 *
 * The program's malloc is never called: the output buffer and the
 * ProtobufCAllocator that unpacks responses go through agent/alloc.h.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "metrics_service.pb-c.h"
#include "trace_service.pb-c.h"

#include "agent/alloc.h"
#include "exporter/otlp_encode.h"
#include "exporter/otlp_pb.h"

/* The response types, for the partial success. */
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse pb_trace_response;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse
	pb_metrics_response;

#define PB_TRACE_RESPONSE                                                                          \
	opentelemetry__proto__collector__trace__v1__export_trace_service_response__descriptor
#define PB_METRICS_RESPONSE                                                                        \
	opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__descriptor

/* Field numbers (opentelemetry/proto/common/v1/common.proto, resource.proto, the services). */
enum {
	REQ_RESOURCE_ITEMS = 1, /* resource_spans, resource_metrics */
	RESOURCE_ITEMS_RESOURCE = 1,
	RESOURCE_ITEMS_SCOPE_ITEMS = 2, /* scope_spans, scope_metrics */
	SCOPE_ITEMS_SCOPE = 1,
	RESOURCE_ATTRIBUTES = 1,
	SCOPE_NAME = 1,
	SCOPE_VERSION = 2,
	KV_KEY = 1,
	KV_VALUE = 2,
	VALUE_STRING = 1,
	VALUE_BOOL = 2,
	VALUE_INT = 3,
	VALUE_DOUBLE = 4,
	VALUE_ARRAY = 5,
	ARRAY_VALUES = 1,
};
_Static_assert(SCOPE_ITEMS_SCOPE != WEFT_OTLP_ITEMS, "items follow the scope");

/* An AnyValue, as a message in `field`. A oneof member is written even when zero or empty. */
static int wire_value(struct weft_wire *w, uint32_t field, const struct weft_attr *a)
{
	size_t at = weft_wire_begin(w, field, 1);
	uint8_t *o;

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
			*o++ = VALUE_DOUBLE << 3 | WEFT_WIRE_FIXED64;
			o = weft_wire_put_double(o, a->v.d);
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
			weft_wire_end(w, item);
		}
		weft_wire_end(w, arr);
		break;
	}
	default:
		return -EINVAL;
	}
	weft_wire_end(w, at);
	return 0;
}

int weft_otlp_attrs(struct weft_wire *w, uint32_t field, const struct weft_attr *attrs, size_t n)
{
	if (n && !attrs)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		size_t at = weft_wire_begin(w, field, 1);
		int err;

		weft_wire_string(w, KV_KEY, attrs[i].key);
		if ((err = wire_value(w, KV_VALUE, &attrs[i])))
			return err;
		weft_wire_end(w, at);
	}
	return 0;
}

void weft_otlp_begin(struct weft_otlp_request *r, const struct weft_resource *res, size_t estimate)
{
	size_t resource, scope;

	weft_wire_init(&r->w, estimate);
	/* The two hold the whole batch: five bytes for each length. */
	r->outer = weft_wire_begin(&r->w, REQ_RESOURCE_ITEMS, 5);
	resource = weft_wire_begin(&r->w, RESOURCE_ITEMS_RESOURCE, 2);
	r->err = weft_otlp_attrs(&r->w, RESOURCE_ATTRIBUTES, res->attrs, res->n_attrs);
	weft_wire_end(&r->w, resource);
	r->inner = weft_wire_begin(&r->w, RESOURCE_ITEMS_SCOPE_ITEMS, 5);
	scope = weft_wire_begin(&r->w, SCOPE_ITEMS_SCOPE, 1);
	weft_wire_string(&r->w, SCOPE_NAME, res->scope_name);
	weft_wire_string(&r->w, SCOPE_VERSION, res->scope_version);
	weft_wire_end(&r->w, scope);
}

int weft_otlp_finish(struct weft_otlp_request *r, uint8_t **out, size_t *out_len)
{
	int err = r->err;

	weft_wire_end(&r->w, r->inner);
	weft_wire_end(&r->w, r->outer);
	if (!err)
		err = r->w.err;
	if (err) {
		weft_free(r->w.buf);
		return err;
	}
	*out = r->w.buf;
	*out_len = r->w.len;
	return 0;
}

int weft_otlp_empty(uint8_t **out, size_t *out_len)
{
	*out = weft_alloc(1);
	if (!*out)
		return -ENOMEM;
	*out_len = 0;
	return 0;
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
