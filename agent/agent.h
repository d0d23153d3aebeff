/*
 * The agent's small internal API: what hooks call, and nothing else.
 *
 * Hooks ask whether the agent is ready (initialising it lazily on first use),
 * get the calling thread's state, and record events into its ring. Everything
 * heavier happens on the exporter thread.
 */
#ifndef WEFT_AGENT_AGENT_H
#define WEFT_AGENT_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/atomic.h"
#include "agent/config.h"
#include "agent/consumer.h"
#include "agent/event.h"
#include "agent/guard.h"
#include "agent/registry.h"

enum weft_agent_state {
	WEFT_AGENT_UNINIT,
	WEFT_AGENT_INITIALIZING,
	WEFT_AGENT_READY,
	WEFT_AGENT_DISABLED,
};

/* The process span and what the exporter needs to end it. */
struct weft_process {
	struct weft_trace_id trace;
	uint64_t span;
	uint64_t parent_span; /* from TRACEPARENT, or the forking thread's span */
	uint8_t flags;
	uint64_t start_ns; /* monotonic */
	pid_t pid;
	_Atomic int exit_code;
	_Atomic int exit_code_set;
	_Atomic int main_exited; /* the main thread called pthread_exit */
	_Atomic int exiting;     /* the final export has begun */
	uint64_t exiting_ns;     /* monotonic: when it began */
	bool forked;             /* a forked child (of a process weft ran in) */
	_Atomic int term_signal; /* the signal the process is dying of (agent/signals.h) */
	_Atomic int execed;      /* ended by exec: the image was replaced */
};

extern _Atomic int weft_agent_state;
extern struct weft_config weft_cfg;
extern struct weft_process weft_process;

/*
 * An exec is about to replace the image (hooks/exec.c): the span the new
 * image's process span is to be a child of, in *trace and *span. A process
 * that did something (the original process, or a forked child that started
 * threads) exports what it has first, as at exit, within WEFT_EXIT_TIMEOUT:
 * its process span ends here (weft.process.exec), and the new image's is a
 * child of the span current on the calling thread. A forked child that has
 * only run to its exec (fork, then exec: a shell, make) exports nothing: the
 * new image's process span is a child of the span that forked. Not in a vfork
 * child (it shares the parent's memory: only the context is given), nor when
 * a signal handler interrupted weft's allocator on this thread. Telemetry of
 * an image whose exec then fails, from there on, is not exported.
 */
void weft_agent_exec(struct weft_trace_id *trace, uint64_t *span);

/*
 * Whether this is a vfork child: it shares the parent's memory (weft's state
 * included) until it execs or exits, so it must change nothing of it.
 */
bool weft_agent_vfork_child(void);

/*
 * _exit or _Exit(status) is about to end the process (hooks/process.c): the
 * final export, as exit's would be, with that status.
 */
void weft_agent_quick_exit(int status);

/*
 * The process is about to die of `sig` (agent/signals.h, from its handler):
 * the signal is recorded and, where safe, the final export runs.
 */
void weft_agent_signal_exit(int sig);

/* Initialises once; true when the agent records. Safe from any hook. */
bool weft_agent_init(void);

static inline bool weft_agent_ready(void)
{
	int s = weft_load_acquire(&weft_agent_state);

	if (__builtin_expect(s == WEFT_AGENT_READY, 1))
		return true;
	if (s == WEFT_AGENT_UNINIT)
		return weft_agent_init();
	return false;
}

/* Registers a thread weft did not start (the main thread, a raw clone). */
struct weft_thread *weft_thread_adopt(void);

/*
 * The calling thread's state, registering it on first use; NULL when hooks
 * must pass through (the thread has exited, or allocation failed).
 */
static inline struct weft_thread *weft_thread_current(void)
{
	struct weft_thread *t = weft_self;

	if (__builtin_expect(t != NULL, 1))
		return t->dead ? NULL : t;
	return weft_thread_adopt();
}

/* Whether a hook family is enabled (WEFT_HOOKS). */
static inline bool weft_hooks_enabled(unsigned family)
{
	return (weft_cfg.hooks & family) != 0;
}

/*
 * The thread's inline ring slots are full: allocates its full ring (with the
 * guard set; a failure counts a drop) and pushes `ev` again.
 */
enum weft_push weft_thread_grow(struct weft_thread *t, const struct weft_event *ev);

/* Records the thread's current span context again (a CTX record was dropped). */
void weft_thread_resend_ctx(struct weft_thread *t);

/*
 * Records one event in the ring now (weft_record, but for the records held
 * back, which it knows nothing of).
 */
static inline bool weft_record_now(struct weft_thread *t, const struct weft_event *ev)
{
	enum weft_push st;

	if (__builtin_expect(t->ctx_stale, 0))
		weft_thread_resend_ctx(t);
	st = weft_ring_push_ex(&t->ring, ev);
	if (__builtin_expect(st == WEFT_PUSH_GROW, 0))
		st = weft_thread_grow(t, ev);
	if (st == WEFT_PUSH_OK && weft_ring_pending(&t->ring) == t->ring.wake_at)
		weft_consumer_wake();
	return st == WEFT_PUSH_OK;
}

/*
 * The slow half of weft_record, with records held back or being held back:
 * true when it held `ev` back, false when the caller is to record it now
 * (the held ones recorded first).
 */
bool weft_record_deferred(struct weft_thread *t, const struct weft_event *ev);

/* Records every event held back, now; errno kept. */
void weft_deferred_flush(struct weft_thread *t);

/*
 * Records one event, from the thread or its signal handlers (the ring is
 * reentrant). When the ring reaches its wake mark the consumer is woken (one
 * futex wake, once per crossing), so a busy thread's ring is drained before
 * it fills rather than at the next scheduled export. When the inline slots
 * fill, the full ring is allocated with the guard set; a signal handler
 * arriving in that window passes through unrecorded. False: dropped (and
 * counted).
 *
 * Between weft_defer_begin and weft_defer_end the record is held back
 * instead, in the thread's state, until the thread unlocks the lock it
 * holds (or records anything else, or ends): see there. Records stay in
 * order: any record made outside that window pushes the held ones first.
 */
static inline bool weft_record(struct weft_thread *t, const struct weft_event *ev)
{
	if (__builtin_expect((t->defer_lock | t->deferred_n) != 0, 0) &&
	    weft_record_deferred(t, ev))
		return true;
	return weft_record_now(t, ev);
}

/*
 * A hook that returns holding `lock` — a mutex it acquired after waiting
 * for it, a condition variable's wait that reacquired it — records what it
 * has to between weft_defer_begin and weft_defer_end. Those records are
 * made after the thread's next unlock of the lock, outside the program's
 * critical section: storing a record there (a line of the ring fetched,
 * the ring's counters) lengthened every critical section that followed a
 * contended acquisition, and with it the contention, by more than the
 * record itself costs (a mutex+condvar job queue ran 1.15x slower for it).
 * The unlock finds them through the thread's unlock watch (agent/guard.h);
 * when the watch follows another lock's sampled hold, records are made at
 * once.
 */
static inline void weft_defer_begin(struct weft_thread *t, const void *lock)
{
	uintptr_t watch = weft_tls.unlock_watch;

	if (!watch || watch == (uintptr_t)lock)
		t->defer_lock = (uintptr_t)lock;
}

static inline void weft_defer_end(struct weft_thread *t)
{
	if (t->defer_lock && t->deferred_n)
		weft_tls.unlock_watch = t->deferred_lock;
	t->defer_lock = 0;
}

/*
 * Makes `span` (in `trace`) the thread's current span: what its waits, the
 * threads it creates and its hand-offs belong to from now on. Records a CTX
 * event so that the consumer follows.
 */
void weft_thread_set_span(struct weft_thread *t, const struct weft_trace_id *trace, uint64_t span);

/* Starting a thread: state for the new thread, parented on the creator's span. */
struct weft_thread *weft_thread_prepare_child(struct weft_thread *creator, void *(*fn)(void *));

/* The real pthread_create failed: uncount and free the prepared state. */
void weft_thread_abandon_child(struct weft_thread *t);

/* Called on the new thread before its start routine runs. */
void weft_thread_begin(struct weft_thread *t);

/* Called on the thread when it ends (return, pthread_exit, cancellation). */
void weft_thread_end(struct weft_thread *t);

/* The program's exit status, from exit() or main's return. */
void weft_agent_set_exit_code(int code);

/* Exported threads created while the guard is set are agent threads. */
void *weft_agent_thread_trampoline(void *arg);
struct weft_agent_thread_start {
	void *(*fn)(void *);
	void *arg;
	bool own_table; /* the creator's weft_tls.own_table: the new thread shares its table */
};

#endif
