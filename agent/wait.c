/* The two ends of a blocking hook's wait that are too long to inline (agent/wait.h). */
#include "agent/hot.h"
#include "agent/wait.h"

WEFT_HOT void weft_wait_begin(struct weft_wait *w, struct weft_thread *t, enum weft_wait_kind kind,
			      const void *object, const void *pc)
{
	uintptr_t sp = weft_stack_pointer();
	uint64_t now;

	/* A thread about to sleep records what it held back first (agent.h). */
	if (__builtin_expect(t->deferred_n != 0, 0))
		weft_deferred_flush(t);
	now = weft_stamp();

	w->t = t;
	w->handoff_ns = 0;
	w->ev.h = (struct weft_event_header){ .type = WEFT_EV_WAIT,
					      .kind = (uint8_t)kind,
					      .t0 = now };
	w->ev.u.wait = (struct weft_ev_wait){ .object = (uint64_t)(uintptr_t)object,
					      .pc = (uint64_t)(uintptr_t)pc };
	/*
	 * A wait already on view is one a signal handler interrupted (this
	 * wait is the handler's: the other comes back when it returns), or one
	 * the program left with a jump out of the handler — gone, never to end
	 * (agent/sighold.h tells which). Put back at the end, a left one would
	 * show the thread blocked for good.
	 */
	w->prev_kind = weft_load_relaxed(&t->wait_kind);
	if (__builtin_expect(w->prev_kind != 0, 0)) {
		if (weft_frame_left(t->wait_sp, sp, t->ring.top))
			w->prev_kind = 0;
		else
			weft_wait_save_prev(w);
	}
	/* Put back at the end whatever it was: a handler's wait may come before our kind. */
	w->prev.sp = t->wait_sp;
	t->wait_sp = sp;
	w->sp = sp;
	/*
	 * A wait that can close a deadlock's cycle keeps its stack from the
	 * start (WEFT_STACKS): if it never ends, the report has it.
	 */
	if (__builtin_expect(weft_cfg.stack_depth != 0, 0) && weft_wait_kind_can_deadlock(kind))
		w->ev.u.wait.stack =
			weft_stack_at_site(t, (uintptr_t)pc, sp, &t->stack_begin_next_ns);
	/*
	 * On view: the object, the start, the call site, no holder yet; the kind
	 * last. Release stores (plain stores on x86-64): a reader that sees one
	 * of these sees the last wait's kind cleared before it (the walk's
	 * snapshot, exporter/deadlocks.c, relies on it).
	 */
	weft_store_release(&t->wait_object, (uint64_t)(uintptr_t)object);
	weft_store_release(&t->wait_since, now);
	weft_store_release(&t->wait_pc, (uint64_t)(uintptr_t)pc);
	weft_store_release(&t->wait_stack, w->ev.u.wait.stack);
	weft_store_release(&t->wait_holder, 0);
	weft_store_release(&t->wait_kind, (int)kind);
}

WEFT_HOT void weft_wait_close(struct weft_wait *w)
{
	struct weft_thread *t = w->t;
	struct weft_stamp_base b = weft_stamp_base_cached(&t->stamp_cache);
	uint64_t dur;

	w->ev.h.t0 = weft_stamp_at(&b, w->ev.h.t0);
	w->ev.u.wait.t1 = b.ns;
	dur = b.ns - w->ev.h.t0;
	if (w->handoff_ns)
		w->handoff_ns = weft_stamp_at(&b, w->handoff_ns);
	if (__builtin_expect(weft_cfg.stack_depth != 0, 0) && !w->ev.u.wait.stack) {
		if (dur >= weft_cfg.span_min_wait_ns)
			w->ev.u.wait.stack =
				weft_stack_at_site(t, w->ev.u.wait.pc, w->sp, &t->stack_next_ns);
	}
	weft_wait_restore_prev(w);
	t->last_wait_t0 = w->ev.h.t0;
	t->last_wait_kind = w->ev.h.kind;
}

WEFT_HOT void weft_wait_end_held(struct weft_wait *w, int rc)
{
	struct weft_thread *t = w->t;
	int saved = *weft_errno();
	uint64_t t1 = weft_stamp();

	w->ev.h.result = rc;
	/*
	 * Held back only when it will be (weft_record_deferred holds a record
	 * whenever a lock is set and no signal handler is inside it); a wait
	 * from a CPU whose TSC is ahead of this one's has a huge age: the whole
	 * way too.
	 */
	if (!t->defer_lock || t->deferred_busy ||
	    weft_stamp_span(t1 - w->ev.h.t0) >= weft_cfg.span_min_wait_ns) {
		weft_wait_finish(w, saved);
		return;
	}
	w->ev.u.wait.t1 = t1;
	w->ev.h.flags |= WEFT_EVF_STAMPS;
	weft_wait_restore_prev(w);
	/* No channel read links to a lock wait: its start is not needed. */
	t->last_wait_kind = w->ev.h.kind;
	weft_record_deferred(t, &w->ev);
	*weft_errno() = saved;
}

WEFT_HOT void weft_wait_times(struct weft_thread *t, struct weft_event *ev)
{
	struct weft_stamp_base b = weft_stamp_base_cached(&t->stamp_cache);

	ev->h.t0 = weft_stamp_at(&b, ev->h.t0);
	ev->u.wait.t1 = weft_stamp_at(&b, ev->u.wait.t1);
	ev->h.flags &= (uint16_t)~WEFT_EVF_STAMPS;
}
