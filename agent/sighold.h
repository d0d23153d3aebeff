/*
 * Signals held off while weft works inside a call of the program's.
 */
#ifndef WEFT_AGENT_SIGHOLD_H
#define WEFT_AGENT_SIGHOLD_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/guard.h"

/*
 * Signals held off on this thread around weft's work inside a call the
 * program may leave from a signal handler with siglongjmp (or end its thread
 * there): an async-signal-safe call (dup2 onto weft's number or onto 2,
 * mkfifo, sigaction, or any hook whose record needs the private allocator).
 * Left half-way, that work would leave a lock held — weft's own, or the
 * allocator's, which the exporter needs at its next turn — or a count
 * (the fork gate's) raised, and the next call or the exit would wait for
 * ever. Held off, the signal arrives a few system calls later, when the
 * call returns, as the kernel delivers it anyway. All are held but glibc's
 * own two and the synchronous faults (agent/sighold.c says why).
 *
 * weft_signals_hold returns whether it blocked them (then *old is the mask
 * to put back with weft_signals_restore); false on a thread where weft holds
 * them already (its own threads, or a hold further out): nothing to put
 * back. Made as the system call itself: the program's sigprocmask may be
 * interposed, and glibc's leaves its internal signals (cancellation, setxid)
 * open.
 */
bool weft_signals_hold(uint64_t *old);
void weft_signals_restore(uint64_t old);

/*
 * For weft's own threads, which start with every signal blocked but glibc's
 * own two: nothing to hold.
 */
void weft_signals_hold_for_good(void);

/* A hold as one value: weft_hold, then weft_release with it. */
struct weft_held {
	uint64_t mask;
	bool held;
};

static inline void weft_hold(struct weft_held *h)
{
	h->held = weft_signals_hold(&h->mask);
}

static inline void weft_release(const struct weft_held *h)
{
	if (h->held)
		weft_signals_restore(h->mask);
}

/*
 * The guard (agent/guard.h) with signals held off, for weft's work inside
 * such a call on a program's thread: a jump out of it would also leave the
 * guard raised, and the thread unobserved for good.
 */
static inline void weft_guard_enter_held(struct weft_held *h)
{
	weft_hold(h);
	weft_guard_enter();
}

static inline void weft_guard_leave_held(const struct weft_held *h)
{
	weft_guard_leave();
	weft_release(h);
}

/*
 * Whether the weft code whose stack pointer was `sp` — still under way by
 * weft's count (a push's nest, a wait's kind) when the thread comes back to
 * weft at stack pointer `here` — was left by a jump rather than interrupted:
 * a signal handler runs below the frame it interrupted (`here` < `sp`),
 * while a jump lands in a caller, at or above it, and the program's next
 * call from there comes back at or above it too. A handler on an alternate
 * signal stack can be anywhere: both must be on the thread's own stack
 * (below `top`, its top as weft saw it at the thread's start, within 64 MiB;
 * `top` 0: unknown), and the kernel is asked whether this is an alternate
 * stack (one system call, on this rare path); either way the answer is then
 * "interrupted". Taken for an interruption too: a jump followed by a call
 * from deeper down than the left frame (the left frame is found at a later,
 * shallower call), and an alternate stack inside the thread's own stack
 * region, above the interrupted frame, set with SS_AUTODISARM (the kernel
 * then reports it as disabled, not as in use).
 */
bool weft_frame_left(uintptr_t sp, uintptr_t here, uintptr_t top);

#endif
