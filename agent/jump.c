/* Jumps out of weft's frames (agent/jump.h). */
#include <errno.h>

#include "agent/agent.h"
#include "agent/clock.h"
#include "agent/jump.h"
#include "agent/sighold.h"

/* Below a thread's top, how far its own stack reaches (as weft_frame_left). */
#define STACK_REACH ((uintptr_t)64 << 20)

/* Whether the jump to `to` leaves the frame at `sp`: both on the thread's stack, `sp` below. */
static bool leaves(uintptr_t to, uintptr_t sp, uintptr_t top)
{
	if (!sp || to <= sp)
		return false;
	return !top || (to <= top && top - sp <= STACK_REACH);
}

/* The wait on view was left: recorded as ended now, interrupted, and taken off view. */
static void wait_left(struct weft_thread *t, int kind)
{
	struct weft_event ev = { .h = { .type = WEFT_EV_WAIT,
					.kind = (uint8_t)kind,
					.flags = WEFT_EVF_ERRNO,
					.result = -EINTR } };
	struct weft_stamp_base b = weft_stamp_base();

	ev.h.t0 = weft_stamp_at(&b, weft_load_relaxed(&t->wait_since));
	ev.u.wait.t1 = b.ns;
	ev.u.wait.object = weft_load_relaxed(&t->wait_object);
	ev.u.wait.pc = weft_load_relaxed(&t->wait_pc);
	ev.u.wait.stack = weft_load_relaxed(&t->wait_stack);
	ev.u.wait.holder_tid = weft_load_relaxed(&t->wait_holder);
	weft_store_release(&t->wait_kind, 0);
	t->wait_sp = 0;
	t->last_wait_t0 = ev.h.t0;
	t->last_wait_kind = kind;
	weft_record(t, &ev);
}

void weft_jump_landing(uintptr_t to)
{
	struct weft_thread *t = weft_self;
	struct weft_held h;
	bool ring, wait;
	int saved, kind;

	if (!t || t->dead || !to)
		return;
	ring = weft_load_relaxed(&t->ring.nest) != 0 && leaves(to, t->ring.sp, t->ring.top);
	kind = weft_load_relaxed(&t->wait_kind);
	wait = kind > 0 && leaves(to, t->wait_sp, t->ring.top);
	if (__builtin_expect(!ring && !wait, 1))
		return;
	saved = errno;
	/* No other handler in between: it would find the state half put back. */
	weft_hold(&h);
	if (ring)
		weft_ring_abandon(&t->ring);
	if (wait)
		wait_left(t, kind);
	weft_release(&h);
	errno = saved;
}
