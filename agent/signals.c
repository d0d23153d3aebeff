/*
 * Signals that end the process: the final export before the program dies of
 * one (agent/signals.h says what and why).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/large.h"
#include "agent/real.h"
#include "agent/sighold.h"
#include "agent/signals.h"

/* The signals weft stands in for while the program leaves them at SIG_DFL. */
static const int managed[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGSEGV,
			       SIGBUS,  SIGFPE, SIGILL, SIGABRT };

#define NSIG_TABLE 65

/* glibc sets it (with its own restorer) on every handler it installs on x86-64. */
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

/*
 * What the program last set as its SIG_DFL (mask, flags), reported while
 * weft's handler stands in; whether it does, the kernel says (sigaction).
 * Aligned to a page: the entries start-up writes, those of the signals
 * weft stands in for (all below 16), share the first.
 */
static _Alignas(4096) struct sigaction views[NSIG_TABLE] WEFT_LARGE;

static _Atomic int lock_word; /* one change of the table at a time */
static _Atomic int dying;

bool weft_signals_managed(int sig)
{
	for (size_t i = 0; i < sizeof(managed) / sizeof(managed[0]); i++)
		if (managed[i] == sig)
			return true;
	return false;
}

static bool hardware_fault(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL;
}

/* sigaction as the system call: weft's own changes are never the program's. */
static int raw_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	return WEFT_REAL(sigaction)(sig, act, old);
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	struct sigaction dfl;

	(void)uc;
	if (sig > 0 && sig < NSIG_TABLE && !atomic_exchange(&dying, 1))
		weft_agent_signal_exit(sig);
	/* The program's own disposition again, SIG_DFL, and the signal delivered to it. */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	raw_sigaction(sig, &dfl, NULL);
	/*
	 * A fault the instruction raised recurs when the handler returns, now
	 * with the default action (a core dump, as natively); anything sent is
	 * sent again, pending until the handler returns and the mask unblocks it.
	 */
	if (!(hardware_fault(sig) && si && si->si_code > 0))
		syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), sig);
	errno = saved;
}

/* weft's handler, as it stands in for a default. */
static void our_action(struct sigaction *act)
{
	memset(act, 0, sizeof(*act));
	act->sa_sigaction = on_signal;
	act->sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&act->sa_mask);
}

/* Puts weft's handler in for sig's default: the system call's result. */
static int stand_in(int sig)
{
	struct sigaction act;

	our_action(&act);
	return raw_sigaction(sig, &act, NULL);
}

/*
 * Puts back the disposition the kernel reported as `old`, exactly: as the
 * system call, since glibc's sigaction would add its restorer and
 * SA_RESTORER to a disposition inherited without them.
 */
static void put_back(int sig, const struct sigaction *old)
{
	struct {
		void (*handler)(int);
		unsigned long flags;
		void (*restorer)(void);
		uint64_t mask;
	} k = { old->sa_handler, (unsigned long)old->sa_flags,
		(old->sa_flags & SA_RESTORER) ? old->sa_restorer : NULL, 0 };

	memcpy(&k.mask, &old->sa_mask, sizeof(k.mask));
	syscall(SYS_rt_sigaction, sig, &k, NULL, sizeof(k.mask));
}

/*
 * Puts weft's handler in for sig's default, and the program's disposition
 * back if it was not the default (ignored, inherited through exec): one
 * system call for the usual case. Signals are held meanwhile
 * (weft_signals_init), so that none reaches weft's handler in between; one
 * that arrived for an ignored signal is discarded as it is put back, as it
 * would have been.
 */
static void install(int sig)
{
	struct sigaction act, old;

	our_action(&act);
	if (raw_sigaction(sig, &act, &old) != 0)
		return;
	if (old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO)) {
		put_back(sig, &old);
		return;
	}
	views[sig] = old;
}

void weft_signals_init(void)
{
	struct weft_held held;

	if (!weft_hooks_enabled(WEFT_HOOK_PROCESS))
		return;
	weft_hold(&held);
	for (size_t i = 0; i < sizeof(managed) / sizeof(managed[0]); i++)
		install(managed[i]);
	weft_release(&held);
}

static void lock(void)
{
	int expected = 0;

	while (!atomic_compare_exchange_weak(&lock_word, &expected, 1)) {
		expected = 0;
		sched_yield();
	}
}

static void unlock(void)
{
	atomic_store(&lock_word, 0);
}

int weft_signals_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	struct sigaction was, k;
	struct weft_held held;
	bool owned;
	int r, saved;

	weft_hold(&held); /* sigaction is async-signal-safe (agent/sighold.h) */
	lock();
	/*
	 * The kernel says whose handler is in place: weft's may have been
	 * replaced, or put back, where no hook sees (inside libc: system()
	 * ignores SIGINT and SIGQUIT while its child runs, then restores them).
	 */
	r = raw_sigaction(sig, NULL, &k);
	owned = r == 0 && (k.sa_flags & SA_SIGINFO) && k.sa_sigaction == on_signal;
	was = owned ? views[sig] : k;
	if (r != 0 || !act) {
		/* Only asked (or a bad signal: the kernel's error). */
	} else if (act->sa_handler == SIG_DFL && !(act->sa_flags & SA_SIGINFO)) {
		/* Default again: weft stands in for it (the program's mask and flags kept for
		 * view). */
		r = owned ? 0 : stand_in(sig);
		if (r == 0) {
			/* As the kernel keeps it, and reports it: with libc's restorer. */
			views[sig] = *act;
			if (raw_sigaction(sig, NULL, &k) == 0 && (k.sa_flags & SA_RESTORER)) {
				views[sig].sa_flags |= SA_RESTORER;
				views[sig].sa_restorer = k.sa_restorer;
			}
		}
	} else {
		r = raw_sigaction(sig, act, NULL);
	}
	saved = errno;
	unlock();
	weft_release(&held);
	if (r == 0 && old)
		*old = was;
	errno = saved;
	return r;
}
