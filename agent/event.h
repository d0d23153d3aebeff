/*
 * The raw facts hooks record: one fixed 64-byte record per event, so a ring
 * slot is one cache line and a record is copied with a few stores.
 *
 * A record is a 16-byte header (type, wait kind, flags, the wrapped call's
 * result, the start time) and a 48-byte payload whose layout the type
 * chooses. Hooks record; the exporter interprets (heaptrack's track/interpret
 * split): nothing here is a span yet.
 *
 * Span context is not copied into every record. A thread's events are drained
 * in the order it recorded them, so the exporter knows the thread's current
 * span from its state (the thread span) and from CTX records, which the agent
 * records only when the current span changes (a task starts or ends). A span
 * link in a payload is a span id alone: the exporter knows the trace of every
 * span a thread made current and resolves it.
 *
 * Every event type is one row of WEFT_EVENTS, which generates the enum and
 * the names; exporter/interp.c maps each type to the interpreter that owns it.
 */
#ifndef WEFT_AGENT_EVENT_H
#define WEFT_AGENT_EVENT_H

#include <stdint.h>

#include "agent/ids.h"

/* X(NAME, payload member) */
#define WEFT_EVENTS(X)                                                                             \
	X(CTX, ctx)         /* the thread's current span changed */                                \
	X(NAME, about)      /* a thread was named: object = target pthread_t */                    \
	X(DETACH, about)    /* a thread was detached: object = target pthread_t */                 \
	X(WAIT, wait)       /* a call blocked: kind, t0..t1, object, caller */                     \
	X(HOLD, wait)       /* a sampled lock hold: t0 acquired, t1 released, pc the unlocker */   \
	X(STACK, stack)     /* part of a captured stack: program counters from `first` on */       \
	X(LINK, link)       /* hand-off links for the thread's wait that began at wait_t0 */       \
	X(LOCKORDER, order) /* two locks taken in both orders (agent/lockorder.h) */

#define WEFT_EVENT_ENUM(name, member) WEFT_EV_##name,
enum weft_event_type {
	WEFT_EV_NONE = 0,
	WEFT_EVENTS(WEFT_EVENT_ENUM) WEFT_EV_COUNT,
};
#undef WEFT_EVENT_ENUM

/* "wait", "name", ...: for diagnostics and tests. */
const char *weft_event_type_name(enum weft_event_type type);

/* weft.wait.kind values, in the contract's spelling (TELEMETRY.md). */
#define WEFT_WAIT_KINDS(X)                                                                         \
	X(MUTEX, "mutex")                                                                          \
	X(RWLOCK_READ, "rwlock.read")                                                              \
	X(RWLOCK_WRITE, "rwlock.write")                                                            \
	X(COND, "cond")                                                                            \
	X(SEM, "sem")                                                                              \
	X(BARRIER, "barrier")                                                                      \
	X(JOIN, "join")                                                                            \
	X(PIPE_READ, "pipe.read")                                                                  \
	X(PIPE_WRITE, "pipe.write")                                                                \
	X(SOCKET_RECV, "socket.recv")                                                              \
	X(SOCKET_SEND, "socket.send")                                                              \
	X(CONNECT, "connect")                                                                      \
	X(ACCEPT, "accept")                                                                        \
	X(POLL, "poll")                                                                            \
	X(SLEEP, "sleep")                                                                          \
	X(SPIN, "spin")

#define WEFT_WAIT_ENUM(name, text) WEFT_WAIT_##name,
enum weft_wait_kind {
	WEFT_WAIT_NONE = 0,
	WEFT_WAIT_KINDS(WEFT_WAIT_ENUM) WEFT_WAIT_KIND_COUNT,
};
#undef WEFT_WAIT_ENUM

/* The kinds of lock whose holds are sampled (agent/lock.h) are the first: below this. */
#define WEFT_HOLD_KINDS (WEFT_WAIT_RWLOCK_WRITE + 1)

const char *weft_wait_kind_name(enum weft_wait_kind kind);

/* Header flags. */
enum {
	WEFT_EVF_ERRNO = 1u << 0, /* `result` is -errno of a call that failed with -1 */
	/* WAIT: a receive from the open task's work source; the task ended as it began. */
	WEFT_EVF_TASK_END = 1u << 1,
	/*
	 * CTX: a task starts (agent/task.h): `kind` its work source, `producers`
	 * its links. WAIT: the task the wait brought starts as it ends, carried
	 * by the WAIT itself (one record, not two): `links[1]` is the task's
	 * span (the wait has one producer at most), `stack` the hand-off's age
	 * at t1 plus one, in nanoseconds (0: unknown; the wait has no stack),
	 * and `channel` the channel read (0: none). The exporter hands its
	 * interpreters the WAIT and the CTX it stands for (weft_task_expand):
	 * none of them sees it.
	 */
	WEFT_EVF_TASK = 1u << 2,
	/*
	 * WAIT, held back for an unlock (agent/wait.h, weft_wait_end_held):
	 * t0 and t1 are still stamps (agent/clock.h), made times as the record
	 * is pushed. Never in a ring.
	 */
	WEFT_EVF_STAMPS = 1u << 3,
};

/* The most span links one record carries (more: several records). */
#define WEFT_EVENT_LINKS 2

struct weft_event_header {
	uint8_t type;   /* enum weft_event_type */
	uint8_t kind;   /* enum weft_wait_kind, where the type has one */
	uint16_t flags; /* WEFT_EVF_* */
	int32_t result; /* the wrapped call's return value, where useful */
	uint64_t t0;    /* monotonic ns: when it happened, or began */
};

/*
 * CTX: the span that is current on the thread from now on. With
 * WEFT_EVF_TASK, a task span that starts at t0, the producer spans that
 * handed it its work (0: none) and when the first did (0: unknown; its
 * queue time runs from there to t0); the header's `result` is the channel it
 * was read from (0: none).
 */
struct weft_ev_ctx {
	struct weft_trace_id trace;
	uint64_t span;
	uint64_t producers[WEFT_EVENT_LINKS];
	uint64_t handoff_ns;
};

/* NAME, DETACH: a fact about another (or this) thread. */
struct weft_ev_about {
	uint64_t object; /* the target's pthread_t */
	char name[24];   /* NAME: NUL-terminated, at most 15 chars in Linux */
	uint64_t reserved[2];
};

/* WAIT: a call that blocked. */
struct weft_ev_wait {
	uint64_t t1;     /* monotonic ns: when it returned */
	uint64_t object; /* what it waited on: an address, a pthread_t, fd */
	uint64_t pc;     /* the hooked function's caller */
	union {
		int32_t holder_tid; /* a lock: its owner when the wait began; 0: none */
		uint32_t channel;   /* a channel wait (pipe.*, socket.*): its slot id */
	};
	uint32_t stack;                   /* a captured stack's id; 0: none */
	uint64_t links[WEFT_EVENT_LINKS]; /* producer span ids (hand-offs); 0: none */
};

/* The most producer spans one LINK record carries. */
#define WEFT_LINK_SPANS 3

/*
 * LINK: producer spans for a wait already recorded by this thread — the
 * links past the two a WAIT carries, or those of a channel read that
 * followed a poll wait (the read consumed what the poll waited for) — and,
 * for the latter, when the first item read was handed over (0: unknown):
 * the queue time of the task the poll wait started.
 */
struct weft_ev_link {
	uint64_t wait_t0; /* the wait's start: which wait */
	uint64_t links[WEFT_LINK_SPANS];
	uint64_t handoff_ns;
	uint32_t channel; /* the channel whose writers these are (the links' kind) */
	uint32_t reserved;
};

/* STACK: program counters first..first+5 of stack `id` (agent/stack.h). */
struct weft_ev_stack {
	uint32_t id;
	uint8_t first; /* index of pcs[0] in the stack */
	uint8_t total; /* frames in the whole stack */
	uint16_t reserved;
	uint64_t pcs[5];
};

/*
 * LOCKORDER: `first` was held when `second` was taken at pc_forward, and
 * (later) `second` was held when `first` was taken at pc_reverse.
 */
struct weft_ev_order {
	uint64_t first, second;
	uint64_t pc_forward, pc_reverse;
	uint64_t reserved[2];
};

struct weft_event {
	struct weft_event_header h;
	union {
		struct weft_ev_ctx ctx;
		struct weft_ev_about about;
		struct weft_ev_wait wait;
		struct weft_ev_link link;
		struct weft_ev_stack stack;
		struct weft_ev_order order;
		uint64_t raw[6];
	} u;
};

_Static_assert(sizeof(struct weft_event_header) == 16, "a 16-byte header");
_Static_assert(sizeof(((struct weft_event *)0)->u) == 48, "a 48-byte payload");
_Static_assert(sizeof(struct weft_event) == 64, "an event is one cache line");

#endif
