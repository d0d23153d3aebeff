/*
 * An output: where a batch of spans or one collection of metrics goes.
 *
 * Every output (file, console, otlp, none) implements this interface and is
 * called only from the exporter thread. An export returns 0 when the batch was
 * delivered, or a negative errno when it was not (the caller drops the batch
 * and counts it); it never blocks longer than its configured timeout.
 */
#ifndef WEFT_EXPORTER_SINK_H
#define WEFT_EXPORTER_SINK_H

#include "exporter/model.h"

struct weft_sink {
	const char *name;
	int (*export_spans)(struct weft_sink *sink, const struct weft_resource *res,
			    const struct weft_span *spans, size_t n);
	int (*export_metrics)(struct weft_sink *sink, const struct weft_resource *res,
			      const struct weft_metric *metrics, size_t n);
	/* Flush and release; the sink is not used again. May be NULL. */
	void (*shutdown)(struct weft_sink *sink);
	void *priv;
};

/*
 * Constructors. Each returns NULL (after one `weft:` warning line) when the
 * output cannot be set up; the caller then falls back as the contract says.
 */
struct weft_sink *weft_jsonl_open(const char *path);
struct weft_sink *weft_console_open(int fd); /* fd, or WEFT_CONSOLE_STDERR */
#define WEFT_CONSOLE_STDERR (-1)             /* weft's copy of the program's stderr */
struct weft_sink *weft_none_open(void);

#endif
