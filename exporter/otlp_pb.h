/*
 * What the OTLP encoders (otlp_encode.c: attributes, resource, packing and the
 * response; otlp_encode_traces.c; otlp_encode_metrics.c) share: short names
 * for the protobuf-c types generated from exporter/proto/, the bump arena the
 * protobuf-c mirror of a request is built in, and the builders common to both
 * signals. Private to those files; the interface is exporter/otlp_encode.h.
 */
#ifndef WEFT_EXPORTER_OTLP_PB_H
#define WEFT_EXPORTER_OTLP_PB_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "metrics_service.pb-c.h"
#include "trace_service.pb-c.h"

#include "exporter/model.h"

/* Shorter names for the generated types and constants used here. */
typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any_value;
typedef Opentelemetry__Proto__Common__V1__ArrayValue pb_array_value;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_key_value;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope pb_scope;
typedef Opentelemetry__Proto__Resource__V1__Resource pb_resource;

#define PB_VALUE(x) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##x

/* The model's enums are OTLP's numbers, so they are copied as they are. */
#define WEFT_OTLP_SAME(a, b) ((int)(a) == (int)(b))

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
#define WEFT_OTLP_ALIGN     alignof(max_align_t)

/* The first chunk holds estimate bytes (clamped to the bounds above); nothing is allocated yet. */
void weft_otlp_arena_init(struct weft_otlp_arena *a, size_t estimate);
/* Frees every chunk. */
void weft_otlp_arena_release(struct weft_otlp_arena *a);
/* The slow path of weft_otlp_arena_alloc(): a new chunk of at least size bytes. */
void *weft_otlp_arena_grow(struct weft_otlp_arena *a, size_t size);

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

static inline ProtobufCBinaryData weft_otlp_bytes(const uint8_t *b, size_t len)
{
	return (ProtobufCBinaryData){ .len = len, .data = (uint8_t *)b };
}

/* A key-value pair and its value, allocated together by weft_otlp_attrs(). */
struct weft_otlp_kv {
	pb_key_value kv;
	pb_any_value value;
};

/* Mirror an attribute list into *n_out / *out (both left empty for n == 0). */
int weft_otlp_attrs(struct weft_otlp_arena *a, const struct weft_attr *attrs, size_t n,
		    size_t *n_out, pb_key_value ***out);

/* The resource and the instrumentation scope every request carries. */
int weft_otlp_resource(struct weft_otlp_arena *a, const struct weft_resource *res, pb_resource *r,
		       pb_scope *scope);

/* Size the packed message, then pack it into a weft_alloc'd buffer. */
int weft_otlp_pack(const ProtobufCMessage *msg, uint8_t **out, size_t *out_len);

/* An empty request: zero bytes, still a buffer the caller can weft_free. */
int weft_otlp_empty(uint8_t **out, size_t *out_len);

#endif
