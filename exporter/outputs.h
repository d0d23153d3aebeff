/*
 * The outputs chosen by configuration, opened once per process.
 *
 * OTEL_TRACES_EXPORTER and OTEL_METRICS_EXPORTER each name a set of outputs;
 * one sink object serves both signals where both name it (one file, one OTLP
 * client). Opening follows the contract's fallbacks: an OTLP output that
 * cannot be set up falls back to the file, an unwritable file path to a
 * private fallback, each with one `weft:` line.
 */
#ifndef WEFT_EXPORTER_OUTPUTS_H
#define WEFT_EXPORTER_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>

#include "exporter/sink.h"

enum { WEFT_OUTPUTS_MAX = 3 };

struct weft_outputs {
	struct weft_sink *traces[WEFT_OUTPUTS_MAX], *metrics[WEFT_OUTPUTS_MAX];
	size_t n_traces, n_metrics;
	struct weft_sink *file, *console, *otlp;
	bool otlp_failed;
	char file_path[576]; /* where the file output writes, for the report */
};

/* Opens the configured outputs (weft_cfg) into `o`, which starts zeroed. */
void weft_outputs_open(struct weft_outputs *o);

/* Flushes and releases every sink once, shared ones included. */
void weft_outputs_shutdown(struct weft_outputs *o);

#endif
