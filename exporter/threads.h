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

#endif
