#include "agent/hot.h"
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

WEFT_HOT enum weft_push weft_ring_push_ex(struct weft_ring *ring, const struct weft_event *ev)
{
	uint32_t depth = weft_load_relaxed(&ring->nest) + 1;
	uintptr_t sp = weft_stack_pointer(), prev_sp = ring->sp;
	struct weft_event *big;
	enum weft_push st = WEFT_PUSH_OK;
	uint64_t tail, r;

	if (__builtin_expect(depth != 1, 0) && weft_frame_left(ring->sp, sp, ring->top)) {
		weft_ring_revive(ring);
		depth = 1;
	}
	/*
	 * Before nest, and again at each raise (weft_ring_publish): a frame that
	 * sees nest raised sees the stack pointer of the frame that raised it.
	 * A handler's push that lands between this store and the raise (nest
	 * still 0: it takes itself for the outermost) puts back the pointer it
	 * found when it is done, below; if it left its own, a later handler
	 * inside this push would compare its stack with the first handler's,
	 * could find itself above it, and void this push's slot as left by a
	 * jump while this push still writes it.
	 */
	if (depth == 1)
		ring->sp = sp;
	atomic_signal_fence(memory_order_seq_cst);
	weft_store_relaxed(&ring->nest, depth);
	atomic_signal_fence(memory_order_seq_cst);
	tail = weft_load_acquire(&ring->tail);
	r = weft_load_relaxed(&ring->reserve);
	big = weft_load_relaxed(&ring->slots);
	do {
		if (r - tail > (big ? ring->mask : ring->first_mask)) {
			if (!big && depth == 1 && ring->mask > ring->first_mask) {
				st = WEFT_PUSH_GROW;
			} else {
				weft_fetch_add_relaxed(&ring->dropped, 1);
				st = WEFT_PUSH_DROPPED;
			}
			break;
		}
	} while (!weft_ring_claim(&ring->reserve, &r));
	if (st == WEFT_PUSH_OK) {
		uint64_t sw = weft_load_relaxed(&ring->switch_at);

		*weft_ring_slot(ring, big, sw, r) = *ev;
		/* The next record's line, owned before it is written (see weft_ring_claim). */
		__builtin_prefetch(weft_ring_slot(ring, big, sw, r + 1), 1);
	}
	atomic_signal_fence(memory_order_seq_cst);
	if (depth == 1) {
		weft_ring_publish(ring, sp);
		/* nest is 0: the pointer is read again only after the next raise. */
		atomic_signal_fence(memory_order_seq_cst);
		ring->sp = prev_sp;
	} else {
		weft_store_relaxed(&ring->nest, depth - 1);
	}
	return st;
}
