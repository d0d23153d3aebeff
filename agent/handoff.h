/*
 * Hand-offs: who last signalled a condition variable or posted a semaphore.
 *
 * A signal, broadcast or post leaves the signalling thread's current span on
 * the object; a waiter that wakes from that object because of it turns the
 * span into a span link. We cannot add fields to the program's objects, so
 * the span is kept in a fixed, direct-mapped table of slots indexed by a hash
 * of the object's address (bounded memory; two objects that share a slot
 * overwrite each other, which loses or, rarely, misattributes a link — never
 * blocks or fails the program's call).
 *
 * A slot is a seqlock whose writers are serialised by a try-lock. A writer
 * takes the slot's lock with an exchange (if another writer holds it —
 * another thread, or the same thread interrupted by a signal handler — the
 * publication is skipped), makes `seq` odd, writes the object and span, makes
 * `seq` even again with release, and unlocks. A waiter takes a mark (the
 * slot's `seq`, acquire) before it blocks; after it wakes, weft_handoff_take
 * returns the span if the slot was published for the same object since the
 * mark. It reads an even seq (acquire), the fields, then seq again after an
 * acquire fence, and gives up rather than retry when they differ: a lost
 * link is acceptable, a wrong one is what we avoid. A spurious or timed-out
 * wake-up finds seq unchanged: no link.
 */
#ifndef WEFT_AGENT_HANDOFF_H
#define WEFT_AGENT_HANDOFF_H

#include <stdint.h>

/* Publishes `span` as the last hand-off on `object`, made at `now`. Async-signal-safe. */
void weft_handoff_publish(const void *object, uint64_t span, uint64_t now);

/* The slot's publication count for `object`, before a wait. */
uint64_t weft_handoff_mark(const void *object);

/* The span handed off on `object` since `mark` (*when: its time), or 0. */
uint64_t weft_handoff_take(const void *object, uint64_t mark, uint64_t *when);

/* A forked child: the parent's hand-offs mean nothing there. */
void weft_handoff_reset(void);

#endif
