/*
 * The lock interpreter: acquisitions, contentions and sampled hold times.
 *
 * Acquisitions are counted on the hot path in each thread's own counters
 * (agent/lock.h) and collected here as deltas: before each metric export and
 * when the thread ends. Contentions are the lock waits the wait interpreter
 * sees. Hold times come from HOLD events, attributed to the function that
 * released the lock (Go's mutex profile does the same: the unlocker is the
 * one who made others wait).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/log.h"
#include "exporter/exporter.h"
#include "exporter/findings.h"
#include "exporter/interp.h"
#include "exporter/locks.h"
#include "exporter/metrics.h"
#include "exporter/symbols.h"

/* weft.lock.hold.duration buckets, in seconds: 100 ns to 10 s. */
static const double hold_bounds[] = { 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10 };

static const enum weft_wait_kind lock_kinds[] = {
	WEFT_WAIT_MUTEX,
	WEFT_WAIT_RWLOCK_READ,
	WEFT_WAIT_RWLOCK_WRITE,
	WEFT_WAIT_SPIN,
};

#define N_LOCK_KINDS (sizeof(lock_kinds) / sizeof(lock_kinds[0]))

static struct {
	struct weft_instrument *acquisitions, *contentions, *hold;
} lk;

bool weft_locks_is_lock(enum weft_wait_kind kind)
{
	for (size_t i = 0; i < N_LOCK_KINDS; i++)
		if (lock_kinds[i] == kind)
			return true;
	return false;
}

void weft_locks_contended(enum weft_wait_kind kind, const char *fn)
{
	const char *vals[2] = { weft_wait_kind_name(kind), fn };

	weft_metrics_add(lk.contentions, vals, 1);
}

static void locks_setup(void)
{
	static const char *const kind_key[] = { "weft.wait.kind" };
	static const char *const contention_keys[] = { "weft.wait.kind", "code.function.name" };
	static const char *const fn_key[] = { "code.function.name" };

	lk.acquisitions = weft_metrics_sum("weft.lock.acquisitions",
					   "Lock acquisitions, uncontended and contended.",
					   "{acquisition}", true, 1, kind_key);
	lk.contentions =
		weft_metrics_sum("weft.lock.contentions", "Lock acquisitions that had to wait.",
				 "{contention}", true, 2, contention_keys);
	lk.hold = weft_metrics_histogram(
		"weft.lock.hold.duration", "Time locks were held, sampled (WEFT_HOLD_SAMPLE).", "s",
		1, fn_key, hold_bounds, sizeof(hold_bounds) / sizeof(hold_bounds[0]));
	/* Every lock kind is reported, zero included. */
	for (size_t i = 0; i < N_LOCK_KINDS; i++) {
		const char *kind = weft_wait_kind_name(lock_kinds[i]);

		weft_metrics_add(lk.acquisitions, &kind, 0);
	}
}

/* Adds what the thread acquired since the last collection. */
static void collect_thread(struct weft_thread *t)
{
	struct weft_xthread *x = weft_xthread(t);

	if (!x)
		return;
	for (size_t i = 0; i < N_LOCK_KINDS; i++) {
		enum weft_wait_kind k = lock_kinds[i];
		uint64_t now = weft_load_relaxed(&t->acquired[k]);
		const char *kind = weft_wait_kind_name(k);

		if (now != x->acquired_seen[k])
			weft_metrics_add(lk.acquisitions, &kind,
					 (int64_t)(now - x->acquired_seen[k]));
		x->acquired_seen[k] = now;
	}
}

static void locks_collect(void)
{
	for (struct weft_thread *t = weft_exporter_threads(); t; t = t->next)
		collect_thread(t);
}

static void locks_ended(struct weft_thread *t, uint64_t end_ns, bool at_exit)
{
	collect_thread(t);
}

/*
 * A lock-order inversion (agent/lockorder.h): a `weft:` warning, and a
 * finding in the report whose facts make the process span's
 * weft.lock_order_inversion event.
 */
static void lock_order_inversion(struct weft_thread *t, const struct weft_event *ev)
{
	const struct weft_ev_order *o = &ev->u.order;
	const char *fwd = weft_symbols_name((uintptr_t)o->pc_forward);
	const char *rev = weft_symbols_name((uintptr_t)o->pc_reverse);
	char line[480];

	snprintf(line, sizeof(line),
		 "lock order inversion: mutex 0x%llx then 0x%llx (the second taken in %s), and "
		 "0x%llx then 0x%llx (in %s, thread %d): two threads doing both at once deadlock",
		 (unsigned long long)o->first, (unsigned long long)o->second, fwd ? fwd : "?",
		 (unsigned long long)o->second, (unsigned long long)o->first, rev ? rev : "?",
		 (int)t->tid);
	weft_warn("%s", line);
	weft_report_finding(weft_exporter_report(), WEFT_REPORT_LOCK_ORDER,
			    &(struct weft_report_facts){ .kind = "lock_order_inversion",
							 .threads = 0,
							 .lock_first = o->first,
							 .lock_second = o->second,
							 .site_forward = fwd,
							 .site_reverse = rev },
			    line);
}

static void locks_event(struct weft_thread *t, const struct weft_event *ev)
{
	const char *fn;

	if (ev->h.type == WEFT_EV_LOCKORDER) {
		lock_order_inversion(t, ev);
		return;
	}
	fn = weft_symbols_name((uintptr_t)ev->u.wait.pc);
	weft_findings_lock_hold(ev->u.wait.object, fn, ev->u.wait.t1 - ev->h.t0);
	if (!fn)
		fn = "unknown";
	weft_metrics_record(lk.hold, &fn, (double)(ev->u.wait.t1 - ev->h.t0) / 1e9);
}

static void locks_after_fork(void)
{
	memset(&lk, 0, sizeof(lk));
	weft_findings_reset();
}

const struct weft_interp weft_interp_locks = {
	.name = "locks",
	.setup = locks_setup,
	.event = locks_event,
	.collect = locks_collect,
	.thread_ended = locks_ended,
	.after_fork = locks_after_fork,
};
