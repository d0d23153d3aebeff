/*
 * The thread interpreter's answers to other interpreters.
 */
#ifndef WEFT_EXPORTER_THREADS_H
#define WEFT_EXPORTER_THREADS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/ids.h"
#include "agent/registry.h"

/* Who held a pthread_t: enough to link to its span after it is gone. */
struct weft_thread_ref {
	pid_t tid;
	struct weft_trace_id trace;
	uint64_t span;
};

/*
 * The thread a join of `th` that returned at `when` waited for: the one that
 * held that pthread_t then (glibc reuses them as soon as a thread is joined).
 */
bool weft_threads_join_target(pthread_t th, uint64_t when, struct weft_thread_ref *out);

/* The live thread with kernel id `tid`, or NULL. */
struct weft_thread *weft_threads_by_tid(pid_t tid);

/*
 * The trace of span `span` — a thread's span, or one a thread made current —
 * from a bounded cache of recent spans; the process's trace when unknown.
 */
void weft_threads_trace_of(uint64_t span, struct weft_trace_id *out);

#endif
