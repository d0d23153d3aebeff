/*
 * Hand-offs: who last signalled a condition variable or posted a semaphore.
 *
 * A signal, broadcast or post leaves the signalling thread's current span on
 * the object; a waiter that wakes from that object because of it turns the
 * span into a span link. We cannot add fields to the program's objects, so
 * the span is kept in a fixed, direct-mapped table of slots indexed by a hash
 * of the object's address (bounded memory; two objects that share a slot
 * overwrite each other, which loses a link — never blocks or fails the
 * program's call).
 *
 * A publication is made inside the program's critical section, just before
 * glibc's own locked instructions, which wait for every earlier load and
 * store of the thread to complete, so it takes no lock and, most of the
 * time, writes nothing: a queue signals at every push, and while a waiter
 * is registered (glibc counts it until it has woken) every push's signal
 * has a waiter, but only the first is a hand-off it has not seen. A slot
 * holds the object, the span, the stamp (agent/clock.h) and a check, a hash
 * of the three written last; and `waiting`, the stamp of the newest wait
 * that began on the object. A publication whose object and span the slot
 * holds already, stamped after the newest wait began, stands for this one
 * too: the signaller only reads the slot (lines it has in its cache since
 * its last signal, unless a waiter has begun since) and writes nothing. So
 * the queue time runs from the first signal a waiter could have been woken
 * by. (A locked exchange and four stores in front of every signal made a
 * mutex+condvar job queue twice as slow as without weft.)
 *
 * Writers are not serialised: two publishing at once (or a signal handler's
 * publication inside its thread's) may leave a mix of their fields, whose
 * check matches neither, and a reader that reads a slot while it is being
 * written may see such a mix too: a reader takes a publication only when the
 * check matches the fields it read, which then are all one writer's. A lost
 * link is acceptable; a wrong one is what we avoid.
 *
 * A waiter stamps its wait's beginning (weft_handoff_wait); after it wakes,
 * a publication for its object stamped since then is the hand-off that woke
 * it. A spurious or timed-out wake-up finds none newer. A forked child's
 * waits begin after every publication the parent made.
 */
#ifndef WEFT_AGENT_HANDOFF_H
#define WEFT_AGENT_HANDOFF_H

#include <stdint.h>

/*
 * Publishes `span` as the hand-off on `object` now, unless the slot holds
 * one that serves (see above). Async-signal-safe.
 */
void weft_handoff_publish(const void *object, uint64_t span);

/* A wait on `object` begins: its stamp, which it passes to weft_handoff_take. */
uint64_t weft_handoff_wait(const void *object);

/*
 * The span handed off on `object` at `since` or later (*stamp: its stamp),
 * or 0.
 */
uint64_t weft_handoff_take(const void *object, uint64_t since, uint64_t *stamp);

#endif
