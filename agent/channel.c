/*
 * Channels: the slot table, the descriptor table, and the accounting of each
 * transfer (agent/channel.h says what and why).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/channel.h"
#include "agent/wait.h"

_Atomic(_Atomic uint32_t *) weft_chan_fds[WEFT_CHAN_FD_CHUNKS];

static _Atomic(struct weft_chan *) slot_chunks[WEFT_CHAN_SLOT_CHUNKS];
static _Atomic uint32_t slot_high;  /* ids 1..slot_high have been handed out */
static _Atomic uint64_t free_top;   /* freed ids: (tag << 32) | id, a tagged stack */
static _Atomic uint64_t create_seq; /* creation order */
static _Atomic uint64_t fork_seq;   /* channels created before the last fork are shared */
static _Atomic int fd_max = -1;     /* the highest descriptor ever given an entry */
static _Atomic int nowait_unsupported[WEFT_CHAN_FIFO + 1];
static pid_t table_pid; /* the process the table describes (a vfork child shares it) */

/* Free slots are linked through their first record (unused while free). */
#define FREE_NEXT(c) ((c)->q[0].rec[0].span)

const char *weft_chan_kind_name(enum weft_chan_kind kind)
{
	switch (kind) {
	case WEFT_CHAN_PIPE:
		return "pipe";
	case WEFT_CHAN_EVENTFD:
		return "eventfd";
	case WEFT_CHAN_SOCKETPAIR:
		return "socketpair";
	case WEFT_CHAN_FIFO:
		return "fifo";
	default:
		return "channel";
	}
}

/* Zeroed memory for a table chunk, installed once; NULL when mmap fails. */
static void *chunk_get(_Atomic(void *) *where, size_t size)
{
	void *p = weft_load_acquire(where), *expected = NULL;

	if (p)
		return p;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (!atomic_compare_exchange_strong_explicit(where, &expected, p, memory_order_acq_rel,
						     memory_order_acquire)) {
		munmap(p, size);
		return expected;
	}
	return p;
}

struct weft_chan *weft_chan_slot(uint32_t id)
{
	struct weft_chan *chunk;

	if (id == 0 || id > WEFT_CHAN_MAX)
		return NULL;
	chunk = weft_load_acquire(&slot_chunks[(id - 1) / WEFT_CHAN_SLOT_CHUNK]);
	return chunk ? &chunk[(id - 1) % WEFT_CHAN_SLOT_CHUNK] : NULL;
}

uint32_t weft_chan_high(void)
{
	return weft_load_acquire(&slot_high);
}

/* An entry's slot id and the slot; NULL when the entry names none. */
static struct weft_chan *entry_slot(uint32_t e)
{
	return weft_chan_slot(weft_chan_entry_id(e));
}

static _Atomic uint32_t *fd_cell(int fd, bool create)
{
	_Atomic uint32_t *chunk;
	unsigned u = (unsigned)fd;

	if (u >= WEFT_CHAN_FD_CHUNK * WEFT_CHAN_FD_CHUNKS)
		return NULL;
	if (create)
		chunk = chunk_get((_Atomic(void *) *)&weft_chan_fds[u / WEFT_CHAN_FD_CHUNK],
				  WEFT_CHAN_FD_CHUNK * sizeof(uint32_t));
	else
		chunk = weft_load_acquire(&weft_chan_fds[u / WEFT_CHAN_FD_CHUNK]);
	return chunk ? &chunk[u % WEFT_CHAN_FD_CHUNK] : NULL;
}

/* Whether this is the process the table belongs to, and not a vfork child sharing it. */
static bool table_owner(void)
{
	return table_pid == 0 || (pid_t)syscall(SYS_getpid) == table_pid;
}

/* ------------------------------------------------------------ slots */

static uint32_t slot_take(void)
{
	uint64_t top = weft_load_acquire(&free_top), next;
	uint32_t id;

	while ((id = (uint32_t)top) != 0) {
		struct weft_chan *c = weft_chan_slot(id);

		next = (top & ~0xffffffffull) + (1ull << 32) +
		       (uint32_t)weft_load_relaxed(&FREE_NEXT(c));
		if (atomic_compare_exchange_weak_explicit(
			    &free_top, &top, next, memory_order_acq_rel, memory_order_acquire))
			return id;
	}
	id = atomic_fetch_add_explicit(&slot_high, 1, memory_order_acq_rel) + 1;
	if (id > WEFT_CHAN_MAX ||
	    !chunk_get((_Atomic(void *) *)&slot_chunks[(id - 1) / WEFT_CHAN_SLOT_CHUNK],
		       WEFT_CHAN_SLOT_CHUNK * sizeof(struct weft_chan))) {
		atomic_fetch_sub_explicit(&slot_high, 1, memory_order_relaxed);
		return 0;
	}
	return id;
}

void weft_chan_slot_free(uint32_t id)
{
	struct weft_chan *c = weft_chan_slot(id);
	uint64_t top = weft_load_relaxed(&free_top), next;

	weft_store_release(&c->state, WEFT_CHAN_FREE);
	do {
		weft_store_relaxed(&FREE_NEXT(c), (uint32_t)top);
		next = (top & ~0xffffffffull) + (1ull << 32) + id;
	} while (!atomic_compare_exchange_weak_explicit(&free_top, &top, next, memory_order_acq_rel,
							memory_order_relaxed));
}

static void fd_set_entry(int fd, uint32_t e);

/* A fresh slot of `kind`, live, with no descriptor yet; 0 when full. */
static uint32_t slot_open(enum weft_chan_kind kind, const void *pc)
{
	uint32_t id;
	struct weft_chan *c;
	uint32_t gen;

	if (!table_pid)
		table_pid = (pid_t)syscall(SYS_getpid);
	id = slot_take();
	if (!id)
		return 0;
	c = weft_chan_slot(id);
	gen = c->gen + 1;
	weft_store_relaxed(&c->state, WEFT_CHAN_CLAIMED);
	memset(c->q, 0, sizeof(c->q));
	memset(c->seen, 0, sizeof(c->seen));
	c->refs[0] = c->refs[1] = 0;
	c->gen = gen;
	c->kind = (uint8_t)kind;
	c->inherited = false;
	c->capacity = 0;
	c->pc = (uint64_t)(uintptr_t)pc;
	c->seq = atomic_fetch_add_explicit(&create_seq, 1, memory_order_relaxed) + 1;
	return id;
}

void weft_chan_counts(const struct weft_chan *c, uint64_t out[4])
{
	bool values = c->kind == WEFT_CHAN_EVENTFD; /* units are values, not bytes */

	memset(out, 0, 4 * sizeof(out[0]));
	for (int i = 0; i < 2; i++) {
		out[0] += weft_load_relaxed(values ? &c->q[i].tx_bytes : &c->q[i].tx_units);
		out[1] += weft_load_relaxed(&c->q[i].tx_msgs);
		out[2] += weft_load_relaxed(values ? &c->q[i].rx_bytes : &c->q[i].rx_units);
		out[3] += weft_load_relaxed(&c->q[i].rx_msgs);
	}
}

bool weft_chan_shared(const struct weft_chan *c)
{
	if (c->kind == WEFT_CHAN_FIFO || c->inherited || c->seq <= weft_load_relaxed(&fork_seq))
		return true;
	/* One end gone from this process: its other holder may be elsewhere. */
	return (c->kind == WEFT_CHAN_PIPE || c->kind == WEFT_CHAN_SOCKETPAIR) &&
	       (weft_load_relaxed(&c->refs[0]) == 0 || weft_load_relaxed(&c->refs[1]) == 0);
}

/* ------------------------------------------------------------ descriptors */

static void entry_release(uint32_t e)
{
	struct weft_chan *c = entry_slot(e);
	int end = (e & WEFT_CHAN_END1) ? 1 : 0;
	uint32_t live = WEFT_CHAN_LIVE;

	if (!c)
		return;
	atomic_fetch_sub_explicit(&c->refs[end], 1, memory_order_acq_rel);
	if (c->kind == WEFT_CHAN_FIFO && !c->inherited)
		return; /* the FIFO outlives its opens: it can be opened again */
	if (weft_load_acquire(&c->refs[0]) <= 0 && weft_load_acquire(&c->refs[1]) <= 0)
		atomic_compare_exchange_strong_explicit(&c->state, &live, WEFT_CHAN_CLOSED,
							memory_order_acq_rel, memory_order_relaxed);
}

static void fd_set_entry(int fd, uint32_t e)
{
	_Atomic uint32_t *cell = fd_cell(fd, true);
	uint32_t old;
	int max;

	if (!cell)
		return;
	if (e) {
		struct weft_chan *c = entry_slot(e);

		atomic_fetch_add_explicit(&c->refs[(e & WEFT_CHAN_END1) ? 1 : 0], 1,
					  memory_order_acq_rel);
	}
	old = atomic_exchange_explicit(cell, e, memory_order_acq_rel);
	if (old)
		entry_release(old); /* closed behind the hooks' back (a raw system call) */
	max = weft_load_relaxed(&fd_max);
	while (fd > max && !atomic_compare_exchange_weak_explicit(
				   &fd_max, &max, fd, memory_order_relaxed, memory_order_relaxed))
		;
}

/* What descriptor `i` of a new channel of `kind` does: its entry's low bits. */
static uint32_t new_entry_bits(enum weft_chan_kind kind, int i, int flags)
{
	uint32_t e;

	switch (kind) {
	case WEFT_CHAN_PIPE:
		e = i == 0 ? WEFT_CHAN_READ : (WEFT_CHAN_WRITE | WEFT_CHAN_END1);
		break;
	case WEFT_CHAN_SOCKETPAIR:
		/* End 0 writes queue 0 and reads queue 1; end 1 the other way. */
		e = WEFT_CHAN_READ | WEFT_CHAN_WRITE |
		    (i == 0 ? WEFT_CHAN_RQ1 : (WEFT_CHAN_WQ1 | WEFT_CHAN_END1));
		break;
	default:
		e = WEFT_CHAN_READ | WEFT_CHAN_WRITE;
		break;
	}
	if (flags & O_NONBLOCK)
		e |= WEFT_CHAN_NONBLOCK;
	return e;
}

/*
 * Makes a set-up slot live on its descriptors, fds[i] with the entry bits
 * bits[i] (the low WEFT_CHAN_SLOT_SHIFT bits: what it does with the slot).
 * Live before its descriptors name it (an entry never names a closed slot),
 * and held on end 0 until they are all in, so that a close racing the
 * creation cannot end it early.
 */
static uint32_t slot_live(uint32_t id, const int *fds, const uint32_t *bits, int n)
{
	struct weft_chan *c = weft_chan_slot(id);
	const uint32_t mask = (1u << WEFT_CHAN_SLOT_SHIFT) - 1;

	c->refs[0] = 1;
	weft_store_release(&c->state, WEFT_CHAN_LIVE);
	for (int i = 0; i < n; i++)
		fd_set_entry(fds[i], (id << WEFT_CHAN_SLOT_SHIFT) | (bits[i] & mask));
	entry_release(id << WEFT_CHAN_SLOT_SHIFT);
	return id;
}

uint32_t weft_chan_create(enum weft_chan_kind kind, const int *fds, int n, int flags,
			  uint64_t initial, const void *pc)
{
	uint32_t id, bits[2];
	struct weft_chan *c;

	if (n > 2 || !(c = weft_chan_slot(id = slot_open(kind, pc))))
		return 0;
	if (kind == WEFT_CHAN_EVENTFD)
		c->q[0].tx_units = initial;
	if (kind == WEFT_CHAN_PIPE) {
		long cap = syscall(SYS_fcntl, fds[1], F_GETPIPE_SZ);

		c->capacity = cap > 0 ? (uint32_t)cap : 0;
	}
	for (int i = 0; i < n; i++)
		bits[i] = new_entry_bits(kind, i, flags);
	return slot_live(id, fds, bits, n);
}

uint32_t weft_chan_create_named(enum weft_chan_kind kind, const char *name, const int *fds,
				const uint32_t *bits, int n)
{
	uint32_t id = slot_open(kind, NULL);
	struct weft_chan *c = weft_chan_slot(id);

	if (!c)
		return 0;
	c->inherited = true;
	snprintf(c->name, sizeof(c->name), "%s", name);
	weft_store_release(&c->named, c->gen + 1);
	return slot_live(id, fds, bits, n);
}

void weft_chan_closed(int fd)
{
	_Atomic uint32_t *cell;
	uint32_t old;

	if (!weft_chan_fd(fd) || !table_owner())
		return;
	cell = fd_cell(fd, false);
	old = atomic_exchange_explicit(cell, 0, memory_order_acq_rel);
	if (old)
		entry_release(old);
}

void weft_chan_closed_range(unsigned int first, unsigned int last)
{
	uint32_t e;

	if (first > INT_MAX)
		return;
	for (int fd = (int)first; (fd = weft_chan_fd_next(fd, &e)) >= 0 && (unsigned)fd <= last;
	     fd++)
		weft_chan_closed(fd);
}

void weft_chan_dup(int oldfd, int newfd)
{
	uint32_t e = weft_chan_fd(oldfd);

	if (oldfd == newfd || !table_owner())
		return;
	if (!e && !weft_chan_fd(newfd))
		return;
	fd_set_entry(newfd, e);
}

void weft_chan_flags_changed(int fd)
{
	_Atomic uint32_t *cell = fd_cell(fd, false);

	if (cell && weft_load_relaxed(cell))
		atomic_fetch_and_explicit(cell, ~(uint32_t)WEFT_CHAN_NONBLOCK,
					  memory_order_relaxed);
}

void weft_chan_resized(int fd, int capacity)
{
	struct weft_chan *c = entry_slot(weft_chan_fd(fd));

	if (c && capacity > 0)
		c->capacity = (uint32_t)capacity;
}

void weft_chan_find_fds(uint32_t id, int fds[2])
{
	uint32_t e;

	fds[0] = fds[1] = -1;
	for (int fd = 0; (fd = weft_chan_fd_next(fd, &e)) >= 0; fd++)
		if (weft_chan_entry_id(e) == id && fds[(e & WEFT_CHAN_END1) ? 1 : 0] < 0)
			fds[(e & WEFT_CHAN_END1) ? 1 : 0] = fd;
}

int weft_chan_fd_next(int from, uint32_t *entry)
{
	int max = weft_load_relaxed(&fd_max);

	for (int fd = from < 0 ? 0 : from; fd <= max; fd++) {
		uint32_t e;

		if (!weft_load_acquire(&weft_chan_fds[fd / WEFT_CHAN_FD_CHUNK])) {
			fd = (fd / WEFT_CHAN_FD_CHUNK + 1) * WEFT_CHAN_FD_CHUNK - 1;
			continue;
		}
		if ((e = weft_chan_fd(fd)) != 0) {
			*entry = e;
			return fd;
		}
	}
	return -1;
}

void weft_chan_after_fork(bool child)
{
	uint64_t seq = weft_load_relaxed(&create_seq);

	/*
	 * Written only when it changes: after the fork every page is the
	 * parent's and the child's until written, and a write copies it (about
	 * 15 us) — in the parent too, at every fork of a process that creates no
	 * channel between forks.
	 */
	if (weft_load_relaxed(&fork_seq) != seq)
		weft_store_relaxed(&fork_seq, seq);
	if (!child)
		return;
	table_pid = (pid_t)syscall(SYS_getpid);
	/* The child's counts are its own: its exporter counts from here. */
	for (uint32_t id = 1; id <= weft_chan_high(); id++) {
		struct weft_chan *c = weft_chan_slot(id);

		if (!c)
			break;
		weft_chan_counts(c, c->seen);
	}
}

/* ------------------------------------------------------------ FIFOs */

enum { FIFO_PATHS = 16, FIFO_PATH_MAX = 256 };

static struct {
	_Atomic int count;
	_Atomic int lock;
	struct {
		char path[FIFO_PATH_MAX];
		uint32_t id;
	} made[FIFO_PATHS];
} fifos;

void weft_chan_fifo_made(const char *path, const void *pc)
{
	int n;
	uint32_t id;

	if (strlen(path) >= FIFO_PATH_MAX)
		return;
	while (atomic_exchange_explicit(&fifos.lock, 1, memory_order_acquire))
		;
	n = weft_load_relaxed(&fifos.count);
	if (n < FIFO_PATHS && (id = slot_open(WEFT_CHAN_FIFO, pc))) {
		weft_store_release(&weft_chan_slot(id)->state, WEFT_CHAN_LIVE);
		strcpy(fifos.made[n].path, path);
		fifos.made[n].id = id;
		weft_store_release(&fifos.count, n + 1);
	}
	weft_store_release(&fifos.lock, 0);
}

void weft_chan_fifo_open(const char *path, int fd, int oflags)
{
	int n = weft_load_acquire(&fifos.count);

	for (int i = 0; i < n; i++) {
		uint32_t e = fifos.made[i].id << WEFT_CHAN_SLOT_SHIFT;

		if (strcmp(fifos.made[i].path, path) != 0)
			continue;
		switch (oflags & O_ACCMODE) {
		case O_RDONLY:
			e |= WEFT_CHAN_READ;
			break;
		case O_WRONLY:
			e |= WEFT_CHAN_WRITE | WEFT_CHAN_END1;
			break;
		default:
			e |= WEFT_CHAN_READ | WEFT_CHAN_WRITE;
			break;
		}
		if (oflags & O_NONBLOCK)
			e |= WEFT_CHAN_NONBLOCK;
		fd_set_entry(fd, e);
		return;
	}
}

/* ------------------------------------------------------------ hand-off records */

/* No record was appended: the write continues the newest one. */
#define REC_NONE UINT32_MAX

/*
 * A write by `span` is about to happen: a record, unless the newest one is
 * already this span's (then its range simply goes on, and the write stores
 * nothing to the records: a single writer never touches them after its first
 * write). Returns the new record's index, or REC_NONE.
 */
static uint32_t rec_append(struct weft_chan_queue *q, uint64_t span)
{
	uint32_t i = weft_load_acquire(&q->widx);
	struct weft_chan_rec *r;

	if (i) {
		r = &q->rec[(i - 1) % WEFT_CHAN_RECS];
		if (weft_load_relaxed(&r->span) == span && weft_load_acquire(&r->seq) == i &&
		    !weft_load_relaxed(&r->empty))
			return REC_NONE;
	}
	i = atomic_fetch_add_explicit(&q->widx, 1, memory_order_acq_rel);
	r = &q->rec[i % WEFT_CHAN_RECS];
	weft_store_relaxed(&r->seq, 0);
	atomic_thread_fence(memory_order_release);
	weft_store_relaxed(&r->settled, 0);
	weft_store_relaxed(&r->empty, 0);
	weft_store_relaxed(&r->span, span);
	weft_store_release(&r->seq, i + 1);
	return i;
}

/*
 * The write returned having moved `units`: they take their place in the
 * queue's count, and a new record says where its range starts. A record
 * whose write moved nothing is void (its would-be range stays its
 * predecessor's).
 */
static void rec_settle(struct weft_chan_queue *q, uint32_t i, uint64_t units)
{
	struct weft_chan_rec *r;
	uint64_t start =
		units ? atomic_fetch_add_explicit(&q->tx_units, units, memory_order_acq_rel) : 0;

	if (i == REC_NONE)
		return;
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
 * The writers of units [r0, r1). A settled record's range runs from its start
 * to the next record's (the newest one's, to whatever is written next by the
 * same span); records still in flight count when the range goes past what was
 * settled (a write's bytes can be read before its writer returns). Newest
 * first, stopping at a record that starts at or before r0; the links come out
 * oldest first, as the bytes did.
 */
static void rec_find(struct weft_chan_queue *q, uint64_t r0, uint64_t r1, uint64_t self,
		     struct weft_links *out)
{
	uint64_t settled_to = UINT64_MAX, end = UINT64_MAX; /* read only if a write is in flight */
	uint32_t widx = weft_load_acquire(&q->widx);
	struct weft_links found = { .n = 0 };

	for (uint32_t k = 1; k <= WEFT_CHAN_RECS && k <= widx; k++) {
		uint32_t i = widx - k;
		struct weft_chan_rec *r = &q->rec[i % WEFT_CHAN_RECS];
		uint32_t seq = weft_load_acquire(&r->seq);
		uint32_t settled = weft_load_acquire(&r->settled);
		uint64_t start = weft_load_acquire(&r->start), empty = weft_load_acquire(&r->empty);
		uint64_t span = weft_load_acquire(&r->span);

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
			/* In flight: its units will come after everything settled so far. */
			if (r1 > settled_to)
				links_add(&found, span, 0);
			if (end > settled_to)
				end = settled_to;
			continue;
		}
		if (empty)
			continue; /* void: its write moved nothing */
		if (start < r1 && end > r0)
			links_add(&found, span, 0);
		if (start <= r0)
			break;
		end = start;
	}
	out->n = 0;
	for (int j = found.n - 1; j >= 0; j--)
		links_add(out, found.span[j], self);
}

/* ------------------------------------------------------------ transfers */

static enum weft_wait_kind wait_kind(const struct weft_chan *c, bool write)
{
	if (c->kind == WEFT_CHAN_SOCKETPAIR)
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

/* Links past the two a WAIT carries, or for the poll wait a read followed. */
static void record_links(struct weft_thread *t, uint64_t wait_t0, uint32_t id,
			 const struct weft_links *l, int from)
{
	while (from < l->n) {
		struct weft_event ev = { .h = { .type = WEFT_EV_LINK, .t0 = weft_clock_now() } };

		ev.u.link.wait_t0 = wait_t0;
		ev.u.link.channel = id;
		for (int i = 0; i < 4 && from < l->n; i++)
			ev.u.link.links[i] = l->span[from++];
		weft_record(t, &ev);
	}
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
	there = weft_load_acquire(&q->tx_units) + weft_load_acquire(&q->tx_inflight);
	weft_store_relaxed(&q->tx_seen, there);
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

/*
 * Whether a read would find something (data, end of file, an error) now: a
 * zero-timeout poll, made as the system call itself so that it is not seen
 * as the program's poll.
 */
static bool readable_now(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return syscall(SYS_poll, &p, 1, 0) != 0;
}

static void set_nonblock_hint(int fd, uint32_t e)
{
	_Atomic uint32_t *cell = fd_cell(fd, false);
	uint32_t expected = e;

	if (cell)
		atomic_compare_exchange_strong_explicit(cell, &expected, e | WEFT_CHAN_NONBLOCK,
							memory_order_relaxed, memory_order_relaxed);
}

/* Whether this read wants its links: it blocked, or it follows the thread's poll wait. */
static bool read_links(struct weft_chan_queue *q, struct weft_thread *t, uint64_t r0,
		       uint64_t units, struct weft_links *l)
{
	l->n = 0;
	if (!units)
		return false;
	rec_find(q, r0, r0 + units, t->cur_span, l);
	return l->n > 0;
}

static ssize_t chan_read(struct weft_chan_op *op, struct weft_chan *c, struct weft_thread *t)
{
	uint32_t id = weft_chan_entry_id(op->entry);
	struct weft_chan_queue *q = &c->q[(op->entry & WEFT_CHAN_RQ1) ? 1 : 0];
	bool wait = false;
	struct weft_wait w;
	struct weft_links l;
	uint64_t units = 0, r0 = 0;
	ssize_t r;
	int saved;

	if (t && !(op->entry & WEFT_CHAN_NONBLOCK)) {
		if (!weft_chan_shared(c)) {
			wait = read_would_block(q);
		} else if (!weft_load_relaxed(&nowait_unsupported[c->kind])) {
			r = op->call(op, true);
			if (r >= 0 || errno != EAGAIN) {
				if (r >= 0 || errno != EOPNOTSUPP)
					goto done;
				/* A FIFO has no RWF_NOWAIT: ask poll from now on. */
				weft_store_relaxed(&nowait_unsupported[c->kind], 1);
				wait = !readable_now(op->fd);
			} else {
				wait = true;
			}
		} else {
			wait = !readable_now(op->fd);
		}
	}
	if (wait) {
		weft_wait_begin(&w, t, wait_kind(c, false), (void *)(intptr_t)op->fd, op->pc);
		w.ev.u.wait.channel = id;
	}
	r = op->call(op, false);
	if (wait && r < 0 && errno == EAGAIN) {
		weft_wait_cancel(&w); /* a non-blocking file: it never blocked */
		set_nonblock_hint(op->fd, op->entry);
		return r;
	}
done:
	saved = errno;
	if (r > 0) {
		units = units_of(c, op, r);
		r0 = atomic_fetch_add_explicit(&q->rx_units, units, memory_order_acq_rel);
		atomic_fetch_add_explicit(&q->rx_msgs, 1, memory_order_relaxed);
		if (c->kind == WEFT_CHAN_EVENTFD)
			atomic_fetch_add_explicit(&q->rx_bytes, (uint64_t)r, memory_order_relaxed);
	}
	if (wait) {
		if (read_links(q, t, r0, units, &l))
			for (int i = 0; i < l.n && i < WEFT_EVENT_LINKS; i++)
				weft_wait_link(&w, l.span[i]);
		weft_wait_end_sys(&w, r);
		if (l.n > WEFT_EVENT_LINKS)
			record_links(t, w.ev.h.t0, id, &l, WEFT_EVENT_LINKS);
	} else if (t && t->last_wait_kind == WEFT_WAIT_POLL && read_links(q, t, r0, units, &l)) {
		record_links(t, t->last_wait_t0, id, &l, 0);
	}
	errno = saved;
	return r;
}

static ssize_t chan_write(struct weft_chan_op *op, struct weft_chan *c, struct weft_thread *t)
{
	struct weft_chan_queue *q = &c->q[(op->entry & WEFT_CHAN_WQ1) ? 1 : 0];
	uint64_t planned = op->len, units;
	bool wait = false;
	struct weft_wait w;
	uint32_t rec;
	ssize_t r;
	int saved;

	if (c->kind == WEFT_CHAN_EVENTFD && op->value && op->len == sizeof(planned))
		memcpy(&planned, op->value, sizeof(planned));
	rec = rec_append(q, t ? t->cur_span : 0);
	atomic_fetch_add_explicit(&q->tx_inflight, planned, memory_order_acq_rel);
	if (t && !(op->entry & WEFT_CHAN_NONBLOCK) && c->kind == WEFT_CHAN_PIPE && c->capacity &&
	    !weft_chan_shared(c))
		wait = write_would_block(c, q, op->len);
	if (wait) {
		weft_wait_begin(&w, t, wait_kind(c, true), (void *)(intptr_t)op->fd, op->pc);
		w.ev.u.wait.channel = weft_chan_entry_id(op->entry);
	}
	r = op->call(op, false);
	saved = errno;
	units = units_of(c, op, r);
	if (c->kind == WEFT_CHAN_EVENTFD && r > 0)
		units = planned;
	rec_settle(q, rec, units);
	if (r > 0) {
		atomic_fetch_add_explicit(&q->tx_msgs, 1, memory_order_relaxed);
		if (c->kind == WEFT_CHAN_EVENTFD)
			atomic_fetch_add_explicit(&q->tx_bytes, (uint64_t)r, memory_order_relaxed);
	}
	atomic_fetch_sub_explicit(&q->tx_inflight, planned, memory_order_acq_rel);
	if (wait) {
		if (r < 0 && saved == EAGAIN) {
			weft_wait_cancel(&w);
			set_nonblock_hint(op->fd, op->entry);
		} else {
			weft_wait_end_sys(&w, r);
		}
	}
	errno = saved;
	return r;
}

ssize_t weft_chan_io(struct weft_chan_op *op)
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

void weft_chan_spliced(int in_fd, int out_fd, ssize_t n)
{
	uint32_t ein = weft_chan_fd(in_fd), eout = weft_chan_fd(out_fd);
	struct weft_chan *c;

	if (n <= 0 || weft_guard_active())
		return;
	if ((c = entry_slot(eout)) && (eout & WEFT_CHAN_WRITE)) {
		struct weft_chan_queue *q = &c->q[(eout & WEFT_CHAN_WQ1) ? 1 : 0];
		struct weft_thread *t = weft_self;

		rec_settle(q, rec_append(q, t && !t->dead ? t->cur_span : 0), (uint64_t)n);
		atomic_fetch_add_explicit(&q->tx_msgs, 1, memory_order_relaxed);
	}
	if ((c = entry_slot(ein)) && (ein & WEFT_CHAN_READ)) {
		struct weft_chan_queue *q = &c->q[(ein & WEFT_CHAN_RQ1) ? 1 : 0];

		atomic_fetch_add_explicit(&q->rx_units, (uint64_t)n, memory_order_acq_rel);
		atomic_fetch_add_explicit(&q->rx_msgs, 1, memory_order_relaxed);
	}
}
