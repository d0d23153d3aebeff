/*
 * Tasks: the work items a thread runs, inferred from where it receives work.
 *
 * A work source is what a thread waits on for work: a condition variable, a
 * semaphore (hooks/cond.c, hooks/sem.c), a channel or stream socket it reads
 * (agent/channel_io.c), a listener it accepts from (hooks/socket.c), a
 * readiness wait that returned ready (hooks/poll.c). A receive from one
 * starts a task as it ends, when it brought work — a cond wait that returned
 * 0 with a signal handed to it (a `cond.signal` link), a sem wait that
 * blocked and then took a unit — and no task is open. The task ends as the
 * thread begins to wait on that same source again: the wait for the next
 * item is idle time, part of no task. Waits on other objects inside a task
 * are its children, even on another work source (pigz's compression
 * threads wait for their turn to write inside a job: the job is one task).
 * Timeouts, errors, cancellations and spurious wake-ups start none.
 *
 * While a task is open its span is the thread's current span: the thread's
 * waits, the threads it creates and the signals and posts it makes belong to
 * it. With WEFT_TASK_PARENT=link (the default) a task is the root of a trace
 * of its own, linked to its producers; with =child it is in the thread's
 * trace, a child of its first producer's span (the exporter sets the parent).
 *
 * The agent only marks the boundaries, on the slow path of a wait that
 * blocked: the receive's WAIT event carries WEFT_EVF_TASK_END when it ended
 * a task, and a task's start is a CTX event with WEFT_EVF_TASK, its work
 * source's kind and its producers — most often carried by the receive's
 * WAIT itself (weft_task_begin_with), which the exporter hands on as the two
 * (weft_task_expand). The exporter makes the `task <pool>` spans and the
 * pool metrics (exporter/tasks.c). Neither allocates, blocks nor changes
 * errno.
 */
#ifndef WEFT_AGENT_TASK_H
#define WEFT_AGENT_TASK_H

#include "agent/handoff.h"
#include "agent/wait.h"

/*
 * The work source a wait receives from: the object waited on, but for a
 * readiness wait, whose descriptors an event loop changes from call to call:
 * every readiness wait is the same source (the loop's).
 */
#define WEFT_TASK_SOURCE_POLL UINT64_MAX

static inline uint64_t weft_task_source(const struct weft_wait *w)
{
	return w->ev.h.kind == WEFT_WAIT_POLL ? WEFT_TASK_SOURCE_POLL : w->ev.u.wait.object;
}

/* Whether the calling thread `t` has a task open, from `source`. */
static inline bool weft_task_from(const struct weft_thread *t, uint64_t source)
{
	return weft_load_relaxed(&t->in_task) && weft_load_relaxed(&t->task_source) == source;
}

/* A receive from a work source begins (after weft_wait_begin): the task from it ends. */
static inline void weft_task_receive(struct weft_wait *w)
{
	struct weft_thread *t = w->t;

	if (__builtin_expect(weft_task_from(t, weft_task_source(w)), 0)) {
		weft_store_relaxed(&t->in_task, false);
		t->cur_trace = t->trace;
		t->cur_trace_of_span = false;
		t->cur_span = t->span;
		w->ev.h.flags |= WEFT_EVF_TASK_END;
	}
}

/*
 * A receive from `source` (of `kind`) brought work at t0, handed over by
 * `producers` (WEFT_EVENT_LINKS span ids, 0: none) through `channel` (a
 * channel's slot id, 0: none), the first of them at `handoff_ns` (0:
 * unknown; the task's queue time is from there to t0), a task starts (true),
 * unless one from another source is open (false). One from the same source ends there: a
 * read that finds its item waiting, without blocking, still starts a task
 * of its own when a producer's link marks the item.
 */
bool weft_task_begin(struct weft_thread *t, enum weft_wait_kind kind, uint64_t source,
		     uint32_t channel, uint64_t t0, const uint64_t *producers, uint64_t handoff_ns);

/*
 * The wait brought work (after weft_wait_end): a task from it, its links the
 * producers. `channel`: the channel read (0 for other waits).
 */
static inline void weft_task_start(struct weft_wait *w, uint32_t channel)
{
	weft_task_begin(w->t, (enum weft_wait_kind)w->ev.h.kind, weft_task_source(w), channel,
			w->ev.u.wait.t1, w->ev.u.wait.links, w->handoff_ns);
}

/*
 * The closed wait `w` (weft_wait_close) brought work: its record and the
 * task it starts as one record, as weft_wait_finish and weft_task_start would
 * make them (agent/event.h: a WAIT with WEFT_EVF_TASK) — or its record alone
 * when a task from another source is open. True when recorded; false when
 * the record cannot carry the task's start (it has two producers or a
 * stack, the hand-off is too old for 32 bits, or `channel` is not the
 * wait's): the caller records the two.
 */
bool weft_task_begin_with(struct weft_wait *w, uint32_t channel);

/*
 * The end of a receive's wait whose result is set: the wait's record and,
 * when it brought work (`work`), the task it starts (weft_task_begin_with,
 * else the two records); errno `saved` as the call left it.
 */
static inline void weft_wait_end_work(struct weft_wait *w, int saved, bool work, uint32_t channel)
{
	weft_wait_close(w);
	if (!work || !weft_task_begin_with(w, channel)) {
		weft_record(w->t, &w->ev);
		if (work)
			weft_task_start(w, channel);
	}
	*weft_errno() = saved;
}

/*
 * Ends a receive's wait whose call returns -1 and sets errno on failure:
 * when it brought work (`work`), the task it starts, `channel` as for
 * weft_task_start. As weft_wait_end_sys and then weft_task_start, but a
 * task's start most often costs no record of its own (weft_task_begin_with).
 */
void weft_wait_end_task_sys(struct weft_wait *w, long rc, bool work, uint32_t channel);

/*
 * The consumer's side of a WAIT with WEFT_EVF_TASK, recorded by thread `t`:
 * the two records it stands for, the WAIT (out[0]) and the task's CTX
 * (out[1]), as weft_wait_finish and weft_task_start make them — but for the
 * CTX's trace without a trace output (all zero: only spans and span links
 * read it).
 */
void weft_task_expand(const struct weft_thread *t, const struct weft_event *ev,
		      struct weft_event out[2]);

/*
 * Links past the two a WAIT carries, recorded after it (LINK events): the
 * producers `spans[0..n)` of the wait of `kind` that began at `wait_t0` (0:
 * the open task's), through `channel` (0: none), become links of that
 * wait's span and of the task it started; `handoff` (0: unknown), when
 * the first was handed over (a stamp, agent/clock.h), that task's queue
 * time if it has none.
 */
void weft_links_record(struct weft_thread *t, enum weft_wait_kind kind, uint64_t wait_t0,
		       uint32_t channel, const uint64_t *spans, int n, uint64_t handoff);

/*
 * A condition variable's or semaphore's wait that began at `since` returned
 * 0: the hand-offs on `object` since (agent/handoff.h) into spans[], the
 * first WEFT_EVENT_LINKS of them the wait's links (before weft_wait_end):
 * how many (*stamp: the oldest's).
 */
static inline int weft_wait_take_handoffs(struct weft_wait *w, const void *object, uint64_t since,
					  uint64_t *spans, uint64_t *stamp)
{
	int n = weft_handoff_take(object, since, spans, stamp);

	for (int i = 0; i < n && i < WEFT_EVENT_LINKS; i++)
		weft_wait_link(w, spans[i]);
	return n;
}

/*
 * Ends a condition variable's or semaphore's wait whose call returned `rc`
 * (-1 and errno when `sys`, else 0 or an error number) after it took `n`
 * hand-offs (`spans`, oldest first, the oldest published at `stamp`:
 * agent/handoff.h): a task from it, linked to each; its queue time starts
 * at the oldest. `task`: whether the wait brought work even with none taken
 * (a semaphore's unit).
 */
void weft_wait_end_handed(struct weft_wait *w, int rc, bool sys, const uint64_t *spans, int n,
			  uint64_t stamp, bool task);

#endif
