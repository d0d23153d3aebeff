/*
 * The wait interpreter: every call that blocked.
 *
 * A WAIT event becomes a point of weft.wait.duration (by kind and calling
 * function) and, when it lasted at least WEFT_SPAN_MIN_WAIT, a `wait <kind>`
 * span under the span that was current on the thread. What each kind adds —
 * the joined thread for a join — is looked up here. The weft.thread.waiting
 * gauge counts the threads blocked at collection time, from the state each
 * thread publishes while it blocks.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/hashmap.h"
#include "agent/large.h"
#include "exporter/channels.h"
#include "exporter/connections.h"
#include "exporter/exporter.h"
#include "exporter/interp.h"
#include "exporter/locks.h"
#include "exporter/metrics.h"
#include "exporter/stacks.h"
#include "exporter/symbols.h"
#include "exporter/findings.h"
#include "exporter/tasks.h"
#include "exporter/threads.h"

/* weft.wait.duration buckets, in seconds: 1 µs to 10 s by decades. */
static const double wait_bounds[] = { 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10 };

/* Wait kinds whose hooks exist: each gets a weft.thread.waiting point. */
static const enum weft_wait_kind implemented_kinds[] = {
	WEFT_WAIT_MUTEX,       WEFT_WAIT_RWLOCK_READ, WEFT_WAIT_RWLOCK_WRITE, WEFT_WAIT_SPIN,
	WEFT_WAIT_COND,        WEFT_WAIT_SEM,         WEFT_WAIT_BARRIER,      WEFT_WAIT_JOIN,
	WEFT_WAIT_PIPE_READ,   WEFT_WAIT_PIPE_WRITE,  WEFT_WAIT_SOCKET_RECV,  WEFT_WAIT_POLL,
	WEFT_WAIT_SOCKET_SEND, WEFT_WAIT_CONNECT,     WEFT_WAIT_ACCEPT,       WEFT_WAIT_SLEEP,
};

/* A wait on a channel: its event names the channel, and its object is a descriptor. */
static bool channel_wait(enum weft_wait_kind kind)
{
	return kind == WEFT_WAIT_PIPE_READ || kind == WEFT_WAIT_PIPE_WRITE ||
	       kind == WEFT_WAIT_SOCKET_RECV || kind == WEFT_WAIT_SOCKET_SEND;
}

/*
 * Where waits happen repeats: a small direct-mapped cache from (kind, calling
 * address) to the caller's name and its weft.wait.duration series, so that a
 * wait costs neither a symbol lookup nor hashing the series' values (a
 * condvar or pipe ping-pong records a wait per hand-off). The kind's name and
 * whether it is a lock's are kept with them, for the same reason.
 */
#define SITE_CACHE 256

struct wait_site {
	uint64_t pc;
	uint8_t kind;
	bool lock;      /* weft_locks_is_lock(kind) */
	uint32_t fork;  /* wt.fork when it was filled: a parent's entry is stale */
	const char *fn; /* the symbols cache's string; NULL: unknown */
	const char *kind_name;
	struct weft_series *duration;
};

static struct {
	struct weft_instrument *waiting, *duration;
	/*
	 * Bumped in a forked child, whose series are new: the cache is emptied
	 * without writing it (10 KiB, whose pages then stay shared with the parent).
	 */
	uint32_t fork;
	struct wait_site sites[SITE_CACHE];
} wt WEFT_LARGE;

static const struct wait_site *wait_site(enum weft_wait_kind k, uint64_t pc)
{
	struct wait_site *e = &wt.sites[(weft_hashmap_hash_u64(pc) + k) % SITE_CACHE];

	if (e->pc != pc || e->kind != k || e->fork != wt.fork || !e->duration) {
		const char *vals[2];

		e->pc = pc;
		e->kind = (uint8_t)k;
		e->fork = wt.fork;
		e->lock = weft_locks_is_lock(k);
		e->fn = weft_symbols_name((uintptr_t)pc);
		e->kind_name = weft_wait_kind_name(k);
		vals[0] = e->kind_name;
		vals[1] = e->fn ? e->fn : "unknown";
		e->duration = weft_metrics_series(wt.duration, vals);
	}
	return e;
}

static void waits_setup(void)
{
	static const char *const kind_key[] = { "weft.wait.kind" };
	static const char *const wait_keys[] = { "weft.wait.kind", "code.function.name" };

	wt.waiting = weft_metrics_gauge("weft.thread.waiting", "Threads blocked right now.",
					"{thread}", 1, kind_key);
	wt.duration = weft_metrics_histogram(
		"weft.wait.duration", "Time blocked in calls that blocked.", "s", 2, wait_keys,
		wait_bounds, sizeof(wait_bounds) / sizeof(wait_bounds[0]));
}

/* Kinds whose object is a descriptor (weft.object `fd:N`), not an address. */
static bool object_is_fd(enum weft_wait_kind kind)
{
	switch (kind) {
	case WEFT_WAIT_POLL:
	case WEFT_WAIT_PIPE_READ:
	case WEFT_WAIT_PIPE_WRITE:
	case WEFT_WAIT_SOCKET_RECV:
	case WEFT_WAIT_SOCKET_SEND:
	case WEFT_WAIT_CONNECT:
	case WEFT_WAIT_ACCEPT:
		return true;
	default:
		return false;
	}
}

/* A join's span links to the joined thread's: what it waited for. */
static void join_link(struct weft_qspan *q, const struct weft_event *ev)
{
	struct weft_thread_ref target;

	if (!weft_threads_join_target((pthread_t)ev->u.wait.object, ev->u.wait.t1, &target))
		return;
	weft_qspan_attr_int(q, "weft.target.thread.id", target.tid);
	weft_qspan_link(q, &target.trace, target.span, "join");
}

/* A lock's owner when the wait began: its id, and a link to its current span. */
static void holder_link(struct weft_qspan *q, const struct weft_event *ev)
{
	struct weft_thread *h = weft_threads_by_tid(ev->u.wait.holder_tid);
	const struct weft_xthread *hx = h ? weft_xthread(h) : NULL;

	weft_qspan_attr_int(q, "weft.holder.thread.id", ev->u.wait.holder_tid);
	if (hx)
		weft_qspan_link(q, &hx->cur_trace, hx->cur_span, "holder");
}

static void waits_event(struct weft_thread *t, const struct weft_event *ev)
{
	struct weft_xthread *x = weft_xthread(t);
	enum weft_wait_kind k = (enum weft_wait_kind)ev->h.kind;
	const struct wait_site *site = wait_site(k, ev->u.wait.pc);
	const char *kind = site->kind_name;
	const char *fn = site->fn;
	const char *vals[2] = { kind, fn ? fn : "unknown" };
	uint64_t dur = ev->u.wait.t1 - ev->h.t0;
	const struct weft_trace_id *trace;
	uint64_t parent;
	struct weft_qspan *q;

	x->wait_t0 = ev->h.t0;
	x->wait_t1 = ev->u.wait.t1;
	x->tt.hooked_ns += dur;
	x->tt.blocked_kind_ns[k] += dur;
	/* A pipeline's stages: who reads each channel, and how long its writers found it full. */
	if (k == WEFT_WAIT_PIPE_READ && ev->u.wait.channel)
		weft_findings_channel_reader(ev->u.wait.channel, t);
	else if (k == WEFT_WAIT_PIPE_WRITE && ev->u.wait.channel)
		weft_findings_channel_full(ev->u.wait.channel, dur);
	/* A receive from a work source: the task it ended is not its parent. */
	if (ev->h.flags & WEFT_EVF_TASK_END)
		weft_tasks_receive(t, ev->h.t0);
	trace = &x->cur_trace;
	parent = x->cur_span;

	weft_metrics_series_record(wt.duration, site->duration, (double)dur / 1e9);
	weft_report_wait(weft_exporter_report(), kind, vals[1], t->tid, dur);
	if (site->lock) {
		struct weft_thread *h = weft_threads_by_tid(ev->u.wait.holder_tid);

		weft_locks_contended(k, vals[1]);
		weft_findings_lock_wait(k, ev->u.wait.object, fn,
					h ? weft_tasks_pool_name(h) : NULL, dur);
	}
	/* Too short for a span, or no trace output to take one. */
	if (dur < weft_cfg.span_min_wait_ns || !weft_cfg.traces_out)
		return;
	/* A wait on a connection is a child of the connection's span. */
	if (channel_wait(k) || k == WEFT_WAIT_CONNECT)
		weft_connections_parent(ev->u.wait.channel, &trace, &parent);
	q = weft_exporter_span(trace, 0, parent, ev->h.t0, ev->u.wait.t1, "wait ", kind);
	if (!q)
		return;
	weft_qspan_attr_int(q, "thread.id", t->tid);
	if (x->named) {
		memcpy(q->thread_name, x->name, sizeof(q->thread_name));
		weft_qspan_attr_str(q, "thread.name", q->thread_name);
	}
	weft_qspan_attr_str(q, "weft.wait.kind", kind);
	if (fn)
		weft_qspan_attr_str(q, "code.function.name", fn);
	/* A sleep waits on nothing. */
	if (k != WEFT_WAIT_SLEEP) {
		if (object_is_fd(k))
			snprintf(q->object, sizeof(q->object), "fd:%d", (int)ev->u.wait.object);
		else
			snprintf(q->object, sizeof(q->object), "0x%llx",
				 (unsigned long long)ev->u.wait.object);
		weft_qspan_attr_str(q, "weft.object", q->object);
	}
	x->last_wait = q;
	x->last_wait_t0 = ev->h.t0;
	x->last_wait_epoch = weft_spans_exports();
	if (ev->h.result != 0)
		weft_qspan_attr_int(q, "weft.wait.result", ev->h.result);
	if (ev->h.kind == WEFT_WAIT_JOIN)
		join_link(q, ev);
	if (ev->u.wait.stack) {
		const char *text = weft_stacks_text(ev->u.wait.stack);

		if (text)
			weft_qspan_attr_str(q, "code.stacktrace", text);
	}
	if (channel_wait(k) || k == WEFT_WAIT_CONNECT || k == WEFT_WAIT_ACCEPT) {
		/* The payload names a channel or connection, not a holder. */
		const char *name = weft_channels_name(ev->u.wait.channel);

		if (name)
			weft_qspan_attr_str(q, "weft.channel.name", name);
		for (int i = 0; i < WEFT_EVENT_LINKS; i++)
			weft_channels_link(q, ev->u.wait.channel, ev->u.wait.links[i]);
		return;
	}
	if (ev->u.wait.holder_tid)
		holder_link(q, ev);
	for (int i = 0; i < WEFT_EVENT_LINKS && ev->u.wait.links[i]; i++) {
		struct weft_trace_id producer;

		weft_threads_trace_of(ev->u.wait.links[i], &producer);
		weft_qspan_link(q, &producer, ev->u.wait.links[i],
				weft_tasks_link_kind((enum weft_wait_kind)ev->h.kind, 0));
	}
}

static void waits_collect(void)
{
	int64_t waiting[WEFT_WAIT_KIND_COUNT] = { 0 };

	for (struct weft_thread *t = weft_exporter_threads(); t; t = t->next) {
		int k = weft_load_relaxed(&t->wait_kind);
		const struct weft_xthread *x = weft_xthread(t);

		/* Not a wait the last walk found left by a jump (exporter/deadlocks.c). */
		if (x && x->dl.left && x->dl.left == weft_load_relaxed(&t->wait_since))
			continue;
		if (!t->exit_seen && k > 0 && k < WEFT_WAIT_KIND_COUNT)
			waiting[k]++;
	}
	for (size_t i = 0; i < sizeof(implemented_kinds) / sizeof(implemented_kinds[0]); i++) {
		const char *kind = weft_wait_kind_name(implemented_kinds[i]);

		weft_metrics_set(wt.waiting, &kind, waiting[implemented_kinds[i]]);
	}
}

static void waits_after_fork(void)
{
	wt.waiting = wt.duration = NULL;
	wt.fork++;
}

const struct weft_interp weft_interp_waits = {
	.name = "waits",
	.setup = waits_setup,
	.event = waits_event,
	.collect = waits_collect,
	.after_fork = waits_after_fork,
};
