/*
 * Exec hooks: channels follow their descriptors into the new image.
 *
 * A pipe end, eventfd, socketpair end or FIFO end the program keeps open
 * without FD_CLOEXEC across an exec is the same channel in the new image
 * (agent/channel_exec.h). Each hook, when weft runs and such a descriptor
 * exists, passes the real exec a copy of the environment with WEFT_CHANNELS
 * added; the program's own environment, its argv and its envp are never
 * changed. Otherwise — weft disabled or not ready, inside agent code, the
 * descriptor family off, no channel survives the exec, the new image would
 * not preload weft — the call goes through untouched.
 *
 * glibc's exec functions call execve internally, where no interposition
 * reaches, so every public name has its own hook: the list variants build
 * their argv on the stack (as glibc does) and go the way of the vector ones.
 * An exec that fails returns -1 with the real call's errno, the copy freed.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <unistd.h>

#include "agent/alloc.h"
#include "agent/channel_exec.h"
#include "agent/guard.h"
#include "hooks/hook.h"

extern char **environ;

/* The environment to pass instead of `envp`, NULL for `envp` itself. */
static char **exec_env(char *const envp[])
{
	char **copy;

	if (weft_guard_active() || !weft_agent_ready() || !weft_hooks_enabled(WEFT_HOOK_FD))
		return NULL;
	weft_guard_enter();
	copy = weft_chan_exec_env(envp);
	weft_guard_leave();
	return copy;
}

/* After a failed exec: frees the copy, errno as the exec left it. */
static int exec_failed(char **copy, int rc)
{
	if (copy) {
		weft_guard_enter();
		weft_chan_exec_free(copy);
		weft_guard_leave();
	}
	return rc;
}

/* execve with the copy when there is one; how every variant without its own real call ends. */
static int run_execve(const char *path, char *const argv[], char *const envp[], char **copy)
{
	__typeof__(weft_real.execve) real = WEFT_REAL(execve);

	if (!real) {
		exec_failed(copy, -1);
		errno = ENOSYS;
		return -1;
	}
	return exec_failed(copy, real(path, argv, copy ? copy : envp));
}

/*
 * execve: replaces the process image with `path`, run with `argv` and
 * `envp`; returns only on failure, -1 with errno (ENOENT, EACCES, ENOEXEC,
 * E2BIG, ENOTDIR, ELOOP, ETXTBSY, EFAULT, ...). The new image gets `argv`
 * exactly, and `envp` (plus WEFT_CHANNELS when channels survive the exec).
 */
WEFT_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	WEFT_REAL_OR_FAIL(execve);
	char **copy = exec_env(envp);

	return exec_failed(copy, real(path, argv, copy ? copy : envp));
}

/* execv: execve with the process's environment; returns only on failure, -1/errno. */
WEFT_EXPORT int execv(const char *path, char *const argv[])
{
	WEFT_REAL_OR_FAIL(execv);
	char **copy = exec_env(environ);

	return copy ? run_execve(path, argv, environ, copy) : real(path, argv);
}

/*
 * execvpe: execve of `file` searched in PATH when it has no slash (a file
 * found but not executable as a binary runs under /bin/sh); returns only on
 * failure, -1/errno (ENOENT when found nowhere, EACCES when found only
 * without permission, ...).
 */
WEFT_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	WEFT_REAL_OR_FAIL(execvpe);
	char **copy = exec_env(envp);

	return exec_failed(copy, real(file, argv, copy ? copy : envp));
}

/* execvp: execvpe with the process's environment; returns only on failure, -1/errno. */
WEFT_EXPORT int execvp(const char *file, char *const argv[])
{
	WEFT_REAL_OR_FAIL(execvp);
	__typeof__(weft_real.execvpe) vpe;
	char **copy = exec_env(environ);

	if (!copy)
		return real(file, argv);
	if (!(vpe = WEFT_REAL(execvpe)))
		return exec_failed(copy, real(file, argv));
	return exec_failed(copy, vpe(file, argv, copy));
}

/*
 * fexecve: execve of the file open on `fd`; returns only on failure,
 * -1/errno (EBADF, ENOENT when /proc is missing for a script, EINVAL, ...).
 */
WEFT_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	WEFT_REAL_OR_FAIL(fexecve);
	char **copy = exec_env(envp);

	return exec_failed(copy, real(fd, argv, copy ? copy : envp));
}

/*
 * execveat: execve of `path` relative to `dirfd` (AT_EMPTY_PATH: `dirfd`
 * itself; AT_SYMLINK_NOFOLLOW); returns only on failure, -1/errno (EBADF,
 * EINVAL for unknown flags, ELOOP, ...).
 */
WEFT_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
			 int flags)
{
	WEFT_REAL_OR_FAIL(execveat);
	char **copy = exec_env(envp);

	return exec_failed(copy, real(dirfd, path, argv, copy ? copy : envp, flags));
}

/*
 * The list variants' argv: `arg` and the variadic arguments up to the NULL,
 * counted first (the count, in *argc, sizes the caller's array).
 */
#define COUNT_ARGS(argc, arg)                                                                      \
	do {                                                                                       \
		va_list count_ap;                                                                  \
		(argc) = 1;                                                                        \
		va_start(count_ap, arg);                                                           \
		while ((argc) < INT_MAX && va_arg(count_ap, const char *) != NULL)                 \
			(argc)++;                                                                  \
		va_end(count_ap);                                                                  \
	} while (0)

/* Fills argv[0..argc] from `arg` and `ap`, consuming the NULL that ends the list. */
static void fill_args(char **argv, int argc, const char *arg, va_list *ap)
{
	argv[0] = (char *)arg;
	for (int i = 1; i < argc; i++)
		argv[i] = va_arg(*ap, char *);
	(void)va_arg(*ap, char *);
	argv[argc] = NULL;
}

/*
 * execl: execv with the arguments listed, up to a NULL; returns only on
 * failure, -1/errno (E2BIG when the list is too long).
 */
WEFT_EXPORT int execl(const char *path, const char *arg, ...)
{
	WEFT_REAL_OR_FAIL(execl);
	va_list ap;
	int argc;

	(void)real;
	COUNT_ARGS(argc, arg);
	if (argc == INT_MAX) {
		errno = E2BIG;
		return -1;
	}
	char *argv[argc + 1];

	va_start(ap, arg);
	fill_args(argv, argc, arg, &ap);
	va_end(ap);
	return run_execve(path, argv, environ, exec_env(environ));
}

/* execlp: execvp with the arguments listed; returns only on failure, -1/errno. */
WEFT_EXPORT int execlp(const char *file, const char *arg, ...)
{
	WEFT_REAL_OR_FAIL(execlp);
	__typeof__(weft_real.execvpe) vpe = WEFT_REAL(execvpe);
	va_list ap;
	char **copy;
	int argc;

	(void)real;
	COUNT_ARGS(argc, arg);
	if (argc == INT_MAX) {
		errno = E2BIG;
		return -1;
	}
	char *argv[argc + 1];

	va_start(ap, arg);
	fill_args(argv, argc, arg, &ap);
	va_end(ap);
	if (!vpe) {
		errno = ENOSYS;
		return -1;
	}
	copy = exec_env(environ);
	return exec_failed(copy, vpe(file, argv, copy ? copy : environ));
}

/*
 * execle: execve with the arguments listed, up to a NULL, then the
 * environment; returns only on failure, -1/errno.
 */
WEFT_EXPORT int execle(const char *path, const char *arg, ...)
{
	WEFT_REAL_OR_FAIL(execle);
	char *const *envp;
	va_list ap;
	int argc;

	(void)real;
	COUNT_ARGS(argc, arg);
	if (argc == INT_MAX) {
		errno = E2BIG;
		return -1;
	}
	char *argv[argc + 1];

	va_start(ap, arg);
	fill_args(argv, argc, arg, &ap);
	envp = va_arg(ap, char *const *);
	va_end(ap);
	return run_execve(path, argv, envp, exec_env(envp));
}
