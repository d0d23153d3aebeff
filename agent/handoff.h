/*
 * Hand-offs: who recently signalled a condition variable or posted a semaphore.
 *
 * A signal, broadcast or post leaves the signalling thread's current span on
 * the object; a waiter that wakes from that object because of it turns the
 * span into a span link. We cannot add fields to the program's objects, so
 * the span is kept in a fixed, direct-mapped table of slots indexed by a hash
 * of the object's address (bounded memory; two objects that share a slot
 * overwrite each other, which loses a link — never blocks or fails the
 * program's call).
 *
 * A slot keeps the newest WEFT_HANDOFF_MAX publications, so that a waiter
 * woken after several (results of a fan-out, signalled by the tasks that
 * made them before the thread they wake has run) is linked to each; a
 * signal's publication is claimed by the first waiter that takes it, so
 * that waiters woken one after another each take their own.
 *
 * A publication is made inside the program's critical section, just before
 * glibc's own locked instructions, which wait for every earlier load and
 * store of the thread to complete, so it takes no lock and, most of the
 * time, writes nothing: a queue signals at every push, and while a waiter
 * is registered (glibc counts it until it has run) every push's signal has
 * a waiter, but only the first is a hand-off it has not seen. An entry holds
 * the span, the stamp (agent/clock.h) and a check, a hash of the object and
 * both, written last; the slot holds `waiting`, the newest stamp of the
 * waits begun on its objects. When an entry stamped after the newest wait
 * began is this object's and span's, of the same kind and not claimed, it
 * stands for this publication too (the next waiter to wake takes every such
 * entry): the signaller only reads the slot (lines in its cache since its
 * last signal, unless a waiter has come since) and writes nothing. So the
 * queue time runs from the first signal a waiter could have been woken by.
 * It need not be the newest entry: the workers of a pool whose producer
 * waits for room signal by turns (bench-pool's job queue made 18,000 to
 * 150,000 publications a run when only the newest could stand, one per wait
 * now: 10,000 to 19,000). (A locked exchange and four stores in front of
 * every signal made a mutex+condvar job queue twice as slow as without weft.)
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
 * it. A publication is stamped after the newest wait begun on its slot that
 * its thread can see (the CPUs' TSCs may disagree by more than the time
 * between a wait's start and the signal that ends it). A spurious or
 * timed-out wake-up finds none newer. A forked child's waits begin after
 * every publication the parent made.
 */
#ifndef WEFT_AGENT_HANDOFF_H
#define WEFT_AGENT_HANDOFF_H

#include <stdbool.h>
#include <stdint.h>

/* The publications a slot keeps. */
#define WEFT_HANDOFF_MAX 4

struct weft_handoff_slot;
struct weft_handoff_entry;

/*
 * A publisher's last publication, or the one it last found standing for
 * its signal: while that entry is still the slot's newest, whole (its
 * span, stamp and check as written), unclaimed and not older than the
 * newest wait, a signal by the same span on the same object is served by
 * it — the search's first step, told from the entry's line and the
 * slot's without hashing anything. A queue's producer signals at nearly
 * every push while a worker waits (bench-pool's job queue: 1.7 to 1.9
 * million signals with a waiter in 2 million jobs, 8,000 to 12,000
 * publications), inside its critical section. Each thread keeps one
 * (struct weft_thread), written only outside a signal handler's
 * interruption of its own writing, so it is always whole: it decides
 * only whether the search is needed. Its reads are no snapshot: a signal
 * handler that publishes four times in the slot while its thread reads
 * the memo can have it skip one publication — a lost link, never a wrong
 * one.
 */
struct weft_handoff_memo {
	const void *object;
	uint64_t span, stamp, check;
	struct weft_handoff_entry *entry; /* NULL: none, or being written */
	struct weft_handoff_slot *slot;
	bool all;
	bool writing;
};

/*
 * A signal or post on `object` by `span` (`all`: a broadcast, which every
 * waiter woken takes; a signal's or post's is taken by one waiter, the
 * first that wakes — or, when waiters woken together have claimed every one,
 * shared: see weft_handoff_take), made while glibc counts a waiter (one
 * woken counts until it runs), as a hand-off now, unless the slot holds a
 * publication that serves (see above); `memo` is the publishing thread's.
 * Async-signal-safe.
 */
void weft_handoff_publish(struct weft_handoff_memo *memo, const void *object, uint64_t span,
			  bool all);

/*
 * A wait on `object` begins at `since`, a stamp (the wait's record's start:
 * no TSC read of its own), which it passes to weft_handoff_take.
 */
void weft_handoff_wait(const void *object, uint64_t since);

/*
 * The wait that began at `since` has ended: the spans handed off on
 * `object` since that no other waiter has taken (every broadcast's), oldest
 * first, each once, into spans[WEFT_HANDOFF_MAX] — or, when waiters woken
 * together took every one, the newest — : how many (*stamp: the oldest's
 * stamp).
 */
int weft_handoff_take(const void *object, uint64_t since, uint64_t *spans, uint64_t *stamp);

#endif
