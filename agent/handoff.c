#include <stdbool.h>
#include <string.h>

#include "agent/atomic.h"
#include "agent/handoff.h"

#define HANDOFF_SLOTS 4096u

struct slot {
	_Atomic uint32_t lock;
	_Atomic uint64_t seq;
	_Atomic uint64_t object;
	_Atomic uint64_t span;
	_Atomic uint64_t t; /* when: monotonic ns */
};

static struct slot slots[HANDOFF_SLOTS];

/*
 * One bit per page of slots that a publication has touched. A forked child
 * resets only the slots a parent's thread was writing at the fork, and looks
 * for them only in touched pages: rewriting the whole table made every child
 * copy or allocate its 32 pages (a page fault each) whatever it did next.
 */
#define SLOTS_PER_PAGE (4096u / sizeof(struct slot))
#define PAGES          ((HANDOFF_SLOTS + SLOTS_PER_PAGE - 1) / SLOTS_PER_PAGE)
_Static_assert(PAGES <= 64, "one bit per page in a 64-bit word");
static _Atomic uint64_t touched;

static struct slot *slot_of(const void *object)
{
	uint64_t a = (uint64_t)(uintptr_t)object;

	return &slots[((a >> 3) * 0x9e3779b97f4a7c15ull >> 52) & (HANDOFF_SLOTS - 1)];
}

void weft_handoff_publish(const void *object, uint64_t span, uint64_t now)
{
	struct slot *s = slot_of(object);
	uint64_t seq;

	uint64_t page = UINT64_C(1) << ((size_t)(s - slots) / SLOTS_PER_PAGE);

	/* Set once per page: a plain load keeps the shared word read-mostly. */
	if (!(weft_load_relaxed(&touched) & page))
		atomic_fetch_or_explicit(&touched, page, memory_order_relaxed);
	if (atomic_exchange_explicit(&s->lock, 1, memory_order_acquire))
		return; /* another writer (or our own interrupted frame): skip */
	seq = weft_load_relaxed(&s->seq);
	/* Odd while writing: a reader that sees it, or sees it change, gives up. */
	weft_store_relaxed(&s->seq, seq + 1);
	atomic_thread_fence(memory_order_release);
	weft_store_relaxed(&s->object, (uint64_t)(uintptr_t)object);
	weft_store_relaxed(&s->span, span);
	weft_store_relaxed(&s->t, now);
	/* Release: the fields above are visible to whoever sees the even seq. */
	weft_store_release(&s->seq, seq + 2);
	weft_store_release(&s->lock, 0);
}

uint64_t weft_handoff_mark(const void *object)
{
	return weft_load_acquire(&slot_of(object)->seq);
}

uint64_t weft_handoff_take(const void *object, uint64_t mark, uint64_t *when)
{
	struct slot *s = slot_of(object);
	uint64_t seq = weft_load_acquire(&s->seq), obj, span, t;

	if (seq == mark || (seq & 1))
		return 0;
	obj = weft_load_relaxed(&s->object);
	span = weft_load_relaxed(&s->span);
	t = weft_load_relaxed(&s->t);
	/* The reads above happen before the second read of seq. */
	atomic_thread_fence(memory_order_acquire);
	if (weft_load_relaxed(&s->seq) != seq || obj != (uint64_t)(uintptr_t)object)
		return 0;
	*when = t;
	return span;
}

void weft_handoff_reset(void)
{
	/*
	 * Only the forking thread exists in the child; a slot another thread was
	 * publishing to at the fork stays locked (and its seq odd) forever. Every
	 * other slot is consistent, and a parent's publication there is harmless:
	 * a take needs a publication after its own mark, made in the child.
	 */
	uint64_t pages = weft_load_relaxed(&touched);

	for (size_t p = 0; p < PAGES; p++) {
		if (!(pages & (UINT64_C(1) << p)))
			continue;
		for (size_t i = p * SLOTS_PER_PAGE;
		     i < (p + 1) * SLOTS_PER_PAGE && i < HANDOFF_SLOTS; i++) {
			struct slot *s = &slots[i];

			if (!weft_load_relaxed(&s->lock))
				continue;
			weft_store_relaxed(&s->object, 0);
			weft_store_relaxed(&s->span, 0);
			weft_store_relaxed(&s->t, 0);
			weft_store_relaxed(&s->seq,
					   (weft_load_relaxed(&s->seq) + 1) & ~UINT64_C(1));
			weft_store_relaxed(&s->lock, 0);
		}
	}
}
