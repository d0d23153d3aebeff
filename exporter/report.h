/*
 * The end-of-run report (WEFT_REPORT): what a person reads first.
 *
 * A few lines of plain text — run time, threads, each pool's threads, tasks,
 * busy fraction and task and queue times, the longest waits, anything weft
 * could not deliver, and where the full telemetry went — written at exit to
 * stderr or a file. Fed by the exporter as it interprets events; everything
 * it keeps is in the structure (fixed size, nothing allocated).
 */
#ifndef WEFT_EXPORTER_REPORT_H
#define WEFT_EXPORTER_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "exporter/json.h"

/*
 * A histogram of durations in nanoseconds that needs no allocation: below 8 ns
 * one bucket per value, above, 4 buckets per power of two ([4w, 5w), [5w, 6w),
 * [6w, 7w), [7w, 8w) for w a power of two), up to 2^64 - 1. A percentile read
 * back is its bucket's middle, so within half a bucket of the true value:
 * within 12.5% (w/2 of at least 4w), and exact below 8 ns and where it is the
 * smallest or largest value (kept apart; any answer stays within them).
 */
enum { WEFT_REPORT_HIST_BUCKETS = 252 };

struct weft_report_hist {
	uint64_t count;
	uint64_t min, max;
	uint64_t buckets[WEFT_REPORT_HIST_BUCKETS];
};

void weft_report_hist_add(struct weft_report_hist *h, uint64_t ns);

/* The value below which a fraction `p` (0 < p ≤ 1) of those added lie; 0 when empty. */
uint64_t weft_report_hist_percentile(const struct weft_report_hist *h, double p);

/*
 * A pool (exporter/tasks.c names it: the threads started from one start
 * routine; `main`; `thread`). Its threads are counted as they end — every
 * thread ends, at the process's exit at the latest — because a thread's name,
 * which may decide its pool, is set after it starts.
 */
struct weft_report_pool {
	char name[64];
	int64_t threads;
	uint64_t thread_ns; /* the threads' lifetimes, added up */
	int64_t tasks;
	uint64_t task_ns; /* the tasks' durations, added up: busy = task_ns / thread_ns */
	struct weft_report_hist task, queue;
};

enum { WEFT_REPORT_POOLS = 16, WEFT_REPORT_WAITS = 5, WEFT_REPORT_FINDINGS = 8 };

struct weft_report {
	uint64_t start_ns, end_ns;
	int64_t peak_threads;
	int64_t threads_created;
	int64_t spans_exported;
	int64_t dropped;
	char output[576];
	size_t n_pools;
	int64_t other_threads, other_tasks; /* of pools beyond the table */
	size_t n_waits;
	uint64_t waits_total;
	uint64_t waited_ns;
	size_t n_findings;
	int64_t other_findings; /* beyond the table */
	/*
	 * Pools taken since the report was all zero, which weft_report_reset
	 * keeps: those beyond are zero still, and taken without a write (a pool
	 * entry spans a page boundary; a short process's one pool then costs
	 * one page fault, not two).
	 */
	size_t pools_written;
	/*
	 * The tables, last: an entry is written whole when it is taken, so the
	 * counts above alone empty them (weft_report_reset).
	 */
	struct weft_report_pool pools[WEFT_REPORT_POOLS];
	struct {
		char kind[16];
		char function[64];
		pid_t tid;
		uint64_t duration_ns;
	} waits[WEFT_REPORT_WAITS]; /* longest first */
	/* Problems found, most important first (see weft_report_finding). */
	struct weft_report_finding {
		int rank; /* enum weft_report_rank */
		char text[480];
		/* The facts, also attributes of its weft.finding event. */
		const char *kind; /* weft.finding.kind: a literal */
		char pool[64];    /* "": none */
		char wait_kind[16];
		char function[64];
		int64_t threads;
		uint64_t lock_first, lock_second; /* a lock-order inversion's pair (0: none) */
		char site_forward[64], site_reverse[64];
	} findings[WEFT_REPORT_FINDINGS];
};

/*
 * Empties a report: its fields zeroed, its tables (74 KiB) emptied by their
 * counts. In a forked child their pages stay shared with the parent rather
 * than copied to be zeroed (a page fault each).
 */
void weft_report_reset(struct weft_report *r);

/* How findings are ordered: a lower rank first, then in the order found. */
enum weft_report_rank {
	WEFT_REPORT_DEADLOCK,
	WEFT_REPORT_LOCK_ORDER,
	WEFT_REPORT_STUCK, /* leaked threads first, then stuck ones */
	WEFT_REPORT_HOT_LOCK,
	WEFT_REPORT_SLOW_STAGE,
	WEFT_REPORT_SATURATED,
	WEFT_REPORT_STARVED,
};

void weft_report_thread_created(struct weft_report *r);

/* A thread of pool `pool` ended: it lived from start_ns to end_ns. */
void weft_report_thread_ended(struct weft_report *r, const char *pool, uint64_t start_ns,
			      uint64_t end_ns);

/*
 * A task of pool `pool` ended: it ran duration_ns, after its work had waited
 * queue_ns to be taken (UINT64_MAX: not known).
 */
void weft_report_task(struct weft_report *r, const char *pool, uint64_t duration_ns,
		      uint64_t queue_ns);

/*
 * Pool `name`'s entry (NULL: the table is full), for a caller that keeps it
 * beside the name it was found for and records each task with
 * weft_report_pool_task, as the tasks' pools do: no lookup per task. Valid
 * until weft_report_reset (a fork's child).
 */
struct weft_report_pool *weft_report_pool_of(struct weft_report *r, const char *name);

/* weft_report_task for the entry `p` (NULL: a pool beyond the table). */
void weft_report_pool_task(struct weft_report *r, struct weft_report_pool *p, uint64_t duration_ns,
			   uint64_t queue_ns);

void weft_report_wait(struct weft_report *r, const char *kind, const char *function, pid_t tid,
		      uint64_t duration_ns);

/* A finding's facts (NULL strings: not known). */
struct weft_report_facts {
	const char *kind; /* deadlock, stuck_thread, thread_leak, ... (TELEMETRY.md) */
	const char *pool;
	const char *wait_kind;
	const char *function;
	int64_t threads;
	uint64_t lock_first, lock_second;
	const char *site_forward, *site_reverse;
};

/* A problem the run showed, in one line a person can act on (cut to fit), and its facts. */
void weft_report_finding(struct weft_report *r, enum weft_report_rank rank,
			 const struct weft_report_facts *facts, const char *text);

/*
 * Writes `len` bytes of report text (weft_report_format's) to `where`:
 * "stderr" (weft's copy of the program's stderr, agent/fd.h) or a path
 * in which %p is the pid and %n the service name, as in WEFT_OUTPUT; created
 * 0600 with O_EXCL, never through a symlink; an existing file of this user is
 * appended to, never truncated (another process of the same program may have
 * written its report there), one of another user refused.
 */
void weft_report_write(const char *text, size_t len, const char *where);

/*
 * The report's text, appended to `b`. The exporter formats it once, at exit,
 * and uses it twice: written to WEFT_REPORT, and attached to the process span
 * as the event `weft.report` (attribute `weft.report.text`), so that
 * `weft report FILE` prints it from the telemetry (README, "Telemetry").
 */
void weft_report_format(const struct weft_report *r, struct weft_json *b);

/*
 * A duration for a person: 850ns, 12us, 1.5ms, 140ms, 2s (three significant
 * digits at most); "-" when not `known`. Returns `out`.
 */
const char *weft_report_human_ns(uint64_t ns, bool known, char out[24]);

#endif
