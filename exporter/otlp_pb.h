/*
 * What the OTLP encoders (otlp_encode.c: attributes, a request's resource
 * and scope, the response; otlp_encode_traces.c; otlp_encode_metrics.c)
 * share. Requests are written straight from the model with the protocol
 * buffers writer (otlp_wire.h). Private to those files; the interface is
 * exporter/otlp_encode.h.
 */
#ifndef WEFT_EXPORTER_OTLP_PB_H
#define WEFT_EXPORTER_OTLP_PB_H

#include <stddef.h>
#include <stdint.h>

#include "exporter/model.h"
#include "exporter/otlp_wire.h"

/* Repeated KeyValue in `field`: -EINVAL for a NULL list or an unknown type. */
int weft_otlp_attrs(struct weft_wire *w, uint32_t field, const struct weft_attr *attrs, size_t n);

/*
 * An Export*ServiceRequest has one Resource* message and in it one Scope*
 * message (the field numbers are the same for both signals): the two are
 * opened with the resource and the scope written, the caller writes its
 * items into the inner one's field WEFT_OTLP_ITEMS, and weft_otlp_finish
 * closes them and hands over the buffer (or frees it on an error).
 */
#define WEFT_OTLP_ITEMS 2
struct weft_otlp_request {
	struct weft_wire w;
	size_t outer, inner;
	int err;
};
void weft_otlp_begin(struct weft_otlp_request *r, const struct weft_resource *res, size_t estimate);
int weft_otlp_finish(struct weft_otlp_request *r, uint8_t **out, size_t *out_len);

/* An empty request: zero bytes, still a buffer the caller can weft_free. */
int weft_otlp_empty(uint8_t **out, size_t *out_len);

#endif
