/*
 * Channels: the slot table and the descriptor table (agent/channel.h says
 * what and why); the transfers are agent/channel_io.c's.
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
#include "agent/clock.h"
#include "agent/hot.h"
#include "agent/large.h"
#include "agent/sighold.h"
#include "agent/wait.h"

_Atomic(_Atomic uint32_t *) weft_chan_fds[WEFT_CHAN_FD_CHUNKS] WEFT_LARGE;

_Atomic(struct weft_chan *) weft_chan_slot_chunks[WEFT_CHAN_SLOT_CHUNKS] WEFT_LARGE;
static _Atomic uint32_t slot_high;  /* ids 1..slot_high have been handed out */
static _Atomic uint64_t free_top;   /* freed ids: (tag << 32) | id, a tagged stack */
static _Atomic uint64_t create_seq; /* creation order */
_Atomic uint64_t weft_chan_fork_seq
	WEFT_HOT_DATA;               /* channels created before the last fork are shared */
static _Atomic uint64_t close_count; /* closings: weft_chan.close_seq */
/* In a forked child, the closings before its fork; 0 in a process that is none. */
static uint64_t child_close_seq;
static _Atomic int fd_max = -1; /* the highest descriptor ever given an entry */
static pid_t table_pid;         /* the process the table describes (a vfork child shares it) */

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

uint32_t weft_chan_high(void)
{
	return weft_load_acquire(&slot_high);
}

static struct weft_chan *entry_slot(uint32_t e)
{
	return weft_chan_entry_slot(e);
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
	    !chunk_get((_Atomic(void *) *)&weft_chan_slot_chunks[(id - 1) / WEFT_CHAN_SLOT_CHUNK],
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
	memset(&c->conn, 0, sizeof(c->conn));
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
	bool values = c->kind == WEFT_CHAN_EVENTFD; /* units are values; 8 bytes a message */

	memset(out, 0, 4 * sizeof(out[0]));
	for (int i = 0; i < 2; i++) {
		const struct weft_chan_queue *q = &c->q[i];
		uint64_t tx = weft_chan_tx_msgs(q), rx = weft_chan_rx_msgs(q);

		out[0] += values ? 8 * tx
				 : weft_load_relaxed(&q->tx_units) +
					   weft_load_relaxed(&q->tx_units_own);
		out[1] += tx;
		out[2] += values ? 8 * rx
				 : weft_load_relaxed(&q->rx_units) +
					   weft_load_relaxed(&q->rx_units_own);
		out[3] += rx;
	}
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
	if (weft_load_acquire(&c->refs[0]) > 0 || weft_load_acquire(&c->refs[1]) > 0)
		return;
	/* A connection ends when its last descriptor closes (unless it failed first). */
	if (c->kind == WEFT_CHAN_SOCKET && !weft_load_relaxed(&c->conn.t_end))
		weft_store_relaxed(&c->conn.t_end, weft_clock_now());
	/* Stamped before the state says CLOSED (a failed exchange leaves it unread). */
	weft_store_relaxed(&c->close_seq,
			   atomic_fetch_add_explicit(&close_count, 1, memory_order_relaxed) + 1);
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
	case WEFT_CHAN_SOCKET:
		/* It sends on queue 0 and receives on queue 1. */
		e = WEFT_CHAN_READ | WEFT_CHAN_WRITE | WEFT_CHAN_RQ1;
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
	if (kind == WEFT_CHAN_EVENTFD) {
		c->q[0].tx_units = initial;
		c->q[0].tx_pending = initial;
	}
	if (kind == WEFT_CHAN_PIPE) {
		long cap = syscall(SYS_fcntl, fds[1], F_GETPIPE_SZ);

		c->capacity = cap > 0 ? (uint32_t)cap : 0;
	}
	for (int i = 0; i < n; i++)
		bits[i] = new_entry_bits(kind, i, flags);
	return slot_live(id, fds, bits, n);
}

uint32_t weft_chan_create_socket(int fd, int flags, const void *pc, const struct weft_conn *conn)
{
	uint32_t id = slot_open(WEFT_CHAN_SOCKET, pc), bits;
	struct weft_chan *c = weft_chan_slot(id);

	if (!c)
		return 0;
	c->conn = *conn;
	bits = new_entry_bits(WEFT_CHAN_SOCKET, 0, flags);
	return slot_live(id, &fd, &bits, 1);
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

void weft_chan_nonblock_hint(int fd, uint32_t e)
{
	_Atomic uint32_t *cell = fd_cell(fd, false);
	uint32_t expected = e;

	if (cell)
		atomic_compare_exchange_strong_explicit(cell, &expected, e | WEFT_CHAN_NONBLOCK,
							memory_order_relaxed, memory_order_relaxed);
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
		if ((e = weft_chan_fd_entry(fd)) != 0) {
			*entry = e;
			return fd;
		}
	}
	return -1;
}

bool weft_chan_drop_parents(uint32_t id, struct weft_chan *c, uint32_t st, bool exiting)
{
	if (st != WEFT_CHAN_CLOSED || weft_load_relaxed(&c->close_seq) > child_close_seq)
		return false;
	if (!exiting)
		weft_chan_slot_free(id);
	return true;
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
	if (weft_load_relaxed(&weft_chan_fork_seq) != seq)
		weft_store_relaxed(&weft_chan_fork_seq, seq);
	if (!child)
		return;
	table_pid = (pid_t)syscall(SYS_getpid);
	/*
	 * The child's counts are its own: its exporter counts an open channel's
	 * from here, and leaves out those closed before (the parent's alone).
	 * Only what changes is written: each write copies a page of the table.
	 */
	child_close_seq = weft_load_relaxed(&close_count);
	for (uint32_t id = 1; id <= weft_chan_high(); id++) {
		struct weft_chan *c = weft_chan_slot(id);
		uint64_t now[4];

		if (!c)
			break;
		if (weft_load_relaxed(&c->state) != WEFT_CHAN_LIVE)
			continue;
		weft_chan_counts(c, now);
		if (memcmp(now, c->seen, sizeof(now)) != 0)
			memcpy(c->seen, now, sizeof(now));
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
} fifos WEFT_LARGE;

void weft_chan_fifo_made(const char *path, const void *pc)
{
	int n;
	uint32_t id;
	struct weft_held held;

	if (strlen(path) >= FIFO_PATH_MAX)
		return;
	weft_hold(&held); /* mkfifo may be left from a handler (agent/sighold.h) */
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
	weft_release(&held);
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
