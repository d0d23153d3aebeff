/*
 * system, popen, pclose and fclose under weft (hooks/shell.c, which starts
 * the shell itself to pass it the trace context). Run natively, under weft
 * and with weft disabled (behaviour.py shell), it must print the same:
 *
 *   - system's results: an exit status, a shell killed by a signal, a
 *     command not found, system(NULL), errno left as it was;
 *   - the signals around system: SIGINT and SIGQUIT ignored in the caller
 *     while the shell runs (a SIGINT sent to the caller is not delivered to
 *     the program's handler) and restored after, also when two threads are
 *     inside system at once; SIGCHLD blocked in the caller meanwhile; the
 *     shell's blocked and ignored signals (the caller's mask, SIGINT at its
 *     default);
 *   - a handled signal (no SA_RESTART) during system's or pclose's wait:
 *     the wait goes on, the status is the shell's;
 *   - system in a thread that is cancelled: it returns at once (the shell
 *     killed), the handlers restored;
 *   - popen: what a shell writes is read, what is written reaches the
 *     shell, pclose's and fclose's wait status, each bad mode (EINVAL), the
 *     parent's descriptor number and its close-on-exec flag ('e' or not),
 *     an earlier popen stream closed in a later shell, and pclose when the
 *     shell was reaped already (SIGCHLD ignored: -1, ECHILD).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { SENTINEL = 1234 };

static volatile sig_atomic_t interrupted, usr2;

static void on_usr2(int sig)
{
	(void)sig;
	usr2++;
}

static void on_int(int sig)
{
	(void)sig;
	interrupted++;
}

static const char *ename(int e)
{
	switch (e) {
	case SENTINEL:
		return "kept";
	case EINVAL:
		return "EINVAL";
	case ECHILD:
		return "ECHILD";
	case ENOENT:
		return "ENOENT";
	default:
		return "other";
	}
}

/* system(cmd) with errno at the sentinel: its result and the errno left. */
static void run(const char *what, const char *cmd)
{
	int rc;

	fflush(stdout);
	errno = SENTINEL;
	rc = system(cmd);
	printf("%s: system=%d errno=%s\n", what, rc, ename(errno));
}

/* Whether `sig`'s action is the program's handler, ignored or the default. */
static const char *action(int sig)
{
	struct sigaction sa;

	sigaction(sig, NULL, &sa);
	return sa.sa_handler == on_int    ? "handler"
	       : sa.sa_handler == SIG_IGN ? "ignored"
					  : "default";
}

static void check_system(void)
{
	char cmd[128];

	run("exit 3", "exit 3");
	run("killed", "kill -TERM $$");
	run("not found", "/nonexistent/command 2>/dev/null");
	run("NULL", NULL);
	run("output", "echo from the shell");
	/*
	 * The shell's masks: the caller's (SIGUSR1 blocked here), SIGINT not
	 * ignored — read by the shell's own process (exec), not by a child of
	 * it: a child reads them while the shell may be inside its wait for
	 * that child, every signal blocked (dash), or not yet, as the timing
	 * has it.
	 */
	run("masks", "exec grep -E '^Sig(Blk|Ign)' /proc/self/status");
	/* The caller's, while it waits: SIGCHLD blocked, SIGINT and SIGQUIT ignored. */
	snprintf(cmd, sizeof(cmd), "grep -E '^Sig(Blk|Ign)' /proc/%d/task/%d/status", (int)getpid(),
		 (int)getpid());
	run("caller's masks", cmd);
	/* A SIGINT to the caller while it waits is ignored, not handled. */
	snprintf(cmd, sizeof(cmd), "kill -INT %d; exit 0", (int)getpid());
	run("SIGINT to the caller", cmd);
	printf("handler ran %d times; SIGINT %s, SIGQUIT %s after\n", (int)interrupted,
	       action(SIGINT), action(SIGQUIT));
	/* A handled signal (no SA_RESTART) during the wait: the wait goes on. */
	snprintf(cmd, sizeof(cmd), "sleep 0.1; kill -USR2 %d; sleep 0.1; exit 9", (int)getpid());
	run("EINTR", cmd);
	printf("SIGUSR2 handled %d times\n", (int)usr2);
}

static void *run_in_thread(void *arg)
{
	return (void *)(long)system((const char *)arg);
}

/* Two threads inside system at once: the actions restored when the last leaves. */
static void check_system_threads(void)
{
	pthread_t a, b;
	void *ra, *rb;

	pthread_create(&a, NULL, run_in_thread, "sleep 0.3; exit 1");
	pthread_create(&b, NULL, run_in_thread, "sleep 0.1; exit 2");
	pthread_join(b, &rb);
	printf("threads: the first out returned %ld; SIGINT %s meanwhile\n", (long)rb,
	       action(SIGINT));
	pthread_join(a, &ra);
	printf("threads: the last out returned %ld; SIGINT %s, SIGQUIT %s after\n", (long)ra,
	       action(SIGINT), action(SIGQUIT));
}

/* A thread cancelled inside system: the shell killed, the join at once, the actions back. */
static void check_system_cancel(void)
{
	struct timespec t0, t1;
	pthread_t t;
	void *r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_create(&t, NULL, run_in_thread, "exec sleep 20");
	usleep(200000);
	pthread_cancel(t);
	pthread_join(t, &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("cancel: %s, within 5 s: %d; SIGINT %s, SIGQUIT %s after\n",
	       r == PTHREAD_CANCELED ? "cancelled" : "returned", t1.tv_sec - t0.tv_sec < 5,
	       action(SIGINT), action(SIGQUIT));
}

/* popen(cmd, mode): NULL and errno, or the stream's descriptor and its close-on-exec flag. */
static FILE *open_shell(const char *cmd, const char *mode)
{
	FILE *f;

	errno = SENTINEL;
	f = popen(cmd, mode);
	if (!f) {
		printf("popen \"%s\": NULL errno=%s\n", mode, ename(errno));
		return NULL;
	}
	printf("popen \"%s\": fd %d, cloexec %d, errno=%s\n", mode, fileno(f),
	       (fcntl(fileno(f), F_GETFD) & FD_CLOEXEC) != 0, ename(errno));
	return f;
}

static void check_popen(void)
{
	static const char *const bad[] = { "", "x", "rw", "wr", "re+", "ee", "xr" };
	char line[128];
	FILE *f, *g;
	int rc;

	f = open_shell("echo one; echo two; exit 4", "r");
	while (f && fgets(line, sizeof(line), f))
		printf("read: %s", line);
	if (f) {
		errno = SENTINEL;
		rc = pclose(f);
		printf("pclose: %d errno=%s\n", rc, ename(errno));
	}
	f = open_shell("read a; echo \"got $a\"; exit 6", "we");
	if (f) {
		fputs("written\n", f);
		fflush(stdout);
		rc = pclose(f);
		printf("pclose: %d\n", rc);
	}
	f = open_shell("exit 7", "re");
	if (f)
		printf("fclose: %d\n", fclose(f));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		open_shell("true", bad[i]);
	/* An earlier popen stream is closed in a later shell, the same number kept here. */
	f = open_shell("cat >/dev/null", "w");
	if (f) {
		snprintf(line, sizeof(line), "test -e /proc/self/fd/%d && echo open || echo closed",
			 fileno(f));
		g = open_shell(line, "r");
		if (g && fgets(line, sizeof(line), g))
			printf("earlier stream in the later shell: %s", line);
		if (g)
			printf("pclose: %d\n", pclose(g));
		printf("pclose: %d\n", pclose(f));
	}
	/* Reaped already: SIGCHLD ignored, the kernel reaps the shell. */
	signal(SIGCHLD, SIG_IGN);
	f = open_shell("exit 0", "r");
	if (f) {
		errno = SENTINEL;
		rc = pclose(f);
		printf("pclose reaped: %d errno=%s\n", rc, ename(errno));
	}
	signal(SIGCHLD, SIG_DFL);
	/* A handled signal during pclose's wait: the wait goes on. */
	snprintf(line, sizeof(line), "sleep 0.1; kill -USR2 %d; sleep 0.1; exit 5", (int)getpid());
	f = open_shell(line, "r");
	if (f) {
		errno = SENTINEL;
		rc = pclose(f);
		printf("pclose interrupted: %d errno=%s; SIGUSR2 handled %d times\n", rc,
		       ename(errno), (int)usr2);
	}
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_int };
	sigset_t usr1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	check_system();
	check_system_threads();
	check_system_cancel();
	check_popen();
	return 0;
}
