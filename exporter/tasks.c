/*
 * The task interpreter: `task <pool>` spans and the pool metrics.
 *
 * The agent marks a task's start with a CTX event (WEFT_EVF_TASK: its span,
 * trace, work source and producers; most often carried by the receive's WAIT
 * and handed here as a CTX of its own, agent/event.h) and its end with the
 * WAIT event of the thread's next receive from that work source
 * (WEFT_EVF_TASK_END), or the thread's end (agent/task.h). The open task is
 * kept in the exporter's record of the thread; its span is made when it ends.
 *
 * A pool is the set of threads started from one start routine; the main
 * thread's pool is `main`, threads weft adopted (started some other way)
 * form the pool `thread`. A pool is named after the name the program gave
 * its threads: their shared prefix when they differ by a trailing number, or
 * end in a separator and a number (worker-0 … worker-3 → worker, and so a
 * lone worker-0 too), else the name itself when they all have the same one
 * (a single "stage2" stays stage2); after its start routine's symbol
 * when they are unnamed or their names share no prefix. weft.pool.threads and weft.pool.busy are
 * counted from the live threads at each collection: busy ones are inside a task.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "agent/clock.h"
#include "agent/agent.h"
#include "agent/alloc.h"
#include "agent/format.h"
#include "agent/large.h"
#include "agent/task.h"
#include "exporter/channels.h"
#include "exporter/exporter.h"
#include "exporter/findings.h"
#include "exporter/interp.h"
#include "exporter/metrics.h"
#include "exporter/spans.h"
#include "exporter/symbols.h"
#include "exporter/tasks.h"
#include "exporter/threads.h"

/* weft.task.duration buckets, in seconds: 1 µs to 10 s by decades. */
static const double task_bounds[] = { 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10 };

/* The pools seen (a process has a handful): by start routine, 1 for main. */
#define POOLS    64
#define MAIN_KEY ((uintptr_t)1)

struct pool {
	uintptr_t key;
	const char *sym; /* the symbols cache's string, or NULL */
	char first[24];  /* the first name one of its threads was given; "" none yet */
	char prefix[24]; /* that name without its trailing number and separators */
	bool several;    /* its threads have different names with that prefix */
	bool indexed;    /* the first name ends in a separator and a number: "worker-0" */
	bool mixed;      /* its threads' names share no prefix */
	int64_t threads; /* counted at each collection */
	int64_t busy;
	int64_t created; /* threads started, all time */
	char shown[64];  /* the name its series have now ("" none yet) */
	/*
	 * Its weft.task.duration and weft.task.queue.duration series, each kept
	 * with the name it was found for (pool_name's string: a new pointer when
	 * the name changes), so that a task's end does not hash the name. The
	 * queue's is found only once a task has a queue time: a pool without
	 * one exports no empty histogram.
	 */
	const char *duration_of, *queue_of;
	struct weft_series *duration, *queue;
	/* Its entry in the report, kept the same way (both are emptied at a fork). */
	const char *report_of;
	struct weft_report_pool *report;
};

static struct {
	size_t n_pools;
	struct weft_instrument *threads, *busy, *duration, *queue, *created;
	struct pool pools[POOLS]; /* last: each written whole when added, emptied by the count */
} tk WEFT_LARGE;

static struct pool *pool_of_key(uintptr_t key)
{
	for (size_t i = 0; i < tk.n_pools; i++)
		if (tk.pools[i].key == key)
			return &tk.pools[i];
	if (tk.n_pools == POOLS)
		return NULL;
	tk.pools[tk.n_pools] = (struct pool){
		.key = key,
		.sym = key > MAIN_KEY ? weft_symbols_routine(key) : NULL,
	};
	return &tk.pools[tk.n_pools++];
}

#define NAME_SEPARATORS "-_.:# /"

/*
 * A thread name without its trailing number and separators: "worker-3" →
 * "worker". True when the name ends in a separator and a number (an index).
 */
static bool name_prefix(const char *name, char out[24])
{
	size_t len = strnlen(name, 23), n = len;
	bool indexed;

	while (n > 0 && isdigit((unsigned char)name[n - 1]))
		n--;
	indexed = n > 0 && n < len && strchr(NAME_SEPARATORS, name[n - 1]);
	while (n > 0 && strchr(NAME_SEPARATORS, name[n - 1]))
		n--;
	memcpy(out, name, n);
	out[n] = '\0';
	return indexed && n > 0;
}

/* thread_pool's search, when the thread has none kept. */
static __attribute__((noinline)) struct pool *thread_pool_find(const struct weft_thread *t)
{
	struct weft_xthread *x = weft_xthread(t);
	struct pool *p;
	char prefix[24];
	bool indexed;

	p = pool_of_key(t->origin == WEFT_THREAD_MAIN      ? MAIN_KEY
			: t->origin == WEFT_THREAD_ADOPTED ? 0
							   : t->start_routine);
	if (x)
		x->pool = p;
	if (!p || t->origin == WEFT_THREAD_MAIN || !x || !x->named || p->mixed)
		return p;
	indexed = name_prefix(x->name, prefix);
	if (!p->first[0]) {
		memcpy(p->first, x->name, sizeof(p->first));
		memcpy(p->prefix, prefix, sizeof(p->prefix));
		p->indexed = indexed;
	} else if (strcmp(p->first, x->name) != 0) {
		if (prefix[0] && strcmp(p->prefix, prefix) == 0)
			p->several = true;
		else
			p->mixed = true;
	}
	return p;
}

/*
 * The thread's pool, its name (if any) taken into the pool's naming. Kept on
 * the thread once found: taking the same name again changes nothing, and
 * weft_tasks_thread_named drops it when the name changes. Inline: every task's
 * end asks it.
 */
static inline struct pool *thread_pool(const struct weft_thread *t)
{
	const struct weft_xthread *x = weft_xthread(t);

	if (x && x->pool)
		return x->pool;
	return thread_pool_find(t);
}

static const char *pool_name(const struct pool *p)
{
	if (!p)
		return "thread";
	if (p->key == MAIN_KEY)
		return "main";
	if (p->mixed || !p->first[0])
		return p->sym ? p->sym : "thread";
	return p->several || p->indexed ? p->prefix : p->first;
}

const char *weft_tasks_pool_name(const struct weft_thread *t)
{
	return pool_name(thread_pool(t));
}

void weft_tasks_thread_named(const struct weft_thread *t)
{
	struct weft_xthread *x = weft_xthread(t);

	if (x)
		x->pool = NULL; /* a new name: taken into its pool's naming again */
	thread_pool(t);         /* the pool decides its name on each of its threads' names */
}

void weft_tasks_thread_created(const struct weft_thread *t)
{
	struct pool *p = thread_pool(t);

	if (p)
		p->created++;
}

const char *weft_tasks_link_kind(enum weft_wait_kind kind, uint32_t channel)
{
	switch (kind) {
	case WEFT_WAIT_COND:
		return "cond.signal";
	case WEFT_WAIT_SEM:
		return "sem.post";
	case WEFT_WAIT_PIPE_READ:
	case WEFT_WAIT_SOCKET_RECV:
		return weft_channels_link_kind(channel);
	default:
		return "handoff";
	}
}

void weft_tasks_link(struct weft_thread *t, uint64_t wait_t0, const char *kind,
		     const uint64_t *spans, int n)
{
	struct weft_xthread *x = weft_xthread(t);

	/* Producers become the task span's parent and links: no trace output, no span. */
	if (!weft_cfg.traces_out || !x || !x->task.span || (wait_t0 && wait_t0 != x->task.wait_t0))
		return;
	for (int i = 0; i < n && spans[i]; i++) {
		if (x->task.n_producers == sizeof(x->task.producers) / sizeof(x->task.producers[0]))
			return;
		x->task.kinds[x->task.n_producers] = kind;
		x->task.producers[x->task.n_producers++] = spans[i];
	}
}

void weft_tasks_handoff(struct weft_thread *t, uint64_t wait_t0, uint64_t handoff_ns)
{
	struct weft_xthread *x = weft_xthread(t);

	if (!x || !x->task.span || (wait_t0 && wait_t0 != x->task.wait_t0) ||
	    x->task.queue_ns != UINT64_MAX || handoff_ns > x->task.start_ns)
		return;
	x->task.queue_ns = x->task.start_ns - handoff_ns;
}

/*
 * A series of `inst` for pool `p` named `name`, kept in *kept for *kept_of
 * (NULL pool, the table full: looked up each time; a series that could not
 * be made is looked up again next time).
 */
static struct weft_series *pool_series(struct weft_instrument *inst, const char *name,
				       struct weft_series **kept, const char **kept_of)
{
	if (!kept)
		return weft_metrics_series(inst, &name);
	if (*kept_of != name || !*kept) {
		*kept = weft_metrics_series(inst, &name);
		*kept_of = name;
	}
	return *kept;
}

/* A task of pool `p` (NULL: the table is full) named `name` ended: its histograms. */
static void record_task(struct pool *p, const char *name, uint64_t dur_ns, uint64_t queue_ns)
{
	weft_metrics_series_record(
		tk.duration,
		pool_series(tk.duration, name, p ? &p->duration : NULL, p ? &p->duration_of : NULL),
		(double)dur_ns / 1e9);
	if (queue_ns != UINT64_MAX)
		weft_metrics_series_record(
			tk.queue,
			pool_series(tk.queue, name, p ? &p->queue : NULL, p ? &p->queue_of : NULL),
			(double)queue_ns / 1e9);
}

/* The report's entry of pool `p` named `name` (p NULL: the table is full, looked up each time). */
static struct weft_report_pool *pool_report(struct weft_report *r, struct pool *p, const char *name)
{
	if (!p)
		return weft_report_pool_of(r, name);
	if (p->report_of != name || !p->report) {
		p->report = weft_report_pool_of(r, name);
		p->report_of = name;
	}
	return p->report;
}

/* task_end's work, for a thread with a task open. */
static __attribute__((noinline)) void task_close(struct weft_thread *t, uint64_t end_ns)
{
	struct weft_xthread *x = weft_xthread(t);
	struct weft_report *r;
	struct pool *p;
	const char *pool;
	struct weft_qspan *q;
	uint64_t parent = 0;
	int first_link = 0;

	p = thread_pool(t);
	pool = pool_name(p);
	if (end_ns < x->task.start_ns)
		end_ns = x->task.start_ns;
	record_task(p, pool, end_ns - x->task.start_ns, x->task.queue_ns);
	r = weft_exporter_report();
	weft_report_pool_task(r, pool_report(r, p, pool), end_ns - x->task.start_ns,
			      x->task.queue_ns);
	if (!weft_cfg.traces_out) {
		/* No trace output: weft_exporter_span would make no span. */
		x->task.span = 0;
		return;
	}
	if (weft_cfg.task_parent == WEFT_TASK_PARENT_CHILD) {
		/* A child of its first producer, else of the thread's span. */
		parent = x->task.n_producers ? x->task.producers[0] : t->span;
		first_link = x->task.n_producers ? 1 : 0;
	}
	q = weft_exporter_span(&x->task.trace, x->task.span, parent, x->task.start_ns, end_ns,
			       "task ", pool);
	x->task.span = 0;
	if (!q)
		return;
	q->s.kind = WEFT_SPAN_KIND_CONSUMER;
	weft_qspan_attr_int(q, "thread.id", t->tid);
	if (x->named) {
		memcpy(q->thread_name, x->name, sizeof(q->thread_name));
		weft_qspan_attr_str(q, "thread.name", q->thread_name);
	}
	weft_qspan_attr_str(q, "weft.pool.name", q->name + strlen("task "));
	if (x->task.kind != WEFT_WAIT_NONE)
		weft_qspan_attr_str(q, "weft.wait.kind", weft_wait_kind_name(x->task.kind));
	for (int i = first_link; i < x->task.n_producers; i++) {
		struct weft_trace_id producer;

		weft_threads_trace_of(x->task.producers[i], &producer);
		weft_qspan_link(q, &producer, x->task.producers[i], x->task.kinds[i]);
	}
}

/*
 * Ends the thread's open task at end_ns (if one is open): its span and
 * duration. Inline: a task's start asks it too, most often with none open.
 */
static inline void task_end(struct weft_thread *t, uint64_t end_ns)
{
	const struct weft_xthread *x = weft_xthread(t);

	if (x && x->task.span)
		task_close(t, end_ns);
}

void weft_tasks_receive(struct weft_thread *t, uint64_t t0)
{
	struct weft_xthread *x = weft_xthread(t);

	task_end(t, t0);
	x->cur_trace = t->trace;
	x->cur_span = t->span;
}

void weft_tasks_ctx(struct weft_thread *t, const struct weft_event *ev)
{
	struct weft_xthread *x = weft_xthread(t);

	if (ev->u.ctx.span == x->task.span)
		return; /* the same context sent again (a CTX record had been dropped) */
	/* Any other change ends the open task: a new one starts, or none is current. */
	task_end(t, ev->h.t0);
	/* A task's context resent without its start (dropped): the task, without producers. */
	if (ev->u.ctx.span == t->span)
		return;
	x->task.span = ev->u.ctx.span;
	x->task.trace = ev->u.ctx.trace;
	x->task.start_ns = ev->h.t0;
	x->task.n_producers = 0;
	/* Started as a wait ended: the LINK events of that wait are the task's too. */
	x->task.wait_t0 = ev->h.t0 == x->wait_t1 ? x->wait_t0 : 0;
	if (ev->h.flags & WEFT_EVF_TASK) {
		x->task.kind = (enum weft_wait_kind)ev->h.kind;
		if (ev->h.result)
			weft_findings_channel_reader((uint32_t)ev->h.result, t);
		x->task.queue_ns = ev->u.ctx.handoff_ns && ev->u.ctx.handoff_ns <= ev->h.t0
					   ? ev->h.t0 - ev->u.ctx.handoff_ns
					   : UINT64_MAX;
		/* The producers' kind is asked only for a span's links. */
		if (weft_cfg.traces_out)
			weft_tasks_link(t, 0,
					weft_tasks_link_kind((enum weft_wait_kind)ev->h.kind,
							     (uint32_t)ev->h.result),
					ev->u.ctx.producers, WEFT_EVENT_LINKS);
	} else {
		x->task.kind = WEFT_WAIT_NONE;
		x->task.queue_ns = UINT64_MAX;
	}
}

static void tasks_setup(void)
{
	static const char *const pool_key[] = { "weft.pool.name" };

	tk.threads = weft_metrics_gauge("weft.pool.threads", "Live threads in the pool.",
					"{thread}", 1, pool_key);
	tk.busy = weft_metrics_gauge("weft.pool.busy", "Threads of the pool inside a task.",
				     "{thread}", 1, pool_key);
	tk.queue = weft_metrics_histogram(
		"weft.task.queue.duration", "Time from a producer's hand-off to the task's start.",
		"s", 1, pool_key, task_bounds, sizeof(task_bounds) / sizeof(task_bounds[0]));
	tk.created = weft_metrics_sum("weft.thread.created", "Threads started.", "{thread}", true,
				      1, pool_key);
	tk.duration = weft_metrics_histogram(
		"weft.task.duration", "Time from a task's start to its end.", "s", 1, pool_key,
		task_bounds, sizeof(task_bounds) / sizeof(task_bounds[0]));
}

/*
 * Whether thread `t` is inside a task now, as it says itself (agent/task.h):
 * one is open and it is not waiting on its source for the next (the task ends
 * as that wait begins; a thread blocked elsewhere inside a task is busy).
 */
static bool busy_now(const struct weft_thread *t)
{
	int kind = weft_load_relaxed(&t->wait_kind);
	uint64_t source = weft_load_relaxed(&t->task_source);

	if (!weft_load_relaxed(&t->in_task))
		return false;
	if (kind == WEFT_WAIT_POLL)
		return source != WEFT_TASK_SOURCE_POLL;
	return kind == WEFT_WAIT_NONE || weft_load_relaxed(&t->wait_object) != source;
}

static void tasks_collect(void)
{
	for (size_t i = 0; i < tk.n_pools; i++)
		tk.pools[i].threads = tk.pools[i].busy = 0;
	for (struct weft_thread *t = weft_exporter_threads(); t; t = t->next) {
		struct pool *p;

		if (t->exit_seen || !t->consumer)
			continue;
		p = thread_pool(t);
		if (!p)
			continue;
		p->threads++;
		/* Inside a task, not waiting for its next one (the task ends as that wait begins).
		 */
		if (busy_now(t))
			p->busy++;
	}
	for (size_t i = 0; i < tk.n_pools; i++) {
		struct pool *p = &tk.pools[i];
		const char *name = pool_name(p), *old = p->shown;

		/* A pool renamed (its threads' names now share a prefix, or no more): new series.
		 */
		if (old[0] && strcmp(old, name) != 0) {
			weft_metrics_forget(tk.threads, &old);
			weft_metrics_forget(tk.busy, &old);
			weft_metrics_forget(tk.created, &old);
		}
		weft_format(p->shown, sizeof(p->shown), "%s", name);
		weft_metrics_set(tk.threads, &name, p->threads);
		weft_metrics_set(tk.busy, &name, p->busy);
		if (p->key != MAIN_KEY)
			weft_metrics_set(tk.created, &name, p->created);
	}
}

static void tasks_ended(struct weft_thread *t, uint64_t end_ns, bool at_exit)
{
	/*
	 * A worker still blocked at exit in the receive that ended its task (an
	 * idle worker waiting for its next item) never recorded that wait: its
	 * task ended when the wait began, as its state on view says.
	 */
	if (at_exit && !weft_load_acquire(&t->in_task) && weft_load_acquire(&t->wait_kind)) {
		uint64_t since =
			weft_stamp_clock(weft_load_relaxed(&t->wait_since), weft_clock_now());

		if (since < end_ns)
			end_ns = since;
	}
	task_end(t, end_ns);
}

static void tasks_after_fork(void)
{
	/* The pools' pages stay shared with the parent: not written. */
	memset(&tk, 0, offsetof(__typeof__(tk), pools));
}

const struct weft_interp weft_interp_tasks = {
	.name = "tasks",
	.setup = tasks_setup,
	.collect = tasks_collect,
	.thread_ended = tasks_ended,
	.after_fork = tasks_after_fork,
};
