/*
 * Where each thread's time went: running on a CPU, runnable (ready, waiting
 * for a CPU), blocked — as `go tool trace` shows a goroutine's.
 *
 * The kernel keeps the first two per thread (/proc/self/task/<tid>/schedstat:
 * time on a CPU, time on a run queue). The exporter reads them at each walk
 * (twice a second), for at most WEFT_THREADTIME_READS threads a walk in turn,
 * and once more at exit for every thread still alive, each time all together
 * in a descriptor table of their own (weft_fd_read_proc: the program's
 * descriptor numbers are never touched); between two readings a
 * thread was blocked for the rest of the wall time. No file is read on the
 * program's threads: a thread that ends records only its CPU time (one
 * system call, agent.c; none for a thread that lived less than 10 ms, whose
 * time not spent in hooked waits counts as running), and the part of its
 * life since its last reading is split from that: runnable is the wall time less the CPU time less
 * the time it spent blocked in the calls weft hooks (exact for a thread whose blocking all goes
 * through them). A thread's time blocked is also split by wait kind, from the hooks.
 *
 * Each accounting adds to weft.thread.time{weft.thread.state, weft.pool.name}
 * (seconds); when a thread ends its totals become attributes of its span
 * (weft.thread.time.running, .runnable, .blocked, and .blocked.<kind> for
 * each hooked kind it waited in). The whole run's totals decide the report's
 * CPU-starvation finding.
 */
#ifndef WEFT_EXPORTER_THREADTIME_H
#define WEFT_EXPORTER_THREADTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/registry.h"
#include "exporter/report.h"
#include "exporter/spans.h"

#define WEFT_THREADTIME_READS 256

/* A walk at `now`: the next threads' kernel figures read and accounted. */
void weft_threadtime_sample(uint64_t now);

/*
 * The process ends at `end_ns`: the kernel's figures of every thread still
 * running that weft_threadtime_end will ask for, read together.
 */
void weft_threadtime_exit_read(uint64_t end_ns);

/*
 * Thread `t` ended at `end_ns` (`at_exit`: still running when the process
 * ended): its last part accounted, its totals on its span `q` (NULL: none).
 */
void weft_threadtime_end(struct weft_thread *t, uint64_t end_ns, bool at_exit,
			 struct weft_qspan *q);

/* The time of pool `pool`'s threads so far: blocked, and in all (nanoseconds). */
void weft_threadtime_pool(const char *pool, uint64_t *blocked, uint64_t *all);

/* The run is over: CPU starvation, if the threads were runnable much of the time. */
void weft_threadtime_conclude(struct weft_report *r);

#endif
