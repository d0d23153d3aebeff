/*
 * The sample telemetry the output tests export (sample-telemetry.c): what each
 * item holds is described there, next to it; each test writes out by hand
 * what its output must contain for it.
 */
#ifndef WEFT_TESTS_UNIT_SAMPLE_TELEMETRY_H
#define WEFT_TESTS_UNIT_SAMPLE_TELEMETRY_H

#include "exporter/model.h"

#define SAMPLE_N_SPANS   4
#define SAMPLE_N_METRICS 4

/* service.name "demo", pid 4242, command args, an empty array; scope weft 0.1.0. */
extern const struct weft_resource sample_resource;
/*
 * A root "process" span with an error status; a child "thread w\xc3\xb6rker" with
 * every attribute type, events and a link; a span with defaults left out and
 * invalid UTF-8; a span with only a status message.
 */
extern const struct weft_span sample_spans[SAMPLE_N_SPANS];
/* An up-down sum, a monotonic sum with two series, a gauge, a histogram. */
extern const struct weft_metric sample_metrics[SAMPLE_N_METRICS];

#endif
