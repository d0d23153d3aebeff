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

/* The thread's pool's name (weft.pool.name). */
const char *weft_tasks_pool_name(const struct weft_thread *t);

#endif
