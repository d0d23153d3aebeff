/* Stuck and leaked threads (exporter/stuck.h). */
#include <stdio.h>
#include <string.h>

#include "agent/atomic.h"
#include "agent/config.h"
#include "agent/large.h"
#include "agent/log.h"
#include "agent/task.h"
#include "exporter/deadlocks.h"
#include "exporter/exporter.h"
#include "exporter/metrics.h"
#include "exporter/stuck.h"
#include "exporter/symbols.h"
#include "exporter/tasks.h"

/* Findings are grouped by pool, wait kind and call site; past this many groups, counted. */
#define GROUPS 16

struct group {
	char pool[64];
	enum weft_wait_kind kind;
	const char *site; /* the symbols cache's string, or NULL */
	int64_t threads;
	uint64_t longest_ns;
};

static struct {
	struct weft_instrument *gauge;
	int64_t now[WEFT_WAIT_KIND_COUNT];
	struct group stuck[GROUPS], leaked[GROUPS];
	size_t n_stuck, n_leaked;
	int64_t other_stuck, other_leaked;
} st WEFT_LARGE __attribute__((aligned(4096)));
/* One page: its setup and the last look at exit touch both ends of it. */
_Static_assert(sizeof(st) <= 4096, "the stuck and leaked threads' state fits one page");

/* Whether `t` waits for its next item on the source it received work from before. */
static bool idle_worker(const struct weft_thread *t, const struct weft_xthread *x)
{
	uint64_t source = weft_load_relaxed(&t->task_source);

	if (!source)
		return false;
	if (x->dl.kind == WEFT_WAIT_POLL)
		return source == WEFT_TASK_SOURCE_POLL;
	return source == x->dl.object;
}

/*
 * Adds a thread to its group (made if new; none past GROUPS: counted in
 * *other), or with `add` false, only its time blocked so far.
 */
static struct group *group_add(struct group *g, size_t *n, int64_t *other, const char *pool,
			       enum weft_wait_kind kind, const char *site, uint64_t blocked_ns,
			       bool add)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (g[i].kind == kind && g[i].site == site && strcmp(g[i].pool, pool) == 0)
			break;
	if (i == *n) {
		if (!add)
			return NULL;
		if (*n == GROUPS) {
			(*other)++;
			return NULL;
		}
		memset(&g[i], 0, sizeof(g[i]));
		snprintf(g[i].pool, sizeof(g[i].pool), "%s", pool);
		g[i].kind = kind;
		g[i].site = site;
		(*n)++;
	}
	g[i].threads += add;
	if (blocked_ns > g[i].longest_ns)
		g[i].longest_ns = blocked_ns;
	return &g[i];
}

void weft_stuck_begin(void)
{
	memset(st.now, 0, sizeof(st.now));
}

void weft_stuck_check(struct weft_thread *t, struct weft_xthread *x, uint64_t now)
{
	uint64_t blocked = now > x->dl.since_ns ? now - x->dl.since_ns : 0;
	const char *site, *pool;

	/*
	 * Not stuck: a sleep (it ends by itself), an idle worker, a join of a
	 * thread that is still working (not blocked itself), a thread of a
	 * deadlock (the deadlock is its finding).
	 */
	if (blocked < weft_cfg.stuck_after_ns || x->dl.kind == WEFT_WAIT_SLEEP ||
	    idle_worker(t, x) || (x->dl.kind == WEFT_WAIT_JOIN && !x->dl.next) ||
	    x->dl.reported == x->dl.since)
		return;
	st.now[x->dl.kind]++;
	site = weft_symbols_name((uintptr_t)x->dl.pc);
	pool = weft_tasks_pool_name(t);
	if (x->dl.stuck == x->dl.since) {
		/* Reported: how long it has lasted, for the report. */
		group_add(st.stuck, &st.n_stuck, &st.other_stuck, pool, x->dl.kind, site, blocked,
			  false);
		return;
	}
	x->dl.stuck = x->dl.since;
	weft_info("stuck: thread %s (tid %d, pool %s) blocked %.1f s in %s 0x%llx at %s",
		  x->named ? x->name : pool, (int)t->tid, pool, (double)blocked / 1e9,
		  weft_wait_kind_name(x->dl.kind), (unsigned long long)x->dl.object,
		  site ? site : "?");
	group_add(st.stuck, &st.n_stuck, &st.other_stuck, pool, x->dl.kind, site, blocked, true);
}

/* Whether a live thread is blocked joining `t` (blocked itself: the walk linked them). */
static bool being_joined(const struct weft_thread *t)
{
	for (struct weft_thread *o = weft_exporter_threads(); o; o = o->next) {
		struct weft_xthread *x = weft_xthread(o);

		if (x && x->dl.blocked && x->dl.kind == WEFT_WAIT_JOIN && x->dl.next == t)
			return true;
	}
	return false;
}

/* The report's lines: `what` of each group, most threads first (findings of `kind`). */
static void findings(struct group *g, size_t n, int64_t other, const char *what, const char *kind)
{
	char line[480];

	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && g[k].threads > g[k - 1].threads; k--) {
			struct group tmp = g[k];

			g[k] = g[k - 1];
			g[k - 1] = tmp;
		}
	for (size_t i = 0; i < n; i++) {
		if (g[i].threads == 0)
			continue;
		snprintf(line, sizeof(line),
			 "%s: %lld thread%s of pool %s %s in %s at %s (%s%.1f s%s)", what,
			 (long long)g[i].threads, g[i].threads == 1 ? "" : "s", g[i].pool,
			 what[0] == 'l' ? "alive at exit, never joined or detached, blocked"
					: "blocked",
			 weft_wait_kind_name(g[i].kind), g[i].site ? g[i].site : "?",
			 g[i].threads == 1 ? "" : "longest ", (double)g[i].longest_ns / 1e9,
			 what[0] == 'l' ? "" : " or more");
		weft_report_finding(weft_exporter_report(), WEFT_REPORT_STUCK,
				    &(struct weft_report_facts){
					    .kind = kind,
					    .pool = g[i].pool,
					    .wait_kind = weft_wait_kind_name(g[i].kind),
					    .function = g[i].site,
					    .threads = g[i].threads,
				    },
				    line);
	}
	if (other) {
		snprintf(line, sizeof(line), "%s: %lld more threads in other places", what,
			 (long long)other);
		weft_report_finding(weft_exporter_report(), WEFT_REPORT_STUCK,
				    &(struct weft_report_facts){ .kind = kind, .threads = other },
				    line);
	}
}

void weft_stuck_final(uint64_t now)
{
	/* The last walk sees the threads as the process leaves them. */
	weft_deadlocks_walk(now);
	for (struct weft_thread *t = weft_exporter_threads(); t; t = t->next) {
		struct weft_xthread *x = weft_xthread(t);
		const char *site, *pool;

		if (!x || !x->dl.blocked || x->dl.stuck != x->dl.since || x->detached ||
		    being_joined(t))
			continue;
		/* A leak: moved from its stuck group to its leak group. */
		site = weft_symbols_name((uintptr_t)x->dl.pc);
		pool = weft_tasks_pool_name(t);
		for (size_t i = 0; i < st.n_stuck; i++)
			if (st.stuck[i].kind == x->dl.kind && st.stuck[i].site == site &&
			    strcmp(st.stuck[i].pool, pool) == 0 && st.stuck[i].threads > 0)
				st.stuck[i].threads--;
		group_add(st.leaked, &st.n_leaked, &st.other_leaked, pool, x->dl.kind, site,
			  now - x->dl.since_ns, true);
	}
	findings(st.leaked, st.n_leaked, st.other_leaked, "leak", "thread_leak");
	findings(st.stuck, st.n_stuck, st.other_stuck, "stuck", "stuck_thread");
}

static void stuck_setup(void)
{
	static const char *const keys[] = { "weft.wait.kind" };

	st.gauge = weft_metrics_gauge("weft.thread.stuck",
				      "Threads blocked longer than WEFT_STUCK_AFTER, idle pool "
				      "workers excluded.",
				      "{thread}", 1, keys);
}

static void stuck_collect(void)
{
	for (int k = 1; k < WEFT_WAIT_KIND_COUNT; k++) {
		const char *kind = weft_wait_kind_name((enum weft_wait_kind)k);

		weft_metrics_set(st.gauge, &kind, st.now[k]);
	}
}

static void stuck_after_fork(void)
{
	memset(&st, 0, sizeof(st));
}

const struct weft_interp weft_interp_stuck = {
	.name = "stuck",
	.setup = stuck_setup,
	.collect = stuck_collect,
	.after_fork = stuck_after_fork,
};
