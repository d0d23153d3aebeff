/*
 * system, popen, pclose, fclose: the shell they start continues the trace.
 *
 * glibc starts the shell inside system and popen with its own posix_spawn
 * and the process's environment, where no interposition reaches. So when
 * weft has something to pass the shell (hooks/exec.h: the trace context,
 * and for system the channels), these hooks do what glibc 2.36 does, step
 * by step, with the real posix_spawn and a copy of the environment; the
 * program's own environment is never changed. When weft has nothing to pass
 * (disabled or not ready, inside agent code, the families off), the real
 * call runs.
 *
 * What glibc does, and so these hooks:
 *
 * system(line): runs "/bin/sh -c line" (argv "sh", "-c", line) and waits for
 * it. While any thread is inside system, SIGINT and SIGQUIT are ignored (the
 * first thread in sets SIG_IGN, the last one out restores the actions) and
 * the caller blocks SIGCHLD; the shell starts with the caller's signal mask
 * and SIGINT/SIGQUIT at their defaults unless they were ignored. Returns
 * the shell's wait status, -1 if the wait fails, or the status of `exit
 * 127` (errno the spawn's error) if the shell cannot be started.
 * system(NULL): 1 if a shell can be run ("exit 0" succeeds), else 0.
 * system is a cancellation point: a cancelled caller kills the shell
 * (SIGKILL), reaps it and restores the actions.
 *
 * popen(command, mode): mode is any sequence of 'r', 'w' and 'e' with
 * exactly one of 'r' and 'w' (else NULL, EINVAL). A pipe (close-on-exec)
 * whose child end becomes the shell's stdout ('r') or stdin ('w'); the
 * shell starts with every earlier popen stream still open in the parent
 * closed; the parent's end keeps close-on-exec only with 'e'. NULL with
 * errno ENOMEM whenever the shell cannot be started. The stream returned is
 * an ordinary stream on the parent's end (fdopen), kept with the shell's pid
 * in a list: pclose, and fclose (which in glibc also waits for a popen
 * stream's shell), close it and wait for the shell, returning its wait
 * status (-1 if the wait fails; -1 if it was 0 and flushing failed), not a
 * cancellation point. pclose of a stream not in the list is glibc's.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/alloc.h"
#include "agent/atomic.h"
#include "hooks/exec.h"
#include "hooks/hook.h"

extern char **environ;

#define SHELL_PATH "/bin/sh"

/* The copy to pass the shell; false (nothing allocated) when weft has nothing to add. */
static bool shell_env(struct weft_env_copy *c, bool channels)
{
	if (!WEFT_REAL(posix_spawn))
		return false;
	return weft_spawn_env(c, environ, false, channels) != environ;
}

/* waitpid that is no cancellation point, retried on EINTR: the pid, or -1/errno. */
static pid_t reap(pid_t pid, int *status)
{
	long rc;

	do
		rc = syscall(SYS_wait4, pid, status, 0, NULL);
	while (rc == -1 && errno == EINTR);
	return (pid_t)rc;
}

/* ------------------------------------------------------------------ system */

/* Unobserved (glibc's own entry points, not the hooks): weft's lock, not the program's. */
static pthread_mutex_t system_lock = PTHREAD_MUTEX_INITIALIZER;
static int system_users;
static struct sigaction system_intr, system_quit;

/* The first thread into system ignores SIGINT and SIGQUIT; `old` gets what they were. */
static void system_enter(struct sigaction *intr, struct sigaction *quit)
{
	struct sigaction ign = { .sa_handler = SIG_IGN };
	__typeof__(weft_real.sigaction) sa = WEFT_REAL(sigaction);

	sigemptyset(&ign.sa_mask);
	weft_glibc__pthread_mutex_lock(&system_lock);
	if (system_users++ == 0) {
		sa(SIGINT, &ign, &system_intr);
		sa(SIGQUIT, &ign, &system_quit);
	}
	*intr = system_intr;
	*quit = system_quit;
	weft_glibc__pthread_mutex_unlock(&system_lock);
}

/* The last thread out of system restores SIGINT and SIGQUIT. */
static void system_leave(void)
{
	__typeof__(weft_real.sigaction) sa = WEFT_REAL(sigaction);

	weft_glibc__pthread_mutex_lock(&system_lock);
	if (--system_users == 0) {
		sa(SIGINT, &system_intr, NULL);
		sa(SIGQUIT, &system_quit, NULL);
	}
	weft_glibc__pthread_mutex_unlock(&system_lock);
}

/* A caller cancelled while waiting: the shell is killed and reaped, the actions restored. */
static void system_cancelled(void *arg)
{
	pid_t pid = *(pid_t *)arg;
	int state;

	syscall(SYS_kill, pid, SIGKILL);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state);
	reap(pid, NULL);
	pthread_setcancelstate(state, NULL);
	system_leave();
}

/* glibc's do_system, with the copy of the environment (see the top). */
static int run_system(const char *line, struct weft_env_copy *c)
{
	struct sigaction intr, quit;
	sigset_t chld, omask, reset;
	posix_spawnattr_t attr;
	pid_t pid = -1;
	int status, rc;

	system_enter(&intr, &quit);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &omask);
	sigemptyset(&reset);
	if (intr.sa_handler != SIG_IGN)
		sigaddset(&reset, SIGINT);
	if (quit.sa_handler != SIG_IGN)
		sigaddset(&reset, SIGQUIT);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &omask);
	posix_spawnattr_setsigdefault(&attr, &reset);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	rc = WEFT_REAL(posix_spawn)(&pid, SHELL_PATH, NULL, &attr,
				    (char *const[]){ "sh", "-c", (char *)line, NULL }, c->env);
	posix_spawnattr_destroy(&attr);
	if (rc == 0) {
		/* waitpid is the cancellation point; the handler runs as the stack unwinds. */
		pthread_cleanup_push(system_cancelled, &pid);
		while ((rc = waitpid(pid, &status, 0)) == -1 && errno == EINTR)
			;
		if (rc != pid)
			status = -1;
		pthread_cleanup_pop(0);
		rc = 0;
	} else {
		status = W_EXITCODE(127, 0);
	}
	system_leave();
	sigprocmask(SIG_SETMASK, &omask, NULL);
	if (rc != 0)
		errno = rc;
	return status;
}

/*
 * system: runs `line` with /bin/sh -c and waits for it (see the top); the
 * shell's wait status, -1/errno, or 127's; system(NULL): whether a shell
 * runs. The shell gets the trace context, and the channels.
 */
WEFT_EXPORT int system(const char *line)
{
	WEFT_REAL_OR_FAIL(system);
	struct weft_env_copy c;
	int status;

	if (!shell_env(&c, true))
		return real(line);
	status = run_system(line ? line : "exit 0", &c);
	weft_spawn_env_done(&c, 0);
	return line ? status : status == 0;
}

/* ------------------------------------------------------------------- popen */

/* A stream popen returned: the shell to wait for when it is closed. */
struct popened {
	FILE *stream;
	pid_t pid;
	struct popened *next;
};

/* The list, under popen_lock; popen_count for fclose's test without the lock. */
static pthread_mutex_t popen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct popened *popen_list;
static _Atomic int popen_count;

/* Takes `stream` out of the list: its entry, or NULL if popen here did not return it. */
static struct popened *popen_take(FILE *stream)
{
	struct popened **pp, *p = NULL;

	weft_glibc__pthread_mutex_lock(&popen_lock);
	for (pp = &popen_list; *pp; pp = &(*pp)->next) {
		if ((*pp)->stream == stream) {
			p = *pp;
			*pp = p->next;
			weft_store_relaxed(&popen_count, weft_load_relaxed(&popen_count) - 1);
			break;
		}
	}
	weft_glibc__pthread_mutex_unlock(&popen_lock);
	return p;
}

/* Closes a stream popen returned here and waits for its shell (see the top). */
static int popen_close(struct popened *p, __typeof__(weft_real.fclose) real_fclose)
{
	pid_t pid = p->pid;
	int flushed = real_fclose(p->stream);
	int status;

	weft_guard_enter();
	weft_free(p);
	weft_guard_leave();
	if (reap(pid, &status) == -1)
		return -1;
	return status ? status : flushed;
}

/*
 * Starts the shell with the pipe's child end as its stdin or stdout, every
 * other popen stream closed, under popen_lock (as glibc: another popen's
 * shell must not inherit this one's end once it loses close-on-exec).
 * 0, or the spawn's error.
 */
static int popen_spawn(struct popened *p, const char *command, int fds[2], bool rd, bool cloexec,
		       struct weft_env_copy *c)
{
	int child_fd = rd ? 1 : 0, child = rd ? 1 : 0, parent = 1 - child;
	posix_spawn_file_actions_t fa;
	int rc;

	posix_spawn_file_actions_init(&fa);
	rc = posix_spawn_file_actions_adddup2(&fa, fds[child], child_fd);
	weft_glibc__pthread_mutex_lock(&popen_lock);
	for (struct popened *q = popen_list; q && rc == 0; q = q->next) {
		int fd = fileno(q->stream);

		if (fd >= 0 && fd != child_fd)
			rc = posix_spawn_file_actions_addclose(&fa, fd);
	}
	if (rc == 0)
		rc = WEFT_REAL(posix_spawn)(&p->pid, SHELL_PATH, &fa, NULL,
					    (char *const[]){ "sh", "-c", (char *)command, NULL },
					    c->env);
	if (rc == 0) {
		WEFT_REAL(close)(fds[child]);
		if (!cloexec)
			WEFT_REAL(fcntl)(fds[parent], F_SETFD, 0);
		p->next = popen_list;
		popen_list = p;
		weft_store_relaxed(&popen_count, weft_load_relaxed(&popen_count) + 1);
	}
	weft_glibc__pthread_mutex_unlock(&popen_lock);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

/* glibc's popen, with the copy of the environment (see the top). */
static FILE *run_popen(const char *command, bool rd, bool cloexec, struct popened *p,
		       struct weft_env_copy *c)
{
	int child_fd = rd ? 1 : 0, child = rd ? 1 : 0, parent = 1 - child;
	int fds[2];

	if (WEFT_REAL(pipe2)(fds, O_CLOEXEC) < 0)
		return NULL;
	if (fds[child] == child_fd) {
		/* Moved, so that the child's dup2 clears its close-on-exec. */
		int moved = WEFT_REAL(fcntl)(child_fd, F_DUPFD_CLOEXEC, 0);

		if (moved < 0)
			goto failed;
		WEFT_REAL(close)(fds[child]);
		fds[child] = moved;
	}
	p->stream = fdopen(fds[parent], rd ? "r" : "w");
	if (p->stream && popen_spawn(p, command, fds, rd, cloexec, c) == 0)
		return p->stream;
	if (p->stream) {
		WEFT_REAL(fclose)(p->stream);
		fds[parent] = -1;
	}
failed:
	WEFT_REAL(close)(fds[child]);
	if (fds[parent] >= 0)
		WEFT_REAL(close)(fds[parent]);
	errno = ENOMEM;
	return NULL;
}

/*
 * popen: a stream to or from `command` run by /bin/sh -c (see the top), or
 * NULL/errno (EINVAL for a bad mode, ENOMEM when the shell cannot start,
 * EMFILE, ...). The shell gets the trace context.
 */
WEFT_EXPORT FILE *popen(const char *command, const char *mode)
{
	WEFT_REAL_OR_FAIL(popen);
	bool rd = false, wr = false, cloexec = false, bad = false;
	struct weft_env_copy c;
	struct popened *p;
	FILE *stream;

	if (!shell_env(&c, false))
		return real(command, mode);
	for (const char *m = mode; *m; m++) {
		if (*m == 'r')
			rd = true;
		else if (*m == 'w')
			wr = true;
		else if (*m == 'e')
			cloexec = true;
		else
			bad = true;
	}
	bad = bad || rd == wr;
	weft_guard_enter();
	p = bad ? NULL : weft_alloc(sizeof(*p));
	weft_guard_leave();
	if (!p) {
		weft_spawn_env_done(&c, 0);
		if (!bad)
			return real(command, mode);
		errno = EINVAL;
		return NULL;
	}
	stream = run_popen(command, rd, cloexec, p, &c);
	weft_spawn_env_done(&c, 0);
	if (!stream) {
		int saved = errno;

		weft_guard_enter();
		weft_free(p);
		weft_guard_leave();
		errno = saved;
	}
	return stream;
}

/* pclose: closes a popen stream and waits for its shell; its wait status, or -1/errno. */
WEFT_EXPORT int pclose(FILE *stream)
{
	WEFT_REAL_OR_FAIL(pclose);
	struct popened *p = weft_load_relaxed(&popen_count) ? popen_take(stream) : NULL;

	return p ? popen_close(p, WEFT_REAL(fclose)) : real(stream);
}

/*
 * fclose: flushes and closes `stream`; 0, or EOF/errno. For a stream popen
 * returned here, as pclose (glibc's fclose waits for a popen stream's
 * shell). Otherwise, and whenever no such stream is open, the real call.
 */
WEFT_EXPORT int fclose(FILE *stream)
{
	WEFT_REAL_OR_FAIL(fclose);
	struct popened *p;

	if (__builtin_expect(weft_load_relaxed(&popen_count) == 0, 1))
		return real(stream);
	p = popen_take(stream);
	return p ? popen_close(p, real) : real(stream);
}
