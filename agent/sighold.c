/* Signals held off while weft works inside a call of the program's (agent/sighold.h). */
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/sighold.h"

/* Every signal is blocked on this thread by weft: for good, or inside a hold. */
static __thread bool held __attribute__((tls_model("initial-exec")));

bool weft_signals_hold(uint64_t *old)
{
	uint64_t all = ~(uint64_t)0;

	if (held || syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, old, sizeof(all)) != 0)
		return false; /* held already; or refused (a seccomp filter): nothing to put back */
	held = true;
	return true;
}

void weft_signals_restore(uint64_t old)
{
	held = false;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof(old));
}

bool weft_frame_left(uintptr_t sp, uintptr_t here)
{
	stack_t ss;

	if (here < sp)
		return false;
	return syscall(SYS_sigaltstack, NULL, &ss) == 0 && !(ss.ss_flags & SS_ONSTACK);
}

void weft_signals_hold_for_good(void)
{
	uint64_t all = ~(uint64_t)0;

	syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, NULL, sizeof(all));
	held = true;
}
