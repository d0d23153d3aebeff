/*
 * The weft side of stress-chansignal.c, linked in its WEFT_CORE build (the
 * stress suite's chan-signal-storm): the program's transfers go through
 * weft_chan_io as hooks/io.c's do, each thread records into its own ring,
 * main drains the rings as the exporter would and checks every event, and at
 * the end weft's channel table must hold exactly the program's counts.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "agent/agent.h"
#include "agent/channel.h"
#include "agent/clock.h"
#include "agent/registry.h"
#include "agent/task.h"
#include "tests/stress/stress-chansignal.h"

struct io {
	void *buf;
	size_t n;
};

static ssize_t real_io(struct weft_chan_op *op, bool nowait)
{
	struct io *a = op->args;

	(void)nowait;
	return op->write ? write(op->fd, a->buf, a->n) : read(op->fd, a->buf, a->n);
}

/* What hooks/io.c's read and write do, with the program's own call inside. */
ssize_t chan_io(int fd, void *buf, size_t n, bool wr)
{
	struct io a = { buf, n };
	struct weft_chan_op op = {
		.fd = fd,
		.entry = weft_chan_fd(fd),
		.write = wr,
		.pc = __builtin_return_address(0),
		.value = n == sizeof(uint64_t) ? buf : NULL,
		.len = n,
		.call = real_io,
		.args = &a,
	};

	if (!op.entry)
		return real_io(&op, false);
	return weft_chan_io(&op);
}

/* pc: the caller's, the function that made the channel, as the hooks' WEFT_CALLER. */
void chan_created(const int *fds, int n, bool is_eventfd)
{
	weft_chan_create(is_eventfd ? WEFT_CHAN_EVENTFD : WEFT_CHAN_PIPE, fds, n, 0, 0,
			 __builtin_return_address(0));
}

void chan_resized(int fd, int size)
{
	weft_chan_resized(fd, size);
}

/*
 * The calling thread observed, as weft's thread start does, its full ring
 * allocated at once: a handler's record never grows it (no malloc in a handler).
 */
void observed(void)
{
	struct weft_thread *t = weft_registry_alloc(1u << 16);

	if (!t || weft_registry_ring(t) != 0)
		abort();
	t->origin = WEFT_THREAD_ADOPTED;
	t->tid = (int32_t)gettid();
	t->self = pthread_self();
	t->start_ns = weft_clock_now();
	t->span = t->cur_span = 0x5707000000000000ull | (uint64_t)t->tid; /* links name it */
	weft_self_set(t);
	weft_registry_push(t);
}

/*
 * weft's own code running on the thread (its ring growing, a thread
 * starting): the guard is set, and a handler that writes meanwhile is still
 * the program's, to be counted.
 */
void in_weft(void)
{
	uint64_t until = weft_clock_now() + 20000;

	weft_guard_enter();
	while (weft_clock_now() < until)
		;
	weft_guard_leave();
}

/* ------------------------------------------------------------ checking weft */

static struct chan *const all[] = { &self_pipe,       &efd,
				    &hpipe,           &pair_pipe[0][0],
				    &pair_pipe[0][1], &pair_pipe[1][0],
				    &pair_pipe[1][1] };
static uint64_t ev_waits[2], ev_links, ev_bad, ev_dropped;

static struct chan *chan_of_id(uint32_t id)
{
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (weft_chan_entry_id(weft_chan_fd(all[i]->fd[0])) == id)
			return all[i];
	return NULL;
}

/* Main's span: the agent adopted it. It writes the end markers. */
static uint64_t main_span;

/*
 * Task spans (agent/task.h: a thread that reads a producer's bytes runs a
 * task, and writes as it): every one a CTX event started, in a set; and the
 * links that named a span not known when they were drained (the task's CTX
 * may be in a ring drained later), checked at the end.
 */
#define TASKS (1u << 20)
static uint64_t *task_spans;
static uint64_t *deferred;
static size_t n_deferred;

static bool task_known(uint64_t span, bool add)
{
	size_t i = (size_t)(span * 0x9e3779b97f4a7c15ull >> 44) & (TASKS - 1);

	for (size_t k = 0; k < TASKS; k++, i = (i + 1) & (TASKS - 1)) {
		if (task_spans[i] == span)
			return true;
		if (!task_spans[i]) {
			if (add)
				task_spans[i] = span;
			return add;
		}
	}
	return false;
}

/*
 * A link names another observed thread's span, main's, or a task's (a torn
 * hand-off record would not): a span not known yet is checked at the end.
 */
static bool links_ok(const struct weft_thread *t, const uint64_t *links, int n)
{
	for (int i = 0; i < n; i++) {
		if (!links[i] || (links[i] >> 48) == 0x5707 || links[i] == main_span)
			continue;
		if (links[i] == t->span)
			return false;
		if (!task_known(links[i], false) && n_deferred < TASKS)
			deferred[n_deferred++] = links[i];
	}
	return true;
}

/* Every event a thread or its handlers recorded: a well-formed wait or link, or a context. */
static void on_event(struct weft_thread *t, const struct weft_event *ev, void *arg)
{
	const struct weft_ev_wait *w = &ev->u.wait;
	struct weft_event two[2];
	struct chan *c;

	(void)arg;
	if (ev->h.type == WEFT_EV_WAIT && (ev->h.flags & WEFT_EVF_TASK)) {
		/* A wait and the task it started, in one record: the two, as the exporter. */
		weft_task_expand(t, ev, two);
		on_event(t, &two[0], arg);
		on_event(t, &two[1], arg);
		return;
	}
	switch (ev->h.type) {
	case WEFT_EV_WAIT:
		c = chan_of_id(w->channel);
		if ((ev->h.kind != WEFT_WAIT_PIPE_READ && ev->h.kind != WEFT_WAIT_PIPE_WRITE) ||
		    !c || (w->object != (uint64_t)c->fd[0] && w->object != (uint64_t)c->fd[1]) ||
		    ev->h.t0 > w->t1 || w->t1 > weft_clock_now() ||
		    !links_ok(t, w->links, WEFT_EVENT_LINKS)) {
			if (ev_bad++ < 5)
				printf("bad wait: kind %u object %llu channel %u t0 %llu t1 %llu\n",
				       ev->h.kind, (unsigned long long)w->object, w->channel,
				       (unsigned long long)ev->h.t0, (unsigned long long)w->t1);
			return;
		}
		ev_waits[ev->h.kind == WEFT_WAIT_PIPE_WRITE]++;
		return;
	case WEFT_EV_LINK:
		if (!chan_of_id(ev->u.link.channel) || !links_ok(t, ev->u.link.links, 4))
			ev_bad++;
		else
			ev_links++;
		return;
	case WEFT_EV_CTX:
		if (ev->h.flags & WEFT_EVF_TASK)
			task_known(ev->u.ctx.span, true);
		return;
	case WEFT_EV_STACK: /* WEFT_STACKS: waits keep their stacks */
		return;
	default:
		if (ev_bad++ < 5)
			printf("bad event type %u\n", ev->h.type);
	}
}

static void on_drained(struct weft_thread *t, uint64_t new_drops, void *arg)
{
	(void)t;
	(void)arg;
	ev_dropped += new_drops;
}

static const struct weft_registry_visitor visitor = { .event = on_event, .drained = on_drained };
static struct weft_registry_reader reader;

/* The run: main drains the rings, as the exporter would, until the time is up. */
void run_for(double secs)
{
	uint64_t end = weft_clock_now() + (uint64_t)(secs * 1e9);
	struct timespec ts = { 0, 1000000 };

	main_span = weft_self ? weft_self->cur_span : 0;
	if (!task_spans) {
		task_spans = calloc(TASKS, sizeof(*task_spans));
		deferred = calloc(TASKS, sizeof(*deferred));
		if (!task_spans || !deferred)
			fail("calloc");
	}
	while (weft_clock_now() < end) {
		weft_registry_cycle(&reader, &visitor, NULL);
		nanosleep(&ts, NULL);
	}
}

/* weft's counts of a channel (bytes and calls each way), as its exporter reads them. */
static void check_table(const struct chan *c)
{
	struct weft_chan *w = weft_chan_slot(weft_chan_entry_id(weft_chan_fd(c->fd[0])));
	uint64_t n[4] = { 0 };

	if (w)
		weft_chan_counts(w, n);
	if (!w || n[0] != c->tx_bytes || n[1] != c->tx_calls || n[2] != c->rx_bytes ||
	    n[3] != c->rx_calls) {
		printf("weft %s: %llu %llu %llu %llu\n", c->name, (unsigned long long)n[0],
		       (unsigned long long)n[1], (unsigned long long)n[2],
		       (unsigned long long)n[3]);
		fail("weft's counts differ from the program's");
	}
}

void check_weft(void)
{
	weft_registry_cycle(&reader, &visitor, NULL);
	for (size_t i = 0; i < n_deferred; i++)
		if (!task_known(deferred[i], false) && ev_bad++ < 5)
			printf("a link names no span of the run: %llx\n",
			       (unsigned long long)deferred[i]);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		check_table(all[i]);
	printf("events: %llu wait pipe.read, %llu wait pipe.write, %llu links, %llu dropped, "
	       "%llu bad\n",
	       (unsigned long long)ev_waits[0], (unsigned long long)ev_waits[1],
	       (unsigned long long)ev_links, (unsigned long long)ev_dropped,
	       (unsigned long long)ev_bad);
	if (ev_bad)
		fail("a recorded event is not well-formed");
	if (!ev_waits[0] || !ev_links)
		fail("no read wait, or no link, recorded");
}
