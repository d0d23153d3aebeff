/*
 * The channel interpreter: what each channel moved, what waits in it, and
 * the links of reads that followed a poll.
 *
 * Channels are read from the agent's slot table (agent/channel.h) before each
 * metric export, the way thread states are: a channel seen for the first
 * time is named `<kind>:<creating function>#<n>`, n counting per kind and
 * function in creation order; its counters become deltas of weft.channel.io
 * and weft.channel.messages; its depth is set on weft.channel.queue.depth —
 * from the queues' own counts for a private channel, from FIONREAD on one of
 * its descriptors for a shared one. A closed channel is exported once more,
 * its depth gauge then disappears and its slot is given back to the agent
 * (one cycle later, so that every event naming it has been drained).
 *
 * Sockets (kind WEFT_CHAN_SOCKET) are exporter/connections.c's.
 *
 * LINK events add links to the thread's last wait span while it is still in
 * the queue (a read's links past the two its WAIT carried; a read after a
 * poll wait: the links go on the poll's span).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/alloc.h"
#include "agent/channel.h"
#include "agent/fd.h"
#include "exporter/channels.h"
#include "exporter/interp.h"
#include "exporter/metrics.h"
#include "exporter/spans.h"
#include "exporter/symbols.h"
#include "exporter/tasks.h"
#include "exporter/threads.h"

/* Names handed out per kind and function: "pipe:main" → 2. */
struct prefix_count {
	char prefix[56];
	uint32_t n;
};

static struct {
	struct weft_instrument *io, *messages, *depth;
	struct prefix_count *prefixes;
	size_t n_prefixes, cap_prefixes;
	struct weft_chan **new_chans; /* name_new's scratch list */
	size_t cap_new;
} ch;

static void adopt_names(void);

static void channels_setup(void)
{
	static const char *const io_keys[] = { "weft.channel.name", "network.io.direction" };
	static const char *const name_key[] = { "weft.channel.name" };

	ch.io = weft_metrics_sum("weft.channel.io", "Bytes moved through a channel.", "By", true, 2,
				 io_keys);
	ch.messages = weft_metrics_sum("weft.channel.messages",
				       "Calls that moved data through a channel.", "{message}",
				       true, 2, io_keys);
	ch.depth = weft_metrics_gauge("weft.channel.queue.depth",
				      "Bytes written to a channel and not yet read.", "By", 1,
				      name_key);
	/* Channels named before the exporter started (inherited across exec). */
	adopt_names();
}

/* The next number for a prefix; 0 when the table cannot grow. */
static uint32_t prefix_next(const char *prefix)
{
	for (size_t i = 0; i < ch.n_prefixes; i++)
		if (strcmp(ch.prefixes[i].prefix, prefix) == 0)
			return ++ch.prefixes[i].n;
	if (ch.n_prefixes == ch.cap_prefixes) {
		size_t cap = ch.cap_prefixes ? ch.cap_prefixes * 2 : 16;
		struct prefix_count *p = weft_realloc(ch.prefixes, cap * sizeof(*p));

		if (!p)
			return 0;
		ch.prefixes = p;
		ch.cap_prefixes = cap;
	}
	snprintf(ch.prefixes[ch.n_prefixes].prefix, sizeof(ch.prefixes[0].prefix), "%s", prefix);
	ch.prefixes[ch.n_prefixes].n = 1;
	return ch.prefixes[ch.n_prefixes++].n;
}

/* A name inherited from the parent (a forked child): later numbers follow it. */
static void prefix_adopt(const char *name)
{
	const char *hash = strrchr(name, '#');
	char prefix[56];
	unsigned long n;

	if (!hash || (size_t)(hash - name) >= sizeof(prefix))
		return;
	memcpy(prefix, name, (size_t)(hash - name));
	prefix[hash - name] = '\0';
	/* The digits weft wrote (not strtoul: its locale tables are pages a short process never
	 * touched). */
	n = 0;
	for (const char *d = hash + 1; *d >= '0' && *d <= '9'; d++)
		n = n > (ULONG_MAX - 9) / 10 ? ULONG_MAX : n * 10 + (unsigned long)(*d - '0');
	for (size_t i = 0; i < ch.n_prefixes; i++) {
		if (strcmp(ch.prefixes[i].prefix, prefix) == 0) {
			if (ch.prefixes[i].n < n)
				ch.prefixes[i].n = (uint32_t)n;
			return;
		}
	}
	if (prefix_next(prefix))
		ch.prefixes[ch.n_prefixes - 1].n = (uint32_t)n;
}

static int by_seq(const void *a, const void *b)
{
	uint64_t x = (*(struct weft_chan *const *)a)->seq, y = (*(struct weft_chan *const *)b)->seq;

	return x < y ? -1 : x > y;
}

/* Names every live channel not named yet, in creation order: one pass, one sort. */
static void name_new(uint32_t high)
{
	size_t n_new = 0;

	for (uint32_t id = 1; id <= high; id++) {
		struct weft_chan *c = weft_chan_slot(id);
		uint32_t st = c ? weft_load_acquire(&c->state) : WEFT_CHAN_FREE;

		if ((st != WEFT_CHAN_LIVE && st != WEFT_CHAN_CLOSED) ||
		    c->kind == WEFT_CHAN_SOCKET || weft_load_acquire(&c->named) == c->gen + 1)
			continue;
		if (n_new == ch.cap_new) {
			size_t cap = ch.cap_new ? ch.cap_new * 2 : 64;
			struct weft_chan **p = weft_realloc(ch.new_chans, cap * sizeof(*p));

			if (!p)
				break; /* the rest are named at the next collect */
			ch.new_chans = p;
			ch.cap_new = cap;
		}
		ch.new_chans[n_new++] = c;
	}
	if (!n_new)
		return;
	qsort(ch.new_chans, n_new, sizeof(ch.new_chans[0]), by_seq);
	for (size_t i = 0; i < n_new; i++) {
		struct weft_chan *c = ch.new_chans[i];
		const char *fn = weft_symbols_name((uintptr_t)c->pc);
		char prefix[56];

		snprintf(prefix, sizeof(prefix), "%s:%s",
			 weft_chan_kind_name((enum weft_chan_kind)c->kind), fn ? fn : "unknown");
		snprintf(c->name, sizeof(c->name), "%s#%u", prefix, prefix_next(prefix));
		weft_store_release(&c->named, c->gen + 1);
	}
}

/*
 * FIONREAD on the channel's descriptors, each checked afterwards to be still
 * the channel's: a pipe's count from either end, a socketpair's from both
 * ends (each counts what waits for it). False when none answered.
 */
static bool depth_probe(uint32_t id, const struct weft_chan *c, int64_t *out)
{
	bool any = false;
	int fds[2];

	if (c->kind == WEFT_CHAN_EVENTFD)
		return false;
	weft_chan_find_fds(id, fds);
	for (int i = 0; i < 2; i++) {
		int avail = 0, fd = fds[i] < 0 ? -1 : weft_fd_borrow(fds[i]);
		bool asked = fd >= 0 && syscall(SYS_ioctl, fd, FIONREAD, &avail) == 0;

		weft_fd_unborrow(fd);
		if (!asked || weft_chan_entry_id(weft_chan_fd_entry(fds[i])) != id)
			continue;
		*out += avail;
		any = true;
		if (c->kind != WEFT_CHAN_SOCKETPAIR)
			break;
	}
	return any;
}

static int64_t depth_of(uint32_t id, const struct weft_chan *c, bool *known)
{
	int64_t d = 0;

	*known = true;
	if (weft_chan_shared(c)) {
		*known = depth_probe(id, c, &d);
		return d;
	}
	for (int i = 0; i < 2; i++) {
		uint64_t tx = weft_load_acquire(&c->q[i].tx_units);
		uint64_t rx = weft_load_acquire(&c->q[i].rx_units);

		if (tx > rx)
			d += c->kind == WEFT_CHAN_EVENTFD ? 8 : (int64_t)(tx - rx);
	}
	/*
	 * A reader counts what it took just after taking it: a sample between
	 * the two can see a writer's next bytes and not yet the reader's. A
	 * pipe never holds more than its capacity.
	 */
	if (c->capacity && d > (int64_t)c->capacity)
		d = c->capacity;
	return d;
}

static void export_counts(struct weft_chan *c)
{
	uint64_t now[4];
	const char *tx[2] = { c->name, "transmit" }, *rx[2] = { c->name, "receive" };

	weft_chan_counts(c, now);
	/* Series exist from the first export, at 0 until something moves. */
	weft_metrics_add(ch.io, tx, (int64_t)(now[0] - c->seen[0]));
	weft_metrics_add(ch.messages, tx, (int64_t)(now[1] - c->seen[1]));
	weft_metrics_add(ch.io, rx, (int64_t)(now[2] - c->seen[2]));
	weft_metrics_add(ch.messages, rx, (int64_t)(now[3] - c->seen[3]));
	memcpy(c->seen, now, sizeof(now));
}

static void channels_collect(void)
{
	uint32_t high = weft_chan_high();

	name_new(high);
	for (uint32_t id = 1; id <= high; id++) {
		struct weft_chan *c = weft_chan_slot(id);
		uint32_t st = c ? weft_load_acquire(&c->state) : WEFT_CHAN_FREE;
		const char *name;
		bool known;
		int64_t d;

		if ((st != WEFT_CHAN_LIVE && st != WEFT_CHAN_CLOSED) ||
		    c->kind == WEFT_CHAN_SOCKET || weft_load_acquire(&c->named) != c->gen + 1)
			continue;
		name = c->name;
		if (weft_chan_drop_parents(id, c, st, weft_load_acquire(&weft_process.exiting)))
			continue;
		export_counts(c);
		if (st == WEFT_CHAN_CLOSED) {
			/* At exit there is no later cycle: it goes now. */
			if (c->closed_seen == c->gen + 1 ||
			    weft_load_acquire(&weft_process.exiting)) {
				weft_metrics_forget(ch.depth, &name);
				weft_chan_slot_free(id);
				continue;
			}
			c->closed_seen = c->gen + 1;
			d = depth_of(id, c, &known);
			if (weft_chan_shared(c))
				d = 0, known = true; /* nothing of it is left in this process */
		} else {
			d = depth_of(id, c, &known);
		}
		if (known)
			weft_metrics_set(ch.depth, &name, d);
	}
}

const char *weft_channels_name(uint32_t id)
{
	struct weft_chan *c = weft_chan_slot(id);

	if (c && weft_load_acquire(&c->named) != c->gen + 1)
		name_new(weft_chan_high()); /* a wait drained before the channel's first collect */
	if (!c || weft_load_acquire(&c->named) != c->gen + 1)
		return NULL;
	return c->name;
}

const char *weft_channels_link_kind(uint32_t id)
{
	struct weft_chan *c = weft_chan_slot(id);

	switch (c ? (enum weft_chan_kind)c->kind : WEFT_CHAN_NONE) {
	case WEFT_CHAN_EVENTFD:
		return "eventfd";
	case WEFT_CHAN_SOCKETPAIR:
		return "socket";
	default:
		return "pipe";
	}
}

/* A link of `kind` to a producer's span, in the producer's trace. */
static void link_to(struct weft_qspan *q, uint64_t span, const char *kind)
{
	struct weft_trace_id trace;

	if (!span)
		return;
	weft_threads_trace_of(span, &trace);
	weft_qspan_link(q, &trace, span, kind);
}

void weft_channels_link(struct weft_qspan *q, uint32_t id, uint64_t span)
{
	link_to(q, span, weft_channels_link_kind(id));
}

/*
 * LINK: links past those a WAIT carries — a channel read's writers, a
 * condition variable's or semaphore's signallers after a fan-in — for the
 * wait's span and the task the wait started; their kind is the wait's.
 */
static void channels_event(struct weft_thread *t, const struct weft_event *ev)
{
	struct weft_xthread *x = weft_xthread(t);
	const char *kind =
		weft_tasks_link_kind((enum weft_wait_kind)ev->h.kind, ev->u.link.channel);

	weft_tasks_link(t, ev->u.link.wait_t0, kind, ev->u.link.links, WEFT_LINK_SPANS);
	if (ev->u.link.handoff_ns)
		weft_tasks_handoff(t, ev->u.link.wait_t0, ev->u.link.handoff_ns);
	if (!x->last_wait || x->last_wait_t0 != ev->u.link.wait_t0 ||
	    x->last_wait_epoch != weft_spans_exports())
		return; /* the wait made no span, or it has been sent */
	for (int i = 0; i < WEFT_LINK_SPANS; i++)
		link_to(x->last_wait, ev->u.link.links[i], kind);
}

/* Names the slots already have: later numbers follow them. */
static void adopt_names(void)
{
	uint32_t high = weft_chan_high();

	for (uint32_t id = 1; id <= high; id++) {
		struct weft_chan *c = weft_chan_slot(id);

		if (c && weft_load_acquire(&c->named) == c->gen + 1)
			prefix_adopt(c->name);
	}
}

static void channels_after_fork(void)
{
	ch.io = ch.messages = ch.depth = NULL;
	ch.prefixes = NULL;
	ch.n_prefixes = ch.cap_prefixes = 0;
	ch.new_chans = NULL;
	ch.cap_new = 0;
	/* The parent's names stay (the slots keep them); new ones number after them. */
	adopt_names();
}

const struct weft_interp weft_interp_channels = {
	.name = "channels",
	.setup = channels_setup,
	.event = channels_event,
	.collect = channels_collect,
	.after_fork = channels_after_fork,
};
