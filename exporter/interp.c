/*
 * The table of interpreters, and which one owns each event type.
 *
 * The exporter's per-thread record (struct weft_xthread) is created here when
 * a thread is first seen and freed after every interpreter has seen it end,
 * so no interpreter depends on another's order for it.
 */
#include <stddef.h>
#include <string.h>

#include "agent/alloc.h"
#include "exporter/interp.h"

/*
 * Records of ended threads kept for the next ones: the private allocator has
 * no thread cache (agent/alloc_private.c), and an allocation and a free cost
 * about 1,000 instructions together, a third of the exporter's work for a
 * thread that is created and joined. Only the exporter's side (one thread at
 * a time) takes and gives them.
 */
#define SPARE_XTHREADS 64
static struct weft_xthread *spare[SPARE_XTHREADS];
static size_t n_spare;

/* X(event type, interpreter): each event type has exactly one owner. */
#define WEFT_EVENT_OWNERS(X)                                                                       \
	X(CTX, threads)                                                                            \
	X(NAME, threads)                                                                           \
	X(DETACH, threads)                                                                         \
	X(WAIT, waits)                                                                             \
	X(HOLD, locks)                                                                             \
	X(STACK, stacks)                                                                           \
	X(LINK, channels)                                                                          \
	X(LOCKORDER, locks)

#define WEFT_ONE(...) +1
_Static_assert(0 WEFT_EVENT_OWNERS(WEFT_ONE) == WEFT_EV_COUNT - 1,
	       "every event type (agent/event.h) has exactly one interpreter");
#undef WEFT_ONE

#define WEFT_OWNER(type, interp) [WEFT_EV_##type] = &weft_interp_##interp,
static const struct weft_interp *const owners[WEFT_EV_COUNT] = { WEFT_EVENT_OWNERS(WEFT_OWNER) };
#undef WEFT_OWNER

#define WEFT_ENTRY(name) &weft_interp_##name,
static const struct weft_interp *const all[] = { WEFT_INTERPRETERS(WEFT_ENTRY) };
#undef WEFT_ENTRY

#define FOR_EACH(call)                                                                             \
	for (size_t i_ = 0; i_ < sizeof(all) / sizeof(all[0]); i_++)                               \
		if (all[i_]->call)                                                                 \
	all[i_]->call

void weft_interp_setup(void)
{
	FOR_EACH(setup)();
}

void weft_interp_thread_taken(struct weft_thread *t)
{
	struct weft_xthread *x = n_spare ? spare[--n_spare] : weft_alloc(sizeof(*x));

	/* Without a record the thread's events cannot be interpreted: they are dropped. */
	if (!x)
		return;
	memset(x, 0, sizeof(*x));
	x->cur_trace = t->trace;
	x->cur_span = t->span;
	t->consumer = x;
	FOR_EACH(thread_taken)(t);
}

void weft_interp_event(struct weft_thread *t, const struct weft_event *ev)
{
	const struct weft_interp *in = ev->h.type < WEFT_EV_COUNT ? owners[ev->h.type] : NULL;

	if (in && in->event && t->consumer)
		in->event(t, ev);
}

void weft_interp_collect(void)
{
	FOR_EACH(collect)();
}

void weft_interp_thread_ended(struct weft_thread *t, uint64_t end_ns, bool at_exit)
{
	if (!t->consumer)
		return;
	FOR_EACH(thread_ended)(t, end_ns, at_exit);
	if (!at_exit) {
		if (n_spare < SPARE_XTHREADS)
			spare[n_spare++] = t->consumer;
		else
			weft_free(t->consumer);
		t->consumer = NULL;
	}
}

void weft_interp_after_fork(void)
{
	/*
	 * The parent's exporter may have been taking or giving a spare record
	 * as the fork happened: the child leaks them rather than trust the list.
	 */
	n_spare = 0;
	FOR_EACH(after_fork)();
}
