/*
 * Process hooks: how the program ends.
 *
 * The process span carries the exit code, so weft needs it whichever way the
 * program ends normally: returning from main (glibc then calls exit inside
 * libc, where no interposition reaches, so we wrap main itself) or calling
 * exit from any thread. The flush itself runs from the library destructor,
 * after the program's own atexit handlers.
 */
#include <stdlib.h>
#include <unistd.h>

#include "hooks/hook.h"

static weft_main_fn program_main;

int __libc_start_main(weft_main_fn main, int argc, char **argv, void (*init)(void),
		      void (*fini)(void), void (*rtld_fini)(void), void *stack_end);

static int main_wrapper(int argc, char **argv, char **envp)
{
	int rc = program_main(argc, argv, envp);

	weft_agent_set_exit_code(rc);
	return rc;
}

/*
 * __libc_start_main: glibc's entry from _start; calls main and then exit with
 * its result. weft passes a wrapper for main that notes the result; argument
 * handling, init/fini and the stack are untouched.
 */
WEFT_EXPORT int __libc_start_main(weft_main_fn main, int argc, char **argv, void (*init)(void),
				  void (*fini)(void), void (*rtld_fini)(void), void *stack_end)
{
	int (*real)(weft_main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void),
		    void *) = WEFT_REAL(__libc_start_main);

	if (!real)
		_exit(127);
	program_main = main;
	return real(main_wrapper, argc, argv, init, fini, rtld_fini, stack_end);
}

/*
 * exit: runs atexit handlers and destructors, flushes stdio, ends the process
 * with `status`; never returns. weft notes the status for the process span
 * and calls the real exit; its own flush runs from its destructor.
 */
WEFT_EXPORT void exit(int status)
{
	void (*real)(int) = WEFT_REAL(exit);

	weft_agent_set_exit_code(status);
	if (real)
		real(status);
	_exit(status);
}
