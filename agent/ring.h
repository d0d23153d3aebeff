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
 * Two stages. Most threads record a handful of events in their whole life,
 * so a ring starts with WEFT_RING_FIRST slots held inline in the thread's
 * state: no allocation at all. When those fill, the owner (the outermost
 * frame only, never a signal handler) allocates the full ring and grows into
 * it: it stores `switch_at` (the first index that lives in the new slots) and
 * then the slots pointer, both before any event at or past `switch_at` is
 * published, so the consumer's acquire load of `head` makes both visible.
 * Events below `switch_at` stay where they are, in the inline slots, until
 * drained; an index's slot is chosen by comparing it with `switch_at`.
 *
 * A push left by a jump. A program may leave a signal handler with
 * siglongjmp, and so leave whatever the handler interrupted — a push
 * half-way included. Its `nest` stays raised, and every later push would
 * take itself for a handler's and publish nothing. So the outermost push
 * notes its stack pointer, and a push that finds `nest` raised asks whether
 * that frame was left (weft_frame_left, agent/sighold.h); if so, the slots
 * claimed and not published — some perhaps half written — are made void
 * (WEFT_EV_NONE, which the consumer skips; counted as dropped) and the push
 * goes on as the outermost.
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
#include "agent/sighold.h"

/* The fewest pending events at which a ring asks the exporter for an early drain. */
#define WEFT_RING_MIN_WAKE 32

/* Slots held inline, before a ring grows into its own (a power of two). */
#define WEFT_RING_FIRST 16

/* What a push did. */
enum weft_push {
	WEFT_PUSH_OK,
	WEFT_PUSH_DROPPED, /* full: dropped and counted */
	WEFT_PUSH_GROW,    /* the inline slots are full: grow (weft_ring_grow), push again */
};

struct weft_ring {
	_Alignas(64) _Atomic uint64_t head;
	_Atomic uint64_t reserve;
	_Atomic uint64_t dropped;
	_Atomic uint32_t nest;
	uintptr_t sp;  /* the outermost push's stack pointer (weft_ring_revive) */
	uintptr_t top; /* the owner's stack top as weft saw it; 0: unknown (weft_frame_left) */
	_Alignas(64) _Atomic uint64_t tail;
	uint64_t mask;              /* of the full ring: capacity - 1 */
	uint64_t first_mask;        /* of the inline slots: min(capacity, WEFT_RING_FIRST) - 1 */
	uint64_t wake_at;           /* pending count at which the producer asks for a drain */
	_Atomic uint64_t switch_at; /* the first index in `slots` */
	_Atomic(struct weft_event *) slots; /* the full ring; NULL until grown */
	struct weft_event first[WEFT_RING_FIRST];
};

/* Bytes of slot storage for a ring of `capacity` events (a power of two). */
static inline size_t weft_ring_bytes(uint32_t capacity)
{
	return (size_t)capacity * sizeof(struct weft_event);
}

/*
 * Sets a ring up empty. With `slots` (capacity records), the ring uses them
 * from the start; with NULL, it starts in its inline slots and grows later.
 */
void weft_ring_init(struct weft_ring *ring, struct weft_event *slots, uint32_t capacity);

/* Owner, outside any push (nest 0): moves on to `slots` (capacity records). */
static inline void weft_ring_grow(struct weft_ring *ring, struct weft_event *slots)
{
	weft_store_relaxed(&ring->switch_at, weft_load_relaxed(&ring->reserve));
	atomic_signal_fence(memory_order_seq_cst);
	weft_store_relaxed(&ring->slots, slots);
}

/* The slot of index i, given the full ring's slots (or NULL) and switch_at. */
static inline struct weft_event *weft_ring_slot(struct weft_ring *ring, struct weft_event *big,
						uint64_t sw, uint64_t i)
{
	if (big && (int64_t)(i - sw) >= 0)
		return &big[i & ring->mask];
	return &ring->first[i & ring->first_mask];
}

/* Outermost push: publish every claimed slot (see the comment above). */
static inline void weft_ring_publish(struct weft_ring *ring, uintptr_t sp)
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
		ring->sp = sp;
		atomic_signal_fence(memory_order_seq_cst);
		weft_store_relaxed(&ring->nest, 1);
		atomic_signal_fence(memory_order_seq_cst);
	}
}

/*
 * Claims slot *r: reserve goes from *r to *r + 1, or *r becomes what it is
 * now (a signal handler claimed slots in between). Only the owning thread
 * and its handlers claim, so the compare-and-swap need only be atomic
 * against an interruption on this core: on x86-64 a `cmpxchg` without the
 * lock prefix (a handler runs between instructions). A locked one, like
 * any locked instruction, waits until the thread's earlier stores are
 * visible to other cores, and an event is often recorded inside the
 * program's critical section (the wait that acquired a mutex, a condition
 * variable's wake-up), which it lengthens by that wait. For the same reason
 * a push prefetches the next record's line for writing: the store that fills
 * it finds it in the cache instead of fetching it then. Elsewhere (and under
 * ThreadSanitizer, which does not see inside asm) the C11 operation.
 */
static inline bool weft_ring_claim(_Atomic uint64_t *reserve, uint64_t *r)
{
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
	bool ok;

	__asm__ volatile("cmpxchgq %3, %1"
			 : "=@ccz"(ok), "+m"(*reserve), "+a"(*r)
			 : "r"(*r + 1)
			 : "memory");
	return ok;
#else
	return atomic_compare_exchange_weak_explicit(reserve, r, *r + 1, memory_order_relaxed,
						     memory_order_relaxed);
#endif
}

/*
 * `nest` is raised, and the push that raised it was left by a jump: what it
 * and any handler on top of it claimed and did not publish is made void;
 * the caller goes on as the outermost push, whose publication covers them.
 * Rare: out of line.
 */
void weft_ring_revive(struct weft_ring *ring);

/*
 * The owner jumps out of every push under way (agent/jump.h): what they
 * claimed is made void and no push is under way any more; the next one
 * publishes the void slots with its own.
 */
static inline void weft_ring_abandon(struct weft_ring *ring)
{
	weft_ring_revive(ring);
	weft_store_relaxed(&ring->nest, 0);
	atomic_signal_fence(memory_order_seq_cst);
}

/*
 * Producer side, from the owning thread or its signal handlers. Never blocks.
 * GROW comes only to the outermost frame of a ring still in its inline slots;
 * a nested push (a signal handler) that finds them full drops.
 */
enum weft_push weft_ring_push_ex(struct weft_ring *ring, const struct weft_event *ev);

/* A push that never grows: false means the event was dropped and counted. */
static inline bool weft_ring_push(struct weft_ring *ring, const struct weft_event *ev)
{
	enum weft_push st = weft_ring_push_ex(ring, ev);

	if (st == WEFT_PUSH_GROW)
		weft_fetch_add_relaxed(&ring->dropped, 1);
	return st == WEFT_PUSH_OK;
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
