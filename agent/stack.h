/*
 * Stacks of recorded waits (WEFT_STACKS).
 *
 * A wait that blocked for at least WEFT_SPAN_MIN_WAIT (so that it becomes a
 * `wait` span) keeps the calling thread's stack, captured as the wait ends,
 * still inside the hook: the stack the wait began with. A lock or join wait
 * captures it as it begins instead, since it may never end: a deadlock's
 * report shows it (exporter/deadlocks.h). Captured with
 * libgcc's unwinder (agent/unwind.h), at most one per thread per
 * WEFT_STACK_INTERVAL_NS on average, up to WEFT_STACK_BURST at once, from
 * each of two budgets, one for the waits' ends and one for their starts (a
 * thread that blocks constantly pays for two unwinds a millisecond, not one
 * per wait; one that blocks a few times in a row keeps every stack), and
 * identified by a hash of its
 * program counters. The first time a thread uses a stack it records the
 * program counters as STACK events, five to a record, ahead of the wait that
 * refers to the stack by id; later waits with the same stack carry the id
 * alone (each thread remembers the last few ids it sent). Names come later,
 * on the exporter thread (exporter/stacks.c).
 */
#ifndef WEFT_AGENT_STACK_H
#define WEFT_AGENT_STACK_H

#include <stdint.h>

#include "agent/registry.h"

#define WEFT_STACK_INTERVAL_NS 1000000u
#define WEFT_STACK_BURST       8u

/*
 * The calling hook's caller's stack, recorded if new to this thread; its id,
 * or 0 when none is kept (off, rate-limited, nothing unwound); it reads
 * the clock for its budget. `next_ns`:
 * the thread's budget it counts against, the time before which it captures
 * none — stack_next_ns for a wait that lasted, stack_begin_next_ns for one
 * that may never end (a lock or join wait, captured as it begins).
 */
uint32_t weft_stack_capture(struct weft_thread *t, uint64_t *next_ns);

/*
 * The stack of a lock or join wait at its start, from call site `pc`: the
 * one this thread captured last time it waited there (its last
 * WEFT_STACK_SITES sites), else a capture from the start budget. A
 * contended lock is mostly waited for from a few sites: they are unwound
 * once, not every millisecond (the deeper frames of a later wait from the
 * same site may differ: the first one's stand for them).
 */
static inline uint32_t weft_stack_at_site(struct weft_thread *t, uintptr_t pc)
{
	uint32_t id;

	for (int i = 0; i < WEFT_STACK_SITES; i++)
		if (t->stack_site_pc[i] == pc && t->stack_site_id[i])
			return t->stack_site_id[i];
	id = weft_stack_capture(t, &t->stack_begin_next_ns);
	if (id) {
		t->stack_site_pc[t->stack_site_next % WEFT_STACK_SITES] = pc;
		t->stack_site_id[t->stack_site_next++ % WEFT_STACK_SITES] = id;
	}
	return id;
}

#endif
