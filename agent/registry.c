#include <stddef.h>

#include "agent/alloc.h"
#include "agent/registry.h"

__thread struct weft_thread *weft_self __attribute__((tls_model("initial-exec")));
struct weft_thread weft_thread_dead = {.dead = true};
_Atomic uint32_t weft_registry_pending_exits;
_Atomic int32_t weft_registry_live;

static _Atomic(struct weft_thread *) registry_head;

struct weft_thread *weft_registry_alloc(uint32_t ring_capacity)
{
	size_t head = (sizeof(struct weft_thread) + 63) & ~(size_t)63;
	struct weft_thread *t = weft_zalloc_cacheline(head + weft_ring_bytes(ring_capacity));

	if (!t)
		return NULL;
	weft_ring_init(&t->ring, (struct weft_event *)((char *)t + head), ring_capacity);
	return t;
}

void weft_registry_free(struct weft_thread *t)
{
	weft_free(t);
}

void weft_registry_push(struct weft_thread *t)
{
	struct weft_thread *head = weft_load_relaxed(&registry_head);

	weft_fetch_add_relaxed(&weft_registry_live, 1);
	/*
	 * Release: everything written to *t before the push (ids, tid, start
	 * time) is visible to the exporter once it has taken the stack.
	 */
	do
		t->next = head;
	while (!weft_cas_release(&registry_head, &head, t));
}

struct weft_thread *weft_registry_take(void)
{
	/* Acquire pairs with the pushers' release CAS. */
	return weft_exchange_acq_rel(&registry_head, (struct weft_thread *)NULL);
}

void weft_registry_exit(struct weft_thread *t, uint64_t end_ns)
{
	weft_self = &weft_thread_dead;
	weft_store_relaxed(&t->wait_kind, 0);
	weft_store_relaxed(&t->end_ns, end_ns);
	weft_fetch_add_relaxed(&weft_registry_pending_exits, 1);
	weft_fetch_add_acq_rel(&weft_registry_live, -1);
	/* Release: the ring writes and end time above are visible with `exited`. */
	weft_store_release(&t->exited, 1);
}

void weft_registry_reset_after_fork(void)
{
	weft_store_relaxed(&registry_head, NULL);
	weft_store_relaxed(&weft_registry_pending_exits, 0);
	weft_store_relaxed(&weft_registry_live, 0);
}
