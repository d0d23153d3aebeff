#include "agent/atomic.h"
#include "agent/clock.h"
#include "agent/handoff.h"
#include "agent/hot.h"
#include "agent/ids.h"
#include "agent/large.h"

#define BROADCAST 0x5bd1e9955bd1e995ull

/*
 * One publication: check is a hash of the object, span and stamp, stored
 * last (a broadcast's with a constant flipped in); claimed: a waiter took it
 * (a signal's is one waiter's; a broadcast's every waiter's, never claimed).
 */
struct weft_handoff_entry {
	_Atomic uint64_t span;
	_Atomic uint64_t stamp;
	_Atomic uint64_t claimed;
	_Atomic uint64_t check;
};

/*
 * A slot: on its first line the stamp of the newest wait begun on the
 * objects that map here and where the next publication goes: entry[next %
 * WEFT_HANDOFF_MAX]; on the next two, the newest WEFT_HANDOFF_MAX
 * publications, two to a line. The object is in each entry's check only: an
 * entry another object left is not this object's, by its check.
 */
struct weft_handoff_slot {
	_Alignas(64) _Atomic uint64_t waiting;
	_Atomic uint64_t next;
	_Alignas(64) struct weft_handoff_entry entry[WEFT_HANDOFF_MAX];
};

_Static_assert(sizeof(struct weft_handoff_entry) == 32, "two entries to a line");

#define HANDOFF_SLOTS 2048u

static struct weft_handoff_slot slots[HANDOFF_SLOTS] WEFT_LARGE;

static struct weft_handoff_slot *slot_of(const void *object)
{
	uint64_t a = (uint64_t)(uintptr_t)object;

	return &slots[((a >> 3) * 0x9e3779b97f4a7c15ull >> 53) & (HANDOFF_SLOTS - 1)];
}

/*
 * The check of a publication: a 64-bit mix of its object and fields (the
 * finalizer weft_ids_mix over their multiplicative combination), which
 * fields from two publications match only by a 1 in 2^64 chance.
 */
static uint64_t check_of(uint64_t object, uint64_t span, uint64_t stamp)
{
	return weft_ids_mix(object * 0x9e3779b97f4a7c15ull ^ span * 0xc2b2ae3d27d4eb4full ^
			    stamp * 0x165667b19e3779f9ull);
}

/*
 * The memo's entry, taken for this signal or publication. A signal
 * handler's publication inside this one's leaves the memo to it (the
 * memo stays whole); while it is written its entry is NULL, which no
 * publication matches.
 */
static void memo_set(struct weft_handoff_memo *m, struct weft_handoff_slot *s,
		     struct weft_handoff_entry *e, const void *object, uint64_t span, bool all,
		     uint64_t stamp, uint64_t check)
{
	if (m->writing)
		return;
	m->writing = true;
	atomic_signal_fence(memory_order_seq_cst);
	m->entry = NULL;
	atomic_signal_fence(memory_order_seq_cst);
	m->object = object;
	m->span = span;
	m->all = all;
	m->stamp = stamp;
	m->check = check;
	m->slot = s;
	atomic_signal_fence(memory_order_seq_cst);
	m->entry = e;
	atomic_signal_fence(memory_order_seq_cst);
	m->writing = false;
}

/* weft_handoff_publish when the memo does not serve: the slot searched, and written if need be. */
static WEFT_HOT __attribute__((noinline)) void
publish_search(struct weft_handoff_memo *m, const void *object, uint64_t span, bool all)
{
	struct weft_handoff_slot *s = slot_of(object);
	uint64_t o = (uint64_t)(uintptr_t)object, i, stamp, check, flip = all ? BROADCAST : 0;
	uint64_t waiting = weft_load_relaxed(&s->waiting);
	struct weft_handoff_entry *e;

	i = weft_load_relaxed(&s->next);
	/*
	 * A standing publication: one of the slot's, this object's, this span,
	 * the same kind, no waiter's yet, and newer than every wait — the
	 * newest, or an older one when several threads signal by turns (the
	 * workers of a pool whose producer waits for room), newest first until
	 * one from before the newest wait.
	 */
	for (uint64_t k = 1; k <= WEFT_HANDOFF_MAX; k++) {
		e = &s->entry[(i - k) % WEFT_HANDOFF_MAX];
		stamp = weft_load_relaxed(&e->stamp);
		if (stamp < waiting)
			break;
		if (weft_load_relaxed(&e->span) != span || weft_load_relaxed(&e->claimed))
			continue;
		check = check_of(o, span, stamp) ^ flip;
		if (weft_load_relaxed(&e->check) == check) {
			memo_set(m, s, e, object, span, all, stamp, check);
			return;
		}
	}
	/*
	 * Never before the newest wait begun on the slot that this thread can
	 * see: that wait began before this publication (a signal made under the
	 * mutex comes after the waiter's release of it), but the TSCs of two
	 * CPUs need not agree. On the development VM (a paravirtualised guest
	 * booted with tsc=unstable) a result signalled after its waiter began
	 * (the signaller needed the mutex the wait released) was stamped 42
	 * ticks before it, and the waiter took no hand-off: test-tasks' fan-in
	 * lost a link and a task in up to one run of six under load.
	 */
	stamp = weft_stamp();
	if (stamp <= waiting)
		stamp = waiting + 1;
	check = check_of(o, span, stamp) ^ flip;
	e = &s->entry[i % WEFT_HANDOFF_MAX];
	weft_store_relaxed(&e->span, span);
	weft_store_relaxed(&e->stamp, stamp);
	weft_store_relaxed(&e->claimed, 0);
	/* Release: a reader that sees this check sees the fields before it. */
	weft_store_release(&e->check, check);
	/* And one that sees `next` sees the entry. */
	weft_store_release(&s->next, i + 1);
	memo_set(m, s, e, object, span, all, stamp, check);
}

WEFT_HOT void weft_handoff_publish(struct weft_handoff_memo *m, const void *object, uint64_t span,
				   bool all)
{
	struct weft_handoff_entry *e = m->entry;
	struct weft_handoff_slot *s = m->slot;

	/*
	 * The memo's entry is the slot's newest (an older one may lie behind
	 * a newer entry stamped before the newest wait, where the search and
	 * a waiter's take both stop), and stands as the search's first step
	 * would find it: unclaimed, whole (its fields and their check the
	 * memo's: no writer since), not older than the newest wait. `claimed`
	 * is read first: a writer reusing the entry clears it after storing
	 * the span and stamp, so a reader that sees it cleared by that writer
	 * sees them changed (x86-64 keeps loads in order, and GCC keeps these
	 * in order in practice, which C11 does not promise for relaxed loads;
	 * the worst otherwise is a skipped publication).
	 */
	if (e && m->object == object && m->span == span && m->all == all &&
	    e == &s->entry[(weft_load_relaxed(&s->next) - 1) % WEFT_HANDOFF_MAX] &&
	    !weft_load_relaxed(&e->claimed) && weft_load_relaxed(&e->span) == span &&
	    weft_load_relaxed(&e->stamp) == m->stamp && weft_load_relaxed(&e->check) == m->check &&
	    weft_load_relaxed(&s->waiting) <= m->stamp)
		return;
	publish_search(m, object, span, all);
}

WEFT_HOT void weft_handoff_wait(const void *object, uint64_t since)
{
	_Atomic uint64_t *waiting = &slot_of(object)->waiting;
	uint64_t cur = weft_load_relaxed(waiting);

	/*
	 * The newest stamp, not the last store: a wait begun after another on a
	 * CPU whose TSC is behind has the older stamp, and publications stamped
	 * after it alone would come before the other wait began.
	 */
	while (cur < since &&
	       !atomic_compare_exchange_weak_explicit(waiting, &cur, since, memory_order_relaxed,
						      memory_order_relaxed))
		;
}

/* Inserts (span, t) into spans/when, oldest first, each span once (at its oldest): the count. */
static WEFT_HOT int insert(uint64_t *spans, uint64_t *when, int n, uint64_t span, uint64_t t)
{
	int at;

	for (int j = 0; j < n; j++) {
		if (spans[j] != span)
			continue;
		if (when[j] <= t)
			return n; /* its first hand-off is in already */
		/* An earlier hand-off of the same span: it replaces this one. */
		for (n--; j < n; j++) {
			spans[j] = spans[j + 1];
			when[j] = when[j + 1];
		}
		break;
	}
	at = n;
	while (at > 0 && when[at - 1] > t) {
		spans[at] = spans[at - 1];
		when[at] = when[at - 1];
		at--;
	}
	spans[at] = span;
	when[at] = t;
	return n + 1;
}

WEFT_HOT int weft_handoff_take(const void *object, uint64_t since, uint64_t *spans, uint64_t *stamp)
{
	struct weft_handoff_slot *s = slot_of(object);
	uint64_t o = (uint64_t)(uintptr_t)object, when[WEFT_HANDOFF_MAX];
	uint64_t next = weft_load_acquire(&s->next), newest = 0, newest_t = 0;
	int n = 0;

	/* Newest first, until one from before the wait (the rest are older). */
	for (uint64_t k = 1; k <= WEFT_HANDOFF_MAX; k++) {
		struct weft_handoff_entry *e = &s->entry[(next - k) % WEFT_HANDOFF_MAX];
		uint64_t check = weft_load_acquire(&e->check);
		uint64_t span = weft_load_relaxed(&e->span);
		uint64_t t = weft_load_relaxed(&e->stamp);
		uint64_t want = check_of(o, span, t);

		if (!span || (check != want && check != (want ^ BROADCAST)))
			continue;
		if (t < since)
			break;
		if (t >= newest_t) {
			newest = span;
			newest_t = t;
		}
		/* A signal's hand-off is one waiter's: the first to claim it. */
		if (check == want &&
		    (weft_load_relaxed(&e->claimed) ||
		     atomic_exchange_explicit(&e->claimed, 1, memory_order_relaxed)))
			continue;
		n = insert(spans, when, n, span, t);
	}
	/* Every one claimed by waiters woken with this one: it shares the newest. */
	if (!n && newest)
		n = insert(spans, when, 0, newest, newest_t);
	if (n)
		*stamp = when[0];
	return n;
}
