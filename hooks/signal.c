/*
 * Signal disposition hooks: the program's view of the signals weft stands in
 * for at their default action (agent/signals.h).
 *
 * sigaction, signal and sysv_signal on a managed signal go
 * through weft_signals_sigaction, which reports SIG_DFL where weft's handler
 * is installed and gives the program's own handler (or SIG_IGN) precedence at
 * once; on any other signal, and whenever weft is not running, they are the
 * real calls. Results and errno are the real calls' (EINVAL for a bad
 * signal number, SIGKILL or SIGSTOP).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "agent/signals.h"
#include "hooks/hook.h"

static bool standing_in(int sig)
{
	return weft_signals_managed(sig) && !weft_guard_active() && weft_agent_ready() &&
	       weft_hooks_enabled(WEFT_HOOK_PROCESS);
}

/* sigaction: 0, or -1 with errno (EINVAL, EFAULT). */
WEFT_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	WEFT_REAL_OR_FAIL(sigaction);
	if (!standing_in(sig))
		return real(sig, act, old);
	return weft_signals_sigaction(sig, act, old);
}

/*
 * A signal()-style call: `handler` with `flags`, the signal itself blocked in
 * it when `self_blocked`; the old handler, or SIG_ERR with errno.
 */
static __sighandler_t set_handler(int sig, __sighandler_t handler, int flags, bool self_blocked)
{
	struct sigaction act, old;

	memset(&act, 0, sizeof(act));
	act.sa_handler = handler;
	sigemptyset(&act.sa_mask);
	if (self_blocked)
		sigaddset(&act.sa_mask, sig);
	act.sa_flags = flags;
	if (weft_signals_sigaction(sig, &act, &old) != 0)
		return SIG_ERR;
	return old.sa_handler;
}

/* signal: BSD semantics (SA_RESTART, the signal blocked in its handler). */
WEFT_EXPORT __sighandler_t signal(int sig, __sighandler_t handler)
{
	__typeof__(weft_real.signal) real = WEFT_REAL(signal);

	if (!standing_in(sig) || handler == SIG_ERR)
		return real ? real(sig, handler) : SIG_ERR;
	return set_handler(sig, handler, SA_RESTART, true);
}

/* sysv_signal: System V semantics (the handler reset on entry, the signal not blocked). */
WEFT_EXPORT __sighandler_t sysv_signal(int sig, __sighandler_t handler)
{
	__typeof__(weft_real.sysv_signal) real = WEFT_REAL(sysv_signal);

	if (!standing_in(sig) || handler == SIG_ERR)
		return real ? real(sig, handler) : SIG_ERR;
	return set_handler(sig, handler, SA_RESETHAND | SA_NODEFER, false);
}
