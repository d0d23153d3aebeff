#include <errno.h>
#include <string.h>

#include "agent/alloc.h"
#include "exporter/curl_dl.h"
#include "exporter/gzip.h"

/*
 * Level 1, not zlib's default 6: the compression runs inside the program
 * (on the exporter thread), and on OTLP span batches level 1 costs about 2.5
 * times less CPU (tests/bench/bench-otlp-send.c: 2.6 against 6.6 ms per 1,000
 * spans) for a body only somewhat larger; bodies are repetitive (attribute
 * keys, ids) and still shrink several times.
 */
#define WEFT_GZIP_LEVEL 1
/* 15 bits of window, +16: a gzip header and trailer instead of zlib's. */
#define WEFT_GZIP_WINDOW (15 + 16)

struct weft_gzip {
	const struct weft_zlib *zl;
	z_stream strm;
	uint8_t *buf;
	size_t cap;
};

static voidpf gzip_alloc(voidpf opaque, uInt items, uInt size)
{
	if (size && items > SIZE_MAX / size)
		return Z_NULL;
	return weft_alloc((size_t)items * size);
}

static void gzip_free(voidpf opaque, voidpf p)
{
	weft_free(p);
}

struct weft_gzip *weft_gzip_new(void)
{
	const struct weft_zlib *zl = weft_zlib_load();
	struct weft_gzip *z;

	if (!zl)
		return NULL;
	z = weft_zalloc(sizeof(*z));
	if (!z)
		return NULL;
	z->zl = zl;
	z->strm.zalloc = gzip_alloc;
	z->strm.zfree = gzip_free;
	z->strm.opaque = Z_NULL;
	if (zl->deflate_init2(&z->strm, WEFT_GZIP_LEVEL, Z_DEFLATED, WEFT_GZIP_WINDOW, 8,
			      Z_DEFAULT_STRATEGY, ZLIB_VERSION, (int)sizeof(z_stream)) != Z_OK) {
		weft_free(z);
		return NULL;
	}
	return z;
}

int weft_gzip_compress(struct weft_gzip *z, const uint8_t *in, size_t len, const uint8_t **out,
		       size_t *out_len)
{
	size_t bound;
	int rc;

	if (len > UINT32_MAX / 2)
		return -EFBIG;
	z->zl->deflate_reset(&z->strm);
	/* deflateBound is for zlib's header; the gzip wrapper adds up to 18 bytes. */
	bound = z->zl->deflate_bound(&z->strm, (uLong)len) + 32;
	if (bound > z->cap) {
		uint8_t *b = weft_realloc(z->buf, bound);

		if (!b)
			return -ENOMEM;
		z->buf = b;
		z->cap = bound;
	}
	z->strm.next_in = (Bytef *)(uintptr_t)in; /* zlib does not write through it */
	z->strm.avail_in = (uInt)len;
	z->strm.next_out = z->buf;
	z->strm.avail_out = (uInt)z->cap;
	rc = z->zl->deflate(&z->strm, Z_FINISH);
	if (rc != Z_STREAM_END)
		return -EIO;
	*out = z->buf;
	*out_len = z->cap - z->strm.avail_out;
	return 0;
}

void weft_gzip_free(struct weft_gzip *z)
{
	if (!z)
		return;
	z->zl->deflate_end(&z->strm);
	weft_free(z->buf);
	weft_free(z);
}
