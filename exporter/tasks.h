/*
 * Tasks and pools (exporter/tasks.c): the threads and waits interpreters
 * tell it where tasks start and end.
 */
#ifndef WEFT_EXPORTER_TASKS_H
#define WEFT_EXPORTER_TASKS_H

#include <stdint.h>

#include "agent/event.h"
#include "agent/registry.h"

/* A CTX event: the open task ends; one with WEFT_EVF_TASK starts. */
void weft_tasks_ctx(struct weft_thread *t, const struct weft_event *ev);

/*
 * A receive from a work source began at `t0` (a WAIT with WEFT_EVF_TASK_END):
 * the open task ends there, and the thread's own span is current again.
 */
void weft_tasks_receive(struct weft_thread *t, uint64_t t0);

/*
 * Producers of the thread's open task found after its start (LINK events):
 * those of the wait that started it (`wait_t0`), or with wait_t0 0 the
 * task's own; `kind` their weft.link.kind. Others are ignored.
 */
void weft_tasks_link(struct weft_thread *t, uint64_t wait_t0, const char *kind,
		     const uint64_t *spans, int n);

/*
 * When the work of the thread's open task was handed over, found after its
 * start (a readiness wait's task, from the read that followed): its queue
 * time, if it has none. `wait_t0` as for weft_tasks_link.
 */
void weft_tasks_handoff(struct weft_thread *t, uint64_t wait_t0, uint64_t handoff_ns);

/* A thread started (weft.thread.created, counted by pool at each collection). */
void weft_tasks_thread_created(const struct weft_thread *t);

/* The thread's pool's name (weft.pool.name). */
const char *weft_tasks_pool_name(const struct weft_thread *t);

/*
 * A thread was named: its pool sees the name, so that the shared prefix is
 * decided on every name its threads get, not on those looked at by chance.
 */
void weft_tasks_thread_named(const struct weft_thread *t);

/*
 * weft.link.kind of the producers a receive of `kind` found: `cond.signal`,
 * `sem.post`, or for a channel read the channel's (`channel`: its slot id).
 */
const char *weft_tasks_link_kind(enum weft_wait_kind kind, uint32_t channel);

#endif
