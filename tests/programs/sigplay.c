/*
 * How a process dies of a signal, for tests/integration/test-process.py. Each
 * mode starts a thread named `sigplay-worker` that blocks, then:
 *
 *   term          raise(SIGTERM) at its default action: dies of SIGTERM;
 *   int           kill(getpid(), SIGINT) from the worker thread;
 *   segv          a write through a null pointer: dies of SIGSEGV;
 *   abort         abort(): dies of SIGABRT;
 *   handled       installs its own SIGTERM handler (which prints and exits
 *                 3), then raises SIGTERM: the program's handler runs;
 *   view          prints what sigaction and signal report for the signals
 *                 weft stands in for, sets and restores handlers, and exits 0.
 *
 * What it prints and how it ends are the same natively and under weft.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int block_pipe[2];

static void *worker(void *arg)
{
	char c;

	pthread_setname_np(pthread_self(), "sigplay-worker");
	if (arg)
		kill(getpid(), SIGINT);
	(void)!read(block_pipe[0], &c, 1); /* until the process dies */
	return NULL;
}

static void on_term(int sig)
{
	static const char msg[] = "handled SIGTERM\n";

	(void)!write(1, msg, sizeof(msg) - 1);
	_exit(3);
}

static void on_other(int sig)
{
}

static const char *name(__sighandler_t h)
{
	return h == SIG_DFL    ? "SIG_DFL"
	       : h == SIG_IGN  ? "SIG_IGN"
	       : h == on_other ? "on_other"
			       : "?";
}

static void view(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGSEGV,
				    SIGBUS,  SIGFPE, SIGILL, SIGABRT, SIGUSR1 };
	struct sigaction sa, old;

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], NULL, &old);
		printf("%-8s %s flags %#x\n", sigabbrev_np(sigs[i]), name(old.sa_handler),
		       (unsigned)old.sa_flags);
	}
	printf("signal(SIGTERM, on_other) was %s\n", name(signal(SIGTERM, on_other)));
	printf("signal(SIGTERM, SIG_DFL) was %s\n", name(signal(SIGTERM, SIG_DFL)));
	printf("signal(SIGTERM, SIG_IGN) was %s\n", name(signal(SIGTERM, SIG_IGN)));
	printf("sysv_signal(SIGTERM, SIG_DFL) was %s\n", name(sysv_signal(SIGTERM, SIG_DFL)));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sa.sa_flags = SA_RESTART | SA_NODEFER;
	sigaddset(&sa.sa_mask, SIGUSR2);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGHUP, NULL, &old);
	printf("SIGHUP set to SIG_DFL with flags %#x, mask has SIGUSR2: %s flags %#x mask %d\n",
	       (unsigned)sa.sa_flags, name(old.sa_handler), (unsigned)old.sa_flags,
	       sigismember(&old.sa_mask, SIGUSR2));
	printf("sigaction(SIGKILL) %d\n", sigaction(SIGKILL, &sa, NULL));
	printf("sigaction(0) %d\n", sigaction(0, NULL, &old));
	/* After all that, SIGTERM at its default action again: it still kills. */
	signal(SIGTERM, SIG_DFL);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "term";
	pthread_t t;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (pipe(block_pipe) != 0)
		return 1;
	if (strcmp(mode, "view") == 0) {
		view();
		return 0;
	}
	printf("%s\n", mode);
	pthread_create(&t, NULL, worker, strcmp(mode, "int") == 0 ? (void *)1 : NULL);
	usleep(20000);
	if (strcmp(mode, "term") == 0) {
		raise(SIGTERM);
	} else if (strcmp(mode, "int") == 0) {
		pthread_join(t, NULL);
	} else if (strcmp(mode, "segv") == 0) {
		volatile uintptr_t null = 0;

		*(volatile int *)null = 1;
	} else if (strcmp(mode, "abort") == 0) {
		abort();
	} else if (strcmp(mode, "handled") == 0) {
		signal(SIGTERM, on_term);
		raise(SIGTERM);
	}
	printf("still here\n");
	return 0;
}
