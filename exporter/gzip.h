/*
 * gzip bodies for OTEL_EXPORTER_OTLP_COMPRESSION=gzip.
 *
 * libcurl does not compress request bodies, so the otlp output does it here,
 * with zlib loaded on demand (curl_dl.h). One deflate state is kept and reset
 * between bodies; it and the output buffer come from weft's allocator.
 * Exporter thread only.
 */
#ifndef WEFT_EXPORTER_GZIP_H
#define WEFT_EXPORTER_GZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct weft_gzip;

/* NULL (after one `weft:` line) when zlib is not available. */
struct weft_gzip *weft_gzip_new(void);

/*
 * Compresses len bytes of in as one gzip member into a buffer owned by z,
 * valid until the next call: *out, *out_len. Returns 0, -ENOMEM or -EIO.
 */
int weft_gzip_compress(struct weft_gzip *z, const uint8_t *in, size_t len, const uint8_t **out,
		       size_t *out_len);

void weft_gzip_free(struct weft_gzip *z);

#endif
