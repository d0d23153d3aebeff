/*
 * The span queue between assembly and export (the batch span processor).
 *
 * Bounded by OTEL_BSP_MAX_QUEUE_SIZE: a span that finds the queue full is
 * dropped and counted. Exported in batches of OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
 * every OTEL_BSP_SCHEDULE_DELAY or as soon as a full batch is waiting. Each
 * queued span owns its strings in fixed buffers, so the queue never holds a
 * pointer into memory that could go away before export.
 */
#ifndef WEFT_EXPORTER_SPANS_H
#define WEFT_EXPORTER_SPANS_H

#include <stdbool.h>
#include <stddef.h>

#include "exporter/model.h"
#include "exporter/sink.h"

#define WEFT_QSPAN_ATTRS 16
#define WEFT_QSPAN_LINKS 8

struct weft_qspan {
	struct weft_span s;
	struct weft_attr attrs[WEFT_QSPAN_ATTRS];
	struct weft_span_link links[WEFT_QSPAN_LINKS];
	struct weft_attr link_attrs[WEFT_QSPAN_LINKS];
	char name[128];
	char thread_name[24];
	char object[24];
	char addr[2][64]; /* a connection's peer and server addresses */
};

void weft_spans_init(size_t max_queue, size_t max_batch);

/*
 * Whether the process's trace is sampled (exporter/sampler.c decides; the
 * default is yes). When it is not, weft_spans_reserve hands out a scratch slot
 * that is never queued: the span is assembled and forgotten, not counted as
 * dropped. weft_spans_export also skips any queued span whose sampled flag is
 * clear.
 */
void weft_spans_set_sampled(bool sampled);

/*
 * A slot for one span (its span zeroed, its texts empty, its arrays
 * unwritten: an attribute or link is written as it is counted), or NULL
 * when the queue is full (the caller counts the drop). `reserved` uses the
 * one slot kept for the process span.
 */
struct weft_qspan *weft_spans_reserve(bool reserved);

/* Adds an attribute to a queued span (silently counted as dropped past the limit). */
void weft_qspan_attr_str(struct weft_qspan *q, const char *key, const char *value);
void weft_qspan_attr_int(struct weft_qspan *q, const char *key, int64_t value);
void weft_qspan_attr_bool(struct weft_qspan *q, const char *key, bool value);
void weft_qspan_attr_double(struct weft_qspan *q, const char *key, double value);

/*
 * Adds a span link with one attribute, weft.link.kind = `kind` (a string that
 * outlives the span: a literal). Past WEFT_QSPAN_LINKS or
 * OTEL_SPAN_LINK_COUNT_LIMIT it is counted as dropped.
 */
void weft_qspan_link(struct weft_qspan *q, const struct weft_trace_id *trace, uint64_t span,
		     const char *kind);

size_t weft_spans_queued(void);
size_t weft_spans_batch_size(void);

/*
 * Hands every queued span to the sinks, in batches; empties the queue.
 * Returns the number of spans at least one sink accepted; *failed_batches and
 * *failed_spans count what no sink accepted.
 */
size_t weft_spans_export(struct weft_sink *const *sinks, size_t n_sinks,
			 const struct weft_resource *res, size_t *failed_batches,
			 size_t *failed_spans);

/*
 * How many times the queue has been emptied: a queued span's pointer stays
 * valid (and its span unsent) while this has not moved.
 */
uint64_t weft_spans_exports(void);

/* A forked child: forget the parent's queued spans. */
void weft_spans_reset(void);

#endif
