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
 * thread that blocks constantly from new places pays for two unwinds a
 * millisecond, not one per wait; one that blocks a few times in a row keeps
 * every stack), except that a wait from a place the thread waited at lately
 * takes that place's stack without an unwind (weft_stack_at_site), and
 * identified by a hash of its
 * program counters. The first time a thread uses a stack it records the
 * program counters as STACK events, five to a record, ahead of the wait that
 * refers to the stack by id; later waits with the same stack carry the id
 * alone (each thread remembers the last few ids it sent). Names come later,
 * on the exporter thread (exporter/stacks.c).
 */
#ifndef WEFT_AGENT_STACK_H
#define WEFT_AGENT_STACK_H

#include <stdatomic.h>
#include <stdint.h>

#include "agent/registry.h"

#define WEFT_STACK_INTERVAL_NS 1000000u
#define WEFT_STACK_BURST       8u

/*
 * The calling hook's caller's stack, from the frame that returns to `pc` (the
 * hook's caller) outwards, recorded if new to this thread; its id,
 * or 0 when none is kept (off, rate-limited, nothing unwound); it reads
 * the clock for its budget. `next_ns`:
 * the thread's budget it counts against, the time before which it captures
 * none — stack_next_ns for a wait that lasted, stack_begin_next_ns for one
 * that may never end (a lock or join wait, captured as it begins).
 */
uint32_t weft_stack_capture(struct weft_thread *t, uintptr_t pc, uint64_t *next_ns);

/*
 * Uses of a site's stack between two unwinds of it (weft_stack_at_site),
 * counted in a byte that wraps: a divisor of 256.
 */
#define WEFT_STACK_SITE_REFRESH 256u
_Static_assert(WEFT_STACK_SITE_REFRESH > 0 && 256 % WEFT_STACK_SITE_REFRESH == 0,
	       "a byte's count wraps at a multiple of the period");

/*
 * The stack of a wait whose hook was called from `pc` with its stack pointer
 * at `sp`, charged to the budget `next_ns` when it must be unwound. A thread
 * that waits again and again from one place (an event loop's epoll_wait, a
 * maintenance thread's sleep, a worker's lock) comes to the same call site at
 * the same depth of its stack each time, through the same frames: the stack
 * its last WEFT_STACK_SITES sites had is used again without an unwind (two
 * system calls and the unwinder's walk, about 5% of memcached's CPU time when
 * each of its waiting threads paid one a millisecond), so every wait from the
 * site keeps it, whatever the budget. Another path that reaches the same
 * site at the same depth would show the first path's deeper frames: each
 * site is unwound again every WEFT_STACK_SITE_REFRESH uses (the budget
 * allowing; refused, the count goes on and the stack stays), and its stack
 * replaced by what that finds.
 *
 * A signal handler's wait may use the table while an unwind here is under
 * way: an entry is written with its id last (0 meanwhile: no entry), and a
 * refreshed id is stored only if the slot still holds this site.
 */
static inline uint32_t weft_stack_at_site(struct weft_thread *t, uintptr_t pc, uintptr_t sp,
					  uint64_t *next_ns)
{
	uint32_t id;
	unsigned i;

	for (i = 0; i < WEFT_STACK_SITES; i++) {
		if (t->stack_site_pc[i] != pc || t->stack_site_sp[i] != sp || !t->stack_site_id[i])
			continue;
		if (__builtin_expect(++t->stack_site_uses[i] % WEFT_STACK_SITE_REFRESH != 0, 1))
			return t->stack_site_id[i];
		id = weft_stack_capture(t, pc, next_ns);
		if (!id)
			return t->stack_site_id[i];
		atomic_signal_fence(memory_order_seq_cst);
		if (t->stack_site_pc[i] == pc && t->stack_site_sp[i] == sp)
			t->stack_site_id[i] = id;
		return id;
	}
	id = weft_stack_capture(t, pc, next_ns);
	if (id) {
		i = t->stack_site_next++ % WEFT_STACK_SITES;
		t->stack_site_id[i] = 0;
		atomic_signal_fence(memory_order_seq_cst);
		t->stack_site_pc[i] = pc;
		t->stack_site_sp[i] = sp;
		t->stack_site_uses[i] = 0;
		atomic_signal_fence(memory_order_seq_cst);
		t->stack_site_id[i] = id;
	}
	return id;
}

#endif
