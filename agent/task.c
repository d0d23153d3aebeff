/* Task boundaries (agent/task.h). */
#include <errno.h>
#include <string.h>

#include "agent/atomic.h"
#include "agent/config.h"
#include "agent/ids.h"
#include "agent/task.h"

bool weft_task_begin(struct weft_thread *t, enum weft_wait_kind kind, uint64_t source,
		     uint32_t channel, uint64_t t0, const uint64_t *producers, uint64_t handoff_ns,
		     bool stamped)
{
	struct weft_event ev = { .h = { .type = WEFT_EV_CTX,
					.kind = (uint8_t)kind,
					.flags = (uint16_t)(WEFT_EVF_TASK |
							    (stamped ? WEFT_EVF_STAMPED : 0)),
					.result = (int32_t)channel,
					.t0 = t0 } };
	int saved;

	if (weft_load_relaxed(&t->in_task) && weft_load_relaxed(&t->task_source) != source)
		return false; /* a hand-off inside a task: the wait's link */
	saved = *weft_errno();
	ev.u.ctx.span = weft_ids_span(&t->rng);
	/* A trace of its own: the task's span is its root (one draw for both ids). */
	if (weft_cfg.task_parent == WEFT_TASK_PARENT_LINK)
		weft_ids_trace_of(ev.u.ctx.span, &ev.u.ctx.trace);
	else
		ev.u.ctx.trace = t->trace;
	memcpy(ev.u.ctx.producers, producers, sizeof(ev.u.ctx.producers));
	ev.u.ctx.handoff_ns = handoff_ns;
	/* The newest item's producer: a read that goes on with its bytes continues the task. */
	t->task_producer = producers[1] ? producers[1] : producers[0];
	t->cur_trace = ev.u.ctx.trace;
	t->cur_span = ev.u.ctx.span;
	weft_store_relaxed(&t->task_source, source);
	weft_store_relaxed(&t->in_task, true);
	/* Dropped: the next event that fits sends the context first (weft_record). */
	if (!weft_record(t, &ev))
		t->ctx_stale = true;
	*weft_errno() = saved;
	return true;
}

void weft_links_record(struct weft_thread *t, enum weft_wait_kind kind, uint64_t wait_t0,
		       uint32_t channel, const uint64_t *spans, int n, uint64_t handoff,
		       bool stamped)
{
	for (int from = 0; from < n;) {
		struct weft_event ev = { .h = { .type = WEFT_EV_LINK,
						.kind = (uint8_t)kind,
						.flags = stamped ? WEFT_EVF_STAMPED : 0,
						.t0 = stamped ? weft_stamp() : weft_clock_now() } };

		ev.u.link.wait_t0 = wait_t0;
		ev.u.link.channel = channel;
		/* A record that keeps its stamps converts the hand-off's with them. */
		if (from == 0 && handoff)
			ev.u.link.handoff_ns =
				stamped ? handoff : weft_stamp_clock(handoff, ev.h.t0);
		for (int i = 0; i < WEFT_LINK_SPANS && from < n; i++)
			ev.u.link.links[i] = spans[from++];
		weft_record(t, &ev);
	}
}
