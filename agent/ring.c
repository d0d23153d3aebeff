#include "agent/ring.h"

void weft_ring_init(struct weft_ring *ring, struct weft_event *slots, uint32_t capacity)
{
	weft_store_relaxed(&ring->slots, slots);
	weft_store_relaxed(&ring->switch_at, 0);
	ring->first_mask = (capacity < WEFT_RING_FIRST ? capacity : WEFT_RING_FIRST) - 1;
	weft_store_relaxed(&ring->head, 0);
	weft_store_relaxed(&ring->reserve, 0);
	weft_store_relaxed(&ring->nest, 0);
	weft_store_relaxed(&ring->tail, 0);
	weft_store_relaxed(&ring->dropped, 0);
	ring->mask = capacity - 1;
	/*
	 * Ask for an early drain at half full, but never for fewer than 32
	 * events: tiny rings (tests, tight memory) wait for the schedule.
	 */
	ring->wake_at = capacity / 2 > WEFT_RING_MIN_WAKE ? capacity / 2 : WEFT_RING_MIN_WAKE;
}

size_t weft_ring_drain(struct weft_ring *ring, void (*fn)(const struct weft_event *ev, void *arg),
		       void *arg)
{
	uint64_t tail = weft_load_relaxed(&ring->tail);
	uint64_t head = weft_load_acquire(&ring->head);
	/* After the acquire of head: the slots and switch_at of every event below it. */
	struct weft_event *big = weft_load_relaxed(&ring->slots);
	uint64_t sw = weft_load_relaxed(&ring->switch_at);

	if (head == tail)
		return 0;
	if (fn)
		for (uint64_t i = tail; i != head; i++)
			fn(weft_ring_slot(ring, big, sw, i), arg);
	/* Release: our reads of the slots happen before the producer reuses them. */
	weft_store_release(&ring->tail, head);
	return (size_t)(head - tail);
}

void weft_ring_revive(struct weft_ring *ring)
{
	struct weft_event *big = weft_load_relaxed(&ring->slots);
	uint64_t sw = weft_load_relaxed(&ring->switch_at);
	uint64_t r = weft_load_relaxed(&ring->reserve);

	for (uint64_t i = weft_load_relaxed(&ring->head); i != r; i++) {
		weft_ring_slot(ring, big, sw, i)->h.type = WEFT_EV_NONE;
		weft_fetch_add_relaxed(&ring->dropped, 1);
	}
	atomic_signal_fence(memory_order_seq_cst);
}
