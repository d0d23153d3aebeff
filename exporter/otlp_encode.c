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
 * quarter of the time its descriptor-driven packing took. The collector's
 * response, a message of two fields, is read by hand too: libweft.so has no
 * protobuf library in it, and the generated code is the tests' alone.
 *
 * The program's malloc is never called: the output buffer comes from
 * agent/alloc.h.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/alloc.h"
#include "exporter/otlp_encode.h"
#include "exporter/otlp_pb.h"

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

	switch (a->type) {
	case WEFT_VALUE_STRING:
		weft_wire_bytes(w, VALUE_STRING, a->v.s ? a->v.s : "", a->v.s ? strlen(a->v.s) : 0);
		break;
	case WEFT_VALUE_BOOL:
		weft_wire_varint_field(w, VALUE_BOOL, a->v.b);
		break;
	case WEFT_VALUE_INT:
		weft_wire_varint_field(w, VALUE_INT, (uint64_t)a->v.i);
		break;
	case WEFT_VALUE_DOUBLE:
		weft_wire_double(w, VALUE_DOUBLE, a->v.d);
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

/* Copy a server-supplied message for a log line: truncated, control bytes as '?'. */
static void weft_otlp_copy_message(char *dst, size_t dstlen, const uint8_t *src, size_t n)
{
	size_t i = 0;

	if (dstlen == 0)
		return;
	/* As a C string: up to a NUL, if the collector sent one. */
	for (; i < n && src[i] && i < dstlen - 1; i++) {
		unsigned char c = src[i];

		dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[i] = '\0';
}

/* A varint at *p, before end: false when it runs past either or past ten bytes. */
static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t c;

		if (*p >= end)
			return false;
		c = *(*p)++;
		x |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

/*
 * The next field at *p: its number, its wire type and, for a
 * length-delimited one, its bytes (*body, *n); its value for a varint (*v).
 * The field is stepped over. False when it is malformed: no number, a
 * group (not in OTLP), a length past the end.
 */
static bool read_field(const uint8_t **p, const uint8_t *end, uint32_t *field, unsigned *type,
		       const uint8_t **body, uint64_t *v)
{
	uint64_t tag, n;

	if (!read_varint(p, end, &tag) || tag >> 3 == 0 || tag >> 3 > UINT32_MAX)
		return false;
	*field = (uint32_t)(tag >> 3);
	*type = tag & 7;
	switch (*type) {
	case WEFT_WIRE_VARINT:
		return read_varint(p, end, v);
	case WEFT_WIRE_FIXED64:
		n = 8;
		break;
	case WEFT_WIRE_FIXED32:
		n = 4;
		break;
	case WEFT_WIRE_LEN:
		if (!read_varint(p, end, &n))
			return false;
		*v = n;
		break;
	default:
		return false;
	}
	if (n > (uint64_t)(end - *p))
		return false;
	*body = *p;
	*p += n;
	return true;
}

/*
 * Export{Trace,Metrics}ServiceResponse is the same for both signals:
 * partial_success (1) { rejected_spans or rejected_data_points (1, int64),
 * error_message (2) }. Read by hand: other fields are stepped over, a later
 * value of a field wins (as protobuf's merging does), and a known field of
 * another wire type is malformed.
 */
int weft_otlp_decode_partial_success(int signal, const uint8_t *buf, size_t len, int64_t *rejected,
				     char *msg, size_t msglen)
{
	const uint8_t *p = buf, *end = buf + len, *text = NULL;
	uint64_t text_n = 0;

	if ((len && !buf) || !rejected || (msglen && !msg))
		return -EINVAL;
	if (signal != WEFT_OTLP_SIGNAL_TRACES && signal != WEFT_OTLP_SIGNAL_METRICS)
		return -EINVAL;
	*rejected = 0;
	weft_otlp_copy_message(msg, msglen, NULL, 0);
	while (p < end) {
		const uint8_t *body = NULL, *q, *q_end;
		uint32_t field;
		unsigned type;
		uint64_t v = 0;

		if (!read_field(&p, end, &field, &type, &body, &v))
			return -EBADMSG;
		if (field != 1)
			continue;
		if (type != WEFT_WIRE_LEN)
			return -EBADMSG;
		for (q = body, q_end = body + v; q < q_end;) {
			const uint8_t *inner = NULL;
			uint64_t iv = 0;

			if (!read_field(&q, q_end, &field, &type, &inner, &iv))
				return -EBADMSG;
			if (field == 1 && type != WEFT_WIRE_VARINT)
				return -EBADMSG;
			if (field == 2 && type != WEFT_WIRE_LEN)
				return -EBADMSG;
			if (field == 1)
				*rejected = (int64_t)iv;
			else if (field == 2)
				text = inner, text_n = iv;
		}
	}
	weft_otlp_copy_message(msg, msglen, text, (size_t)text_n);
	return 0;
}
