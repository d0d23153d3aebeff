/*
 * The thread interpreter: thread spans, counts, names and detaches.
 *
 * A thread's span is assembled from the state its creator prepared (ids,
 * parent, start routine) and the end time it stored when it ended; what
 * events add — a name, a detach, a change of current span — is kept in the
 * exporter's record of the thread. Names and detaches may target another
 * thread by pthread_t, which glibc reuses, so a target is resolved against
 * thread lifetimes at the event's time. A pthread_t map remembers, after a
 * thread's state is freed, who held each pthread_t, for the join that reaped
 * it (which may be drained a cycle later).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/alloc.h"
#include "agent/clock.h"
#include "agent/hashmap.h"
#include "agent/large.h"
#include "exporter/exporter.h"
#include "exporter/interp.h"
#include "exporter/metrics.h"
#include "exporter/symbols.h"
#include "exporter/tasks.h"
#include "exporter/threadtime.h"
#include "exporter/threads.h"

enum { PENDING_NAMES = 64 };

/* The pthread_t map: the latest holder of a value, and the one before. */
struct tinfo {
	pthread_t key; /* first: weft_hashmap_eq_u64 compares the first 8 bytes */
	struct weft_thread_ref cur, prev;
	uint64_t cur_start_ns, prev_start_ns;
};

_Static_assert(offsetof(struct tinfo, key) == 0 && sizeof(pthread_t) == 8, "a u64 key first");

/* A name set before the named thread registered itself. */
struct pending_name {
	pthread_t key;
	char name[24];
};

/* The kernel id map: live threads by tid (u64 key first, for weft_hashmap_eq_u64). */
struct tidref {
	uint64_t tid;
	struct weft_thread *t;
};

/* Recent spans' traces, direct-mapped by span id: bounded, overwritten. */
#define SPAN_CACHE 4096
struct span_trace {
	uint64_t span;
	struct weft_trace_id trace;
};

static struct {
	struct weft_hashmap map;
	struct weft_hashmap tids;
	struct span_trace *spans;
	size_t n_pending;
	int64_t live, peak;
	struct weft_instrument *count;
	struct pending_name
		pending[PENDING_NAMES]; /* last: what every process uses shares a page */
} th WEFT_LARGE;

/* --- The pthread_t map ------------------------------------------------- */

static struct tinfo *map_find(pthread_t key)
{
	uint64_t k = (uint64_t)key;

	return weft_hashmap_find(&th.map, weft_hashmap_hash_u64(k), &k);
}

/* The entry for `key`, new ones zeroed; NULL when memory runs out. */
static struct tinfo *map_insert(pthread_t key)
{
	uint64_t k = (uint64_t)key;
	void *e;
	int r = weft_hashmap_put(&th.map, weft_hashmap_hash_u64(k), &k, &e);

	if (r < 0)
		return NULL;
	if (r == 1)
		((struct tinfo *)e)->key = key;
	return e;
}

bool weft_threads_join_target(pthread_t key, uint64_t when, struct weft_thread_ref *out)
{
	struct tinfo *e = map_find(key);

	if (!e)
		return false;
	if (e->cur.span && e->cur_start_ns <= when) {
		*out = e->cur;
		return true;
	}
	if (e->prev.span && e->prev_start_ns <= when) {
		*out = e->prev;
		return true;
	}
	return false;
}

/* --- Threads by kernel id, spans by id ------------------------------------ */

struct weft_thread *weft_threads_by_tid(pid_t tid)
{
	uint64_t k = (uint64_t)tid;
	struct tidref *r = weft_hashmap_find(&th.tids, weft_hashmap_hash_u64(k), &k);

	return r ? r->t : NULL;
}

static __attribute__((noinline)) void span_keep(uint64_t span, const struct weft_trace_id *trace)
{
	struct span_trace *e;

	/*
	 * A span of the process's own trace needs no entry: weft_threads_trace_of
	 * answers that trace for a span it does not find. So the cache is made
	 * only when another trace first appears (a context the program set), and
	 * most processes never allocate it.
	 */
	if (memcmp(trace, &weft_process.trace, sizeof(*trace)) == 0)
		return;
	if (!th.spans)
		th.spans = weft_zalloc(SPAN_CACHE * sizeof(*th.spans));
	if (!th.spans)
		return;
	e = &th.spans[weft_hashmap_hash_u64(span) & (SPAN_CACHE - 1)];
	e->span = span;
	e->trace = *trace;
}

/*
 * A span seen (a thread's, or a CTX's): its trace kept for the links to it.
 * Not needed without a trace output, only the links of spans ask it: inline,
 * as every task's start passes here.
 */
static inline void span_seen(uint64_t span, const struct weft_trace_id *trace)
{
	if (span && weft_cfg.traces_out)
		span_keep(span, trace);
}

void weft_threads_trace_of(uint64_t span, struct weft_trace_id *out)
{
	const struct span_trace *e =
		th.spans ? &th.spans[weft_hashmap_hash_u64(span) & (SPAN_CACHE - 1)] : NULL;

	*out = e && e->span == span ? e->trace : weft_process.trace;
}

/* --- Threads ------------------------------------------------------------ */

static void threads_setup(void)
{
	weft_hashmap_init(&th.map, sizeof(struct tinfo), weft_hashmap_eq_u64);
	weft_hashmap_init(&th.tids, sizeof(struct tidref), weft_hashmap_eq_u64);
	th.count = weft_metrics_sum("process.thread.count", "Live threads.", "{thread}", false, 0,
				    NULL);
}

static void threads_taken(struct weft_thread *t)
{
	struct weft_xthread *x = weft_xthread(t);
	struct tinfo *e;

	th.live++;
	if (th.live > th.peak)
		th.peak = th.live;
	weft_exporter_report()->peak_threads = th.peak;
	if (t->origin != WEFT_THREAD_MAIN) {
		/* Counted by pool, shown under the pool's name at each collection. */
		weft_tasks_thread_created(t);
		weft_report_thread_created(weft_exporter_report());
	}
	{
		uint64_t k = (uint64_t)t->tid;
		void *r;

		if (weft_hashmap_put(&th.tids, weft_hashmap_hash_u64(k), &k, &r) >= 0) {
			((struct tidref *)r)->tid = k;
			((struct tidref *)r)->t = t;
		}
	}
	span_seen(t->span, &t->trace);
	e = map_insert(t->self);
	if (e) {
		if (e->cur.span) {
			e->prev = e->cur;
			e->prev_start_ns = e->cur_start_ns;
		}
		e->cur = (struct weft_thread_ref){ t->tid, t->trace, t->span };
		e->cur_start_ns = t->start_ns;
	}
	/* A name set before the thread registered itself. */
	for (size_t i = 0; i < th.n_pending; i++) {
		if (th.pending[i].key != t->self)
			continue;
		memcpy(x->name, th.pending[i].name, sizeof(x->name));
		x->named = true;
		weft_tasks_thread_named(t);
		th.pending[i] = th.pending[--th.n_pending];
		i--;
	}
}

/*
 * The thread that had pthread_t `key` at time `when`. glibc hands a pthread_t
 * to a new thread as soon as the old one is joined, so one value can name
 * several states in the list: the right one is the earliest that had not yet
 * ended at `when`. (Its start may be later than `when`: a creator may name a
 * thread before the thread itself has run.)
 */
static struct weft_thread *thread_at(pthread_t key, uint64_t when)
{
	struct weft_thread *best = NULL;

	for (struct weft_thread *c = weft_exporter_threads(); c; c = c->next) {
		if (c->self != key || c->origin == WEFT_THREAD_MAIN || !c->consumer)
			continue;
		if (c->exit_seen && weft_load_relaxed(&c->end_ns) < when)
			continue;
		if (!best || c->start_ns < best->start_ns)
			best = c;
	}
	return best;
}

static struct weft_thread *about_target(struct weft_thread *t, const struct weft_event *ev)
{
	/* A thread naming itself (the common case) needs no search. */
	if ((pthread_t)ev->u.about.object == t->self)
		return t;
	return thread_at((pthread_t)ev->u.about.object, ev->h.t0);
}

static void on_name(struct weft_thread *t, const struct weft_event *ev)
{
	struct weft_thread *target = about_target(t, ev);

	if (target) {
		struct weft_xthread *x = weft_xthread(target);

		memcpy(x->name, ev->u.about.name, sizeof(x->name));
		x->name[sizeof(x->name) - 1] = '\0';
		x->named = true;
		weft_tasks_thread_named(target);
		return;
	}
	/* Not registered yet: its creator named it before it ran. */
	if (th.n_pending < PENDING_NAMES) {
		th.pending[th.n_pending].key = (pthread_t)ev->u.about.object;
		memcpy(th.pending[th.n_pending].name, ev->u.about.name, sizeof(ev->u.about.name));
		th.pending[th.n_pending].name[sizeof(ev->u.about.name) - 1] = '\0';
		th.n_pending++;
	}
}

static void threads_event(struct weft_thread *t, const struct weft_event *ev)
{
	struct weft_thread *target;

	switch (ev->h.type) {
	case WEFT_EV_CTX:
		weft_tasks_ctx(t, ev);
		weft_xthread(t)->cur_trace = ev->u.ctx.trace;
		weft_xthread(t)->cur_span = ev->u.ctx.span;
		span_seen(ev->u.ctx.span, &ev->u.ctx.trace);
		break;
	case WEFT_EV_NAME:
		on_name(t, ev);
		break;
	case WEFT_EV_DETACH:
		target = about_target(t, ev);
		if (target)
			weft_xthread(target)->detached = true;
		break;
	default:
		break;
	}
}

static void threads_collect(void)
{
	weft_metrics_set(th.count, NULL, th.live);
}

static void threads_ended(struct weft_thread *t, uint64_t end_ns, bool at_exit)
{
	struct weft_xthread *x = weft_xthread(t);
	const char *sym = weft_symbols_routine(t->start_routine);
	struct weft_qspan *q;

	if (!at_exit) {
		uint64_t k = (uint64_t)t->tid;
		struct tidref *r = weft_hashmap_find(&th.tids, weft_hashmap_hash_u64(k), &k);

		th.live--;
		/* Only if it is still this thread's: a new one may have its tid already. */
		if (r && r->t == t)
			weft_hashmap_remove_entry(&th.tids, r);
	}
	/* Its pool's lifetime in the report; main's is the process's. */
	weft_report_thread_ended(weft_exporter_report(), weft_tasks_pool_name(t),
				 t->origin == WEFT_THREAD_MAIN ? weft_exporter_report()->start_ns
							       : t->start_ns,
				 end_ns);
	if (t->origin == WEFT_THREAD_MAIN) {
		weft_threadtime_end(t, end_ns, at_exit, NULL);
		return; /* its span is the process span */
	}
	q = weft_exporter_span(&t->trace, t->span, t->parent_span, t->start_ns, end_ns, "thread ",
			       x->named ? x->name
			       : sym    ? sym
					: "thread");
	if (!q) {
		weft_threadtime_end(t, end_ns, at_exit, NULL);
		return;
	}
	weft_qspan_attr_int(q, "thread.id", t->tid);
	if (x->named) {
		memcpy(q->thread_name, x->name, sizeof(q->thread_name));
		weft_qspan_attr_str(q, "thread.name", q->thread_name);
	}
	if (sym)
		weft_qspan_attr_str(q, "code.function.name", sym);
	if (at_exit)
		weft_qspan_attr_bool(q, "weft.thread.running_at_exit", true);
	if (x->detached)
		weft_qspan_attr_bool(q, "weft.thread.detached", true);
	weft_threadtime_end(t, end_ns, at_exit, q);
}

static void threads_after_fork(void)
{
	/*
	 * The parent's map may have been mid-change at the fork: leak it, start
	 * anew. The pending names are emptied by their count (each is written
	 * whole when added): their pages stay shared with the parent.
	 */
	memset(&th, 0, offsetof(__typeof__(th), pending));
}

const struct weft_interp weft_interp_threads = {
	.name = "threads",
	.setup = threads_setup,
	.thread_taken = threads_taken,
	.event = threads_event,
	.collect = threads_collect,
	.thread_ended = threads_ended,
	.after_fork = threads_after_fork,
};
