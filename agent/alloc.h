/*
 * The agent's private allocator.
 *
 * libweft.so links Debian's PIC jemalloc archive; the version script keeps its
 * symbols local, so these calls can never reach the program's malloc and the
 * program's malloc never reaches them. We call jemalloc's non-standard entry
 * points (mallocx, dallocx) rather than malloc/free so that the binding is
 * unambiguous at link time: libc defines no symbol of these names.
 *
 * Every call marks the calling thread as inside the allocator for its
 * duration (weft_alloc_busy). jemalloc takes locks; a signal handler that
 * interrupts a thread holding one and calls exit() must not then wait for
 * work that needs that lock (agent/agent.c's destructor asks). The outermost
 * call on a thread also passes the fork gate (below).
 */
#ifndef WEFT_AGENT_ALLOC_H
#define WEFT_AGENT_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/sighold.h"

void *mallocx(size_t size, int flags);
void *rallocx(void *ptr, size_t size, int flags);
void dallocx(void *ptr, int flags);

/*
 * The private allocator's fork handlers, which it does not register itself
 * (agent/alloc_private.c): prepare closes the fork gate and waits until no
 * other thread is inside the allocator, parent opens it again, and the child
 * resets what jemalloc keeps about the parent's threads. Called by the
 * agent's own handlers.
 */
void weft_alloc_fork_prepare(void);
void weft_alloc_fork_parent(void);
void weft_alloc_fork_child(void);

/*
 * The private allocator's process-wide words, on one cache line: every
 * allocation reads them, and a fork's handlers write them in the parent and
 * the child (one copied page each, not three).
 *
 * ready: 1 once the private allocator has initialised
 * (agent/alloc_private.c); 2 in a child forked from a signal handler that
 * interrupted a call into it, where it is never called again. It initialises at weft's first
 * allocation, not from a constructor: a process in which weft never
 * allocates (OTEL_SDK_DISABLED=true) never pays for it. weft_alloc_first
 * initialises it, excluding the agent's fork handlers, and sets the flag; the
 * unit tests' allocator only sets the flag.
 *
 * inside, gate, left and forker: the fork gate (below). init_lock:
 * agent/alloc_private.c.
 */
struct weft_allocator {
	int ready;
	unsigned inside;
	unsigned gate;
	unsigned left; /* bumped by a thread leaving while the gate is closed (a futex) */
	int init_lock;
	uintptr_t forker; /* the thread whose fork is being made (pthread_self), until it is */
};
extern struct weft_allocator weft_allocator;
bool weft_alloc_first(void);

#define WEFT_MALLOCX_ZERO         0x40 /* jemalloc's MALLOCX_ZERO */
#define WEFT_MALLOCX_LG_ALIGN(lg) (lg) /* jemalloc's MALLOCX_LG_ALIGN */

/*
 * The first small allocations (WEFT_BOOT_MAX bytes or fewer, while the
 * WEFT_BOOT_SIZE bytes last) come from a static arena, bumped and never
 * reused, zeroed as .bss is: a process that ends soon — a trivial program, a
 * forked child — never initialises jemalloc, whose first allocation touches
 * about 50 pages (15 us each on the development VM). weft_free ignores these
 * blocks and weft_realloc copies out of them (each carries its size just
 * before it); the arena, once used up, stays as it is: at most WEFT_BOOT_SIZE
 * held for the process's life. weft_boot_take returns NULL when the block
 * does not fit; in the unit tests (their allocator is the C library's, so
 * that sanitizers see every allocation) always.
 */
#define WEFT_BOOT_SIZE (128u * 1024u)
#define WEFT_BOOT_MAX  16384u
extern char weft_boot_arena[WEFT_BOOT_SIZE];
void *weft_boot_take(size_t n, size_t align);

static inline int weft_boot_owns(const void *p)
{
	return (size_t)((const char *)p - weft_boot_arena) < WEFT_BOOT_SIZE;
}

/*
 * The fork gate (agent/alloc_private.c). weft_allocator.inside counts the
 * threads inside the private allocator; weft_allocator.gate is non-zero while
 * a fork is being prepared or made (2: a thread waits for it to open).
 * A thread counts itself in before it reads the gate, and the forking thread
 * closes the gate before it reads the count (both sequentially consistent),
 * so one of the two sees the other: either the fork waits for the thread to
 * leave, or the thread steps back out and waits for the fork to end
 * (weft_alloc_gate_wait). A thread that leaves while the gate is closed
 * wakes the fork (weft_alloc_gate_left): the fork sleeps, so that a forking
 * thread of real-time priority lets the thread it waits for run.
 *
 * Per thread: weft_alloc_busy is 1 while the thread is in a call, from
 * before it counts itself in until after it counts itself out (signal
 * fences keep the compiler from moving it across the calls). jemalloc is
 * not reentrant, so a signal handler that interrupts a call (its entry, its
 * wait at the gate, jemalloc itself or its exit) and allocates or frees gets
 * nothing (weft_alloc_enter is false: no allocation, a free that leaks): it
 * could take a lock its own thread holds, or wait at the gate for a fork
 * that waits for its own thread. The agent never allocates on top of itself
 * otherwise: its code runs under the guard (agent/guard.h). Non-zero
 * weft_alloc_busy is also what the agent reads as "this thread may hold the
 * allocator's locks".
 */
extern __thread unsigned weft_alloc_busy __attribute__((tls_model("initial-exec")));
extern __thread uint64_t weft_alloc_sigmask __attribute__((tls_model("initial-exec")));

/*
 * A call into the allocator begins on this thread: every signal held off
 * first (agent/sighold.h: a handler that siglongjmps out of the call would
 * leave jemalloc's lock, or the fork gate's count, taken for good), then
 * busy is 2 (1 where weft held them already: its own threads).
 */
static inline void weft_alloc_busy_set(void)
{
	weft_alloc_busy = weft_signals_hold(&weft_alloc_sigmask) ? 2 : 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static inline void weft_alloc_busy_clear(void)
{
	unsigned held = weft_alloc_busy;

	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	weft_alloc_busy = 0;
	if (held == 2)
		weft_signals_restore(weft_alloc_sigmask);
}

void weft_alloc_gate_wait(void);
void weft_alloc_gate_left(void);
/* Opens the gate and wakes the threads waiting at it (the forking thread, after fork). */
void weft_alloc_gate_open(void);

/* Counts the calling thread in (weft_alloc_busy set), waiting at a closed gate. */
static inline void weft_alloc_count_in(void)
{
	__atomic_add_fetch(&weft_allocator.inside, 1, __ATOMIC_SEQ_CST);
	if (__builtin_expect(__atomic_load_n(&weft_allocator.gate, __ATOMIC_SEQ_CST) != 0, 0))
		weft_alloc_gate_wait();
}

static inline void weft_alloc_count_out(void)
{
	__atomic_sub_fetch(&weft_allocator.inside, 1, __ATOMIC_SEQ_CST);
	if (__builtin_expect(__atomic_load_n(&weft_allocator.gate, __ATOMIC_SEQ_CST) != 0, 0))
		weft_alloc_gate_left();
}

static inline bool weft_alloc_enter(void)
{
	if (__builtin_expect(weft_alloc_busy != 0, 0))
		return false;
	weft_alloc_busy_set();
	weft_alloc_count_in();
	return true;
}

static inline void weft_alloc_leave(void)
{
	weft_alloc_count_out();
	weft_alloc_busy_clear();
}

/*
 * Whether the private allocator can be called: initialised here if it was
 * not; never in a child forked from inside it (ready 2, see
 * agent/alloc_private.c). Acquire: the allocator's state, written by the
 * thread that initialised it.
 */
static inline bool weft_alloc_usable(void)
{
	int r = __atomic_load_n(&weft_allocator.ready, __ATOMIC_ACQUIRE);

	return __builtin_expect(r == 1, 1) || (r == 0 && weft_alloc_first());
}

static inline void *weft_mallocx(size_t n, int flags)
{
	void *p;

	if (n <= WEFT_BOOT_MAX) {
		p = weft_boot_take(n, (flags & 0x3f) ? (size_t)1 << (flags & 0x3f) : 16);
		if (p)
			return p;
	}
	if (!weft_alloc_usable() || !weft_alloc_enter())
		return NULL;
	p = mallocx(n ? n : 1, flags);
	weft_alloc_leave();
	return p;
}

static inline void *weft_alloc(size_t n)
{
	return weft_mallocx(n, 0);
}

static inline void *weft_zalloc(size_t n)
{
	return weft_mallocx(n, WEFT_MALLOCX_ZERO);
}

/* Aligned to a cache line (64 bytes), for lock-free structures; not zeroed. */
static inline void *weft_alloc_cacheline(size_t n)
{
	return weft_mallocx(n, WEFT_MALLOCX_LG_ALIGN(6));
}

static inline void *weft_realloc(void *p, size_t n)
{
	if (!p)
		return weft_alloc(n);
	if (weft_boot_owns(p)) {
		size_t had = ((const size_t *)p)[-1];
		void *q = weft_alloc(n);

		if (q)
			memcpy(q, p, had < n ? had : n);
		return q;
	}
	if (!weft_alloc_usable() || !weft_alloc_enter())
		return NULL;
	p = rallocx(p, n ? n : 1, 0);
	weft_alloc_leave();
	return p;
}

static inline void weft_free(void *p)
{
	/* A block that cannot be given back now (see weft_alloc_enter) stays taken. */
	if (!p || weft_boot_owns(p) || !weft_alloc_usable() || !weft_alloc_enter())
		return;
	dallocx(p, 0);
	weft_alloc_leave();
}

static inline char *weft_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = weft_alloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

#endif
