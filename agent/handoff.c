#include "agent/atomic.h"
#include "agent/clock.h"
#include "agent/handoff.h"

#define HANDOFF_SLOTS 4096u

struct slot {
	_Atomic uint64_t object;
	_Atomic uint64_t span;
	_Atomic uint64_t stamp;
	_Atomic uint64_t check;   /* check_of(object, span, stamp), stored last */
	_Atomic uint64_t waiting; /* the stamp of the newest wait begun on the object */
} __attribute__((aligned(64)));   /* a line each: objects' slots never share one */

static struct slot slots[HANDOFF_SLOTS];

static struct slot *slot_of(const void *object)
{
	uint64_t a = (uint64_t)(uintptr_t)object;

	return &slots[((a >> 3) * 0x9e3779b97f4a7c15ull >> 52) & (HANDOFF_SLOTS - 1)];
}

/*
 * The check of a publication: a 64-bit mix of its three fields (a
 * multiply-xorshift finalizer over their multiplicative combination), which
 * fields from two publications match only by a 1 in 2^64 chance.
 */
static uint64_t check_of(uint64_t object, uint64_t span, uint64_t stamp)
{
	uint64_t h = object * 0x9e3779b97f4a7c15ull ^ span * 0xc2b2ae3d27d4eb4full ^
		     stamp * 0x165667b19e3779f9ull;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

void weft_handoff_publish(const void *object, uint64_t span)
{
	struct slot *s = slot_of(object);
	uint64_t o = (uint64_t)(uintptr_t)object, stamp = weft_load_relaxed(&s->stamp);

	/* The standing publication: this object's, this span, whole, newer than every wait. */
	if (weft_load_relaxed(&s->object) == o && weft_load_relaxed(&s->span) == span &&
	    stamp >= weft_load_relaxed(&s->waiting) &&
	    weft_load_relaxed(&s->check) == check_of(o, span, stamp))
		return;
	stamp = weft_stamp();
	weft_store_relaxed(&s->object, o);
	weft_store_relaxed(&s->span, span);
	weft_store_relaxed(&s->stamp, stamp);
	/* Release: a reader that sees this check sees the fields before it. */
	weft_store_release(&s->check, check_of(o, span, stamp));
}

uint64_t weft_handoff_wait(const void *object)
{
	uint64_t since = weft_stamp();

	weft_store_relaxed(&slot_of(object)->waiting, since);
	return since;
}

uint64_t weft_handoff_take(const void *object, uint64_t since, uint64_t *stamp)
{
	struct slot *s = slot_of(object);
	uint64_t check = weft_load_acquire(&s->check);
	uint64_t o = weft_load_relaxed(&s->object);
	uint64_t span = weft_load_relaxed(&s->span);
	uint64_t t = weft_load_relaxed(&s->stamp);

	if (o != (uint64_t)(uintptr_t)object || t < since || !span || check != check_of(o, span, t))
		return 0;
	*stamp = t;
	return span;
}
