/*
 * The outputs chosen by configuration, opened once per process.
 *
 * OTEL_TRACES_EXPORTER and OTEL_METRICS_EXPORTER each name a set of outputs;
 * one sink object serves both signals where both name it (one file, one OTLP
 * client). Opening follows the contract's fallbacks: an OTLP output that
 * cannot be set up falls back to the file, an unwritable file path to a
 * file in a private directory (weft_outputs_private_dir), each with one
 * `weft:` line. The file itself is created at its first line (outfile.h).
 */
#ifndef WEFT_EXPORTER_OUTPUTS_H
#define WEFT_EXPORTER_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exporter/sink.h"

enum { WEFT_OUTPUTS_MAX = 3 };

struct weft_outfile;

struct weft_outputs {
	struct weft_sink *traces[WEFT_OUTPUTS_MAX], *metrics[WEFT_OUTPUTS_MAX];
	size_t n_traces, n_metrics;
	struct weft_sink *file, *console, *otlp;
	struct weft_outfile *outfile; /* the file output's file, until shutdown */
	bool otlp_failed;
	char file_path[576]; /* where the file output is to write, for the report */
};

/* Opens the configured outputs (weft_cfg) into `o`, which starts zeroed. */
void weft_outputs_open(struct weft_outputs *o);

/* Flushes and releases every sink once, shared ones included. */
void weft_outputs_shutdown(struct weft_outputs *o);

/*
 * Spans that the file output's rotation (WEFT_OUTPUT_MAX_SIZE) deleted so far:
 * the exporter counts them in weft.agent.events.dropped{weft.drop.reason=rotated}.
 * Read before weft_outputs_shutdown.
 */
uint64_t weft_outputs_rotated_spans(const struct weft_outputs *o);

/* Where the file output writes now (its fallback once it is in use). */
const char *weft_outputs_file_path(const struct weft_outputs *o);

/*
 * weft_config_expand_path for a file name: when `%n` makes it longer than a
 * name may be (255 bytes), the service name is shortened, never the pid.
 */
void weft_outputs_expand_name(const char *pattern, const char *service, int pid, char *out,
			      size_t outlen);

/*
 * A directory only this user can write, for fallback files: $XDG_RUNTIME_DIR,
 * else $TMPDIR (or /tmp)/weft-<uid>, created 0700, and checked to be a
 * directory of this user that nobody else can write. 0 or -errno; out holds
 * the directory tried.
 */
int weft_outputs_private_dir(char *out, size_t len);

#endif
