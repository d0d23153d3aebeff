#include <errno.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/clock.h"
#include "agent/hashmap.h"
#include "agent/stack.h"
#include "agent/unwind.h"

/* Program counters in one STACK record. */
#define STACK_PER_EVENT 5

/*
 * The frames between the unwinder and the program: weft_stack_capture, the
 * wait's end or start (agent/wait.c), the hook, and a helper or two of the
 * hook's (a channel's transfer, a lock's slow way).
 */
#define STACK_SKIP_MAX 6

/*
 * weft_stack_capture without errno's care: the stack from the frame that
 * returns to `pc`, the hook's caller, outwards (weft's own frames left out,
 * however many the hook's path has; two when `pc` is not found, the frames
 * of the shortest path).
 */
static __attribute__((always_inline)) inline uint32_t capture(struct weft_thread *t, uintptr_t pc,
							      uint64_t *next_ns)
{
	uint64_t now = weft_clock_now();
	uintptr_t pcs[WEFT_UNWIND_MAX_FRAMES + STACK_SKIP_MAX];
	uint32_t depth = weft_cfg.stack_depth, id;
	unsigned slot;
	int n, skip = 2;

	/*
	 * The budget: one unwind per interval on average, a burst of up to
	 * WEFT_STACK_BURST at once (a generic cell rate algorithm: `*next_ns`
	 * is when the budget would be spent if every unwind so far had come at
	 * its earliest).
	 */
	if (!depth ||
	    now + WEFT_STACK_BURST * WEFT_STACK_INTERVAL_NS < *next_ns + WEFT_STACK_INTERVAL_NS)
		return 0;
	*next_ns = (*next_ns > now ? *next_ns : now) + WEFT_STACK_INTERVAL_NS;
	if (depth > WEFT_UNWIND_MAX_FRAMES)
		depth = WEFT_UNWIND_MAX_FRAMES;
	n = weft_unwind_capture(pcs, (int)depth + STACK_SKIP_MAX);
	for (int i = 1; i < n && i <= STACK_SKIP_MAX; i++) {
		if (pcs[i] == pc) {
			skip = i;
			break;
		}
	}
	n -= skip;
	if (n > (int)depth)
		n = (int)depth;
	if (n <= 0)
		return 0;
	id = (uint32_t)weft_hashmap_hash_bytes(pcs + skip, (size_t)n * sizeof(pcs[0])) | 1u;
	slot = id % WEFT_STACK_SENT;
	if (t->stack_sent[slot] == id)
		return id;
	for (int i = 0; i < n; i += STACK_PER_EVENT) {
		struct weft_event ev = { .h = { .type = WEFT_EV_STACK, .t0 = now } };

		ev.u.stack.id = id;
		ev.u.stack.first = (uint8_t)i;
		ev.u.stack.total = (uint8_t)n;
		for (int k = 0; k < STACK_PER_EVENT && i + k < n; k++)
			ev.u.stack.pcs[k] = pcs[skip + i + k];
		/*
		 * Now, ahead of any records held back for an unlock (a definition
		 * the later records refer to: earlier is always in order), so that
		 * a wait's stack does not crowd its own records out of the held
		 * ones (agent/agent.h).
		 */
		if (!weft_record_now(t, &ev))
			return 0; /* incomplete: the exporter would not have it */
	}
	t->stack_sent[slot] = id;
	return id;
}

/*
 * errno is kept across the unwind and the records (a record may allocate
 * the thread's ring): a wait's start captures before the real call.
 */
__attribute__((noinline)) uint32_t weft_stack_capture(struct weft_thread *t, uintptr_t pc,
						      uint64_t *next_ns)
{
	int saved = errno;
	uint32_t id = capture(t, pc, next_ns);

	errno = saved;
	return id;
}
