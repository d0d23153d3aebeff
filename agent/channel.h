/*
 * Channels: pipes, FIFOs, eventfds and socketpairs, seen the way an
 * instrumented Go channel is (issue 9; names in TELEMETRY.md).
 *
 * A channel is one slot of a table that lives for the process and is read by
 * the exporter without stopping anyone, like a thread's state: its kind, the
 * function that created it, how many descriptors the process holds on each
 * end, and per direction ("queue": bytes written on one side, read on the
 * other) the counters and the hand-off records. A pipe, a FIFO and an eventfd
 * have one queue; a socketpair has two, one per direction.
 *
 * The descriptor table maps each descriptor number to an entry (a slot and
 * what the descriptor does with it) or 0. It is two-level, its chunks
 * allocated on first use and never freed, and read without a lock: the read
 * and write hooks' whole cost on a descriptor that is not a channel is
 * weft_chan_fd(). Entries follow the descriptors: creation, dup, dup2, dup3,
 * fcntl(F_DUPFD*), close, close_range, closefrom (hooks/fd.c, hooks/io.c).
 *
 * Hand-offs. A writer whose span is not the newest record's appends a record
 * (its span) before its write; when the write returns, the record gets the
 * place its units start at in the queue's count (taken as it adds to it), and
 * the units from there to the next record's start are that span's. A read took [r0, r1)
 * of the same count; when it needs its links (it blocked, or it follows a poll
 * wait), it looks through the records for those overlapping its range, and
 * for writes still in flight when its range goes past what was settled (their
 * bytes can be read before their writer returns: they come after the settled
 * ones, each the units it asked for, in the order the writes began, which is
 * the order of a pipe's bytes whenever one write began after another
 * returned). Other reads touch no record.
 * The records are a ring of WEFT_CHAN_RECS per queue, so the memory is
 * bounded: a read whose bytes were written before the last WEFT_CHAN_RECS
 * changes of writer finds no link.
 *
 * Blocking. A read is a wait when it would block. For a channel whose every
 * descriptor is in this process ("private"), the queue's own counts answer
 * that with no system call: nothing written is waiting and a writer is still
 * there. A channel open across a fork, or inherited across an exec, is
 * "shared" (the other process reads and writes what weft does not see): a
 * read first tries not to block (RWF_NOWAIT, MSG_DONTWAIT), and only when
 * that finds nothing does the real call run, timed. A read that cannot be
 * tried (a FIFO has no RWF_NOWAIT; a MSG_WAITALL receive would take part of
 * what it asks for) is timed, counted as a wait when it slept
 * (WEFT_WAIT_SLEPT_NS), with no system call of weft's. The try that finds
 * nothing is a system call of weft's, one for each read that blocks, which
 * buys the exact count of waits: timing instead (as for a socket) would not
 * count a block shorter than WEFT_WAIT_SLEPT_NS, and a parent and child
 * taking turns block for less than that (with the tries skipped for a while
 * after one that found nothing, about one such wait in fourteen was
 * counted: tests/bench/README.md). A write to a private
 * pipe is a wait when the pipe has no room for it. Units are bytes, except
 * for an eventfd, whose units are the counter's value (a read takes it all,
 * or 1 in semaphore mode).
 */
#ifndef WEFT_AGENT_CHANNEL_H
#define WEFT_AGENT_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/atomic.h"
#include "agent/guard.h"
#include "agent/ids.h"

enum weft_chan_kind {
	WEFT_CHAN_NONE = 0,
	WEFT_CHAN_PIPE,
	WEFT_CHAN_EVENTFD,
	WEFT_CHAN_SOCKETPAIR,
	WEFT_CHAN_FIFO,
	WEFT_CHAN_SOCKET, /* a network or UNIX socket: a connection (agent/conn.h) */
	WEFT_CHAN_KIND_COUNT,
};

/* "pipe", "eventfd", ...: the name's prefix. */
const char *weft_chan_kind_name(enum weft_chan_kind kind);

enum {
	WEFT_CHAN_RECS = 8,         /* hand-off records per queue */
	WEFT_CHAN_FD_CHUNK = 1024,  /* descriptors per table chunk */
	WEFT_CHAN_FD_CHUNKS = 1024, /* descriptors 0 .. 1M-1 */
	WEFT_CHAN_SLOT_CHUNK = 256, /* channel slots per chunk */
	WEFT_CHAN_SLOT_CHUNKS = 256,
	WEFT_CHAN_MAX = WEFT_CHAN_SLOT_CHUNK * WEFT_CHAN_SLOT_CHUNKS,
};

/*
 * A descriptor's entry: bits 0-1 what it can do (READ, WRITE), bit 2 the
 * queue it reads, bit 3 the queue it writes, bit 4 the end it holds (for the
 * per-end counts), bit 5 the hint that its file is non-blocking, bits 6-31
 * the slot index + 1.
 */
enum {
	WEFT_CHAN_READ = 1u << 0,
	WEFT_CHAN_WRITE = 1u << 1,
	WEFT_CHAN_RQ1 = 1u << 2,
	WEFT_CHAN_WQ1 = 1u << 3,
	WEFT_CHAN_END1 = 1u << 4,
	WEFT_CHAN_NONBLOCK = 1u << 5,
	WEFT_CHAN_SLOT_SHIFT = 6,
};

static inline uint32_t weft_chan_entry_id(uint32_t e)
{
	return e >> WEFT_CHAN_SLOT_SHIFT;
}

/*
 * Where a writer's units start: from `start` (of the units ever written) to
 * the next record's start, the units are this span's. A writer whose span is
 * the newest record's appends none.
 */
struct weft_chan_rec {
	_Atomic uint32_t seq;     /* the record's index + 1 once written; 0 while changing */
	_Atomic uint32_t settled; /* its first write returned: start is final */
	_Atomic uint64_t start;
	_Atomic uint64_t empty; /* its first write moved nothing: the record is void */
	_Atomic uint64_t span;
	_Atomic uint64_t t;   /* when its first write began: a stamp (agent/clock.h) */
	_Atomic uint64_t len; /* the units its first write asked to move */
};

/*
 * One direction. The writers' line and the readers' line are apart, and each
 * side keeps the last value it read of the other's count (`*_seen`), so that
 * a transfer reads the other side's line only when its own estimate says it
 * might block. The readers' estimate can be ahead of what is written: a
 * write's units count from before its call, and a write that moves less
 * (a short write, EAGAIN) takes the rest back after it. A reader that read
 * them in between thinks its next read finds bytes that never came, and
 * misses that read's wait: a window as long as the failing call.
 *
 * Each side has an owner: the first thread to write (read) the queue. Its
 * counts that are totals only (messages, units under way) it adds to words
 * of its own without a lock (weft_own_add); every other thread adds to the
 * shared words, locked. A write's units stay in one word from its start to
 * its end (written or under way: tx_pending), so that a reader summing the
 * owner's and the others' never counts one write twice. Most channels have
 * one writer and one reader (a pipe between two threads, a worker's wake-up
 * pipe), and a locked addition was a third of what weft added to a 1-byte
 * pipe transfer. The positions (tx_units, rx_units, widx), which order the
 * records, stay one word each; a socket's units are totals only (no
 * records), and its owner's are its own too. An eventfd's bytes are 8 a
 * message: no count of their own.
 */
struct weft_chan_queue {
	/* Writers' line. */
	_Atomic uint64_t tx_units; /* settled: what readers can have */
	/*
	 * Units written or under way, a private channel's only: a write adds the
	 * units it asks for before it begins and takes back those it did not
	 * move when it returns (weft_chan_tx_pending).
	 */
	_Atomic uint64_t tx_pending;
	_Atomic uint64_t tx_msgs_own;    /* the owner's */
	_Atomic uint64_t tx_pending_own; /* the owner's */
	_Atomic uint64_t tx_units_own;   /* the owner's, of a socket */
	_Atomic uint64_t rx_seen;        /* rx_units, as a writer last read it */
	_Atomic uint32_t widx;           /* records appended */
	_Atomic int32_t tx_owner;        /* its thread id; 0: none yet */
	/*
	 * The newest record's span and index + 1, as one word (agent/channel_io.c:
	 * rec_tag), so that a writer tells whether its write continues that
	 * record from this line alone; 0 when it cannot (its write moved nothing).
	 */
	_Atomic uint64_t newest;
	/*
	 * Apart from the counts, which every write changes: a reader that looks
	 * at the newest record (a single writer's, which it leaves alone) does not
	 * take the writers' line from them.
	 */
	struct weft_chan_rec rec[WEFT_CHAN_RECS] __attribute__((aligned(64)));
	_Atomic uint64_t tx_msgs; /* the other writers': off the owner's line */
	/* Readers' line. */
	_Atomic uint64_t rx_units __attribute__((aligned(64)));
	_Atomic uint64_t rx_msgs;
	_Atomic uint64_t rx_msgs_own;  /* the owner's */
	_Atomic uint64_t rx_units_own; /* the owner's, of a socket */
	_Atomic uint64_t tx_seen;   /* the units written or under way, as a reader last read them */
	_Atomic uint32_t widx_seen; /* widx, read after them: their records are below it */
	_Atomic int32_t rx_owner;   /* its thread id; 0: none yet */
};

/* Messages written (read) through `q`: the shared count and the owner's. */
static inline uint64_t weft_chan_tx_msgs(const struct weft_chan_queue *q)
{
	return weft_load_relaxed(&q->tx_msgs) + weft_load_relaxed(&q->tx_msgs_own);
}

static inline uint64_t weft_chan_rx_msgs(const struct weft_chan_queue *q)
{
	return weft_load_relaxed(&q->rx_msgs) + weft_load_relaxed(&q->rx_msgs_own);
}

/*
 * Units written or under way through a private channel's queue. Each
 * writer's units are in one of the two words for the whole write, so the
 * sum never counts a write twice, whichever word changes between the loads.
 */
static inline uint64_t weft_chan_tx_pending(const struct weft_chan_queue *q)
{
	return weft_load_acquire(&q->tx_pending_own) + weft_load_acquire(&q->tx_pending);
}

/*
 * v added to a count of which the side's owner keeps its own share (`own`:
 * the caller is the owner) and the other threads theirs, locked.
 */
static inline void weft_chan_add(bool own, _Atomic uint64_t *mine, _Atomic uint64_t *shared,
				 uint64_t v)
{
	if (own)
		weft_own_add(mine, v);
	else
		atomic_fetch_add_explicit(shared, v, memory_order_acq_rel);
}

/*
 * Whether the thread with id `tid` owns the side whose owner word is
 * `owner`: it is that owner, or the side had none and now has it.
 */
static inline bool weft_chan_owns(_Atomic int32_t *owner, int32_t tid)
{
	int32_t o = weft_load_relaxed(owner);

	if (__builtin_expect(o == tid, 1))
		return tid != 0;
	return o == 0 && atomic_compare_exchange_strong_explicit(
				 owner, &o, tid, memory_order_relaxed, memory_order_relaxed);
}

enum weft_chan_state {
	WEFT_CHAN_FREE = 0,
	WEFT_CHAN_CLAIMED, /* being set up by its creator */
	WEFT_CHAN_LIVE,
	WEFT_CHAN_CLOSED, /* every descriptor closed; the exporter takes its last counts */
};

/* An address of a socket's, as the exporter will print it (agent/conn.h). */
struct weft_conn_addr {
	uint8_t family; /* AF_INET, AF_INET6, AF_UNIX; 0: unknown */
	uint16_t port;  /* host order */
	uint8_t ip[16]; /* network order; the first 4 bytes for AF_INET */
	char path[64];  /* AF_UNIX: the path, truncated; "" for an unnamed socket */
};

/*
 * A network or UNIX socket's facts (kind WEFT_CHAN_SOCKET), written by the
 * thread that made the slot before it is live, except `phase`, `error` and
 * `t_end`, which move on while it lives (phase last, with release).
 */
struct weft_conn {
	uint8_t side;          /* enum weft_conn_side */
	uint8_t transport;     /* enum weft_conn_transport */
	_Atomic uint8_t phase; /* enum weft_conn_phase */
	_Atomic int32_t error; /* a failed connect's errno */
	int32_t tid;           /* the thread that connected or accepted */
	struct weft_conn_addr peer, local;
	uint64_t t_open;            /* connect called, accept returned: monotonic ns */
	_Atomic uint64_t t_end;     /* failed or closed: monotonic ns; 0 while open */
	struct weft_trace_id trace; /* the connection span's trace, */
	uint64_t parent_span;       /* its parent (the thread's current span), */
	uint64_t span;              /* and its own id; 0: no span (not a stream connection) */
	/* The exporter's. */
	uint32_t counted; /* gen + 1 while counted in weft.socket.connections */
	uint32_t spanned; /* gen + 1 once its span was made */
};

struct weft_chan {
	_Atomic uint32_t state;     /* enum weft_chan_state */
	uint32_t gen;               /* incremented at each reuse of the slot */
	uint8_t kind;               /* enum weft_chan_kind */
	bool inherited;             /* open across the exec that started this image: shared */
	uint32_t capacity;          /* a pipe's buffer, bytes; 0: unknown */
	uint64_t seq;               /* creation order in the process */
	_Atomic uint64_t close_seq; /* order of its closing among the process's (once CLOSED) */
	uint64_t pc;                /* the creating function's call site */
	_Atomic int32_t refs[2];    /* descriptors held on each end */
	struct weft_chan_queue q[2];

	/* The exporter's: kept here so that a forked child's exporter finds them. */
	_Atomic uint32_t named; /* gen + 1 once `name` is set for this gen */
	char name[64];
	uint64_t seen[4]; /* tx bytes, tx msgs, rx bytes, rx msgs as last exported (a forked child:
			     at its fork) */
	uint32_t closed_seen; /* gen + 1 once the exporter saw it closed */

	struct weft_conn conn; /* kind WEFT_CHAN_SOCKET only */
};

extern _Atomic(_Atomic uint32_t *) weft_chan_fds[WEFT_CHAN_FD_CHUNKS];

/* The entry of descriptor `fd` of the program's table, 0 when it is no channel. */
static inline uint32_t weft_chan_fd_entry(int fd)
{
	_Atomic uint32_t *chunk;

	if (__builtin_expect((unsigned)fd >= WEFT_CHAN_FD_CHUNK * WEFT_CHAN_FD_CHUNKS, 0))
		return 0;
	chunk = weft_load_acquire(&weft_chan_fds[(unsigned)fd / WEFT_CHAN_FD_CHUNK]);
	if (__builtin_expect(chunk == NULL, 1))
		return 0;
	return weft_load_relaxed(&chunk[(unsigned)fd % WEFT_CHAN_FD_CHUNK]);
}

/*
 * The calling thread's descriptor's entry, 0 when it is no channel: the
 * hooks' test. Always 0 on a thread with a table of its own (the exporter's):
 * its numbers name other files than the program's.
 */
static inline uint32_t weft_chan_fd(int fd)
{
	uint32_t e = weft_chan_fd_entry(fd);

	if (__builtin_expect(e != 0, 0) && __builtin_expect(weft_tls.own_table, 0))
		return 0;
	return e;
}

extern _Atomic(struct weft_chan *) weft_chan_slot_chunks[WEFT_CHAN_SLOT_CHUNKS];

/* A slot by id (entry >> WEFT_CHAN_SLOT_SHIFT); NULL for 0 or one never allocated. */
static inline struct weft_chan *weft_chan_slot(uint32_t id)
{
	struct weft_chan *chunk;

	if (id == 0 || id > WEFT_CHAN_MAX)
		return NULL;
	chunk = weft_load_acquire(&weft_chan_slot_chunks[(id - 1) / WEFT_CHAN_SLOT_CHUNK]);
	return chunk ? &chunk[(id - 1) % WEFT_CHAN_SLOT_CHUNK] : NULL;
}

/* An entry's slot; NULL when the entry names none. */
static inline struct weft_chan *weft_chan_entry_slot(uint32_t e)
{
	return weft_chan_slot(weft_chan_entry_id(e));
}

/* Slots ever handed out: the exporter scans 1 .. weft_chan_high(). */
uint32_t weft_chan_high(void);

/*
 * A channel was created on fds[0..n-1] (pipe: read end, write end;
 * socketpair: both ends; eventfd, FIFO end: one). `flags` are the creating
 * call's (O_NONBLOCK / EFD_NONBLOCK / SOCK_NONBLOCK give the non-blocking
 * hint; EFD_SEMAPHORE); `initial` is an eventfd's starting value. Returns
 * the slot id, 0 when the table is full.
 */
uint32_t weft_chan_create(enum weft_chan_kind kind, const int *fds, int n, int flags,
			  uint64_t initial, const void *pc);

/*
 * A socket's slot on `fd` with the facts `conn` (agent/conn.c makes them);
 * `flags` as weft_chan_create's. Any entry `fd` had is replaced (a second
 * connect on one socket is a new connection). The slot id, 0 when full.
 */
uint32_t weft_chan_create_socket(int fd, int flags, const void *pc, const struct weft_conn *conn);

/* The exporter gives a closed slot back once it has taken its last counts. */
void weft_chan_slot_free(uint32_t id);

/*
 * A FIFO: mkfifo remembered `path`; an open of the same path joins the
 * channel (one per path, both ends). weft_chan_fifo_open returns quickly
 * when no FIFO was made.
 */
void weft_chan_fifo_made(const char *path, const void *pc);
void weft_chan_fifo_open(const char *path, int fd, int oflags);

/* Descriptor changes. close: before the real call. dup: after a successful one. */
void weft_chan_closed(int fd);
void weft_chan_closed_range(unsigned int first, unsigned int last);
void weft_chan_dup(int oldfd, int newfd);
/* fcntl(F_SETFL) and ioctl(FIONBIO) changed the file's flags: forget the hint. */
void weft_chan_flags_changed(int fd);
/* A blocking-looking call answered EAGAIN: the file is non-blocking (entry e on fd). */
void weft_chan_nonblock_hint(int fd, uint32_t e);
/* fcntl(F_SETPIPE_SZ) returned the new capacity. */
void weft_chan_resized(int fd, int capacity);

/*
 * One transfer on a channel descriptor, built by the hook. `call` runs the
 * real function with the program's arguments, or (nowait) the same transfer
 * without blocking (RWF_NOWAIT, MSG_DONTWAIT); it returns what the function
 * returns, errno set. `value` points at the eventfd counter value being
 * written or read (the buffer), NULL for others.
 */
struct weft_chan_op {
	int fd;
	uint32_t entry;
	bool write;
	const void *pc;
	const void *value;
	size_t len; /* bytes asked for */
	/*
	 * Whether a read can be tried without blocking first: not with
	 * MSG_WAITALL, where the try would return part of what the program
	 * asked for (a shared channel's read is timed instead). Apart from
	 * `write`: stored together, the two constants of a hook's operation
	 * were loaded from .rodata, one more page for every transfer
	 * (agent/hot.h).
	 */
	bool may_try;
	ssize_t (*call)(struct weft_chan_op *op, bool nowait);
	void *args; /* the hook's own arguments, for `call` */
};

/*
 * Runs the transfer: accounting, hand-off records and links, a wait when it
 * blocked; returns what the real call returned, errno as it left it.
 */
ssize_t weft_chan_io(struct weft_chan_op *op);

/*
 * splice moved `n` bytes between in_fd and out_fd (either may be a channel):
 * counted, no wait.
 */
void weft_chan_spliced(int in_fd, int out_fd, ssize_t n);

/*
 * A call that is not timed (sendmmsg, recvmmsg, sendfile) moved `units` in
 * `msgs` messages through fd, if it is a channel: counted.
 */
void weft_chan_moved(int fd, bool write, uint64_t units, uint64_t msgs);

/* Fork: the parent's and child's channels are shared from now on; the child's counts restart. */
void weft_chan_after_fork(bool child);

/*
 * Every descriptor whose entry names slot `id`, for the exporter's FIONREAD
 * (one per end at most): the first descriptor on end 0 and on end 1, or -1.
 */
void weft_chan_find_fds(uint32_t id, int fds[2]);

/* Bytes and messages sent and received so far: tx bytes, tx msgs, rx bytes, rx msgs. */
void weft_chan_counts(const struct weft_chan *c, uint64_t out[4]);

/* Channels created (weft_chan.seq) at or before the last fork are shared. */
extern _Atomic uint64_t weft_chan_fork_seq;

/*
 * For the exporter: whether channel `id` (`c`, in state `st`) was closed
 * before the fork that made this process, its counts all the parent's and
 * none this process's to export. Such a slot is given back at once (not at
 * exit: nothing is reused then).
 */
bool weft_chan_drop_parents(uint32_t id, struct weft_chan *c, uint32_t st, bool exiting);

/* Whether the channel was open across a fork or an exec (its other process is out of view). */
static inline bool weft_chan_shared(const struct weft_chan *c)
{
	/* A socket's other end is always elsewhere. */
	if (c->kind == WEFT_CHAN_FIFO || c->kind == WEFT_CHAN_SOCKET || c->inherited ||
	    c->seq <= weft_load_relaxed(&weft_chan_fork_seq))
		return true;
	/* One end gone from this process: its other holder may be elsewhere. */
	return (c->kind == WEFT_CHAN_PIPE || c->kind == WEFT_CHAN_SOCKETPAIR) &&
	       (weft_load_relaxed(&c->refs[0]) == 0 || weft_load_relaxed(&c->refs[1]) == 0);
}

/*
 * The first descriptor >= `from` that has an entry, its entry in *entry; -1
 * when there is none (agent/channel_exec.c walks the table with it).
 */
int weft_chan_fd_next(int from, uint32_t *entry);

/*
 * A channel inherited across exec (agent/channel_exec.h): a slot of `kind`
 * already named `name` (the exporter keeps it), marked inherited, on fds[i]
 * with entry bits bits[i] (the low WEFT_CHAN_SLOT_SHIFT bits of the entries
 * the old image had). Returns the slot id, 0 when the table is full.
 */
uint32_t weft_chan_create_named(enum weft_chan_kind kind, const char *name, const int *fds,
				const uint32_t *bits, int n);

#endif
