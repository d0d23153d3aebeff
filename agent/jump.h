/*
 * The program leaves frames with a jump (longjmp, siglongjmp; hooks/jump.c).
 *
 * A signal handler may siglongjmp out of a call weft is inside: the hook's
 * frame, half-way through recording, or blocked in a wait weft has on view,
 * is gone. Told where the jump lands (the stack pointer it restores), weft
 * puts its state back at once: a push the jump abandons is made void
 * (weft_ring_abandon), and a wait it abandons is recorded as ended there,
 * interrupted (-EINTR: it never returned), and taken off view; and a guard
 * raised in an abandoned frame (weft's code, interrupted where it does not
 * hold signals off) is lowered, or the thread would go unobserved for good.
 * Without the
 * hook (a jump weft does not see: a static longjmp, an exception) the next
 * push or wait finds what was left (agent/sighold.h: weft_frame_left), later
 * and with less.
 *
 * What is put back: the outermost push under way (the ring keeps that one's
 * stack pointer), and the wait on view. A jump between nested handlers (a
 * second signal's handler jumping into the first one) is not followed: a
 * push of the first handler's left half-written is published by the one it
 * interrupted, and an outer wait still under way goes off view until it
 * ends.
 */
#ifndef WEFT_AGENT_JUMP_H
#define WEFT_AGENT_JUMP_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/registry.h"

/*
 * The stack pointer a jump to `env` restores (glibc keeps it mangled with
 * the thread's pointer guard); 0 where weft cannot read it.
 */
static inline uintptr_t weft_jump_target(const struct __jmp_buf_tag *env)
{
#if defined(__x86_64__) && defined(__LP64__) && defined(__GLIBC__)
	uintptr_t v = (uintptr_t)env->__jmpbuf[6], guard;

	/* PTR_MANGLE: xor with the guard at %fs:0x30, then rotate left by 17. */
	__asm__("mov %%fs:0x30, %0" : "=r"(guard));
	return (v >> 17 | v << 47) ^ guard;
#else
	(void)env;
	return 0;
#endif
}

/*
 * The calling thread is about to jump to stack pointer `to` (0: unknown,
 * nothing is done). Async-signal-safe; errno kept.
 */
void weft_jump_landing(uintptr_t to);

/*
 * Whether the calling thread has anything of weft's under way that a jump
 * could leave: the guard raised, a push, or a wait on view. Most jumps (an
 * interpreter's error handling) find nothing and cost this test alone.
 */
static inline bool weft_jump_pending(void)
{
	const struct weft_thread *t = weft_self;

	return weft_tls.guard != 0 || (t && (weft_load_relaxed(&t->ring.nest) != 0 ||
					     weft_load_relaxed(&t->wait_kind) > 0));
}

#endif
