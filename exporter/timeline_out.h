/*
 * Writing the timeline's JSON (exporter/timeline.h): a buffer flushed to the
 * output file as it fills, so that memory does not grow with the trace, and
 * the few value shapes the Trace Event Format needs — timestamps in
 * microseconds to the nanosecond, span ids, strings escaped, OTLP attributes
 * as plain JSON values.
 */
#ifndef WEFT_EXPORTER_TIMELINE_OUT_H
#define WEFT_EXPORTER_TIMELINE_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "exporter/json_read.h"

struct weft_timeline_out {
	FILE *f;
	const char *path;
	char *buf;
	size_t len, cap;
	bool any;  /* an event was written: the next needs a comma */
	bool fail; /* out of memory or a write failed */
};

/* Opens `path` ("-": standard output). 0 or -errno, said on stderr. */
int weft_timeline_out_open(struct weft_timeline_out *o, const char *path);
/* Flushes and closes: 0, or -EIO (said on stderr). */
int weft_timeline_out_close(struct weft_timeline_out *o);
/* Writes the buffer out when it holds more than a few hundred kilobytes: 0 or -EIO. */
int weft_timeline_out_flush_if_full(struct weft_timeline_out *o);

void weft_timeline_out_raw(struct weft_timeline_out *o, const char *s, size_t n);
#define weft_timeline_out_lit(o, lit)                                                              \
	weft_timeline_out_raw((o), "" lit, sizeof(lit) - 1) /* a literal only */
/* Starts an event in the traceEvents array: a comma and a newline when one came before. */
void weft_timeline_out_event(struct weft_timeline_out *o);
void weft_timeline_out_u64(struct weft_timeline_out *o, uint64_t v);
/* `ns` nanoseconds as microseconds: 1234567 → 1234.567. */
void weft_timeline_out_ts(struct weft_timeline_out *o, uint64_t ns);
/* A span id as its 16 hex digits, quoted. */
void weft_timeline_out_hex_id(struct weft_timeline_out *o, uint64_t id);
/* A JSON string: `s`, or `a` followed by `b`. */
void weft_timeline_out_string(struct weft_timeline_out *o, const char *s);
void weft_timeline_out_string2(struct weft_timeline_out *o, const char *a, const char *b);
/* An OTLP KeyValue array's members as `"key":value,...` (nothing when NULL or empty). */
void weft_timeline_out_attrs(struct weft_timeline_out *o, const struct weft_json_reader *j,
			     const struct weft_json_node *attrs);
/* A NumberDataPoint as one counter series, `"<attribute values, comma separated>":value`. */
void weft_timeline_out_series(struct weft_timeline_out *o, const struct weft_json_reader *j,
			      const struct weft_json_node *point);

#endif
