/* Where each thread's time went (exporter/threadtime.h). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/alloc.h"
#include "agent/atomic.h"
#include "agent/fd.h"
#include "agent/format.h"
#include "exporter/deadlocks.h"
#include "exporter/exporter.h"
#include "exporter/interp.h"
#include "exporter/metrics.h"
#include "exporter/tasks.h"
#include "exporter/threadtime.h"

/* The report calls it starvation when runnable is this share of ready time, and this long. */
#define STARVED_SHARE  0.25
#define STARVED_MIN_NS 100000000u

enum { RUNNING, RUNNABLE, BLOCKED, STATES };

static const char *const state_names[STATES] = { "running", "runnable", "blocked" };

/*
 * weft.thread.time's series of a pool, kept by the pool's name: the string
 * weft_tasks_pool_name gives, one pointer per name until a fork, so that a
 * thread's accounting does not hash its three series' values.
 */
enum { POOL_SERIES = 8 };

struct pool_time_series {
	const char *pool;
	struct weft_series *s[STATES];
};

static struct {
	struct weft_instrument *time;
	uint64_t total[STATES];
	bool no_schedstat; /* /proc cannot tell (no /proc, a sandbox): not asked again */
	unsigned next;     /* the entry of pools[] to replace next */
	struct pool_time_series pools[POOL_SERIES];
} tt;

static struct weft_series *const *pool_time_series(const char *pool)
{
	static struct weft_series *const none[STATES];
	struct pool_time_series *e;

	if (!tt.time)
		return none; /* not set up (again, after a fork) yet: nothing kept */
	for (int i = 0; i < POOL_SERIES; i++)
		if (tt.pools[i].pool == pool)
			return tt.pools[i].s;
	e = &tt.pools[tt.next++ % POOL_SERIES];
	e->pool = pool;
	for (int s = 0; s < STATES; s++) {
		const char *vals[2] = { state_names[s], pool };

		e->s[s] = weft_metrics_series(tt.time, vals);
	}
	return e->s;
}

/*
 * Threads whose kernel figures are read together: the walk's turn, or those
 * still running at exit (in chunks), all in one weft_fd_read_proc.
 */
enum { BATCH = 64 };

struct batch {
	struct weft_thread *t[BATCH];
	struct weft_proc_read r[BATCH];
	size_t n;
};

/*
 * Allocated at first use (10 KiB: not among the pages every process touches,
 * and small enough for the boot arena of a short process); NULL when none.
 */
static struct batch *batch_get(void)
{
	static struct batch *b;

	if (!b)
		b = weft_alloc(sizeof(*b));
	if (b)
		b->n = 0;
	return b;
}

static void batch_add(struct batch *b, struct weft_thread *t)
{
	weft_format(b->r[b->n].path, sizeof(b->r[b->n].path), "task/%d/schedstat", (int)t->tid);
	b->t[b->n++] = t;
}

/* The kernel's running and runnable nanoseconds in reading `r`: 0, or -errno. */
static int schedstat(const struct weft_proc_read *r, uint64_t *cpu, uint64_t *wait)
{
	ssize_t n = r->got;
	const char *next;
	char *end;

	/*
	 * Not there, or not for us: it will not be later. (A thread just gone is
	 * ENOENT too, but then its own task directory is gone while
	 * /proc/self/schedstat stays.)
	 */
	if (n == -ENOENT || n == -EACCES || n == -EPERM) {
		if (access("/proc/self/schedstat", R_OK) != 0)
			tt.no_schedstat = true;
		return (int)n;
	}
	if (n < 0)
		return (int)n;
	/* The first two numbers, as sscanf("%lu %lu") reads them, without scanf's code. */
	*cpu = strtoull(r->buf, &end, 10);
	if (end == r->buf)
		return -EINVAL;
	next = end;
	*wait = strtoull(next, &end, 10);
	return end == next ? -EINVAL : 0;
}

/* Where an accounting's runnable time comes from. */
enum ready_from {
	READY_KERNEL, /* the kernel's figure */
	READY_HOOKS,  /* what the hooked waits leave of the time not running */
	READY_NONE,   /* unknown (no schedstat here): none counted, the rest is blocked */
};

/*
 * Accounts `t`'s time from its last accounting to `now`: `cpu` its running
 * time now, `wait` its runnable time now when the kernel's is known.
 */
static void account(struct weft_thread *t, struct weft_xthread *x, uint64_t now, uint64_t cpu,
		    uint64_t wait, enum ready_from from_what)
{
	uint64_t from = x->tt.at ? x->tt.at : t->start_ns;
	uint64_t wall = now > from ? now - from : 0;
	uint64_t run;

	/* Its first accounting counts from the CPU time it had when weft saw it. */
	if (!x->tt.at)
		x->tt.cpu = t->cpu_start_ns;
	run = cpu > x->tt.cpu ? cpu - x->tt.cpu : 0;
	uint64_t hooked = x->tt.hooked_ns - x->tt.hooked_at, ready, d[STATES];
	struct weft_series *const *series = pool_time_series(weft_tasks_pool_name(t));

	if (from_what == READY_KERNEL)
		ready = wait > x->tt.wait ? wait - x->tt.wait : 0;
	else if (from_what == READY_HOOKS)
		ready = wall > run + hooked ? wall - run - hooked : 0;
	else
		ready = 0;
	/* The clocks are read a little apart: nothing exceeds the wall time. */
	run = run < wall ? run : wall;
	ready = ready < wall - run ? ready : wall - run;
	d[RUNNING] = run;
	d[RUNNABLE] = ready;
	d[BLOCKED] = wall - run - ready;
	x->tt.running += d[RUNNING];
	x->tt.runnable += d[RUNNABLE];
	x->tt.blocked += d[BLOCKED];
	for (int s = 0; s < STATES; s++) {
		tt.total[s] += d[s];
		weft_metrics_series_add(series[s], (int64_t)d[s]);
	}
	x->tt.at = now > from ? now : from;
	x->tt.cpu = cpu > x->tt.cpu ? cpu : x->tt.cpu;
	if (from_what == READY_KERNEL && wait > x->tt.wait)
		x->tt.wait = wait; /* the kernel's figure: only the next reading of it needs it */
	x->tt.hooked_at = x->tt.hooked_ns;
}

/* Reads the batch and accounts each thread's time to `now`. */
static void sample_batch_read(struct batch *b, uint64_t now)
{
	uint64_t cpu, wait;

	weft_fd_read_proc(b->r, b->n);
	for (size_t i = 0; i < b->n; i++)
		if (schedstat(&b->r[i], &cpu, &wait) == 0)
			account(b->t[i], weft_xthread(b->t[i]), now, cpu, wait, READY_KERNEL);
	b->n = 0;
}

void weft_threadtime_sample(uint64_t now)
{
	size_t live = 0, reads = 0;
	uint64_t period;
	struct batch *b;

	if (tt.no_schedstat)
		return;
	for (struct weft_thread *t = weft_exporter_threads(); t; t = t->next)
		live += t->consumer && !t->exit_seen;
	/* Every thread in turn: with more than a walk's reads, each less often. */
	period = (uint64_t)WEFT_DEADLOCK_WALK_NS *
		 ((live + WEFT_THREADTIME_READS - 1) / WEFT_THREADTIME_READS);
	b = batch_get();
	if (!b)
		return;
	for (struct weft_thread *t = weft_exporter_threads(); t; t = t->next) {
		struct weft_xthread *x = weft_xthread(t);
		uint64_t from;

		if (!x || t->exit_seen || weft_load_acquire(&t->exited))
			continue;
		from = x->tt.at ? x->tt.at : t->start_ns;
		if (now < from + period || reads == WEFT_THREADTIME_READS)
			continue;
		reads++;
		batch_add(b, t);
		if (b->n == BATCH)
			sample_batch_read(b, now);
	}
	sample_batch_read(b, now);
}

/*
 * Whether `t`, still running at exit `end_ns`, is asked for the kernel's
 * figures: a life (or its part since the last reading) shorter than
 * WEFT_THREAD_CPU_MIN_NS is not worth it (a file read: most of what a trivial
 * process's exit costs weft in system calls), unless it is blocked (its wait
 * is in no record yet, and would count as running).
 */
static bool asked_at_exit(struct weft_thread *t, struct weft_xthread *x, uint64_t end_ns)
{
	uint64_t from = x->tt.at ? x->tt.at : t->start_ns;

	return end_ns - from >= WEFT_THREAD_CPU_MIN_NS || weft_load_acquire(&t->wait_kind) != 0;
}

/* Reads the batch and keeps each thread's figures for weft_threadtime_end. */
static void exit_batch_read(struct batch *b)
{
	weft_fd_read_proc(b->r, b->n);
	for (size_t i = 0; i < b->n; i++) {
		struct weft_xthread *x = weft_xthread(b->t[i]);

		x->tt.exit_read =
			schedstat(&b->r[i], &x->tt.exit_cpu, &x->tt.exit_wait) == 0 ? 1 : -1;
	}
	b->n = 0;
}

void weft_threadtime_exit_read(uint64_t end_ns)
{
	struct batch *b = NULL;

	if (tt.no_schedstat)
		return;
	for (struct weft_thread *t = weft_exporter_threads(); t; t = t->next) {
		struct weft_xthread *x = weft_xthread(t);

		if (!x || t->exit_seen || !asked_at_exit(t, x, end_ns))
			continue;
		/* Taken for the first thread to read: a short process reads none. */
		if (!b && !(b = batch_get()))
			return;
		batch_add(b, t);
		if (b->n == BATCH)
			exit_batch_read(b);
	}
	if (b)
		exit_batch_read(b);
}

/* "weft.thread.time.blocked.<kind>" for each kind, made once. */
static const char *blocked_key(enum weft_wait_kind kind)
{
	static char keys[WEFT_WAIT_KIND_COUNT][48];

	if (!keys[kind][0])
		weft_format(keys[kind], sizeof(keys[kind]), "weft.thread.time.blocked.%s",
			    weft_wait_kind_name(kind));
	return keys[kind];
}

void weft_threadtime_end(struct weft_thread *t, uint64_t end_ns, bool at_exit, struct weft_qspan *q)
{
	struct weft_xthread *x = weft_xthread(t);
	uint64_t cpu = 0, from;
	struct batch *b;
	bool asked;

	if (!x)
		return;
	/*
	 * Still running: the kernel's figures, or without them its CPU clock;
	 * gone: the CPU time it recorded, the rest from the hooks — unless the
	 * kernel's runnable figures are not to be had at all, when none is
	 * counted rather than guessed. A running thread is asked as
	 * asked_at_exit says; one that ends is not.
	 */
	from = x->tt.at ? x->tt.at : t->start_ns;
	asked = at_exit && asked_at_exit(t, x, end_ns);
	if (asked && x->tt.exit_read == 0 && !tt.no_schedstat && (b = batch_get())) {
		/* Not read with the others (weft_threadtime_exit_read): alone. */
		batch_add(b, t);
		exit_batch_read(b);
	}
	if (asked && x->tt.exit_read > 0) {
		account(t, x, end_ns, x->tt.exit_cpu, x->tt.exit_wait, READY_KERNEL);
	} else if (asked) {
		clockid_t clk;
		struct timespec ts;

		if (pthread_getcpuclockid(t->self, &clk) == 0 && clock_gettime(clk, &ts) == 0)
			cpu = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		account(t, x, end_ns, cpu, 0, READY_NONE);
	} else if ((cpu = weft_load_relaxed(&t->cpu_ns)) != 0) {
		account(t, x, end_ns, cpu, 0, tt.no_schedstat ? READY_NONE : READY_HOOKS);
	} else {
		/*
		 * A short life, its CPU time not read: all it did not wait was
		 * running, on top of the CPU time of its last reading (or of when
		 * weft first saw it, for the main or an adopted thread).
		 */
		uint64_t wall = end_ns > from ? end_ns - from : 0;
		uint64_t hooked = x->tt.hooked_ns - x->tt.hooked_at;
		uint64_t cpu0 = x->tt.at ? x->tt.cpu : t->cpu_start_ns;

		account(t, x, end_ns, cpu0 + (wall > hooked ? wall - hooked : 0), 0, READY_NONE);
	}
	if (!q)
		return;
	weft_qspan_attr_double(q, "weft.thread.time.running", (double)x->tt.running / 1e9);
	weft_qspan_attr_double(q, "weft.thread.time.runnable", (double)x->tt.runnable / 1e9);
	weft_qspan_attr_double(q, "weft.thread.time.blocked", (double)x->tt.blocked / 1e9);
	for (int k = 1; k < WEFT_WAIT_KIND_COUNT; k++)
		if (x->tt.blocked_kind_ns[k])
			weft_qspan_attr_double(q, blocked_key((enum weft_wait_kind)k),
					       (double)x->tt.blocked_kind_ns[k] / 1e9);
}

void weft_threadtime_pool(const char *pool, uint64_t *blocked, uint64_t *all)
{
	const char *vals[2] = { NULL, pool };

	*all = 0;
	for (int s = 0; s < STATES; s++) {
		vals[0] = state_names[s];
		*all += (uint64_t)weft_metrics_value(tt.time, vals);
	}
	vals[0] = state_names[BLOCKED];
	*blocked = (uint64_t)weft_metrics_value(tt.time, vals);
}

void weft_threadtime_conclude(struct weft_report *r)
{
	uint64_t ready = tt.total[RUNNING] + tt.total[RUNNABLE];
	char line[480], a[24], b[24];
	cpu_set_t set;
	long cpus;

	if (!ready || tt.total[RUNNABLE] < STARVED_MIN_NS ||
	    (double)tt.total[RUNNABLE] < STARVED_SHARE * (double)ready)
		return;
	/* The CPUs it may run on (sysconf's count would open a file in the program's table). */
	cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 0;
	snprintf(line, sizeof(line),
		 "cpu starvation: threads ready to run waited %s in all for a CPU, %.0f%% of the "
		 "time they were ready (they ran %s): more runnable threads than the %ld CPUs",
		 weft_report_human_ns(tt.total[RUNNABLE], true, a),
		 100.0 * (double)tt.total[RUNNABLE] / (double)ready,
		 weft_report_human_ns(tt.total[RUNNING], true, b), cpus);
	weft_report_finding(r, WEFT_REPORT_STARVED,
			    &(struct weft_report_facts){ .kind = "cpu_starvation" }, line);
}

static void threadtime_setup(void)
{
	static const char *const keys[] = { "weft.thread.state", "weft.pool.name" };

	tt.time = weft_metrics_sum_ns("weft.thread.time",
				      "Where the threads' time went: running, runnable, blocked.",
				      true, 2, keys);
}

static void threadtime_after_fork(void)
{
	memset(&tt, 0, sizeof(tt));
}

const struct weft_interp weft_interp_threadtime = {
	.name = "threadtime",
	.setup = threadtime_setup,
	.after_fork = threadtime_after_fork,
};
