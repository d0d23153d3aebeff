/*
 * The per-thread reentrancy guard.
 *
 * Set whenever agent code runs on a thread, and permanently on the agent's own
 * threads. A hook that finds it set calls the real function and nothing else:
 * this is what keeps weft from observing itself (its allocator's locks, its
 * exporter's sockets) and from recursing. The variable is initial-exec TLS so
 * that reading it never calls into the dynamic loader or allocates.
 */
#ifndef WEFT_AGENT_GUARD_H
#define WEFT_AGENT_GUARD_H

#include <stdbool.h>

extern __thread unsigned weft_guard_depth __attribute__((tls_model("initial-exec")));

static inline bool weft_guard_active(void)
{
	return weft_guard_depth != 0;
}

static inline void weft_guard_enter(void)
{
	weft_guard_depth++;
}

static inline void weft_guard_leave(void)
{
	weft_guard_depth--;
}

#endif
