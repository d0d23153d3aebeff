/*
 * The slow path of every blocking hook, written once.
 *
 * A hook that is about to block (its non-blocking attempt failed, or the call
 * cannot be tried without blocking) brackets the real call:
 *
 *	struct weft_wait w;
 *
 *	weft_wait_begin(&w, self, WEFT_WAIT_JOIN, (void *)th, WEFT_CALLER);
 *	rc = real(th, ret);
 *	weft_wait_end(&w, rc);
 *
 * begin publishes what the thread is blocked on (the weft.thread.waiting
 * gauge reads it) and stamps the start; end takes the end time, clears
 * the waiting state (restoring an interrupted wait's, for a wait inside a
 * signal handler), records one WAIT event and leaves errno as the real call
 * left it. Neither changes errno, neither allocates (but for a thread's very
 * first event, which allocates its ring with the guard set), and neither
 * blocks. The guard is not held while recording, so that a signal handler's
 * own hooks still record (the ring is reentrant). Between begin and end a
 * hook may add facts to the event: a holder, producer links. With
 * WEFT_STACKS, end keeps the caller's stack too when the wait lasted long
 * enough to become a span (agent/stack.h).
 */
#ifndef WEFT_AGENT_WAIT_H
#define WEFT_AGENT_WAIT_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/agent.h"
#include "agent/clock.h"
#include "agent/stack.h"

/*
 * Kinds whose wait points at the thread it waits for (a lock's owner, a
 * joined thread), so that blocked threads can wait for each other in a
 * cycle (exporter/deadlocks.c).
 */
static inline bool weft_wait_kind_can_deadlock(enum weft_wait_kind kind)
{
	return kind == WEFT_WAIT_MUTEX || kind == WEFT_WAIT_RWLOCK_READ ||
	       kind == WEFT_WAIT_RWLOCK_WRITE || kind == WEFT_WAIT_JOIN;
}

/* The caller of the hook: where the program blocked. */
#define WEFT_CALLER __builtin_return_address(0)

struct weft_wait {
	struct weft_thread *t;
	int prev_kind;
	/* An interrupted wait's (one in a signal handler's hook): put back at the end. */
	struct {
		uint64_t object, since, pc;
		uintptr_t sp;
		uint32_t stack;
		int32_t holder;
	} prev;
	/*
	 * When the first link's producer handed it over (0: unknown). Set
	 * before the end, it is a stamp, which the end converts with the
	 * wait's own times.
	 */
	uint64_t handoff_ns;
	uintptr_t sp; /* weft_wait_begin's stack pointer, just below the hook's: with the call site,
			 the wait's place */
	struct weft_event ev;
};

/* An interrupted wait's state on view, kept to be put back (weft_wait_restore_prev). */
static inline void weft_wait_save_prev(struct weft_wait *w)
{
	struct weft_thread *t = w->t;

	w->prev.object = weft_load_relaxed(&t->wait_object);
	w->prev.since = weft_load_relaxed(&t->wait_since);
	w->prev.pc = weft_load_relaxed(&t->wait_pc);
	w->prev.stack = weft_load_relaxed(&t->wait_stack);
	w->prev.holder = weft_load_relaxed(&t->wait_holder);
}

/*
 * The wait is over: the thread is on view as before it (not blocked, or
 * back in the wait a signal handler interrupted, whose fields come back
 * before its kind).
 */
static inline void weft_wait_restore_prev(struct weft_wait *w)
{
	struct weft_thread *t = w->t;

	/*
	 * The kind first: a jump out of a handler in between (agent/jump.h)
	 * finds no wait, or this one with its own stack pointer, never this
	 * kind with the outer wait's pointer.
	 */
	weft_store_release(&t->wait_kind, 0);
	atomic_signal_fence(memory_order_seq_cst);
	t->wait_sp = w->prev.sp;
	if (__builtin_expect(w->prev_kind == 0, 1))
		return;
	weft_store_release(&t->wait_object, w->prev.object);
	weft_store_release(&t->wait_since, w->prev.since);
	weft_store_release(&t->wait_pc, w->prev.pc);
	weft_store_release(&t->wait_stack, w->prev.stack);
	weft_store_release(&t->wait_holder, w->prev.holder);
	weft_store_release(&t->wait_kind, w->prev_kind);
}

/*
 * The monotonic time the wait began (its start is a stamp until the wait
 * ends): for a hook that compares it with a deadline.
 */
static inline uint64_t weft_wait_start_ns(const struct weft_wait *w)
{
	return weft_stamp_clock(w->ev.h.t0, weft_clock_now());
}

void weft_wait_begin(struct weft_wait *w, struct weft_thread *t, enum weft_wait_kind kind,
		     const void *object, const void *pc);

/* The lock's owner when the wait began (a kernel thread id), on view and in the event. */
static inline void weft_wait_holder(struct weft_wait *w, int32_t tid)
{
	w->ev.u.wait.holder_tid = tid;
	weft_store_relaxed(&w->t->wait_holder, tid);
}

/* A producer's span handed to this wait (a signal, a post): a span link. */
static inline void weft_wait_link(struct weft_wait *w, uint64_t span)
{
	for (int i = 0; i < WEFT_EVENT_LINKS; i++) {
		if (!w->ev.u.wait.links[i]) {
			w->ev.u.wait.links[i] = span;
			return;
		}
	}
}

/*
 * Both ends: the end time, the waiting state given back (an interrupted
 * wait's, for one inside a signal handler), the stack of a wait that will be
 * a span, the record; errno as it was. The hook has not returned, so the
 * stack is the one the wait began with; a shorter wait (most of them: a
 * pipe ping-pong blocks for microseconds) is no span, and unwinding for it
 * would be wasted.
 *
 * Both times are stamps (agent/clock.h) until here, converted now against
 * the thread's clock base (weft_stamp_base_cached), whose time is the
 * wait's end: one TSC read, no fenced clock read (but for a base older than
 * WEFT_STAMP_SHORT ticks, a few milliseconds), so a wait that ends inside a
 * critical section (a contended lock's, a condition variable's
 * reacquisition) converts there too; its record alone is held back for the
 * unlock (weft_wait_hold).
 */
void weft_wait_close(struct weft_wait *w);

/* The wait's end (weft_wait_close) and its record, errno as the call left it. */
static inline void weft_wait_finish(struct weft_wait *w, int saved_errno)
{
	weft_wait_close(w);
	weft_record(w->t, &w->ev);
	*weft_errno() = saved_errno;
}

/*
 * The call did not block after all (a non-blocking descriptor answered
 * EAGAIN): the waiting state is given back and nothing is recorded.
 */
static inline void weft_wait_cancel(struct weft_wait *w)
{
	weft_wait_restore_prev(w);
}

/*
 * A call weft cannot ask beforehand whether it will block (a socket's
 * transfer: the other end is in another process, and asking the kernel
 * would be a system call on every transfer) is timed instead: it counts as
 * a wait when it took at least WEFT_WAIT_SLEPT_NS, longer than a transfer
 * that finds its data or room takes, shorter than going to sleep and being
 * woken. Otherwise the wait is given back. errno is kept.
 */
#define WEFT_WAIT_SLEPT_NS 20000u

static inline bool weft_wait_slept(struct weft_wait *w)
{
	uint64_t now = weft_stamp();

	if (now > w->ev.h.t0 && weft_stamp_span(now - w->ev.h.t0) >= WEFT_WAIT_SLEPT_NS)
		return true;
	weft_wait_cancel(w);
	return false;
}

/*
 * The wait returns holding `lock` (a contended acquisition of it, a
 * condition variable's wait that reacquired it): its records are held back
 * until the lock's unlock (weft_defer_begin, agent/agent.h), when the
 * thread's unlock watch allows. Called before the end; the hook calls
 * weft_defer_end after what it records with the wait.
 */
static inline void weft_wait_hold(struct weft_wait *w, const void *lock)
{
	weft_defer_begin(w->t, lock);
}

/*
 * weft_wait_end for a lock wait whose record may be held back for the unlock
 * (weft_wait_hold, when it acquired the lock): then only the end's stamp is
 * taken here, inside the program's critical section, and the thread put
 * back on view as not blocked; the stamps are made times as the record is
 * pushed, after the unlock (weft_wait_times). A record not held back, or a
 * wait long enough to be a span (whose stack may be taken at its end), ends
 * the whole way here.
 */
void weft_wait_end_held(struct weft_wait *w, int rc);

/* A held-back WAIT's stamps made times (WEFT_EVF_STAMPS), against the thread's clock base. */
void weft_wait_times(struct weft_thread *t, struct weft_event *ev);

/* Ends a wait whose call returns 0 or an error number (pthread style). */
static inline void weft_wait_end(struct weft_wait *w, int rc)
{
	int saved = *weft_errno();

	w->ev.h.result = rc;
	weft_wait_finish(w, saved);
}

/* The result of a call that returns -1 and sets errno (`saved`) on failure. */
static inline void weft_wait_result_sys(struct weft_wait *w, long rc, int saved)
{
	if (rc == -1) {
		w->ev.h.result = -saved;
		w->ev.h.flags |= WEFT_EVF_ERRNO;
	} else {
		w->ev.h.result = rc > INT32_MAX ? INT32_MAX : (int32_t)rc;
	}
}

/* Ends a wait whose call returns -1 and sets errno on failure (syscall style). */
static inline void weft_wait_end_sys(struct weft_wait *w, long rc)
{
	int saved = *weft_errno();

	weft_wait_result_sys(w, rc, saved);
	weft_wait_finish(w, saved);
}

/*
 * A wait that a cancellation unwinds (condvar and semaphore waits and joins
 * are cancellation points): the real call never returns, so weft_wait_end
 * never runs, and the thread would stay on view as blocked — through its
 * cleanup handlers — with the wait lost. A hook declares a guard with
 * WEFT_WAIT_UNWIND, arms it after weft_wait_begin and disarms it after the
 * end; if the frame is unwound in between (the build has -fexceptions, so a
 * cleanup attribute runs on a forced unwind), the guard ends the wait with
 * ECANCELED before the program's own cleanup handlers run, errno kept.
 */
struct weft_wait_unwind {
	struct weft_wait *w; /* armed: the wait in progress */
	bool sys;            /* the call is -1/errno style */
};

static inline void weft_wait_unwound(struct weft_wait_unwind *u)
{
	int saved;

	if (__builtin_expect(u->w == NULL, 1))
		return;
	saved = *weft_errno();
	if (u->sys) {
		*weft_errno() = ECANCELED;
		weft_wait_end_sys(u->w, -1);
	} else {
		weft_wait_end(u->w, ECANCELED);
	}
	*weft_errno() = saved;
}

#define WEFT_WAIT_UNWIND(name)                                                                     \
	struct weft_wait_unwind name __attribute__((cleanup(weft_wait_unwound))) = { NULL, false }

#endif
