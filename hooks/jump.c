/*
 * Jump hooks: longjmp, _longjmp, siglongjmp and __longjmp_chk (what the
 * first and third become under _FORTIFY_SOURCE).
 *
 * Each restores the calling environment saved by setjmp or sigsetjmp in
 * `env` (and siglongjmp, or longjmp of a sigsetjmp buffer, its signal mask)
 * and makes that setjmp return `val`, or 1 if `val` is 0; it never returns.
 * weft reads where the jump lands (the stack pointer in `env`) and, on a
 * thread it observes, puts back what a jump out of a signal handler leaves
 * of weft's own frames (agent/jump.h), then makes the real call with the
 * same arguments from its own frame, which the jump leaves too: the landing,
 * the value, the mask and __longjmp_chk's checks are the real call's.
 */
/*
 * Under _FORTIFY_SOURCE glibc's header renames longjmp and siglongjmp to
 * __longjmp_chk (asm labels): this file defines all three names itself.
 */
#undef _FORTIFY_SOURCE

#include <setjmp.h>
#include <stdlib.h>

#include "agent/jump.h"
#include "hooks/hook.h"

/* A jmp_buf and a sigjmp_buf are the same array of one __jmp_buf_tag. */
typedef void jump_fn(struct __jmp_buf_tag *env, int val);

static __attribute__((noreturn)) void jump(jump_fn *real, struct __jmp_buf_tag *env, int val)
{
	if (weft_self)
		weft_jump_landing(weft_jump_target(env));
	/* All four are one function in glibc: any of them does, if this one is missing. */
	if (!real)
		real = weft_real.siglongjmp ? weft_real.siglongjmp : weft_real.longjmp;
	if (!real)
		abort();
	real(env, val);
	__builtin_unreachable();
}

WEFT_EXPORT void longjmp(jmp_buf env, int val)
{
	jump(WEFT_REAL(longjmp), env, val);
}

WEFT_EXPORT void _longjmp(jmp_buf env, int val)
{
	jump(WEFT_REAL(_longjmp), env, val);
}

WEFT_EXPORT void siglongjmp(sigjmp_buf env, int val)
{
	jump(WEFT_REAL(siglongjmp), env, val);
}

WEFT_EXPORT void __longjmp_chk(struct __jmp_buf_tag env[1], int val)
{
	jump(WEFT_REAL(__longjmp_chk), env, val);
}
