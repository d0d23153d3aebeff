/*
 * OTLP protobuf encoding: the span and metric models of exporter/model.h as
 * ExportTraceServiceRequest / ExportMetricsServiceRequest bodies, and the
 * partial-success part of the server's response.
 *
 * Runs on the exporter thread. Every allocation goes through agent/alloc.h,
 * never the program's malloc.
 */
#ifndef WEFT_EXPORTER_OTLP_ENCODE_H
#define WEFT_EXPORTER_OTLP_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "exporter/model.h"

/* Which export service a response belongs to. */
enum weft_otlp_signal {
	WEFT_OTLP_SIGNAL_TRACES = 0,
	WEFT_OTLP_SIGNAL_METRICS = 1,
};

/*
 * Encode n spans, all produced by res, as one ExportTraceServiceRequest: one
 * ResourceSpans holding one ScopeSpans (res->scope_name, res->scope_version).
 * On success *out is a weft_alloc'd buffer of *out_len bytes that the caller
 * releases with weft_free; n == 0 gives an empty request (*out_len == 0).
 * Returns 0, -EINVAL (bad arguments or an unknown attribute type) or -ENOMEM.
 */
int weft_otlp_encode_traces(const struct weft_resource *res, const struct weft_span *spans,
			    size_t n, uint8_t **out, size_t *out_len);

/*
 * Encode n metrics as one ExportMetricsServiceRequest, in the same shape and
 * with the same contract as weft_otlp_encode_traces(). Sums and histograms are
 * cumulative; a histogram point carries min and max only when its count is
 * non-zero.
 */
int weft_otlp_encode_metrics(const struct weft_resource *res, const struct weft_metric *m, size_t n,
			     uint8_t **out, size_t *out_len);

/*
 * Read the partial_success of an Export{Trace,Metrics}ServiceResponse body
 * (signal is a weft_otlp_signal). *rejected gets rejected_spans or
 * rejected_data_points, msg (msglen bytes, may be 0) the NUL-terminated and
 * possibly truncated error_message; both are 0 / "" when the response has no
 * partial_success, as a plain success has none. A partial success is reported
 * when *rejected > 0 or msg is not empty (a warning). Returns 0, -EINVAL for
 * a bad signal or NULL argument, -EBADMSG for a body that does not parse.
 */
int weft_otlp_decode_partial_success(int signal, const uint8_t *buf, size_t len, int64_t *rejected,
				     char *msg, size_t msglen);

#endif
