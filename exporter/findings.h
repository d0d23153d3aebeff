/*
 * The report's findings that need the whole run: the hottest locks and the
 * saturated pools (deadlocks, lock-order inversions, stuck and leaked
 * threads are found as they happen: exporter/deadlocks.h, stuck.h, locks.c).
 *
 * Hot locks. Every lock wait is added to its lock's entry (kind and
 * address): the time waited, the waits, the call sites that waited and the
 * pools of the threads that held it when the waits began; a sampled hold
 * (WEFT_HOLD_SAMPLE) adds the function that released it. The table keeps
 * WEFT_FINDINGS_LOCKS locks: a new lock, when it is full, takes the place of
 * the one that has waited least and starts from that one's total (the
 * space-saving way of keeping the heaviest: a lock that waited more than
 * any left out is never left out). At the end, the locks whose waits add up
 * to at least WEFT_FINDINGS_HOT_SHARE of the run's duration are findings,
 * the longest total first (at most three): a lock contended often but
 * briefly ranks below one held long.
 *
 * The slow stage. A pipeline's stages are pools joined by channels. The
 * channel whose writers were blocked on it (it was full) for at least
 * WEFT_FINDINGS_FULL_SHARE of the run, read by a pool that was blocked less
 * than WEFT_FINDINGS_STAGE_BLOCKED of its threads' time, is the input of the
 * stage that limits the throughput: everything before it waits for it, and
 * it never waits. The one whose input was full longest is named.
 *
 * Saturated pools. A pool that ran at least WEFT_FINDINGS_MIN_TASKS tasks,
 * was busy at least WEFT_FINDINGS_BUSY of its threads' time, and whose items
 * waited in the queue longer (median) than a task took to run (median) has
 * more work than threads: items queue up behind busy workers.
 */
#ifndef WEFT_EXPORTER_FINDINGS_H
#define WEFT_EXPORTER_FINDINGS_H

#include <stdint.h>
#include <sys/types.h>

#include "agent/event.h"
#include "exporter/report.h"

#define WEFT_FINDINGS_LOCKS         64
#define WEFT_FINDINGS_HOT_SHARE     0.05
#define WEFT_FINDINGS_MIN_TASKS     10
#define WEFT_FINDINGS_BUSY          0.9
#define WEFT_FINDINGS_CHANNELS      32
#define WEFT_FINDINGS_FULL_SHARE    0.3
#define WEFT_FINDINGS_STAGE_BLOCKED 0.2

/* A wait of `ns` for lock `object`, from `site` (NULL: unknown), held then by pool `holder`. */
void weft_findings_lock_wait(enum weft_wait_kind kind, uint64_t object, const char *site,
			     const char *holder, uint64_t ns);

/* A sampled hold of lock `object` for `ns`, released in `site`. */
void weft_findings_lock_hold(uint64_t object, const char *site, uint64_t ns);

/*
 * Thread `t` reads from channel `channel` (a channel's slot id): the first
 * reader's pool is the channel's reading stage (its name is looked up only
 * then: a read per hand-off calls this).
 */
struct weft_thread;
void weft_findings_channel_reader(uint32_t channel, const struct weft_thread *t);

/* A writer to `channel` was blocked `ns`: the channel was full. */
void weft_findings_channel_full(uint32_t channel, uint64_t ns);

/* The run (of `run_ns`) is over: its hot locks, saturated pools and slow stage into the report. */
void weft_findings_conclude(struct weft_report *r, uint64_t run_ns);

/* A forked child starts with none of its parent's. */
void weft_findings_reset(void);

#endif
