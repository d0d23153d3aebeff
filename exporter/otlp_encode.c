/*
 * OTLP protobuf encoding of the span and metric models (exporter/model.h):
 * here what both signals share (the arena, attributes, the resource, packing)
 * and the decoding of a response's partial success; spans are mirrored in
 * otlp_encode_traces.c, metrics in otlp_encode_metrics.c.
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
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

void weft_otlp_arena_init(struct weft_otlp_arena *a, size_t estimate)
{
	a->chunks = NULL;
	a->cur = a->end = NULL;
	if (estimate < WEFT_OTLP_CHUNK_MIN)
		estimate = WEFT_OTLP_CHUNK_MIN;
	if (estimate > WEFT_OTLP_CHUNK_MAX)
		estimate = WEFT_OTLP_CHUNK_MAX;
	a->next_size = estimate;
}

void weft_otlp_arena_release(struct weft_otlp_arena *a)
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

void *weft_otlp_arena_grow(struct weft_otlp_arena *a, size_t size)
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

int weft_otlp_attrs(struct weft_otlp_arena *a, const struct weft_attr *attrs, size_t n,
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

int weft_otlp_resource(struct weft_otlp_arena *a, const struct weft_resource *res, pb_resource *r,
		       pb_scope *scope)
{
	*r = (pb_resource)OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
	*scope = (pb_scope)OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
	scope->name = (char *)res->scope_name;
	scope->version = (char *)res->scope_version;
	return weft_otlp_attrs(a, res->attrs, res->n_attrs, &r->n_attributes, &r->attributes);
}

int weft_otlp_pack(const ProtobufCMessage *msg, uint8_t **out, size_t *out_len)
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
