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

/*
 * __longjmp_chk checks that the jump does not land below the caller's
 * frame (a frame that has returned: "longjmp causes uninitialized stack
 * frame"), against its own stack pointer. Called from a C hook it would
 * check against the hook's frame, deeper than the caller's, and let some
 * such jumps through. So on x86-64 the hook is a few instructions of
 * assembly: the landing, then a jump (not a call) to the real function,
 * with the caller's stack pointer as it was.
 */
#if defined(__x86_64__) && defined(__LP64__)
/* The landing for __longjmp_chk; the real function, or abort. */
__attribute__((used, visibility("hidden"))) jump_fn *
weft_jump_chk_prepare(struct __jmp_buf_tag *env);

jump_fn *weft_jump_chk_prepare(struct __jmp_buf_tag *env)
{
	jump_fn *real = WEFT_REAL(__longjmp_chk);

	if (weft_self)
		weft_jump_landing(weft_jump_target(env));
	if (!real)
		real = weft_real.siglongjmp ? weft_real.siglongjmp : weft_real.longjmp;
	if (!real)
		abort();
	return real;
}

/*
 * At entry the stack pointer is 8 past a multiple of 16; two pushes and 8
 * more align the call. The arguments come back before the jump.
 */
__asm__(".text\n"
	".globl __longjmp_chk\n"
	".type __longjmp_chk, @function\n"
	"__longjmp_chk:\n"
#ifdef __CET__
	"\tendbr64\n"
#endif
	"\tpush %rdi\n"
	"\tpush %rsi\n"
	"\tsub $8, %rsp\n"
	"\tcall weft_jump_chk_prepare\n"
	"\tadd $8, %rsp\n"
	"\tpop %rsi\n"
	"\tpop %rdi\n"
	"\tjmp *%rax\n"
	".size __longjmp_chk, .-__longjmp_chk\n");
#else
WEFT_EXPORT void __longjmp_chk(struct __jmp_buf_tag env[1], int val)
{
	jump(WEFT_REAL(__longjmp_chk), env, val);
}
#endif
