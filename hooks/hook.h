/*
 * What every hook shares: the export attribute and the pass-through test.
 *
 * A hook's first job is to decide, in a few instructions, whether to do
 * anything but call the real function: not when the agent is disabled or not
 * ready, not when this thread is already inside agent code (the guard), not
 * when the hook family is switched off, not on a thread that has ended.
 */
#ifndef WEFT_HOOKS_HOOK_H
#define WEFT_HOOKS_HOOK_H

#include <errno.h>
#include <stdbool.h>
#include <time.h>

#include "agent/agent.h"
#include "agent/real.h"
#include "agent/wait.h"

/*
 * Marks a hook for export. The version script (generated from the rows of
 * agent/real_list.h) decides what libweft.so exports; this attribute makes the
 * definition eligible, and the symbols test checks the two agree.
 */
#define WEFT_EXPORT __attribute__((visibility("default")))

/*
 * The calling thread's state if this call should be observed, else NULL.
 * Never allocates on the fast path; the first call on a thread registers it.
 */
static inline struct weft_thread *weft_hook_thread(unsigned family)
{
	struct weft_thread *t;

	if (__builtin_expect(weft_guard_active(), 0))
		return NULL;
	/*
	 * A registered thread skips the agent's state: a thread is registered
	 * only once the agent is READY, which it never leaves. (The lock hooks
	 * run this test on every call: a load and a branch less.)
	 */
	t = weft_self;
	if (__builtin_expect(t != NULL, 1))
		return t->hooks & family ? t : NULL; /* 0 on the dead thread's sentinel */
	if (!weft_agent_ready() || !weft_hooks_enabled(family))
		return NULL;
	return weft_thread_current();
}

/*
 * Whether a deadline is one glibc's timed waits reject with EINVAL before
 * anything else (a clock its futexes do not support, a malformed tv_nsec):
 * such a call never blocks, and the hooks pass it through untouched. A NULL
 * deadline is left to the real call (glibc's rwlocks then wait forever).
 */
static inline bool weft_hook_bad_deadline(clockid_t clk, const struct timespec *abstime)
{
	return abstime && ((clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC) ||
			   (unsigned long)abstime->tv_nsec >= 1000000000UL);
}

#endif
