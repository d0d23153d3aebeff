/* Jumps out of weft's frames (agent/jump.h). */
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/clock.h"
#include "agent/jump.h"
#include "agent/sighold.h"

/* Below a thread's top, how far its own stack reaches (as weft_frame_left). */
#define STACK_REACH ((uintptr_t)64 << 20)

/* Where the calling thread is: its stack pointer, and its alternate signal stack. */
struct here {
	uintptr_t sp, top;
	uintptr_t alt_lo, alt_hi; /* [lo, hi): the alternate stack; empty when none */
};

static void here_init(struct here *h, uintptr_t top)
{
	stack_t ss;

	h->sp = weft_stack_pointer();
	h->top = top;
	h->alt_lo = h->alt_hi = 0;
	if (syscall(SYS_sigaltstack, NULL, &ss) == 0 && !(ss.ss_flags & SS_DISABLE)) {
		h->alt_lo = (uintptr_t)ss.ss_sp;
		h->alt_hi = h->alt_lo + ss.ss_size;
	}
}

static bool on_alt(const struct here *h, uintptr_t p)
{
	return p >= h->alt_lo && p < h->alt_hi;
}

/* Whether `a` and `b` are on one stack: both on the alternate one, or both on the thread's. */
static bool same_stack(const struct here *h, uintptr_t a, uintptr_t b)
{
	if (on_alt(h, a) || on_alt(h, b))
		return on_alt(h, a) && on_alt(h, b);
	return !h->top || (a <= h->top && b <= h->top && h->top - a <= STACK_REACH &&
			   h->top - b <= STACK_REACH);
}

/*
 * What a jump to `to` does to weft's frame at `sp` (0: none): nothing (it
 * lands below that frame, on another stack, or the frame is unknown), or
 * leaves it. A frame the thread is not running on top of any more — the
 * stack pointer here is at or above it, on its stack — was left already, by
 * a jump weft did not see: `gone`.
 */
enum fate { KEPT, LEFT, GONE };

static enum fate fate_of(const struct here *h, uintptr_t sp, uintptr_t to)
{
	if (!sp || !same_stack(h, sp, to) || to <= sp)
		return KEPT;
	if (same_stack(h, sp, h->sp) && h->sp >= sp)
		return GONE;
	return LEFT;
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
	atomic_signal_fence(memory_order_seq_cst);
	t->wait_sp = 0;
	t->last_wait_t0 = ev.h.t0;
	t->last_wait_kind = kind;
	weft_record(t, &ev);
}

void weft_jump_landing(uintptr_t to)
{
	struct weft_thread *t = weft_self;
	struct weft_held held;
	struct here h;
	enum fate ring = KEPT, wait = KEPT, guard = KEPT;
	int saved, kind = 0;

	if (!to)
		return;
	if (t && t->dead)
		t = NULL;
	saved = errno;
	/* No other handler in between: it would find the state half put back. */
	weft_hold(&held);
	here_init(&h, t ? t->ring.top : 0);
	/*
	 * Lowered only where the frame that raised it is known to be left: a
	 * thread whose stack is unknown (not registered, or ended) keeps it —
	 * unobserved from then on is the lesser harm than weft's code running
	 * unguarded under a frame of its own.
	 */
	if (weft_tls.guard && (h.top || on_alt(&h, weft_tls.guard_sp)))
		guard = fate_of(&h, weft_tls.guard_sp, to);
	if (t && weft_load_relaxed(&t->ring.nest))
		ring = fate_of(&h, t->ring.sp, to);
	if (t)
		kind = weft_load_relaxed(&t->wait_kind);
	if (kind > 0)
		wait = fate_of(&h, t->wait_sp, to);
	if (guard != KEPT) {
		weft_tls.guard_sp = 0;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		weft_guard_depth = 0;
	}
	if (ring != KEPT)
		weft_ring_abandon(&t->ring);
	if (wait == LEFT) {
		wait_left(t, kind);
	} else if (wait == GONE) {
		/* Its end is unknown: off view, unrecorded, as weft_wait_begin would find it. */
		weft_store_release(&t->wait_kind, 0);
		atomic_signal_fence(memory_order_seq_cst);
		t->wait_sp = 0;
	}
	weft_release(&held);
	errno = saved;
}
