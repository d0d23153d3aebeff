/*
 * Process hooks: how the program ends.
 *
 * The process span carries the exit status, so weft needs it whichever way
 * the program ends normally: returning from main, exit from any thread, or
 * exit called inside libc itself (error(3), err(3), argp...), where no
 * interposition reaches. One mechanism covers all of them: an on_exit
 * handler, which glibc hands the status. It is registered from inside
 * __libc_start_main, after glibc has registered the loader's finaliser, so
 * that it runs before the library destructors — weft's flush among them.
 *
 * _exit and _Exit skip all of that (no atexit handlers, no destructors): their
 * hooks export first, with the status they were given.
 */
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hooks/hook.h"

static weft_main_fn program_main;

static void note_exit_status(int status, void *arg)
{
	weft_agent_set_exit_code(status);
}

static int main_wrapper(int argc, char **argv, char **envp)
{
	on_exit(note_exit_status, NULL);
	return program_main(argc, argv, envp);
}

/*
 * __libc_start_main: glibc's entry from _start; calls main and then exit with
 * its result. weft passes a wrapper for main that registers its exit-status
 * handler first; argument handling, init/fini and the stack are untouched.
 */
WEFT_EXPORT int __libc_start_main(weft_main_fn main, int argc, char **argv, void (*init)(void),
				  void (*fini)(void), void (*rtld_fini)(void), void *stack_end)
{
	__typeof__(weft_real.__libc_start_main) real = WEFT_REAL(__libc_start_main);

	if (!real)
		_exit(127);
	program_main = main;
	return real(main_wrapper, argc, argv, init, fini, rtld_fini, stack_end);
}

/* The export, then the real function (or the system call, if it cannot be had). */
static __attribute__((noreturn)) void end_now(void (*real)(int), int status)
{
	weft_agent_quick_exit(status);
	if (real)
		real(status);
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}

/*
 * _exit, _Exit: end the process at once with `status` (no atexit handlers, no
 * stdio flush, no destructors); never return. weft's final export runs first,
 * as exit's would (bounded by WEFT_EXIT_TIMEOUT), except in a vfork child,
 * in weft's own code, or when a signal handler interrupted weft's allocator.
 */
WEFT_EXPORT void _exit(int status)
{
	end_now(WEFT_REAL(_exit), status);
}

WEFT_EXPORT void _Exit(int status)
{
	end_now(WEFT_REAL(_Exit), status);
}
