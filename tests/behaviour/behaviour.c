/*
 * behaviour: the libc contract of every call weft interposes, observed.
 *
 * tests/behaviour/behaviour.py runs this program natively, under weft and
 * under weft with OTEL_SDK_DISABLED=true, and requires byte-identical stdout
 * and the same exit status. So everything printed is deterministic: return
 * values and errno by name, and booleans for anything that depends on timing
 * or addresses ("blocked until the end  1"), never a tid, an address or a
 * duration.
 *
 * Before each observed call errno is set to a sentinel (1234); the line shows
 * `errno=kept` when the call left it alone, else the value it left.
 *
 * Only defined behaviour is exercised (as glibc defines it): no join of a
 * thread that was already joined, or of a detached thread that has exited.
 *
 *     behaviour [contract]            every call's contract (exit status 0)
 *     behaviour exit-in-thread        a non-main thread calls exit(42)
 *     behaviour return-main           main returns 7
 *     behaviour main-pthread-exit     main calls pthread_exit; a thread exit(3)s
 *     behaviour main-pthread-exit-last  main calls pthread_exit; the last thread returns
 *     behaviour return-while-blocked  main returns 9 while a thread is blocked in join
 *     behaviour cancel-main           main is canceled in pthread_join
 */

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../programs/blocked.h"
#include "behaviour.h"

/* Every check of the libc contract, in order (see behaviour.h for where each lives). */
static int contract(void)
{
	check_create_basic();
	check_join();
	check_detach();
	check_tryjoin();
	check_timedjoin();
	check_clockjoin();
	check_values();
	check_setname();
	check_attr();
	check_cancel();
	check_signal();
	check_signal_target();
	check_jump();
	check_many();
	check_nested();
	check_mutex_types();
	check_mutex_pp();
	check_mutex_deadlines();
	check_mutex_robust();
	check_spin();
	check_rwlock();
	check_cond();
	check_sem();
	check_barrier();
	check_io();
	check_poll();
	check_socket();
	check_sleep();
	return 0;
}

/* ------------------------------------------------------------- exit paths */

/* Which of the program's threads this is, for the atexit handler to tell. */
static __thread const char *who;

/*
 * Runs on the thread that calls exit — after main's pthread_exit, glibc's
 * exit(0) on the last thread to end: that thread, never one of weft's.
 */
static void at_exit_handler(void)
{
	printf("atexit handler ran on %s\n", who ? who : "a thread the program did not start");
}

static void *exit_42(void *arg)
{
	who = "a thread";
	sleep_ms(50);
	printf("thread calls exit(42)\n");
	exit(42);
}

static void *exit_3_later(void *arg)
{
	who = "a thread";
	sleep_ms(150);
	printf("thread calls exit(3) after main's pthread_exit\n");
	exit(3);
}

static void *return_later(void *arg)
{
	who = "the last thread";
	sleep_ms(150);
	printf("last thread returns\n");
	return NULL;
}

static void *joins_sleeper(void *arg)
{
	pthread_t t;

	if (pthread_create(&t, NULL, sleeps_then_returns, NULL) == 0)
		pthread_join(t, NULL);
	return NULL;
}

static pthread_t main_thread;

static void *cancels_main(void *arg)
{
	int rc;

	who = "the last thread";
	sleep_ms(100);
	printf("canceling main\n");
	rc = pthread_cancel(main_thread);
	sleep_ms(100);
	printf("cancel main: %s; last thread returns\n", ename(rc));
	return NULL;
}

static void main_cleanup(void *arg)
{
	printf("main's cleanup handler ran\n");
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "contract";
	pthread_t t;

	setvbuf(stdout, NULL, _IOLBF, 0);
	who = "main";
	atexit(at_exit_handler);
	if (strcmp(mode, "contract") == 0)
		return contract();
	if (strcmp(mode, "exit-in-thread") == 0) {
		must(pthread_create(&t, NULL, exit_42, NULL), "create");
		pthread_join(t, NULL); /* never returns */
		printf("not reached\n");
		return 1;
	}
	if (strcmp(mode, "return-main") == 0) {
		must(pthread_create(&t, NULL, returns_arg, NULL), "create");
		pthread_join(t, NULL);
		printf("main returns 7\n");
		return 7;
	}
	if (strcmp(mode, "main-pthread-exit") == 0) {
		must(pthread_create(&t, NULL, exit_3_later, NULL), "create");
		printf("main calls pthread_exit\n");
		pthread_exit((void *)1);
	}
	if (strcmp(mode, "main-pthread-exit-last") == 0) {
		must(pthread_create(&t, NULL, return_later, NULL), "create");
		printf("main calls pthread_exit\n");
		pthread_exit(NULL);
	}
	if (strcmp(mode, "return-while-blocked") == 0) {
		must(pthread_create(&t, NULL, joins_sleeper, NULL), "create");
		sleep_ms(50);
		printf("main returns 9\n");
		return 9;
	}
	if (strcmp(mode, "cancel-main") == 0) {
		int rc = -1;

		main_thread = pthread_self();
		must(pthread_create(&t, NULL, cancels_main, NULL), "create");
		pthread_cleanup_push(main_cleanup, NULL);
		rc = pthread_join(t, NULL); /* canceled here */
		pthread_cleanup_pop(0);
		printf("not reached: %d\n", rc);
		return 1;
	}
	fprintf(stderr, "behaviour: unknown mode %s\n", mode);
	return 2;
}

/* One line: what, a return value (any size) and the errno left, by name. */
long io_observe(const char *what, long rc)
{
	int err = errno;
	const char *name = err == SENTINEL ? "kept" : err == 0 ? "0" : strerrorname_np(err);

	printf("%-44s rc=%ld errno=%s\n", what, rc, name ? name : "?");
	return rc;
}

/* Prints a buffer's first `n` bytes (n from a call's result), or nothing. */
void content(const char *what, const char *buf, long n)
{
	printf("%-44s \"%.*s\"\n", what, n > 0 ? (int)n : 0, buf);
}

void blocked_in(pid_t tid, long a0, const long *nrs)
{
	if (thread_blocked_in(tid, a0, nrs, 20000))
		return;
	printf("SETUP FAILED: thread never blocked in the call\n");
	fflush(stdout);
	abort();
}

volatile sig_atomic_t signals_handled;

void count_signal(int sig)
{
	int saved = errno;

	(void)sig;
	signals_handled++;
	errno = saved;
}

void install_handler(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}
