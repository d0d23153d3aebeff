/* Task boundaries (agent/task.h). */
#include <errno.h>
#include <string.h>

#include "agent/atomic.h"
#include "agent/config.h"
#include "agent/hot.h"
#include "agent/ids.h"
#include "agent/task.h"

/* Whether a task from another source than `source` is open: a hand-off inside it starts none. */
static bool task_elsewhere(const struct weft_thread *t, uint64_t source)
{
	return weft_load_relaxed(&t->in_task) && weft_load_relaxed(&t->task_source) != source;
}

/*
 * The thread's new task, from `source`, its newest item's producer
 * `producer`: its span (returned), current from now on.
 */
static uint64_t task_open(struct weft_thread *t, uint64_t source, uint64_t producer)
{
	uint64_t span = weft_ids_span(&t->rng);

	t->cur_span = span;
	/* A signal handler that asks for the trace in between derives it from this span. */
	atomic_signal_fence(memory_order_seq_cst);
	/*
	 * A trace of its own, its span its root (one draw for both ids), derived
	 * when asked (weft_thread_cur_trace); or the thread's.
	 */
	if (weft_cfg.task_parent == WEFT_TASK_PARENT_LINK) {
		t->cur_trace_of_span = true;
	} else {
		t->cur_trace = t->trace;
		t->cur_trace_of_span = false;
	}
	/* The newest item's producer: a read that goes on with its bytes continues the task. */
	t->task_producer = producer;
	weft_store_relaxed(&t->task_source, source);
	weft_store_relaxed(&t->in_task, true);
	return span;
}

WEFT_HOT bool weft_task_begin(struct weft_thread *t, enum weft_wait_kind kind, uint64_t source,
			      uint32_t channel, uint64_t t0, const uint64_t *producers,
			      uint64_t handoff_ns)
{
	struct weft_event ev = { .h = { .type = WEFT_EV_CTX,
					.kind = (uint8_t)kind,
					.flags = WEFT_EVF_TASK,
					.result = (int32_t)channel,
					.t0 = t0 } };
	int saved;

	if (task_elsewhere(t, source))
		return false; /* a hand-off inside a task: the wait's link */
	saved = *weft_errno();
	ev.u.ctx.span = task_open(t, source, producers[1] ? producers[1] : producers[0]);
	ev.u.ctx.trace = *weft_thread_cur_trace(t);
	memcpy(ev.u.ctx.producers, producers, sizeof(ev.u.ctx.producers));
	ev.u.ctx.handoff_ns = handoff_ns;
	/* Dropped: the next event that fits sends the context first (weft_record). */
	if (!weft_record(t, &ev))
		t->ctx_stale = true;
	*weft_errno() = saved;
	return true;
}

WEFT_HOT bool weft_task_begin_with(struct weft_wait *w, uint32_t channel)
{
	struct weft_thread *t = w->t;
	struct weft_event *ev = &w->ev;
	uint64_t source = weft_task_source(w), age = 0;

	if (ev->u.wait.links[1] || ev->u.wait.stack || ev->u.wait.channel != channel)
		return false;
	/* The hand-off's age from the wait's end, in nanoseconds: it must fit 32 bits. */
	if (w->handoff_ns) {
		if (w->handoff_ns > ev->u.wait.t1 || ev->u.wait.t1 - w->handoff_ns >= UINT32_MAX)
			return false;
		age = ev->u.wait.t1 - w->handoff_ns + 1;
	}
	/* A hand-off inside a task: the wait's link, and no task. */
	if (!task_elsewhere(t, source)) {
		ev->h.flags |= WEFT_EVF_TASK;
		ev->u.wait.links[1] = task_open(t, source, ev->u.wait.links[0]);
		ev->u.wait.stack = (uint32_t)age;
	}
	/* Dropped: as for a task's own record (weft_task_begin). */
	if (!weft_record(t, ev) && (ev->h.flags & WEFT_EVF_TASK))
		t->ctx_stale = true;
	return true;
}

void weft_task_expand(const struct weft_thread *t, const struct weft_event *ev,
		      struct weft_event out[2])
{
	const struct weft_ev_wait *w = &ev->u.wait;
	struct weft_ev_ctx *ctx = &out[1].u.ctx;

	out[0] = *ev;
	out[0].h.flags &= (uint16_t)~WEFT_EVF_TASK;
	out[0].u.wait.links[1] = 0;
	out[0].u.wait.stack = 0;
	out[1].h = (struct weft_event_header){ .type = WEFT_EV_CTX,
					       .kind = ev->h.kind,
					       .flags = WEFT_EVF_TASK,
					       .result = (int32_t)w->channel,
					       .t0 = w->t1 };
	ctx->span = w->links[1];
	ctx->producers[0] = w->links[0];
	ctx->producers[1] = 0;
	ctx->handoff_ns = w->stack ? w->t1 - (w->stack - 1) : 0;
	/* Read only by spans and span links: left out without a trace output. */
	if (!weft_cfg.traces_out)
		ctx->trace = (struct weft_trace_id){ 0 };
	else if (weft_cfg.task_parent == WEFT_TASK_PARENT_LINK)
		weft_ids_trace_of(ctx->span, &ctx->trace);
	else
		ctx->trace = t->trace;
}

void weft_links_record(struct weft_thread *t, enum weft_wait_kind kind, uint64_t wait_t0,
		       uint32_t channel, const uint64_t *spans, int n, uint64_t handoff)
{
	/* The thread's clock base: no fenced clock read inside a critical section. */
	struct weft_stamp_base b = weft_stamp_base_cached(&t->stamp_cache);

	for (int from = 0; from < n;) {
		struct weft_event ev = {
			.h = { .type = WEFT_EV_LINK, .kind = (uint8_t)kind, .t0 = b.ns }
		};

		ev.u.link.wait_t0 = wait_t0;
		ev.u.link.channel = channel;
		if (from == 0 && handoff)
			ev.u.link.handoff_ns = weft_stamp_at(&b, handoff);
		for (int i = 0; i < WEFT_LINK_SPANS && from < n; i++)
			ev.u.link.links[i] = spans[from++];
		weft_record(t, &ev);
	}
}

WEFT_HOT void weft_wait_end_task_sys(struct weft_wait *w, long rc, bool work, uint32_t channel)
{
	int saved = *weft_errno();

	weft_wait_result_sys(w, rc, saved);
	weft_wait_end_work(w, saved, work, channel);
}

WEFT_HOT void weft_wait_end_handed(struct weft_wait *w, int rc, bool sys, const uint64_t *spans,
				   int n, uint64_t stamp, bool task)
{
	int saved = *weft_errno();

	if (sys)
		weft_wait_result_sys(w, rc, saved);
	else
		w->ev.h.result = rc;
	/* A stamp, which the end converts with the wait's own times. */
	if (n)
		w->handoff_ns = stamp;
	weft_wait_end_work(w, saved, n || task, 0);
	if (n > WEFT_EVENT_LINKS)
		weft_links_record(w->t, (enum weft_wait_kind)w->ev.h.kind, w->ev.h.t0, 0,
				  spans + WEFT_EVENT_LINKS, n - WEFT_EVENT_LINKS, 0);
}
