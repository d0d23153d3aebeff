/*
 * A bounded single-producer, single-consumer ring of events, safe against
 * the producer's own signal handlers.
 *
 * Each application thread owns one ring and is its only producer; the
 * exporter thread is its only consumer. Algorithm (Lamport's queue with C11
 * orderings, plus reservation for reentrancy):
 *
 * - `head` counts records published and is stored only by the producer;
 *   `tail` counts records consumed and is stored only by the consumer. Both
 *   grow without wrapping (64 bits); a slot is index & mask.
 * - The consumer reads `head` with acquire, pairing with the producer's
 *   release store of `head`, so the slots below it are complete when read;
 *   it then stores `tail` with release, pairing with the producer's acquire
 *   load of `tail`, so its reads of a slot happen before the slot is reused.
 * - A full ring never blocks: the event is dropped and counted in `dropped`.
 *
 * Reentrancy. A signal handler on the producer thread may record (a write()
 * in a handler is common) while the thread is half-way through a push. Two
 * producer-only counters make that safe without locks:
 *
 * - `reserve` counts slots claimed. A push claims slot `reserve` with a
 *   compare-and-swap, so a handler that claims a slot between our read and our
 *   write of `reserve` makes our CAS fail and we claim the next one. Slots in
 *   [head, reserve) are being written or written but not yet published.
 * - `nest` counts pushes in progress on this thread (handlers nest, and each
 *   runs to completion before the frame it interrupted resumes). Only the
 *   outermost push (nest 0 -> 1) publishes: a nested one could otherwise
 *   publish past a slot the interrupted frame has claimed but not written.
 *   The outermost push publishes everything claimed so far, then drops `nest`
 *   to zero and checks that nothing was claimed meanwhile; if a handler
 *   claimed a slot while `nest` was still 1, it publishes again. `head` is
 *   stored only by the one frame holding nest == 1 and always with a value of
 *   `reserve` read after every slot below it was written, so it never goes
 *   backwards and never covers an unwritten slot.
 *
 * Producer-side accesses to `reserve`, `nest` and `dropped` are atomics (the
 * handler is the only other party), ordered against each other with signal
 * fences, which constrain the compiler only. head and tail live on separate
 * cache lines to avoid false sharing.
 */
#ifndef WEFT_AGENT_RING_H
#define WEFT_AGENT_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/atomic.h"
#include "agent/event.h"

/* The fewest pending events at which a ring asks the exporter for an early drain. */
#define WEFT_RING_MIN_WAKE 32

struct weft_ring {
	_Alignas(64) _Atomic uint64_t head;
	_Atomic uint64_t reserve;
	_Atomic uint64_t dropped;
	_Atomic uint32_t nest;
	_Alignas(64) _Atomic uint64_t tail;
	uint64_t mask;
	uint64_t wake_at; /* pending count at which the producer asks for a drain */
	struct weft_event *slots; /* capacity records, allocated with the ring's owner */
};

/* Bytes of slot storage for a ring of `capacity` events (a power of two). */
static inline size_t weft_ring_bytes(uint32_t capacity)
{
	return (size_t)capacity * sizeof(struct weft_event);
}

void weft_ring_init(struct weft_ring *ring, struct weft_event *slots, uint32_t capacity);

/* Outermost push: publish every claimed slot (see the comment above). */
static inline void weft_ring_publish(struct weft_ring *ring)
{
	for (;;) {
		uint64_t r = weft_load_relaxed(&ring->reserve);

		weft_store_release(&ring->head, r);
		atomic_signal_fence(memory_order_seq_cst);
		weft_store_relaxed(&ring->nest, 0);
		atomic_signal_fence(memory_order_seq_cst);
		if (weft_load_relaxed(&ring->reserve) == r)
			return;
		/* A handler claimed slots while nest was 1 and left them to us. */
		weft_store_relaxed(&ring->nest, 1);
		atomic_signal_fence(memory_order_seq_cst);
	}
}

/*
 * Producer side, from the owning thread or its signal handlers. Never blocks;
 * false means the event was dropped and counted.
 */
static inline bool weft_ring_push(struct weft_ring *ring, const struct weft_event *ev)
{
	uint32_t depth = weft_load_relaxed(&ring->nest) + 1;
	uint64_t tail, r;
	bool ok = true;

	weft_store_relaxed(&ring->nest, depth);
	atomic_signal_fence(memory_order_seq_cst);
	tail = weft_load_acquire(&ring->tail);
	r = weft_load_relaxed(&ring->reserve);
	do {
		if (r - tail > ring->mask) {
			weft_fetch_add_relaxed(&ring->dropped, 1);
			ok = false;
			break;
		}
	} while (!atomic_compare_exchange_weak_explicit(&ring->reserve, &r, r + 1,
							memory_order_relaxed, memory_order_relaxed));
	if (ok)
		ring->slots[r & ring->mask] = *ev;
	atomic_signal_fence(memory_order_seq_cst);
	if (depth == 1)
		weft_ring_publish(ring);
	else
		weft_store_relaxed(&ring->nest, depth - 1);
	return ok;
}

/*
 * Consumer side: hands every published event to `fn` in order and frees
 * their slots. Returns how many were consumed.
 */
size_t weft_ring_drain(struct weft_ring *ring, void (*fn)(const struct weft_event *ev, void *arg),
		       void *arg);

/* Producer side: events written and not yet consumed (approximate). */
static inline uint64_t weft_ring_pending(struct weft_ring *ring)
{
	return weft_load_relaxed(&ring->head) - weft_load_relaxed(&ring->tail);
}

/* Events dropped so far (consumer side, for reporting). */
static inline uint64_t weft_ring_dropped(struct weft_ring *ring)
{
	return weft_load_relaxed(&ring->dropped);
}

#endif
