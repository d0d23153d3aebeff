/*
 * Per-thread state and the registry that hands it to the consumer (the exporter).
 *
 * Each application thread weft sees owns one `struct weft_thread`, allocated
 * from the private allocator together with its event ring. Publication is a
 * lock-free multi-producer stack: a thread pushes its state once, with a
 * release CAS on `registry.head`; the exporter takes the whole stack at once
 * with an acquire exchange and keeps the states in its private list from then
 * on. Producers therefore never see a node again after pushing it, and the
 * exporter alone unlinks and frees, with no ABA problem.
 *
 * Lifetime: a state (and its ring) outlives its thread. On exit the thread
 * switches its TLS pointer to a sentinel, then stores `exited` with release;
 * after that store it never touches the state again. The exporter frees a
 * state only after it has seen `exited` (acquire) and drained the ring, so a
 * thread exiting mid-drain cannot cause a use-after-free.
 */
#ifndef WEFT_AGENT_REGISTRY_H
#define WEFT_AGENT_REGISTRY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/atomic.h"
#include "agent/clock.h"
#include "agent/guard.h"
#include "agent/handoff.h"
#include "agent/ids.h"
#include "agent/ring.h"

/* Records a thread holds back until it unlocks a lock (agent/agent.h). */
#define WEFT_DEFERRED 3

/* Stack ids a thread remembers having recorded (agent/stack.h). */
#define WEFT_STACK_SENT 8

enum weft_thread_origin {
	WEFT_THREAD_MAIN,    /* the process's initial thread: its span is `process` */
	WEFT_THREAD_CREATED, /* started through our pthread_create */
	WEFT_THREAD_ADOPTED, /* seen first in a hook, created some other way */
};

/* A thread that lived less than this has no CPU time read as it ends (agent.c). */
#define WEFT_THREAD_CPU_MIN_NS 10000000u

/* Call sites whose stack a thread remembers for its waits (agent/stack.h). */
#define WEFT_STACK_SITES 8

/* The locks a thread's lock-order stack follows (agent/lockorder.h). */
#define WEFT_HELD_MAX 16

struct weft_thread {
	/* Set before publication, then immutable. */
	struct weft_thread *next; /* registry link: the pusher's, then the consumer's */
	enum weft_thread_origin origin;
	pid_t tid;
	pid_t creator_tid;
	pthread_t self;
	uint64_t start_ns; /* monotonic */
	struct weft_trace_id trace;
	uint64_t span;        /* the thread's own span (the process span for main) */
	uint64_t parent_span; /* zero: root */
	/*
	 * The function the thread is named and pooled by: its start routine,
	 * or for a C++ std::thread the _M_run of its callable (hooks/thread.c).
	 */
	uintptr_t start_routine;
	void *(*run)(void *); /* the start routine weft's trampoline calls */

	/* Written by the owner, read by the consumer. */
	_Atomic uint64_t end_ns;
	_Atomic uint64_t cpu_ns; /* its CPU time when it ended; 0: not read (agent.c) */
	uint64_t cpu_start_ns;   /* its CPU time when weft first saw it (main, adopted; else 0) */
	_Atomic int exited;
	/*
	 * The wait in progress, on view for the consumer without stopping the
	 * thread (gauges, stuck threads, deadlocks): kind is stored last when a
	 * wait begins and cleared first when it ends, so a reader that sees a
	 * kind sees the object, start and holder of that wait or a later one.
	 */
	_Atomic int wait_kind;        /* enum weft_wait_kind; 0: not blocked */
	_Atomic uint64_t wait_object; /* what it waits on */
	_Atomic uint64_t wait_since;  /* a stamp (agent/clock.h): weft_stamp_clock gives its time */
	_Atomic int32_t wait_holder;  /* the lock's owner when the wait began; 0: none */
	_Atomic uint64_t wait_pc;     /* where: the hook's caller */
	_Atomic uint32_t wait_stack;  /* its stack's id (agent/stack.h); 0: none captured */
	uintptr_t wait_sp;            /* the owner's: its hook's stack pointer (agent/wait.h) */
	/*
	 * The open task (agent/task.h): whether one is (cur_span is then its
	 * span) and its work source, on view for the pool gauges.
	 */
	_Atomic bool in_task;
	_Atomic uint64_t task_source;
	uint64_t task_producer; /* owner only: the open task's newest producer (0: none) */
	/* Owner only: its last hand-off publication (agent/handoff.h). */
	struct weft_handoff_memo handoff_memo;
	/* Fast-path counts: lock acquisitions by wait kind (single writer). */
	_Atomic uint64_t acquired[WEFT_WAIT_KIND_COUNT];
	/*
	 * Owner only: for each kind of lock whose holds are sampled (mutex,
	 * rwlock read and write), the acquisition count at which the next hold
	 * is (agent/lock.h).
	 */
	uint64_t hold_at[WEFT_HOLD_KINDS];

	/* Owner only. */
	struct weft_trace_id cur_trace; /* the current span's trace: weft_thread_cur_trace */
	uint64_t cur_span;              /* the current span: its own, or a task's */
	bool cur_trace_of_span;         /* cur_trace is cur_span's own, not yet derived */
	bool ctx_stale;                 /* a CTX record was dropped: send it again */
	bool growing;                   /* weft_thread_grow is under way (agent/agent.c) */
	uintptr_t hold_obj;             /* the lock whose hold is being sampled; 0: none */
	uint64_t hold_t0;
	uint64_t stack_next_ns;       /* no stack captured before this time */
	uint64_t stack_begin_next_ns; /* the same for a wait's start (agent/stack.h) */
	/* Sites of waits whose stack it has (agent/stack.h): call site and stack pointer. */
	uintptr_t stack_site_pc[WEFT_STACK_SITES];
	uintptr_t stack_site_sp[WEFT_STACK_SITES];
	uint32_t stack_site_id[WEFT_STACK_SITES];
	uint8_t stack_site_uses[WEFT_STACK_SITES]; /* uses since it was unwound (a refresh at 0) */
	uint8_t stack_site_next;
	uint32_t stack_sent[WEFT_STACK_SENT]; /* ids of stacks this thread has recorded */
	struct weft_rng rng;
	/*
	 * Records held back until a lock's unlock (agent/agent.h: weft_record):
	 * while `defer_lock` is set, records go to `deferred` instead of the
	 * ring, to be pushed once `deferred_lock` is unlocked.
	 */
	uintptr_t defer_lock;
	uintptr_t deferred_lock;
	uint8_t deferred_n;
	bool deferred_busy; /* being added to or flushed: a signal handler records at once */
	struct weft_event deferred[WEFT_DEFERRED];
	/* With WEFT_LOCK_ORDER: the mutexes it holds, oldest first (agent/lockorder.h). */
	uintptr_t held[WEFT_HELD_MAX];
	uint8_t n_held;      /* entries in held[] */
	uint8_t n_untracked; /* held past its depth */
	/* The last wait recorded: a channel read after a poll wait links to it. */
	uint64_t last_wait_t0;
	uint8_t last_wait_kind;
	struct weft_stamp_cache stamp_cache; /* its last clock read (agent/clock.h) */
	bool dead;                           /* the sentinel: hooks pass through */
	/*
	 * The hook families observed on this thread (WEFT_HOOKS), 0 on the
	 * sentinel: a hook's whole "observe this call?" test for a registered
	 * thread is one load and one bit test (hooks/hook.h).
	 */
	unsigned hooks;

	/* Consumer only: the registry's protocol, and the consumer's own record. */
	bool exit_seen;
	uint64_t dropped_seen;
	void *consumer;

	/* The ring; its slots are allocated on the first event. */
	struct weft_ring ring;
};

/* The calling thread's state, weft_self, lives in the per-thread block (agent/guard.h). */

/* What a thread points at after its exit: hooks pass through. */
extern struct weft_thread weft_thread_dead;

/*
 * Allocates a zeroed state whose ring uses its inline slots; NULL on failure.
 * Most short-lived threads record few events or none (their start and end
 * live in the state), so the full ring is allocated by weft_registry_ring, on
 * the owning thread, only when the inline slots fill: 0 or -ENOMEM.
 */
struct weft_thread *weft_registry_alloc(uint32_t ring_capacity);
int weft_registry_ring(struct weft_thread *t);
void weft_registry_free(struct weft_thread *t);

/* Publishes a state to the exporter. */
void weft_registry_push(struct weft_thread *t);

/* Consumer: takes every state pushed since the last call (newest first). */
struct weft_thread *weft_registry_take(void);

/*
 * The consumer's side of the protocol, in one place (the exporter and the
 * stress test both run it). A reader holds every state taken and not yet
 * freed. One cycle:
 *   1. takes the states published since the last cycle and reports each, in
 *      publication order, to `taken`;
 *   2. for every state: reads `exited` (acquire) *before* draining the ring,
 *      so that a thread found exited has had every event it recorded drained
 *      now; drains the ring into `event`; reports new drops to `drained`;
 *   3. reports each state found exited in step 2 to `exited`, then unlinks
 *      and frees it: the only place a state is freed. Events drained in step
 *      2 from other rings may name an exited thread, hence the second pass.
 * `drained` is called after every drain, with the drops (possibly none) the
 * ring counted since the previous one.
 * Every callback may be NULL.
 */
struct weft_registry_reader {
	struct weft_thread *threads; /* taken, not yet freed; newest first */
};

struct weft_registry_visitor {
	void (*taken)(struct weft_thread *t, void *arg);
	void (*event)(struct weft_thread *t, const struct weft_event *ev, void *arg);
	void (*drained)(struct weft_thread *t, uint64_t new_drops, void *arg);
	void (*exited)(struct weft_thread *t, void *arg);
};

void weft_registry_cycle(struct weft_registry_reader *r, const struct weft_registry_visitor *v,
			 void *arg);

/*
 * Marks the calling thread's state exited (end time, sentinel, release) and
 * counts it as pending for the exporter. Returns the pending count this exit
 * made: each value is returned to one exiting thread only.
 */
uint32_t weft_registry_exit(struct weft_thread *t, uint64_t end_ns);

/* Exited threads not yet collected by the exporter. */
extern _Atomic uint32_t weft_registry_pending_exits;

/*
 * Application threads alive or about to be (the main thread included). A
 * created thread is counted by its creator before the real pthread_create,
 * so the count never reads zero while a new thread has yet to register.
 */
extern _Atomic int32_t weft_registry_live;

/* Forked child: forget every published state (they belong to the parent). */
void weft_registry_reset_after_fork(void);

/*
 * The owner's current trace. A task that is the root of a trace of its own
 * (WEFT_TASK_PARENT=link) leaves its trace to be derived from its span
 * (weft_ids_trace_of) when first asked: most tasks never are asked (only
 * the threads, connections and programs they start, and a resent context,
 * carry it).
 */
static inline const struct weft_trace_id *weft_thread_cur_trace(struct weft_thread *t)
{
	if (t->cur_trace_of_span) {
		weft_ids_trace_of(t->cur_span, &t->cur_trace);
		t->cur_trace_of_span = false;
	}
	return &t->cur_trace;
}

#endif
