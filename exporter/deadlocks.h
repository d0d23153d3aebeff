/*
 * Deadlocks: cycles in the wait-for graph of blocked threads.
 *
 * Twice a second (WEFT_DEADLOCK_WALK_NS), independently of the export
 * interval, the exporter walks the waits its threads have on view
 * (agent/registry.h): a mutex wait and a rwlock wait point at the lock's
 * owner now, a join at the joined thread. Each blocked thread waits for at
 * most one other, so the graph is a set of chains, some ending in a cycle.
 * A cycle whose threads are still in the same waits at the next walk is a
 * deadlock, found within a second of forming: reported once (a `weft:` line, a `deadlock` span with
 * a link to each thread's current span and a `weft.deadlock` event per thread, the weft.deadlocks
 * counter, the report's findings), never again while those waits last. Threads blocked behind the
 * cycle (joining one of its threads) are not part of it. Nothing is asked of the program's threads:
 * the walk reads what the hooks publish, and the locks' owners with process_vm_readv, which fails
 * cleanly if a lock's memory is gone.
 */
#ifndef WEFT_EXPORTER_DEADLOCKS_H
#define WEFT_EXPORTER_DEADLOCKS_H

#include <stdint.h>

#define WEFT_DEADLOCK_WALK_NS 500000000u

/*
 * One walk over the exporter's threads, at monotonic time `now`; each
 * blocked thread's wait is also checked for being stuck (exporter/stuck.h).
 */
void weft_deadlocks_walk(uint64_t now);

#endif
