/*
 * A bounded single-producer, single-consumer ring of events.
 *
 * Each application thread owns one ring and is its only producer; the
 * exporter thread is its only consumer. Algorithm (Lamport's queue with C11
 * orderings):
 *
 * - `head` counts records ever written and is stored only by the producer;
 *   `tail` counts records ever consumed and is stored only by the consumer.
 *   Both grow without wrapping (64 bits); a slot is index & mask.
 * - The producer reads `tail` with acquire: that pairs with the consumer's
 *   release store of `tail`, so the consumer's reads of a slot happen before
 *   the producer overwrites it. It fills the slot, then publishes it with a
 *   release store of `head`.
 * - The consumer reads `head` with acquire, pairing with that release, so the
 *   slot contents it then reads are complete.
 * - A full ring never blocks: the producer increments `dropped` (its own
 *   counter, read by the consumer with relaxed loads only for reporting) and
 *   returns false.
 *
 * head and tail live on separate cache lines to avoid false sharing.
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
	_Atomic uint64_t dropped;
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

/* Producer side. Never blocks; false means the event was dropped and counted. */
static inline bool weft_ring_push(struct weft_ring *ring, const struct weft_event *ev)
{
	uint64_t head = weft_load_relaxed(&ring->head);
	uint64_t tail = weft_load_acquire(&ring->tail);

	if (head - tail > ring->mask) {
		weft_store_relaxed(&ring->dropped, weft_load_relaxed(&ring->dropped) + 1);
		return false;
	}
	ring->slots[head & ring->mask] = *ev;
	weft_store_release(&ring->head, head + 1);
	return true;
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
