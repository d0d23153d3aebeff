/*
 * Stuck and leaked threads.
 *
 * A thread blocked longer than WEFT_STUCK_AFTER is stuck, unless it waits on
 * a work source from which it has received work before (an idle pool
 * worker waiting for its next item is not stuck), sleeps, joins a thread
 * that is still working, or is part of a deadlock (reported as such). The
 * deadlock walk (exporter/deadlocks.h) hands each blocked thread to
 * weft_stuck_check:
 * each stuck wait is reported once (a `weft:` line at info level; a finding
 * in the report, grouped by pool, wait kind and call site) and counted in
 * the weft.thread.stuck{weft.wait.kind} gauge while it lasts. At exit,
 * threads still alive that are stuck, were never detached and are not being
 * joined are listed in the report as a probable leak.
 */
#ifndef WEFT_EXPORTER_STUCK_H
#define WEFT_EXPORTER_STUCK_H

#include <stdint.h>

#include "agent/registry.h"
#include "exporter/interp.h"

/* A walk begins: the gauge's counts start again. */
void weft_stuck_begin(void);

/* `t` is blocked in the wait its snapshot `x->dl` holds, at `now`. */
void weft_stuck_check(struct weft_thread *t, struct weft_xthread *x, uint64_t now);

/* The process ends at `now`: the last walk, the leaks, the report's findings. */
void weft_stuck_final(uint64_t now);

#endif
