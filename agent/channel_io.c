/*
 * Channel transfers: the accounting of each read and write, the hand-off
 * records and the links they give, and the waits of those that block
 * (agent/channel.h says what and why; the tables are agent/channel.c's).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/channel.h"
#include "agent/conn.h"
#include "agent/hot.h"
#include "agent/task.h"
#include "agent/wait.h"

/* Kinds whose descriptors answered RWF_NOWAIT with EOPNOTSUPP (a FIFO): their reads are timed. */
static _Atomic int nowait_unsupported[WEFT_CHAN_KIND_COUNT] WEFT_HOT_DATA;

static struct weft_chan *entry_slot(uint32_t e)
{
	return weft_chan_entry_slot(e);
}

/* ------------------------------------------------------------ hand-off records */

/* No record was appended: the write continues the newest one. */
#define REC_NONE UINT32_MAX

/*
 * The word that names record `i` (an index, not + 1) as `span`'s: the two
 * are mixed into one word so that a writer reads them together, never one
 * writer's span with another's index. Two pairs that give the same word
 * differ in the index by a multiple of 2^32 or are one chance in 2^64.
 */
static uint64_t rec_tag(uint64_t span, uint32_t i)
{
	return span ^ ((uint64_t)i + 1) * 0x9e3779b97f4a7c15ull;
}

/*
 * A write by `span` is about to happen: a record, unless the newest one is
 * already this span's (then its range simply goes on, and the write stores
 * nothing to the records: a single writer never touches them after its first
 * write; it reads only the writers' line to know). Returns the new record's
 * index, or REC_NONE.
 */
static inline uint32_t rec_append(struct weft_chan_queue *q, uint64_t span, uint64_t len)
{
	uint32_t i = weft_load_acquire(&q->widx);
	struct weft_chan_rec *r;

	if (i && weft_load_relaxed(&q->newest) == rec_tag(span, i - 1))
		return REC_NONE;
	i = atomic_fetch_add_explicit(&q->widx, 1, memory_order_acq_rel);
	r = &q->rec[i % WEFT_CHAN_RECS];
	weft_store_relaxed(&r->seq, 0);
	atomic_thread_fence(memory_order_release);
	weft_store_relaxed(&r->settled, 0);
	weft_store_relaxed(&r->empty, 0);
	weft_store_relaxed(&r->span, span);
	/* A stamp, not a clock read: the reader that wants it converts it (hand-off times). */
	weft_store_relaxed(&r->t, weft_stamp());
	weft_store_relaxed(&r->len, len);
	weft_store_release(&r->seq, i + 1);
	/*
	 * Not the newest any more (a writer appended after it): it names a
	 * record below widx, which no writer continues.
	 */
	weft_store_relaxed(&q->newest, rec_tag(span, i));
	return i;
}

/*
 * The write returned having moved `units`: they take their place in the
 * queue's count, and a new record says where its range starts. A record
 * whose write moved nothing is void (its would-be range stays its
 * predecessor's), and no later write continues it.
 */
static inline void rec_settle(struct weft_chan_queue *q, uint32_t i, uint64_t units)
{
	struct weft_chan_rec *r;
	uint64_t start =
		units ? atomic_fetch_add_explicit(&q->tx_units, units, memory_order_acq_rel) : 0;

	if (i == REC_NONE)
		return;
	if (!units)
		weft_store_relaxed(&q->newest, 0);
	r = &q->rec[i % WEFT_CHAN_RECS];
	if (weft_load_acquire(&r->seq) != i + 1)
		return; /* lapped while it wrote */
	weft_store_relaxed(&r->start, start);
	weft_store_relaxed(&r->empty, units ? 0 : 1);
	weft_store_release(&r->settled, 1);
}

struct weft_links {
	uint64_t span[8];
	int n;
	/*
	 * When the first unit read was written, if it was a record's first (an
	 * item's hand-off time: later units of a record that goes on have no
	 * time of their own), as the writer's stamp (agent/clock.h); 0: unknown.
	 */
	uint64_t handoff;
};

static void links_add(struct weft_links *l, uint64_t span, uint64_t self)
{
	if (!span || span == self)
		return;
	for (int i = 0; i < l->n; i++)
		if (l->span[i] == span)
			return;
	if (l->n < (int)(sizeof(l->span) / sizeof(l->span[0])))
		l->span[l->n++] = span;
}

/*
 * The common case of a read's links, inline, as rec_find's loop would decide
 * it at its first step: the newest record (of the `widx` appended) is whole
 * and settled, moved units and starts at or before r0, so the units are its
 * writer's alone, and nothing older (in flight or not) is asked for. False:
 * not so, rec_find's loop decides.
 */
static inline bool rec_find_newest(struct weft_chan_queue *q, uint32_t widx, uint64_t r0,
				   uint64_t self, struct weft_links *out)
{
	struct weft_chan_rec *r = &q->rec[(widx - 1) % WEFT_CHAN_RECS];
	uint32_t seq = weft_load_acquire(&r->seq);
	bool settled = weft_load_acquire(&r->settled);
	uint64_t start = weft_load_acquire(&r->start), span = weft_load_acquire(&r->span);
	uint64_t rt = weft_load_acquire(&r->t);
	bool empty = weft_load_acquire(&r->empty);

	/*
	 * seq read again, after the fields: each was read with acquire, so no
	 * later load comes before it (the fence of rec_find's loop, which
	 * ThreadSanitizer does not take inlined, is not needed for that); a
	 * field a rewriting writer stored, after its seq = 0 and release fence,
	 * makes this read see seq changed.
	 */
	if (!(settled && !empty && start <= r0 && seq == widx && weft_load_relaxed(&r->seq) == seq))
		return false;
	out->handoff = start == r0 && span != self ? rt : 0;
	links_add(out, span, self);
	return true;
}

/*
 * The writers of units [r0, r1), of the `widx` records appended (read by
 * the caller, with acquire). A settled record's range runs from its start
 * to the next record's (the newest one's, to whatever is written next by the
 * same span). Records still in flight (a write's bytes can be read before its
 * writer returns) come after everything settled, in the order their writes
 * began, each the units it asked for; when more are in flight than are kept
 * here, each counts wherever the range goes past what was settled. Newest
 * first, stopping at a record that starts at or before r0 (or, if a write is
 * in flight, going on for the older ones in flight only); the links come out
 * oldest first, as the bytes did. Out of line: rec_find_newest answers for
 * the common case.
 */
static __attribute__((noinline)) void rec_find(struct weft_chan_queue *q, uint32_t widx,
					       uint64_t r0, uint64_t r1, uint64_t self,
					       struct weft_links *out)
{
	uint64_t settled_to = UINT64_MAX, end = UINT64_MAX; /* read only if a write is in flight */
	struct weft_links found; /* only n and handoff: the spans are written before read */
	struct {
		uint64_t span, t, len;
	} fl[4]; /* in flight, newest first */
	int nfl = 0;
	bool overflow = false, below = false;

	found.n = 0;
	found.handoff = 0;

	for (uint32_t k = 1; k <= WEFT_CHAN_RECS && k <= widx; k++) {
		uint32_t i = widx - k;
		struct weft_chan_rec *r = &q->rec[i % WEFT_CHAN_RECS];
		uint32_t seq = weft_load_acquire(&r->seq);
		uint32_t settled = weft_load_acquire(&r->settled);
		uint64_t start, empty, span, rt, len;

		if (below && settled)
			continue; /* before the range: only older writes in flight are wanted */
		start = weft_load_acquire(&r->start);
		empty = weft_load_acquire(&r->empty);
		span = weft_load_acquire(&r->span);
		rt = weft_load_acquire(&r->t);
		len = weft_load_acquire(&r->len);
		atomic_thread_fence(memory_order_acquire);
		if (seq != i + 1 || weft_load_relaxed(&r->seq) != seq)
			continue; /* being rewritten, or lapped */
		if (!settled && settled_to == UINT64_MAX) {
			settled_to = weft_load_acquire(&q->tx_units);
			/* Settled meanwhile (its units may be in settled_to): read it as such. */
			if ((settled = weft_load_acquire(&r->settled))) {
				start = weft_load_acquire(&r->start);
				empty = weft_load_acquire(&r->empty);
			}
		}
		if (!settled) {
			if (nfl < (int)(sizeof(fl) / sizeof(fl[0])))
				fl[nfl++] = (typeof(fl[0])){ span, rt, len };
			else
				overflow = true;
			if (end > settled_to)
				end = settled_to;
			continue;
		}
		if (empty || below)
			continue; /* void (its write moved nothing), or before the range */
		if (start < r1 && end > r0)
			links_add(&found, span, 0);
		if (start == r0 && span != self)
			found.handoff = rt;
		if (start <= r0) {
			if (settled_to == UINT64_MAX)
				break;
			/* Older writes in flight still come before the newer ones: on, for them. */
			below = true;
		}
		end = start;
	}
	out->n = 0;
	out->handoff = found.handoff;
	for (int j = found.n - 1; j >= 0; j--)
		links_add(out, found.span[j], self);
	/* In flight, oldest first, from where the settled units end. */
	for (uint64_t at = settled_to; nfl > 0; nfl--) {
		uint64_t next = at + fl[nfl - 1].len;

		if (overflow ? r1 > settled_to : at < r1 && next > r0)
			links_add(out, fl[nfl - 1].span, self);
		if (at == r0 && fl[nfl - 1].span != self)
			out->handoff = fl[nfl - 1].t;
		at = next;
	}
}

/* ------------------------------------------------------------ transfers */

static enum weft_wait_kind wait_kind(const struct weft_chan *c, bool write)
{
	if (c->kind == WEFT_CHAN_SOCKETPAIR || c->kind == WEFT_CHAN_SOCKET)
		return write ? WEFT_WAIT_SOCKET_SEND : WEFT_WAIT_SOCKET_RECV;
	return write ? WEFT_WAIT_PIPE_WRITE : WEFT_WAIT_PIPE_READ;
}

/* The units a transfer of `n` bytes moved: bytes, or an eventfd's counter value. */
static uint64_t units_of(const struct weft_chan *c, const struct weft_chan_op *op, ssize_t n)
{
	uint64_t v;

	if (n <= 0)
		return 0;
	if (c->kind != WEFT_CHAN_EVENTFD)
		return (uint64_t)n;
	if (!op->value || n != sizeof(v))
		return 1;
	memcpy(&v, op->value, sizeof(v));
	return v;
}

/*
 * Links past the two a WAIT carries, or for the poll wait a read followed
 * (`from` 0: then with the first item's hand-off time, the queue time of
 * the task that wait started).
 */
static void record_links(struct weft_thread *t, const struct weft_chan *c, uint64_t wait_t0,
			 uint32_t id, const struct weft_links *l, int from)
{
	if (from < l->n)
		weft_links_record(t, wait_kind(c, false), wait_t0, id, l->span + from, l->n - from,
				  from == 0 ? l->handoff : 0);
}

/*
 * Whether a read of a private channel would block: nothing written (settled
 * or under way: a write's bytes can be read before its writer returns) is
 * left. The reader's own estimate of the writers' count is tried first; the
 * writers' line is read only when it says empty. <= : a reader can count what
 * it took before its writer has.
 */
static bool read_would_block(struct weft_chan_queue *q)
{
	uint64_t rx = weft_load_relaxed(&q->rx_units), there = weft_load_relaxed(&q->tx_seen);

	if ((int64_t)(there - rx) > 0)
		return false;
	there = weft_chan_tx_pending(q);
	/* A write appends its record before its units count: these units' are below widx. */
	weft_store_relaxed(&q->widx_seen, weft_load_acquire(&q->widx));
	weft_store_release(&q->tx_seen, there);
	return (int64_t)(there - rx) <= 0;
}

/*
 * Whether a write of `len` to a private pipe would block: no room. The
 * writer's estimate of the readers' count is tried first (it is never ahead,
 * so it never finds room that is not there).
 */
static bool write_would_block(const struct weft_chan *c, struct weft_chan_queue *q, size_t len)
{
	uint64_t tx = weft_load_relaxed(&q->tx_units), rx = weft_load_relaxed(&q->rx_seen);
	int64_t depth = (int64_t)(tx - rx);

	if ((depth > 0 ? (uint64_t)depth : 0) + len <= c->capacity)
		return false;
	rx = weft_load_acquire(&q->rx_units);
	weft_store_relaxed(&q->rx_seen, rx);
	depth = (int64_t)(tx - rx); /* signed: a reader can count before its writer */
	return (depth > 0 ? (uint64_t)depth : 0) + len > c->capacity;
}

/* Whether this read wants its links: it blocked, or it follows the thread's poll wait. */
static WEFT_HOT bool read_links(struct weft_chan_queue *q, struct weft_thread *t, uint64_t r0,
				uint64_t units, struct weft_links *l)
{
	uint32_t widx;

	l->n = 0;
	l->handoff = 0;
	if (!units)
		return false;
	widx = weft_load_acquire(&q->widx);
	if (!widx || !rec_find_newest(q, widx, r0, t->cur_span, l))
		rec_find(q, widx, r0, r0 + units, t->cur_span, l);
	return l->n > 0;
}

/*
 * Whether a read that did not block, from units r0 on, continues the open
 * task: the task is from this descriptor, and the newest record began at or
 * before r0 and is its newest producer's (a writer that goes on writing from
 * one span leaves one record: its bytes are one hand-off, however many reads
 * take them). A few loads of lines the writer leaves alone in that case, so
 * that a reader draining such a stream does not look for links at each read.
 */
static bool same_producer(struct weft_chan_queue *q, const struct weft_thread *t, int fd,
			  uint64_t r0, uint64_t units)
{
	uint64_t seen;
	uint32_t i;
	struct weft_chan_rec *r;

	if (!t->task_producer || !weft_task_from(t, (uint64_t)(intptr_t)fd))
		return false;
	/*
	 * What the readers' side saw of the writers (read_would_block): bytes
	 * written since are not decided here, and the writers' line, which
	 * every write changes, is not read.
	 */
	seen = weft_load_acquire(&q->tx_seen);
	i = weft_load_relaxed(&q->widx_seen);
	if (!i || r0 + units > seen)
		return false;
	r = &q->rec[(i - 1) % WEFT_CHAN_RECS];
	return weft_load_acquire(&r->seq) == i && weft_load_acquire(&r->settled) &&
	       !weft_load_relaxed(&r->empty) && weft_load_relaxed(&r->start) <= r0 &&
	       weft_load_relaxed(&r->span) == t->task_producer;
}

/*
 * A read that did not block found an item a producer in this process wrote:
 * a task of its own (agent/task.h), its links the writers'.
 */
static void read_task(struct weft_thread *t, const struct weft_chan *c, int fd, uint32_t id,
		      const struct weft_links *l)
{
	uint64_t producers[WEFT_EVENT_LINKS] = { 0 };
	struct weft_stamp_base b;

	/* The bytes of the open task's newest producer still: no new item boundary. */
	if (l->span[0] == t->task_producer && weft_task_from(t, (uint64_t)(intptr_t)fd))
		return;
	for (int i = 0; i < l->n && i < WEFT_EVENT_LINKS; i++)
		producers[i] = l->span[i];
	b = weft_stamp_base_cached(&t->stamp_cache);
	if (weft_task_begin(t, wait_kind(c, false), (uint64_t)(intptr_t)fd, id, b.ns, producers,
			    l->handoff ? weft_stamp_at(&b, l->handoff) : 0))
		t->task_producer = l->span[l->n - 1]; /* past the two the event carries */
	if (l->n > WEFT_EVENT_LINKS)
		record_links(t, c, 0, id, l, WEFT_EVENT_LINKS); /* wait_t0 0: the task's */
}

static ssize_t chan_read(struct weft_chan_op *op, struct weft_chan *c, struct weft_thread *t)
{
	uint32_t id = weft_chan_entry_id(op->entry);
	struct weft_chan_queue *q = &c->q[(op->entry & WEFT_CHAN_RQ1) ? 1 : 0];
	bool wait = false, timed = false;
	struct weft_wait w;
	WEFT_WAIT_UNWIND(unwind); /* read is a cancellation point (agent/wait.h) */
	struct weft_links l;
	uint64_t units = 0, r0 = 0;
	int *err = weft_errno();
	ssize_t r;
	int saved;

	if (t && !(op->entry & WEFT_CHAN_NONBLOCK)) {
		if (c->kind == WEFT_CHAN_SOCKET) {
			timed = true; /* agent/conn.h: a socket's transfers are timed */
		} else if (!weft_chan_shared(c)) {
			wait = read_would_block(q);
		} else if (!op->may_try || weft_load_relaxed(&nowait_unsupported[c->kind])) {
			timed = true; /* no try (MSG_WAITALL, a FIFO): timed (channel.h) */
		} else {
			r = op->call(op, true);
			if (r >= 0 || *err != EAGAIN) {
				if (r >= 0 || *err != EOPNOTSUPP)
					goto done;
				/* A FIFO has no RWF_NOWAIT: its reads are timed from now on. */
				weft_store_relaxed(&nowait_unsupported[c->kind], 1);
				timed = true;
			} else {
				wait = true;
			}
		}
	}
	if (wait || timed) {
		weft_wait_begin(&w, t, wait_kind(c, false), (void *)(intptr_t)op->fd, op->pc);
		w.ev.u.wait.channel = id;
		unwind = (struct weft_wait_unwind){ &w, true };
	}
	r = op->call(op, false);
	unwind.w = NULL;
	if ((wait || timed) && r < 0 && *err == EAGAIN) {
		weft_wait_cancel(&w); /* a non-blocking file: it never blocked */
		weft_chan_nonblock_hint(op->fd, op->entry);
		return r;
	}
	if (timed)
		wait = weft_wait_slept(&w);
done:
	saved = *err;
	if (r > 0) {
		bool own = t && weft_chan_owns(&q->rx_owner, t->tid);

		units = units_of(c, op, r);
		/* A socket's units are a total (no records to place): its owner's its own. */
		if (own && c->kind == WEFT_CHAN_SOCKET)
			weft_own_add(&q->rx_units_own, units);
		else
			r0 = atomic_fetch_add_explicit(&q->rx_units, units, memory_order_acq_rel);
		weft_chan_add(own, &q->rx_msgs_own, &q->rx_msgs, 1);
	}
	if (c->kind == WEFT_CHAN_SOCKET) {
		/* No writer of a socket's bytes is in this process: no links. */
		if (wait) {
			weft_task_receive(&w);
			weft_wait_end_task_sys(&w, r, r > 0, id);
		}
		weft_conn_transferred(c, r, saved);
	} else if (wait) {
		weft_task_receive(&w);
		if (read_links(q, t, r0, units, &l)) {
			for (int i = 0; i < l.n && i < WEFT_EVENT_LINKS; i++)
				weft_wait_link(&w, l.span[i]);
			w.handoff_ns = l.handoff; /* a stamp: the end converts it */
		}
		weft_wait_end_task_sys(&w, r, r > 0, id);
		/* After the task's start: they are its links too. */
		if (l.n > WEFT_EVENT_LINKS)
			record_links(t, c, w.ev.h.t0, id, &l, WEFT_EVENT_LINKS);
	} else if (t && r > 0 && t->last_wait_kind == WEFT_WAIT_POLL) {
		if (read_links(q, t, r0, units, &l))
			record_links(t, c, t->last_wait_t0, id, &l, 0);
	} else if (t && r > 0 && !same_producer(q, t, op->fd, r0, units) &&
		   read_links(q, t, r0, units, &l)) {
		read_task(t, c, op->fd, id, &l);
	}
	*err = saved;
	return r;
}

/*
 * A write to a private channel returned having moved `units` of the
 * `planned` it added to the units under way: the rest taken back, from the
 * word they were added to (nothing to do when it moved them all).
 */
static inline void pending_done(struct weft_chan_queue *q, uint64_t planned, uint64_t units,
				bool own)
{
	if (units != planned)
		weft_chan_add(own, &q->tx_pending_own, &q->tx_pending, units - planned);
}

/*
 * A write under way, for a forced unwind (write is a cancellation point;
 * the build has -fexceptions, so a cleanup runs): its record is made void,
 * its units under way are taken back and the wait it began ends with
 * ECANCELED, as if it moved nothing. Else the units would count as
 * written for good, and no read of the pipe would block again for weft.
 */
struct write_unwind {
	struct weft_wait_unwind wait;
	struct weft_chan_queue *q; /* armed: the queue written; NULL: not */
	uint64_t planned;
	uint32_t rec;
	bool pending, own;
};

static WEFT_HOT void write_unwound(struct write_unwind *u)
{
	if (__builtin_expect(u->q == NULL, 1))
		return;
	rec_settle(u->q, u->rec, 0);
	if (u->pending)
		pending_done(u->q, u->planned, 0, u->own);
	weft_wait_unwound(&u->wait);
}

static ssize_t chan_write(struct weft_chan_op *op, struct weft_chan *c, struct weft_thread *t)
{
	struct weft_chan_queue *q = &c->q[(op->entry & WEFT_CHAN_WQ1) ? 1 : 0];
	uint64_t planned = op->len, units;
	bool wait = false, pending, own;
	struct weft_wait w;
	struct write_unwind unwind __attribute__((cleanup(write_unwound))) = { .q = NULL };
	uint32_t rec;
	ssize_t r;
	int saved;

	if (c->kind == WEFT_CHAN_SOCKET)
		return weft_conn_write(op, c, t);
	if (c->kind == WEFT_CHAN_EVENTFD && op->value && op->len == sizeof(planned))
		memcpy(&planned, op->value, sizeof(planned));
	rec = rec_append(q, t ? t->cur_span : 0, planned);
	/*
	 * Units under way are counted for a private channel's readers, which
	 * tell from them whether they would block (read_would_block); a shared
	 * channel's readers try instead, and a channel never becomes private
	 * again: its writes skip the addition (and the taking back of what a
	 * short write did not move).
	 */
	pending = !weft_chan_shared(c);
	own = t && weft_chan_owns(&q->tx_owner, t->tid);
	if (pending)
		weft_chan_add(own, &q->tx_pending_own, &q->tx_pending, planned);
	if (t && !(op->entry & WEFT_CHAN_NONBLOCK) && c->kind == WEFT_CHAN_PIPE && c->capacity &&
	    pending)
		wait = write_would_block(c, q, op->len);
	if (wait) {
		weft_wait_begin(&w, t, wait_kind(c, true), (void *)(intptr_t)op->fd, op->pc);
		w.ev.u.wait.channel = weft_chan_entry_id(op->entry);
	}
	unwind = (struct write_unwind){ { wait ? &w : NULL, true }, q, planned, rec, pending, own };
	r = op->call(op, false);
	unwind.q = NULL;
	saved = *weft_errno();
	units = units_of(c, op, r);
	if (c->kind == WEFT_CHAN_EVENTFD && r > 0)
		units = planned;
	rec_settle(q, rec, units);
	if (r > 0)
		weft_chan_add(own, &q->tx_msgs_own, &q->tx_msgs, 1);
	if (pending)
		pending_done(q, planned, units, own);
	if (wait) {
		if (r < 0 && saved == EAGAIN) {
			weft_wait_cancel(&w);
			weft_chan_nonblock_hint(op->fd, op->entry);
		} else {
			weft_wait_end_sys(&w, r);
		}
	}
	*weft_errno() = saved;
	return r;
}

WEFT_HOT ssize_t weft_chan_io(struct weft_chan_op *op)
{
	struct weft_chan *c = entry_slot(op->entry);
	struct weft_thread *t = weft_self;

	if (!c || weft_load_acquire(&c->state) != WEFT_CHAN_LIVE)
		return op->call(op, false);
	if (!(op->entry & (op->write ? WEFT_CHAN_WRITE : WEFT_CHAN_READ)))
		return op->call(op, false); /* the wrong end: the real call fails, EBADF */
	/*
	 * The guard. On an agent thread (or a thread past its end) the call is
	 * weft's own: not counted. On a program thread it is set only while
	 * weft's code runs there (growing the thread's ring, starting or ending
	 * it), which never reads or writes a channel: the transfer comes from a
	 * signal handler that interrupted that code (the self-pipe trick). Its
	 * bytes are counted, as the reader's will be, but nothing is recorded
	 * (no wait, no links): recording could grow the ring inside the growth.
	 */
	if (weft_guard_active()) {
		if (t && t->dead)
			return op->call(op, false);
		t = NULL;
	} else if (t && t->dead) {
		t = NULL;
	}
	return op->write ? chan_write(op, c, t) : chan_read(op, c, t);
}

void weft_chan_moved(int fd, bool write, uint64_t units, uint64_t msgs)
{
	uint32_t e = weft_chan_fd(fd);
	struct weft_chan *c = entry_slot(e);
	struct weft_chan_queue *q;

	if (!c || !units || weft_guard_active() ||
	    !(e & (write ? WEFT_CHAN_WRITE : WEFT_CHAN_READ)))
		return;
	if (write) {
		struct weft_thread *t = weft_self;

		q = &c->q[(e & WEFT_CHAN_WQ1) ? 1 : 0];
		if (c->kind == WEFT_CHAN_SOCKET)
			atomic_fetch_add_explicit(&q->tx_units, units, memory_order_relaxed);
		else
			rec_settle(q, rec_append(q, t && !t->dead ? t->cur_span : 0, units), units);
		/* Written: a private channel's readers count them (read_would_block). */
		if (!weft_chan_shared(c))
			atomic_fetch_add_explicit(&q->tx_pending, units, memory_order_acq_rel);
		atomic_fetch_add_explicit(&q->tx_msgs, msgs, memory_order_relaxed);
	} else {
		q = &c->q[(e & WEFT_CHAN_RQ1) ? 1 : 0];
		atomic_fetch_add_explicit(&q->rx_units, units, memory_order_acq_rel);
		atomic_fetch_add_explicit(&q->rx_msgs, msgs, memory_order_relaxed);
	}
}

void weft_chan_spliced(int in_fd, int out_fd, ssize_t n)
{
	if (n <= 0)
		return;
	weft_chan_moved(out_fd, true, (uint64_t)n, 1);
	weft_chan_moved(in_fd, false, (uint64_t)n, 1);
}
