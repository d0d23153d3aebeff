/*
 * Exec and spawn hooks: the new image continues the trace, and channels
 * follow their descriptors into it.
 *
 * The child's process span is a child of the span that started it: each
 * hook passes the real call a copy of the environment with WEFT_TRACEPARENT
 * set to that span's W3C context (agent/channel_exec.h; the child's weft
 * takes it out of the environment at start, so the child program sees what
 * its parent passed). For an exec, this image's telemetry is exported first,
 * as at exit (agent.h, weft_agent_exec). A pipe end, eventfd, socketpair end
 * or FIFO end the program keeps open without FD_CLOEXEC across an exec is the
 * same channel in the new image (agent/channel_exec.h): the copy carries
 * WEFT_CHANNELS too. The program's own environment, its argv and its envp
 * are never changed, and nothing is added for a new image that would not
 * preload weft. Otherwise — weft disabled or not ready, inside agent code,
 * the families off — the call goes through untouched.
 *
 * glibc's exec functions call execve internally, where no interposition
 * reaches, so every public name has its own hook: the list variants build
 * their argv on the stack (as glibc does) and go the way of the vector ones.
 * An exec that fails returns -1 with the real call's errno, the copy freed.
 * The copy lives on the hook's stack when it fits (a 4 KiB buffer: an
 * environment of a few hundred variables), so that execve stays
 * async-signal-safe and usable in a vfork child.
 */
#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <unistd.h>

#include "agent/alloc.h"
#include "agent/channel_exec.h"
#include "agent/guard.h"
#include "agent/sighold.h"
#include "hooks/exec.h"
#include "hooks/hook.h"

extern char **environ;

/*
 * The child's context (WEFT_TRACEPARENT): for an exec, the span weft_agent_exec chooses
 * (after exporting this image's telemetry when there is some); for a spawn,
 * the span current on the calling thread. NULL when the process family is off.
 */
static const char *traceparent(char out[WEFT_TRACEPARENT_LEN + 1], bool exec)
{
	struct weft_thread *t = weft_self;
	struct weft_trace_id trace = weft_process.trace;
	uint64_t span = weft_process.span;

	if (!weft_hooks_enabled(WEFT_HOOK_PROCESS))
		return NULL;
	if (exec) {
		weft_agent_exec(&trace, &span);
	} else if (t && !t->dead && t->cur_span) {
		trace = *weft_thread_cur_trace(t);
		span = t->cur_span;
	}
	weft_ids_format_traceparent(&trace, span, weft_process.flags & 1, out);
	return out;
}

char *const *weft_spawn_env(struct weft_env_copy *c, char *const envp[], bool exec, bool channels)
{
	char tp[WEFT_TRACEPARENT_LEN + 1];
	struct weft_held held;
	const char *parent;
	bool may_alloc;

	c->env = (char **)envp;
	c->allocated = false;
	if (weft_guard_active() || !weft_agent_ready())
		return envp;
	parent = traceparent(tp, exec);
	if (!parent && !weft_hooks_enabled(WEFT_HOOK_FD))
		return envp;
	/*
	 * No allocation in a signal handler that interrupted weft's allocator on
	 * this thread, nor in a vfork child (the memory would stay the parent's).
	 */
	may_alloc = !weft_alloc_busy && !weft_agent_vfork_child();
	/* execve is async-signal-safe: a handler may leave it by a jump (agent/sighold.h). */
	weft_guard_enter_held(&held);
	c->env = weft_chan_exec_env(envp, c->buf, sizeof(c->buf), may_alloc, &c->allocated,
				    channels && weft_hooks_enabled(WEFT_HOOK_FD), parent);
	weft_guard_leave_held(&held);
	if (!c->env)
		c->env = (char **)envp;
	return c->env;
}

static char *const *exec_env(struct weft_env_copy *c, char *const envp[])
{
	return weft_spawn_env(c, envp, true, true);
}

int weft_spawn_env_done(struct weft_env_copy *c, int rc)
{
	if (c->allocated) {
		weft_guard_enter();
		weft_chan_exec_free(c->env);
		weft_guard_leave();
	}
	return rc;
}

/* execve with the copy: how the variants without an exec of their own to call end. */
static int run_execve(const char *path, char *const argv[], struct weft_env_copy *c)
{
	__typeof__(weft_real.execve) real = WEFT_REAL(execve);

	if (!real) {
		weft_spawn_env_done(c, -1);
		errno = ENOSYS;
		return -1;
	}
	return weft_spawn_env_done(c, real(path, argv, c->env));
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
	struct weft_env_copy c;

	return weft_spawn_env_done(&c, real(path, argv, exec_env(&c, envp)));
}

/* execv: execve with the process's environment; returns only on failure, -1/errno. */
WEFT_EXPORT int execv(const char *path, char *const argv[])
{
	WEFT_REAL_OR_FAIL(execv);
	struct weft_env_copy c;

	if (exec_env(&c, environ) == environ)
		return real(path, argv);
	return run_execve(path, argv, &c);
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
	struct weft_env_copy c;

	return weft_spawn_env_done(&c, real(file, argv, exec_env(&c, envp)));
}

/* execvp: execvpe with the process's environment; returns only on failure, -1/errno. */
WEFT_EXPORT int execvp(const char *file, char *const argv[])
{
	WEFT_REAL_OR_FAIL(execvp);
	__typeof__(weft_real.execvpe) vpe = WEFT_REAL(execvpe);
	struct weft_env_copy c;

	if (!vpe || exec_env(&c, environ) == environ)
		return real(file, argv);
	return weft_spawn_env_done(&c, vpe(file, argv, c.env));
}

/*
 * fexecve: execve of the file open on `fd`; returns only on failure,
 * -1/errno (EINVAL for a negative fd, EBADF, EACCES, ENOSYS, ...).
 */
WEFT_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	WEFT_REAL_OR_FAIL(fexecve);
	struct weft_env_copy c;

	return weft_spawn_env_done(&c, real(fd, argv, exec_env(&c, envp)));
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
	struct weft_env_copy c;

	return weft_spawn_env_done(&c, real(dirfd, path, argv, exec_env(&c, envp), flags));
}

/* The list variants' argc: `arg` and the variadic arguments before the NULL. */
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
	struct weft_env_copy c;
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
	exec_env(&c, environ);
	return run_execve(path, argv, &c);
}

/* execlp: execvp with the arguments listed; returns only on failure, -1/errno. */
WEFT_EXPORT int execlp(const char *file, const char *arg, ...)
{
	WEFT_REAL_OR_FAIL(execlp);
	__typeof__(weft_real.execvpe) vpe = WEFT_REAL(execvpe);
	struct weft_env_copy c;
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
	if (!vpe) {
		errno = ENOSYS;
		return -1;
	}
	return weft_spawn_env_done(&c, vpe(file, argv, exec_env(&c, environ)));
}

/*
 * execle: execve with the arguments listed, up to a NULL, then the
 * environment; returns only on failure, -1/errno.
 */
WEFT_EXPORT int execle(const char *path, const char *arg, ...)
{
	WEFT_REAL_OR_FAIL(execle);
	struct weft_env_copy c;
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
	exec_env(&c, envp);
	return run_execve(path, argv, &c);
}

/*
 * posix_spawn, posix_spawnp: start `path` (posix_spawnp: `file`, searched in
 * PATH) in a new process with argv, envp, the file actions and attributes;
 * 0 with the child's pid in *pid, or an error number (errno is not the
 * result). The child gets envp with WEFT_TRACEPARENT (and, without file
 * actions, WEFT_CHANNELS) added when it preloads weft.
 */
WEFT_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			    const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	WEFT_REAL_OR_FAIL(posix_spawn);
	struct weft_env_copy c;
	char *const *env = weft_spawn_env(&c, envp, false, fa == NULL);

	return weft_spawn_env_done(&c, real(pid, path, fa, attr, argv, env));
}

WEFT_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			     const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	WEFT_REAL_OR_FAIL(posix_spawnp);
	struct weft_env_copy c;
	char *const *env = weft_spawn_env(&c, envp, false, fa == NULL);

	return weft_spawn_env_done(&c, real(pid, file, fa, attr, argv, env));
}
