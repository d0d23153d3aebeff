/*
 * Interpreters: the exporter's one table of per-family event handlers.
 *
 * Each hook family's events are interpreted by one file that owns that
 * family's instruments and state (exporter/threads.c, exporter/waits.c, ...).
 * The exporter's loop (exporter.c) only drains rings and calls this table:
 * set-up, each thread as it is first seen, each event by its type, gauges
 * before each metric export, each thread's end, and a forked child's reset.
 * A new family adds one interpreter row, its event rows, and nothing else.
 */
#ifndef WEFT_EXPORTER_INTERP_H
#define WEFT_EXPORTER_INTERP_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/event.h"
#include "agent/ids.h"
#include "agent/registry.h"

struct weft_qspan;

/*
 * The exporter's own record of a thread (weft_thread.consumer): what it
 * learns from events, kept off the thread's state, which the thread shares.
 */
struct weft_xthread {
	char name[24];
	bool named;
	bool detached;
	/* The span current on the thread at the event being interpreted (CTX). */
	struct weft_trace_id cur_trace;
	uint64_t cur_span;
	/*
	 * The thread's last wait span while it may still be amended (LINK
	 * events): valid while the span queue's export count is `last_wait_epoch`.
	 */
	struct weft_qspan *last_wait;
	uint64_t last_wait_t0;
	uint64_t last_wait_epoch;
	/* The times of the thread's last WAIT event, whatever it became. */
	uint64_t wait_t0, wait_t1;
	/*
	 * Its pool (exporter/tasks.c), kept once found, until the thread is named
	 * again. A forked child makes every record anew (agent.c forgets the
	 * forking thread's), so none outlives the pools of its process.
	 */
	void *pool;
	/* The open task (exporter/tasks.c); span 0: none. */
	struct {
		uint64_t span;
		struct weft_trace_id trace;
		uint64_t start_ns;
		uint64_t wait_t0; /* the wait whose end started it (0: none) */
		uint64_t producers[8];
		const char *kinds[8]; /* each producer's weft.link.kind */
		uint8_t n_producers;
		uint64_t queue_ns; /* from the first producer's hand-off; UINT64_MAX: unknown */
		enum weft_wait_kind kind;
	} task;
	/* The thread's acquisition counters as last collected (exporter/locks.c). */
	uint64_t acquired_seen[WEFT_WAIT_KIND_COUNT];
	/* Where its time went (exporter/threadtime.c). */
	struct {
		uint64_t hooked_ns; /* blocked in hooked calls (WAIT events), all along */
		uint64_t blocked_kind_ns[WEFT_WAIT_KIND_COUNT];
		uint64_t at;        /* when it was last accounted (monotonic ns) */
		uint64_t cpu, wait; /* the kernel's running and runnable figures then */
		uint64_t hooked_at; /* hooked_ns then */
		uint64_t running, runnable, blocked; /* accounted so far */
		uint64_t exit_cpu, exit_wait;        /* the kernel's figures at exit, */
		int exit_read;                       /* if 1 (-1: none to be had; 0: not read) */
	} tt;
	/* Its wait as the last deadlock walk saw it (exporter/deadlocks.c). */
	struct {
		bool blocked; /* in a wait; the fields below are its */
		enum weft_wait_kind kind;
		pid_t holder; /* whom it waits for (0: unknown) */
		uint32_t stack;
		uint64_t object, pc;
		uint64_t since;            /* its start's stamp (agent/clock.h): which wait */
		uint64_t since_ns;         /* and as a monotonic time */
		struct weft_thread *next;  /* the thread it waits for, if blocked too */
		uint32_t walk;             /* the last walk that followed it */
		struct weft_thread *chain; /* where that walk's chain began */
		uint64_t cycle_now,
			cycle_prev; /* in a cycle this walk / the last, in the wait begun then */
		uint64_t reported;  /* the wait (its start) it was reported in */
		uint64_t stuck;     /* the wait (its start) found stuck (exporter/stuck.c) */
		/* Running + runnable (the kernel's) first seen in that wait, and when. */
		uint64_t cpu_wait, cpu_base, cpu_base_at;
		uint64_t left; /* the wait (its start) found left by a jump (deadlocks.c) */
	} dl;
};

static inline struct weft_xthread *weft_xthread(const struct weft_thread *t)
{
	return (struct weft_xthread *)t->consumer;
}

struct weft_interp {
	const char *name;
	/* Instruments; once per process (again in a forked child, after after_fork). */
	void (*setup)(void);
	/* A thread published since the last cycle, in publication order. */
	void (*thread_taken)(struct weft_thread *t);
	/* One event of a type this interpreter owns (see interp.c). */
	void (*event)(struct weft_thread *t, const struct weft_event *ev);
	/* Set gauges; before each metric export. */
	void (*collect)(void);
	/* A thread ended at end_ns; `at_exit`: still running when the process ended. */
	void (*thread_ended)(struct weft_thread *t, uint64_t end_ns, bool at_exit);
	/* In a forked child: forget the parent's state. */
	void (*after_fork)(void);
};

/* X(interpreter): every interpreter, in calling order. */
#define WEFT_INTERPRETERS(X)                                                                       \
	X(threads)                                                                                 \
	X(waits)                                                                                   \
	X(locks)                                                                                   \
	X(stacks)                                                                                  \
	X(channels)                                                                                \
	X(connections)                                                                             \
	X(tasks)                                                                                   \
	X(deadlocks)                                                                               \
	X(stuck)                                                                                   \
	X(threadtime)

#define WEFT_INTERP_DECLARE(name) extern const struct weft_interp weft_interp_##name;
WEFT_INTERPRETERS(WEFT_INTERP_DECLARE)
#undef WEFT_INTERP_DECLARE

/* The calls the loop makes, each fanned out to every interpreter. */
void weft_interp_setup(void);
void weft_interp_thread_taken(struct weft_thread *t);
void weft_interp_event(struct weft_thread *t, const struct weft_event *ev);
void weft_interp_collect(void);
void weft_interp_thread_ended(struct weft_thread *t, uint64_t end_ns, bool at_exit);
void weft_interp_after_fork(void);

#endif
