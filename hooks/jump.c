/*
 * Jump hooks: longjmp, _longjmp, siglongjmp and __longjmp_chk (what the
 * first and third become under _FORTIFY_SOURCE).
 *
 * Each restores the calling environment saved by setjmp or sigsetjmp in
 * `env` (and siglongjmp, or longjmp of a sigsetjmp buffer, its signal mask)
 * and makes that setjmp return `val`, or 1 if `val` is 0; it never returns.
 * weft reads where the jump lands (the stack pointer in `env`) and, on a
 * thread it observes with something under way, puts back what a jump out of
 * a signal handler leaves of weft's own frames (agent/jump.h). Then the real
 * function, with the same arguments and the caller's own stack pointer: the
 * landing, the value, the mask and __longjmp_chk's check (that the jump does
 * not land in a frame that has returned, judged against the stack pointer
 * it is called with) are the real call's.
 *
 * On x86-64 each hook is a few instructions of assembly: a call to its C
 * half, which does the above and returns the real function, then a jump
 * (not a call) to it. A C hook calling the real function would check
 * __longjmp_chk against its own, deeper frame (letting jumps into returned
 * frames through), and its call, which never returns, would leave the
 * processor's return predictions one frame off: every return after it
 * mispredicted, a few nanoseconds on each jump of a program that jumps a lot.
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

/* The landing; then `real`, or any of the four (one function in glibc), or abort. */
static jump_fn *prepare(jump_fn *real, struct __jmp_buf_tag *env)
{
	if (weft_jump_pending())
		weft_jump_landing(weft_jump_target(env));
	if (!real)
		real = WEFT_REAL(siglongjmp) ? WEFT_REAL(siglongjmp) : WEFT_REAL(longjmp);
	if (!real)
		abort();
	return real;
}

#if defined(__x86_64__) && defined(__LP64__)
/*
 * `name`: its C half weft_jump_prepare_<name>, then the assembly. At entry
 * the stack pointer is 8 past a multiple of 16; two pushes and 8 more align
 * the call; the arguments come back before the jump.
 */
#define WEFT_JUMP_HOOK(name)                                                                       \
	__attribute__((used, visibility("hidden")))                                                \
	jump_fn *weft_jump_prepare_##name(struct __jmp_buf_tag *env);                              \
	jump_fn *weft_jump_prepare_##name(struct __jmp_buf_tag *env)                               \
	{                                                                                          \
		return prepare(WEFT_REAL(name), env);                                              \
	}                                                                                          \
	__asm__(".text\n"                                                                          \
		".globl " #name "\n"                                                               \
		".type " #name ", @function\n" #name ":\n" WEFT_JUMP_ENDBR "\tpush %rdi\n"         \
		"\tpush %rsi\n"                                                                    \
		"\tsub $8, %rsp\n"                                                                 \
		"\tcall weft_jump_prepare_" #name "\n"                                             \
		"\tadd $8, %rsp\n"                                                                 \
		"\tpop %rsi\n"                                                                     \
		"\tpop %rdi\n"                                                                     \
		"\tjmp *%rax\n"                                                                    \
		".size " #name ", .-" #name "\n");
#ifdef __CET__
#define WEFT_JUMP_ENDBR "\tendbr64\n"
#else
#define WEFT_JUMP_ENDBR ""
#endif
#else
/* Elsewhere: a C hook (see above for what that costs). */
#define WEFT_JUMP_HOOK(name)                                                                       \
	WEFT_EXPORT void name(struct __jmp_buf_tag env[1], int val)                                \
	{                                                                                          \
		prepare(WEFT_REAL(name), env)(env, val);                                           \
		__builtin_unreachable();                                                           \
	}
#endif

/* Each a whole definition: no semicolon after it. */
WEFT_JUMP_HOOK(longjmp)
WEFT_JUMP_HOOK(_longjmp)
WEFT_JUMP_HOOK(siglongjmp)
WEFT_JUMP_HOOK(__longjmp_chk)
