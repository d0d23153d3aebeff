/* The protocol buffers writer of the OTLP requests (see otlp_wire.h). */
#include "exporter/otlp_wire.h"

#include "agent/alloc.h"

void weft_wire_init(struct weft_wire *w, size_t estimate)
{
	w->buf = NULL;
	w->len = w->cap = 0;
	w->err = 0;
	if (estimate)
		(void)weft_wire_grow(w, estimate);
}

bool weft_wire_grow(struct weft_wire *w, size_t n)
{
	size_t cap = w->cap ? w->cap : 4096;
	uint8_t *p;

	if (w->err)
		return false;
	if (n > SIZE_MAX / 2 - w->len) {
		w->err = -EOVERFLOW;
		return false;
	}
	if (n <= w->cap - w->len)
		return true;
	while (cap - w->len < n)
		cap *= 2;
#ifdef __SANITIZE_ADDRESS__
	/* Under AddressSanitizer, exactly what was asked for: a write past it is past the block. */
	cap = w->len + n;
#endif
	p = weft_realloc(w->buf, cap);
	if (!p) {
		w->err = -ENOMEM;
		return false;
	}
	w->buf = p;
	w->cap = cap;
	return true;
}

void weft_wire_end(struct weft_wire *w, size_t msg)
{
	size_t start = msg >> 3, body, at;
	unsigned reserve = msg & 7, need;

	if (w->err)
		return;
	body = w->len - start;
	need = weft_wire_varint_size(body);
	at = start - reserve;
	if (need != reserve) {
		/* The length takes another number of bytes than kept: the body moves. */
		if (need > reserve && !weft_wire_room(w, need - reserve))
			return;
		memmove(w->buf + at + need, w->buf + start, body);
		w->len = at + need + body;
	}
	weft_wire_put_varint(w->buf + at, body);
}
