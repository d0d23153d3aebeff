/*
 * The per-thread block: the reentrancy guard, the thread's state, and the
 * gate that the hottest hooks test.
 *
 * The guard is set whenever agent code runs on a thread, and permanently on
 * the agent's own threads. A hook that finds it set calls the real function
 * and nothing else: this is what keeps weft from observing itself (its
 * allocator's locks, its exporter's sockets) and from recursing.
 *
 * Everything a hook reads on every call lives in one initial-exec TLS block,
 * so that one thread-pointer offset (one load from the GOT) serves them all,
 * and reading it never calls into the dynamic loader or allocates:
 * - `gate`: the guard depth in its high half, and in its low half the hook
 *   families this thread does not observe (every family until the thread is
 *   registered, every one again once it has ended). A fast path's whole
 *   "observe this call?" test is one `test` of `gate` against its family and
 *   the guard: zero means the guard is free, the thread registered and alive
 *   and the family on (hence the agent READY and libc's symbols resolved).
 *   The low half mirrors weft_self's `hooks`: weft_self_set writes both.
 * - `self`: the thread's state (weft_self), NULL until registered.
 * - `unlock_watch`: a lock whose unlock must take the hook's slow path; every
 *   lock whose hold this thread is sampling is there (see agent/lock.h).
 */
#ifndef WEFT_AGENT_GUARD_H
#define WEFT_AGENT_GUARD_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

struct weft_thread;

struct weft_tls {
	union {
		struct {
			uint16_t unobserved; /* hook families (WEFT_HOOK_*) passed through */
			uint16_t guard;      /* the guard's depth */
		};
		uint32_t gate;
	};
	uintptr_t unlock_watch;
	struct weft_thread *self;
	/*
	 * The thread has a descriptor table of its own (the exporter's, agent/fd.h):
	 * its numbers are not the program's, so the hooks keep its calls out of
	 * every table of the program's descriptors.
	 */
	bool own_table;
	/*
	 * The stack pointer where the guard was raised from 0 on this thread
	 * (0: never, or by weft's own threads, which raise it for good): a
	 * jump out of a signal handler that leaves that frame lowers the guard
	 * again (agent/jump.h).
	 */
	uintptr_t guard_sp;
	/* This thread's errno (weft_errno), once asked for; NULL before. */
	int *errno_at;
};

extern __thread struct weft_tls weft_tls __attribute__((tls_model("initial-exec")));

/*
 * The calling thread's errno: the int libc's `errno` names, reached without
 * a call to __errno_location through the PLT. A transfer's hook keeps errno
 * around its own work, and an indirect call just after a system call costs
 * more than its instructions (tests/bench/README.md, "A socket transfer's
 * cost"). The address is the thread's for its whole life (a forked child's
 * copy of the thread keeps it too); a signal handler that asks first stores
 * the same value. Async-signal-safe.
 */
static inline int *weft_errno(void)
{
	int *p = weft_tls.errno_at;

	if (__builtin_expect(p == NULL, 0))
		weft_tls.errno_at = p = __errno_location();
	return p;
}

/* Every family unobserved: a thread not yet registered, or ended. */
#define WEFT_TLS_UNOBSERVED_ALL 0xffffu

/* The guard's bits in `gate`. */
#define WEFT_TLS_GATE_GUARD 0xffff0000u

/* The guard's depth, as an lvalue (the agent's threads set it to 1 for good). */
#define weft_guard_depth (weft_tls.guard)

/*
 * The calling thread's state, NULL until registered (registry.h). Not an
 * lvalue: weft_self_set writes it, with the gate.
 */
#define weft_self ((struct weft_thread *)weft_tls.self)

/* Makes `t` the calling thread's state (NULL, a new state, the ended sentinel). */
void weft_self_set(struct weft_thread *t);

/*
 * Whether a fast path for `family` may run: no guard, a registered live
 * thread that observes the family.
 */
static inline bool weft_tls_open(unsigned family)
{
	return (weft_tls.gate & (WEFT_TLS_GATE_GUARD | family)) == 0;
}

static inline bool weft_guard_active(void)
{
	return weft_guard_depth != 0;
}

/* The stack pointer where it is called (inlined: the caller's frame). */
static inline __attribute__((always_inline)) uintptr_t weft_stack_pointer(void)
{
#if defined(__x86_64__)
	uintptr_t sp;

	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	return sp;
#else
	return (uintptr_t)__builtin_frame_address(0);
#endif
}

static inline __attribute__((always_inline)) void weft_guard_enter(void)
{
	/* Where, before the depth: a handler that sees the guard up sees its frame. */
	if (weft_guard_depth == 0)
		weft_tls.guard_sp = weft_stack_pointer();
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	weft_guard_depth++;
}

/*
 * Never below 0 (a jump may have lowered the guard under a frame that then
 * leaves it: agent/jump.h); at 0 its frame is forgotten, so that no later
 * jump compares against a frame that has returned.
 */
static inline void weft_guard_leave(void)
{
	if (weft_guard_depth != 0 && --weft_guard_depth == 0)
		weft_tls.guard_sp = 0;
}

#endif
