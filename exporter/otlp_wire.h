/*
 * Protocol buffers written straight from weft's model, for the OTLP requests
 * (otlp_encode.c and the two signals' files): the wire format's varints,
 * tags, fixed-width, packed and length-delimited fields into one growable
 * buffer.
 *
 * A nested message's length is known only once it is written: its place is
 * kept (weft_wire_begin, as many bytes as the caller expects the length to
 * take) and filled in at its end (weft_wire_end), which moves the body when
 * the length needs another number of bytes. Fields come in field-number
 * order and proto3 defaults (zero, empty) are left out by the callers, so the
 * bytes are those protobuf-c packs from the same values (tests/otlp/unit
 * repacks them with protobuf-c and compares).
 *
 * Errors are sticky, as in the JSON writer: the first failure is kept in
 * `err` and later writes do nothing.
 */
#ifndef WEFT_EXPORTER_OTLP_WIRE_H
#define WEFT_EXPORTER_OTLP_WIRE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct weft_wire {
	uint8_t *buf; /* weft_alloc'd */
	size_t len;
	size_t cap;
	int err; /* 0, or the first failure as a negative errno */
};

enum weft_wire_type {
	WEFT_WIRE_VARINT = 0,
	WEFT_WIRE_FIXED64 = 1,
	WEFT_WIRE_LEN = 2,
	WEFT_WIRE_FIXED32 = 5,
};

/* An empty buffer with room for `estimate` bytes (allocated on the first write if 0). */
void weft_wire_init(struct weft_wire *w, size_t estimate);
/* Room for n more bytes: out of line, for when there is not. */
bool weft_wire_grow(struct weft_wire *w, size_t n);

/* The cursor, with room for n more bytes; NULL after an error. */
static inline uint8_t *weft_wire_room(struct weft_wire *w, size_t n)
{
	if (__builtin_expect(!w->err && n <= w->cap - w->len, 1) || weft_wire_grow(w, n))
		return w->buf + w->len;
	return NULL;
}

static inline uint8_t *weft_wire_put_varint(uint8_t *o, uint64_t v)
{
	while (v >= 0x80) {
		*o++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*o++ = (uint8_t)v;
	return o;
}

static inline unsigned weft_wire_varint_size(uint64_t v)
{
	unsigned n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static inline uint8_t *weft_wire_put_tag(uint8_t *o, uint32_t field, enum weft_wire_type type)
{
	return weft_wire_put_varint(o, (uint64_t)field << 3 | type);
}

static inline uint8_t *weft_wire_put_fixed64(uint8_t *o, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		*o++ = (uint8_t)(v >> (8 * i));
	return o;
}

static inline uint8_t *weft_wire_put_double(uint8_t *o, double d)
{
	uint64_t bits;

	memcpy(&bits, &d, sizeof(bits));
	return weft_wire_put_fixed64(o, bits);
}

/*
 * A varint field (an integer, a bool, an enum) and a fixed64 one (a
 * fixed64, an sfixed64, a double's bits), written whatever their value: a
 * oneof member, a proto3 `optional`.
 */
static inline void weft_wire_varint_field(struct weft_wire *w, uint32_t field, uint64_t v)
{
	uint8_t *o = weft_wire_room(w, 15);

	if (!o)
		return;
	o = weft_wire_put_varint(weft_wire_put_tag(o, field, WEFT_WIRE_VARINT), v);
	w->len = (size_t)(o - w->buf);
}

static inline void weft_wire_fixed64_field(struct weft_wire *w, uint32_t field, uint64_t v)
{
	uint8_t *o = weft_wire_room(w, 13);

	if (!o)
		return;
	o = weft_wire_put_fixed64(weft_wire_put_tag(o, field, WEFT_WIRE_FIXED64), v);
	w->len = (size_t)(o - w->buf);
}

static inline void weft_wire_double(struct weft_wire *w, uint32_t field, double d)
{
	uint64_t bits;

	memcpy(&bits, &d, sizeof(bits));
	weft_wire_fixed64_field(w, field, bits);
}

/* The same two left out when zero, as proto3 does. */
static inline void weft_wire_varint(struct weft_wire *w, uint32_t field, uint64_t v)
{
	if (v)
		weft_wire_varint_field(w, field, v);
}

static inline void weft_wire_fixed64(struct weft_wire *w, uint32_t field, uint64_t v)
{
	if (v)
		weft_wire_fixed64_field(w, field, v);
}

/*
 * A packed repeated fixed64 (`bits` NULL) or double (`d` NULL) field of n
 * values, left out when n is 0.
 */
static inline void weft_wire_packed64(struct weft_wire *w, uint32_t field, const uint64_t *bits,
				      const double *d, size_t n)
{
	uint8_t *o;

	if (!n)
		return;
	if (n > SIZE_MAX / 16) {
		if (!w->err)
			w->err = -EOVERFLOW;
		return;
	}
	if (!(o = weft_wire_room(w, 15 + 8 * n)))
		return;
	o = weft_wire_put_varint(weft_wire_put_tag(o, field, WEFT_WIRE_LEN), 8 * (uint64_t)n);
	for (size_t i = 0; i < n; i++)
		o = bits ? weft_wire_put_fixed64(o, bits[i]) : weft_wire_put_double(o, d[i]);
	w->len = (size_t)(o - w->buf);
}

/* A fixed32 field, left out when zero. */
static inline void weft_wire_fixed32(struct weft_wire *w, uint32_t field, uint32_t v)
{
	uint8_t *o;

	if (!v || !(o = weft_wire_room(w, 9)))
		return;
	o = weft_wire_put_tag(o, field, WEFT_WIRE_FIXED32);
	for (int i = 0; i < 4; i++)
		*o++ = (uint8_t)(v >> (8 * i));
	w->len = (size_t)(o - w->buf);
}

/* A string or bytes field, written even when empty (a oneof member, an id). */
static inline void weft_wire_bytes(struct weft_wire *w, uint32_t field, const void *p, size_t n)
{
	uint8_t *o;

	if (n > SIZE_MAX - 16) {
		if (!w->err)
			w->err = -EOVERFLOW;
		return;
	}
	if (!(o = weft_wire_room(w, 15 + n)))
		return;
	o = weft_wire_put_varint(weft_wire_put_tag(o, field, WEFT_WIRE_LEN), n);
	if (n)
		memcpy(o, p, n);
	w->len = (size_t)(o + n - w->buf);
}

/* A string field, left out when NULL or empty as proto3 does. */
static inline void weft_wire_string(struct weft_wire *w, uint32_t field, const char *s)
{
	if (s && *s)
		weft_wire_bytes(w, field, s, strlen(s));
}

/*
 * Opens a nested message in `field`, keeping `reserve` bytes (1 to 5) for its
 * length. The value returned stands for it (where its body starts and the
 * bytes kept) and is handed to weft_wire_end.
 */
static inline size_t weft_wire_begin(struct weft_wire *w, uint32_t field, unsigned reserve)
{
	uint8_t *o = weft_wire_room(w, 5 + reserve);

	if (!o)
		return 0;
	o = weft_wire_put_tag(o, field, WEFT_WIRE_LEN);
	w->len = (size_t)(o - w->buf) + reserve;
	return w->len << 3 | reserve;
}

/* Closes the message `msg` (weft_wire_begin's): its length in place, the body moved if need be. */
void weft_wire_end(struct weft_wire *w, size_t msg);

#endif
