/* Task boundaries (agent/task.h). */
#include <errno.h>
#include <string.h>

#include "agent/config.h"
#include "agent/ids.h"
#include "agent/task.h"

void weft_task_start(struct weft_wait *w)
{
	struct weft_thread *t = w->t;
	struct weft_event ev = { .h = { .type = WEFT_EV_CTX,
					.kind = w->ev.h.kind,
					.flags = WEFT_EVF_TASK,
					.t0 = w->ev.u.wait.t1 } };
	int saved;

	if (t->in_task)
		return; /* a hand-off inside a task: the wait's link */
	saved = errno;
	if (weft_cfg.task_parent == WEFT_TASK_PARENT_LINK)
		weft_ids_trace(&t->rng, &ev.u.ctx.trace);
	else
		ev.u.ctx.trace = t->trace;
	ev.u.ctx.span = weft_ids_span(&t->rng);
	memcpy(ev.u.ctx.producers, w->ev.u.wait.links, sizeof(ev.u.ctx.producers));
	ev.u.ctx.source = w->ev.u.wait.object;
	t->cur_trace = ev.u.ctx.trace;
	t->cur_span = ev.u.ctx.span;
	t->task_source = ev.u.ctx.source;
	t->in_task = true;
	/* Dropped: the next event that fits sends the context first (weft_record). */
	if (!weft_record(t, &ev))
		t->ctx_stale = true;
	errno = saved;
}
