/*
 * Stack capture with libgcc's unwinder (see unwind.h for the contract).
 *
 * Why not libunwind. libweft.so used to link libunwind.so.8, which defines
 * unversioned _Unwind_* functions; as a dependency of a preloaded library they
 * joined the program's global scope ahead of libgcc_s's and answered for them:
 * destructors of a dlopen()ed C++ library did not run on pthread_cancel or
 * pthread_exit, a C++ program linked with -static-libgcc aborted at its first
 * exception, and glibc's forced unwind read uninitialised memory. Two ways of
 * keeping libunwind private were evaluated with Debian 12's libunwind 1.6.2:
 *
 *   - The static archive (libunwind.a, hidden by -Wl,--exclude-libs): Debian
 *     builds it without -fPIC (Lregs.o, Linit.o, Ltrace.o, mempool.o and nine
 *     more carry R_X86_64_32/32S relocations in .text), so it cannot be linked
 *     into a shared object at all. It would also have pulled in liblzma
 *     (elf64.o reads MiniDebugInfo).
 *   - dlopen("libunwind.so.8", RTLD_LOCAL) on first use keeps the symbols out
 *     of the global scope, but a dlopen from a hook can deadlock on the
 *     loader lock (the thread holding it may be waiting for the hook's
 *     caller), and libunwind itself changes the program: on its first unwind
 *     it creates a pipe (pipe2) for memory validation, which takes the two
 *     lowest free descriptors — a program's next open() returns 5 instead of
 *     3 — and later unwinds read from and write to those numbers, closing and
 *     re-creating them when a read fails, whatever the program has since put
 *     there. Its default global cache blocks every signal with two
 *     sigprocmask system calls per frame lookup; its per-thread cache lives
 *     in dynamic TLS, which glibc allocates with the program's malloc.
 *
 * libgcc's unwinder has none of these effects. weft uses a private copy of it
 * (scripts/private-unwinder.sh builds it from GCC's static libgcc_eh.a, with
 * _Unwind_Backtrace and _Unwind_GetIP renamed weft_eh_backtrace and
 * weft_eh_get_ip and everything else local), not libgcc_s.so.1's:
 * libgcc_s.so.1 is no dependency of libweft.so (a process whose agent is
 * disabled should not have to load it), and opening it at agent init would
 * allocate with the program's malloc (the loader's allocations after start
 * are the program's). The copy finds unwind tables with _dl_find_object, like
 * libgcc_s's; the one thing it cannot see is code whose unwind tables were
 * registered at run time with libgcc_s's __register_frame (JIT compilers):
 * a stack stops at such a frame.
 */
#include <errno.h>
#include <stddef.h>
#include <unwind.h>

#include "agent/guard.h"
#include "agent/sighold.h"
#include "agent/unwind.h"

/* The private copy's entry points (see above), hidden in libweft.so. */
_Unwind_Reason_Code weft_eh_backtrace(_Unwind_Trace_Fn fn, void *arg);
_Unwind_Ptr weft_eh_get_ip(struct _Unwind_Context *ctx);

struct capture {
	uintptr_t *pcs;
	int max;
	int n;
	int skip;
};

static _Unwind_Reason_Code capture_frame(struct _Unwind_Context *ctx, void *arg)
{
	struct capture *c = arg;
	uintptr_t pc = (uintptr_t)weft_eh_get_ip(ctx);

	if (pc == 0)
		return _URC_END_OF_STACK;
	if (c->skip > 0) {
		c->skip--;
		return _URC_NO_REASON;
	}
	c->pcs[c->n++] = pc;
	/* Any other code than NO_REASON ends the walk. */
	return c->n < c->max ? _URC_NO_REASON : _URC_END_OF_STACK;
}

/*
 * Not inlined, so that its own frame is always the first one the unwinder
 * reports (the return address into this function) and can be skipped.
 */
__attribute__((noinline)) int weft_unwind_capture(uintptr_t *pcs, int max)
{
	struct capture c = { .pcs = pcs, .max = max, .n = 0, .skip = 1 };
	struct weft_held held;
	int saved = errno;

	if (!pcs || max <= 0)
		return 0;
	/*
	 * libgcc's unwinder may call pthread_once and pthread_mutex_lock (frames
	 * registered at run time); with the guard set, weft's hooks pass them
	 * straight through. Signals held: a wait's stack is taken inside the
	 * program's read or nanosleep, which it may leave by a jump
	 * (agent/sighold.h).
	 */
	weft_guard_enter_held(&held);
	weft_eh_backtrace(capture_frame, &c);
	weft_guard_leave_held(&held);
	errno = saved;
	/* Keeps this frame a real call frame: no tail call into the unwinder. */
	__asm__ volatile("" ::: "memory");
	return c.n;
}
