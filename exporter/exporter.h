/*
 * The exporter thread: the agent's only consumer of events.
 *
 * It wakes every OTEL_BSP_SCHEDULE_DELAY (or early, when a ring is half full,
 * many threads have exited, or at shutdown), drains every ring through the
 * interpreters (exporter/interp.h), and hands spans and metrics to the
 * outputs. It is single-threaded by construction: nothing in exporter/ takes
 * a lock. It implements the agent's consumer interface (agent/consumer.h);
 * this header is what the interpreters use of it.
 */
#ifndef WEFT_EXPORTER_EXPORTER_H
#define WEFT_EXPORTER_EXPORTER_H

#include <stdint.h>

#include "agent/registry.h"
#include "exporter/report.h"
#include "exporter/spans.h"

/* weft.drop.reason values of weft.agent.events.dropped. */
enum weft_drop_reason {
	WEFT_DROP_RING_FULL,
	WEFT_DROP_QUEUE_FULL,
	WEFT_DROP_EXPORT_FAILED,
	WEFT_DROP_ROTATED, /* written, then deleted with the oldest backup file */
	WEFT_DROP_REASON_COUNT,
};

/*
 * Instruments, interpreters and outputs, from weft_cfg; once per process.
 * The loop runs it first; unit tests run it with outputs set to none.
 */
void weft_exporter_setup(void);

/* One cycle: every ring drained through the interpreters (the loop's step). */
void weft_exporter_cycle(void);

/* Counts telemetry recorded but not delivered. */
void weft_exporter_drop(enum weft_drop_reason reason, int64_t n);

/* The end-of-run report, which interpreters feed. */
struct weft_report *weft_exporter_report(void);

/* Every thread taken from the registry and not yet freed (newest first). */
struct weft_thread *weft_exporter_threads(void);

/*
 * A queued span with its ids, name and times set, or NULL (counted as a
 * queue_full drop). `span` 0 draws a new id.
 */
struct weft_qspan *weft_exporter_span(const struct weft_trace_id *trace, uint64_t span,
				      uint64_t parent, uint64_t start_ns, uint64_t end_ns,
				      const char *name_prefix, const char *name);

#endif
