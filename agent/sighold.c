/* Signals held off while weft works inside a call of the program's (agent/sighold.h). */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/sighold.h"

/* Every signal is blocked on this thread by weft: for good, or inside a hold. */
static __thread bool held __attribute__((tls_model("initial-exec")));

/* Bit n - 1 of the kernel's mask is signal n. */
#define SIGBIT(n) ((uint64_t)1 << ((n)-1))

/*
 * What a hold blocks: everything but glibc's own two signals (32, the
 * cancellation's, and 33, setuid's broadcast, which waits for every thread
 * to take it: blocked, setuid would wait for the hold), and the synchronous
 * faults, which the kernel would otherwise turn into the process's death if
 * weft's code faulted on the program's memory (a program's SIGSEGV handler
 * still runs, as natively). SIGKILL and SIGSTOP the kernel ignores here.
 */
static const uint64_t hold_mask =
	~(SIGBIT(32) | SIGBIT(33) | SIGBIT(SIGSEGV) | SIGBIT(SIGBUS) | SIGBIT(SIGFPE) |
	  SIGBIT(SIGILL) | SIGBIT(SIGTRAP) | SIGBIT(SIGSYS));

bool weft_signals_hold(uint64_t *old)
{
	int saved = errno;
	bool blocked;

	if (held)
		return false;
	/* Refused (a seccomp filter): nothing blocked, nothing to put back. */
	blocked = syscall(SYS_rt_sigprocmask, SIG_BLOCK, &hold_mask, old, sizeof(hold_mask)) == 0;
	errno = saved;
	atomic_signal_fence(memory_order_seq_cst);
	held = blocked;
	return blocked;
}

void weft_signals_restore(uint64_t old)
{
	int saved = errno;

	held = false;
	atomic_signal_fence(memory_order_seq_cst);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof(old));
	errno = saved;
}

/* Below a thread's top, how far its stack may reach (its frames, not an alternate stack). */
#define STACK_REACH ((uintptr_t)64 << 20)

bool weft_frame_left(uintptr_t sp, uintptr_t here, uintptr_t top)
{
	int saved = errno;
	stack_t ss;
	bool left;

	if (here < sp)
		return false;
	/* Both on the thread's own stack, as far as weft knows it. */
	if (top && (here > top || top - sp > STACK_REACH))
		return false;
	left = syscall(SYS_sigaltstack, NULL, &ss) == 0 && !(ss.ss_flags & SS_ONSTACK);
	errno = saved;
	return left;
}

void weft_signals_hold_for_good(void)
{
	/* weft's threads start with every signal glibc lets pthread_sigmask block blocked. */
	held = true;
}
