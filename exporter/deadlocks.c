/* Deadlock detection (exporter/deadlocks.h). */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#include "agent/clock.h"
#include "agent/agent.h"
#include "agent/alloc.h"
#include "agent/atomic.h"
#include "agent/config.h"
#include "agent/log.h"
#include "agent/wait.h"
#include "exporter/deadlocks.h"
#include "exporter/exporter.h"
#include "exporter/interp.h"
#include "exporter/metrics.h"
#include "exporter/stacks.h"
#include "exporter/stuck.h"
#include "exporter/symbols.h"
#include "exporter/tasks.h"
#include "exporter/threads.h"

/* The threads of one cycle that get an event each; a longer cycle is named in full on stderr. */
#define CYCLE_EVENTS 8
/* Deadlocks whose span keeps its events (their storage lives until the process ends). */
#define KEPT_DEADLOCKS 64
#define EVENT_ATTRS    8

/* One deadlock span's events and the strings they point at. */
struct kept {
	struct weft_span_event events[CYCLE_EVENTS];
	struct weft_attr attrs[CYCLE_EVENTS][EVENT_ATTRS];
	char name[CYCLE_EVENTS][24];
	char object[CYCLE_EVENTS][24];
};

static struct {
	struct weft_instrument *count;
	uint32_t walks;
	uint32_t kept;
} dl;

/*
 * The owner's thread id in a lock's memory, read as another process would:
 * process_vm_readv fails with EFAULT instead of faulting if the program has
 * freed and unmapped the lock since the snapshot. 0: none or unreadable.
 */
static pid_t owner_at(uint64_t addr)
{
	int32_t v = 0;
	struct iovec local = { &v, sizeof(v) }, remote = { (void *)(uintptr_t)addr, sizeof(v) };

	if (process_vm_readv(weft_process.pid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof(v))
		return 0;
	return v > 0 ? v : 0;
}

/*
 * Copies what `t` has on view, if it is blocked, its start's stamp converted
 * against `b` (one clock read for the walk).
 * The kind is published last and cleared first (agent/registry.h), and each
 * wait has its own start: a kind and start read the same before and after
 * the other fields mean those fields are that wait's.
 */
static bool snapshot(struct weft_thread *t, struct weft_xthread *x, struct weft_stamp_base *b)
{
	int kind = weft_load_acquire(&t->wait_kind);
	uint64_t since = weft_load_relaxed(&t->wait_since);

	if (kind == 0)
		return false;
	/* Acquire loads: the checks below are read after them. */
	x->dl.object = weft_load_acquire(&t->wait_object);
	x->dl.pc = weft_load_acquire(&t->wait_pc);
	x->dl.stack = weft_load_acquire(&t->wait_stack);
	if (weft_load_relaxed(&t->wait_kind) != kind || weft_load_relaxed(&t->wait_since) != since)
		return false;
	x->dl.kind = (enum weft_wait_kind)kind;
	x->dl.since = since;
	x->dl.since_ns = weft_stamp_at(b, since);
	return true;
}

/*
 * Whether a thread whose wait is on view has been running since the wait
 * began: the kernel's figures (exporter/threadtime.c) say it was on a CPU,
 * or ready for one, more than half the time since (what it may have run
 * before the wait's start, between the first reading and the start, is
 * taken off), over RAN_MIN_NS at least. Then it is not blocked: the program
 * left that wait with a jump out of a signal handler (agent/sighold.h:
 * siglongjmp from an alarm's handler, say), and the wait will never end;
 * the thread's next wait puts it right. A thread blocked for real runs only
 * its signal handlers. Not asked of a spin, which burns CPU as it waits,
 * nor where the kernel's figures are not read.
 */
#define RAN_MIN_NS 100000000u

static bool ran_since_wait(struct weft_xthread *x)
{
	uint64_t busy = x->tt.cpu + x->tt.wait, from, before, ran;

	if (x->dl.kind == WEFT_WAIT_SPIN || !x->tt.at)
		return false;
	if (x->dl.cpu_wait != x->dl.since) {
		x->dl.cpu_wait = x->dl.since;
		x->dl.cpu_base = busy;
		x->dl.cpu_base_at = x->tt.at;
		return false;
	}
	from = x->dl.since_ns > x->dl.cpu_base_at ? x->dl.since_ns : x->dl.cpu_base_at;
	if (x->tt.at < from + RAN_MIN_NS)
		return false;
	before = from - x->dl.cpu_base_at;
	ran = busy > x->dl.cpu_base + before ? busy - x->dl.cpu_base - before : 0;
	return ran * 2 > x->tt.at - from;
}

/* The live thread `t` waits for now (its snapshot taken), or NULL. */
static struct weft_thread *waits_for(struct weft_thread *t, struct weft_xthread *x, uint64_t now)
{
	struct weft_thread_ref ref;
	pid_t owner;

	switch (x->dl.kind) {
	case WEFT_WAIT_MUTEX:
		owner = owner_at(x->dl.object + offsetof(pthread_mutex_t, __data.__owner));
		break;
	case WEFT_WAIT_RWLOCK_READ:
	case WEFT_WAIT_RWLOCK_WRITE:
		/* A writer is known; readers are not (no edge). */
		owner = owner_at(x->dl.object + offsetof(pthread_rwlock_t, __data.__cur_writer));
		break;
	case WEFT_WAIT_JOIN:
		owner = weft_threads_join_target((pthread_t)x->dl.object, now, &ref) ? ref.tid : 0;
		break;
	default:
		return NULL;
	}
	x->dl.holder = owner;
	return owner ? weft_threads_by_tid(owner) : NULL;
}

/* The name a person knows the thread by: its own, else its start routine's, else "main". */
static const char *thread_label(const struct weft_thread *t, const struct weft_xthread *x)
{
	const char *sym;

	if (x->named)
		return x->name;
	if (t->origin == WEFT_THREAD_MAIN)
		return "main";
	sym = weft_symbols_routine(t->start_routine);
	return sym ? sym : "thread";
}

/* The `deadlock` span: a link and (while storage lasts) an event per thread. */
static void deadlock_span(struct weft_thread **m, size_t n, size_t length, uint64_t formed,
			  uint64_t now)
{
	struct weft_qspan *q = weft_exporter_span(&weft_process.trace, 0, weft_process.span, formed,
						  now, "", "deadlock");
	struct kept *k = NULL;

	if (!q)
		return;
	q->s.kind = WEFT_SPAN_KIND_INTERNAL;
	weft_qspan_attr_int(q, "weft.deadlock.threads", (int64_t)length);
	if (dl.kept < KEPT_DEADLOCKS && (k = weft_zalloc(sizeof(*k))) != NULL)
		dl.kept++;
	for (size_t i = 0; i < n; i++) {
		struct weft_xthread *x = weft_xthread(m[i]);
		struct weft_attr *a;
		size_t na = 0;

		weft_qspan_link(q, &x->cur_trace, x->cur_span, "deadlock");
		if (!k || i >= CYCLE_EVENTS)
			continue;
		a = k->attrs[i];
		snprintf(k->name[i], sizeof(k->name[i]), "%s", thread_label(m[i], x));
		snprintf(k->object[i], sizeof(k->object[i]), "0x%llx",
			 (unsigned long long)x->dl.object);
		weft_attr_int(a, &na, "thread.id", m[i]->tid);
		weft_attr_str(a, &na, "thread.name", k->name[i]);
		weft_attr_str(a, &na, "weft.pool.name", weft_tasks_pool_name(m[i]));
		weft_attr_str(a, &na, "weft.wait.kind", weft_wait_kind_name(x->dl.kind));
		weft_attr_str(a, &na, "weft.object", k->object[i]);
		weft_attr_int(a, &na, "weft.holder.thread.id", x->dl.holder);
		weft_attr_str(a, &na, "code.function.name", weft_symbols_name((uintptr_t)x->dl.pc));
		weft_attr_str(a, &na, "code.stacktrace",
			      x->dl.stack ? weft_stacks_text(x->dl.stack) : NULL);
		k->events[i] = (struct weft_span_event){ .name = "weft.deadlock",
							 .time_unix_nano =
								 weft_clock_to_unix(x->dl.since_ns),
							 .attrs = a,
							 .n_attrs = na };
	}
	if (k) {
		q->s.events = k->events;
		q->s.n_events = n < CYCLE_EVENTS ? n : CYCLE_EVENTS;
		q->s.dropped_events = (uint32_t)(length - q->s.n_events);
	}
}

/*
 * One line for a person: every thread of the cycle, what it waits on, where,
 * and whom for; then each thread's stack, indented, where one was kept.
 */
static void deadlock_line(struct weft_thread **m, size_t n, size_t length, char *line, size_t size)
{
	size_t off = 0;

	/* `length` threads, the first `n` of them in m[]. */
	if (length == 1)
		off += (size_t)snprintf(line, size, "deadlock: a thread waits for itself:");
	else
		off += (size_t)snprintf(line, size,
					"deadlock: %zu threads wait for each other:", length);
	for (size_t i = 0; i < n && off < size; i++) {
		struct weft_xthread *x = weft_xthread(m[i]);
		const char *fn = weft_symbols_name((uintptr_t)x->dl.pc);

		off += (size_t)snprintf(line + off, size - off, "%s thread %s (tid %d, pool %s)",
					i ? ";" : "", thread_label(m[i], x), (int)m[i]->tid,
					weft_tasks_pool_name(m[i]));
		if (off >= size)
			break;
		if (x->dl.kind == WEFT_WAIT_JOIN)
			off += (size_t)snprintf(line + off, size - off,
						" waits to join tid %d in %s", (int)x->dl.holder,
						fn ? fn : "?");
		else
			off += (size_t)snprintf(line + off, size - off,
						" waits for %s 0x%llx in %s, held by tid %d",
						weft_wait_kind_name(x->dl.kind),
						(unsigned long long)x->dl.object, fn ? fn : "?",
						(int)x->dl.holder);
	}
	weft_warn("%s", line);
	for (size_t i = 0; i < n; i++) {
		struct weft_xthread *x = weft_xthread(m[i]);
		const char *text = x->dl.stack ? weft_stacks_text(x->dl.stack) : NULL;

		if (!text)
			continue;
		weft_log_more(WEFT_LOG_WARN, "    tid %d:", (int)m[i]->tid);
		for (const char *p = text; *p;) {
			size_t len = strcspn(p, "\n");

			weft_log_more(WEFT_LOG_WARN, "      %.*s", (int)len, p);
			p += len + (p[len] == '\n');
		}
	}
}

/* The cycle through `start`: reported if it was there at the last walk too, and not yet. */
static void cycle_found(struct weft_thread *start, uint64_t now)
{
	struct weft_thread *m[64];
	size_t n = 0, length = 0;
	bool confirmed = true, reported = true;
	uint64_t formed = 0;
	struct weft_thread *t = start;
	char line[1024];

	do {
		struct weft_xthread *x = weft_xthread(t);

		x->dl.cycle_now = x->dl.since;
		confirmed &= x->dl.cycle_prev == x->dl.since;
		reported &= x->dl.reported == x->dl.since;
		formed = x->dl.since_ns > formed ? x->dl.since_ns : formed;
		if (n < sizeof(m) / sizeof(m[0]))
			m[n++] = t; /* the first 64 are named */
		length++;
		t = x->dl.next;
	} while (t != start);
	if (!confirmed || reported)
		return;
	/* Every thread of the cycle, named or not: never reported again. */
	t = start;
	do {
		weft_xthread(t)->dl.reported = weft_xthread(t)->dl.since;
		t = weft_xthread(t)->dl.next;
	} while (t != start);
	deadlock_line(m, n, length, line, sizeof(line));
	deadlock_span(m, n, length, formed, now);
	weft_metrics_add(dl.count, NULL, 1);
	weft_report_finding(
		weft_exporter_report(), WEFT_REPORT_DEADLOCK,
		&(struct weft_report_facts){ .kind = "deadlock", .threads = (int64_t)length },
		line);
}

void weft_deadlocks_walk(uint64_t now)
{
	uint32_t walk = ++dl.walks;
	struct weft_stamp_base b = weft_stamp_base();

	weft_stuck_begin();
	/* The waits on view, then who waits for whom. */
	for (struct weft_thread *t = weft_exporter_threads(); t; t = t->next) {
		struct weft_xthread *x = weft_xthread(t);

		if (!x)
			continue;
		x->dl.next = NULL;
		x->dl.blocked = !weft_load_acquire(&t->exited) && snapshot(t, x, &b);
		if (x->dl.blocked && ran_since_wait(x)) {
			x->dl.blocked = false;
			x->dl.left = x->dl.since;
		}
	}
	for (struct weft_thread *t = weft_exporter_threads(); t; t = t->next) {
		struct weft_xthread *x = weft_xthread(t);
		struct weft_thread *to;

		if (!x || !x->dl.blocked)
			continue;
		to = waits_for(t, x, now);
		if (to && to->consumer && weft_xthread(to)->dl.blocked)
			x->dl.next = to;
	}
	/*
	 * Each thread waits for one other at most: follow each chain, marking it
	 * with its starting point; reaching a thread marked by this chain closes
	 * a cycle, reaching one marked by an earlier chain joins a known part.
	 */
	for (struct weft_thread *t = weft_exporter_threads(); t; t = t->next) {
		struct weft_thread *c = t;

		if (!t->consumer || weft_xthread(t)->dl.walk == walk)
			continue;
		while (c && weft_xthread(c)->dl.walk != walk) {
			weft_xthread(c)->dl.walk = walk;
			weft_xthread(c)->dl.chain = t;
			c = weft_xthread(c)->dl.next;
		}
		if (c && weft_xthread(c)->dl.chain == t)
			cycle_found(c, now);
	}
	for (struct weft_thread *t = weft_exporter_threads(); t; t = t->next) {
		struct weft_xthread *x = weft_xthread(t);

		if (!x)
			continue;
		/* Stuck: once who waits for whom, and the deadlocks, are known. */
		if (x->dl.blocked)
			weft_stuck_check(t, x, now);
		x->dl.cycle_prev = x->dl.cycle_now;
		x->dl.cycle_now = 0;
	}
}

static void deadlocks_setup(void)
{
	dl.count =
		weft_metrics_sum("weft.deadlocks", "Wait-for cycles found among blocked threads.",
				 "{deadlock}", true, 0, NULL);
	weft_metrics_add(dl.count, NULL, 0);
}

static void deadlocks_after_fork(void)
{
	/* The instrument is made again by setup; the kept storage is the parent's. */
	memset(&dl, 0, sizeof(dl));
}

const struct weft_interp weft_interp_deadlocks = {
	.name = "deadlocks",
	.setup = deadlocks_setup,
	.after_fork = deadlocks_after_fork,
};
