/*
 * Head sampling of traces: OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG.
 *
 * weft's spans all belong to the trace of the `process` span (the trace of
 * TRACEPARENT when one was given, or of the forking process in a forked
 * child), so the decision is taken once per process, on the exporter thread,
 * before any span is queued, and recorded as the sampled bit of
 * weft_process.flags. Every span copies that bit; spans.c does not queue
 * spans whose trace is not sampled (they are not counted as dropped: sampling
 * is not a loss). Metrics are never sampled.
 */
#ifndef WEFT_EXPORTER_SAMPLER_H
#define WEFT_EXPORTER_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/config.h"
#include "exporter/model.h"

/* W3C trace-flags bit 0. */
#define WEFT_TRACE_FLAG_SAMPLED 0x01u

/*
 * The specification's samplers, for a span of trace `trace` whose parent is
 * remote or in another process (has_parent) with W3C flags parent_flags:
 *   always_on, always_off;
 *   traceidratio: sampled when the trace id's lower 8 bytes, read big-endian
 *     and shifted right by one, are below ratio * 2^63 (the rule of the Go and
 *     Java SDKs, so that a collector or another SDK sampling the same trace
 *     with the same ratio decides the same way, and a lower ratio samples a
 *     subset of what a higher one samples);
 *   parentbased_*: the parent's sampled flag when there is a parent, else the
 *     root sampler named after the prefix.
 */
bool weft_sampler_decide(enum weft_sampler sampler, double ratio, const struct weft_trace_id *trace,
			 bool has_parent, uint8_t parent_flags);

/*
 * Decides for this process's trace from weft_cfg and weft_process and stores
 * the decision in bit 0 of weft_process.flags. Called once by the exporter's
 * setup (again in a forked child, where the parent's decision is the parent
 * flag, so parent and child agree).
 */
void weft_sampler_setup(void);

/* Whether spans of this process's trace are sampled (after weft_sampler_setup). */
bool weft_sampler_process_sampled(void);

#endif
