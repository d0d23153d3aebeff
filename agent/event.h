/*
 * The raw facts hooks record: one fixed 64-byte record per event, so a ring
 * slot is one cache line and a record is copied with a few stores.
 *
 * Hooks record; the exporter interprets (heaptrack's track/interpret split).
 * Nothing here is a span yet: a WAIT event becomes a histogram point and, if
 * long enough, a `wait <kind>` span, on the exporter thread.
 */
#ifndef WEFT_AGENT_EVENT_H
#define WEFT_AGENT_EVENT_H

#include <stdint.h>

enum weft_event_type {
	WEFT_EV_NONE = 0,
	WEFT_EV_NAME,   /* a thread was named: object = target pthread_t, name */
	WEFT_EV_WAIT,   /* a call blocked: kind, t0..t1, object, pc, span */
	WEFT_EV_DETACH, /* a thread was detached: object = target pthread_t */
};

/* weft.wait.kind values; names in weft_wait_kind_name(). */
enum weft_wait_kind {
	WEFT_WAIT_NONE = 0,
	WEFT_WAIT_MUTEX,
	WEFT_WAIT_RWLOCK_READ,
	WEFT_WAIT_RWLOCK_WRITE,
	WEFT_WAIT_COND,
	WEFT_WAIT_SEM,
	WEFT_WAIT_BARRIER,
	WEFT_WAIT_JOIN,
	WEFT_WAIT_PIPE_READ,
	WEFT_WAIT_PIPE_WRITE,
	WEFT_WAIT_SOCKET_RECV,
	WEFT_WAIT_SOCKET_SEND,
	WEFT_WAIT_CONNECT,
	WEFT_WAIT_ACCEPT,
	WEFT_WAIT_POLL,
	WEFT_WAIT_SLEEP,
	WEFT_WAIT_KIND_COUNT,
};

const char *weft_wait_kind_name(enum weft_wait_kind kind);

struct weft_event {
	uint16_t type;   /* enum weft_event_type */
	uint16_t kind;   /* enum weft_wait_kind for WAIT */
	int32_t result;  /* the wrapped call's return value, where useful */
	uint64_t t0;     /* monotonic ns */
	uint64_t t1;     /* monotonic ns */
	uint64_t object; /* address of the waited-on object, or a pthread_t */
	uint64_t pc;     /* the caller of the hooked function */
	union {
		char name[24]; /* NAME: NUL-terminated, at most 15 chars in Linux */
		struct {
			uint64_t span; /* the thread's current span when the wait began */
			uint64_t a, b;
		} w;
	} u;
};

_Static_assert(sizeof(struct weft_event) == 64, "an event is one cache line");

#endif
