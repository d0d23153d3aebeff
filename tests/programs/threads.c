/*
 * Thread shapes for the integration tests, one per mode (argv[1]):
 *
 *   nested            main → outer → middle → inner, each joined by its creator
 *   many N K [poll]   N threads one after another, each naming itself K times
 *                     ("t<i>-<k>"), each joined at once (with `poll`, by
 *                     spinning on pthread_tryjoin_np, which never blocks)
 *
 * With THREADS_PRINT_HWM set, prints the peak resident set size at the end.
 *   join-wait MS      main joins a thread that sleeps MS milliseconds
 *   exit-thread CODE  a second thread calls exit(CODE) while main is blocked
 *   main-exit         main calls pthread_exit; the last thread ends the process
 *   main-exit-churn   main calls pthread_exit at once; another thread then
 *                     starts and joins 20 threads, 20 ms apart
 *   error-exit CODE   error(3) ends the process (exit called inside libc)
 *   unshare           single-threaded: unshare(CLONE_NEWUSER), which the kernel
 *                     refuses to multi-threaded callers; exit 0, or 10 + errno
 *   return CODE       main returns CODE
 *   detached          a detached thread still running when main returns
 *   cancel            a thread blocked in sleep is cancelled, then joined
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <error.h>
#include <stdbool.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static void join_or_die(pthread_t t)
{
	int rc = pthread_join(t, NULL);

	if (rc != 0) {
		fprintf(stderr, "pthread_join: %s\n", strerror(rc));
		exit(99);
	}
}

static void start_or_die(pthread_t *t, void *(*fn)(void *), void *arg)
{
	int rc = pthread_create(t, NULL, fn, arg);

	if (rc != 0) {
		fprintf(stderr, "pthread_create: %s\n", strerror(rc));
		exit(98);
	}
}

static void *inner(void *arg)
{
	return arg;
}

static void *middle(void *arg)
{
	pthread_t t;

	start_or_die(&t, inner, arg);
	join_or_die(t);
	return arg;
}

static void *outer(void *arg)
{
	pthread_t t;

	start_or_die(&t, middle, arg);
	join_or_die(t);
	return arg;
}

static int names_per_thread;

static void *namer(void *arg)
{
	long i = (long)arg;
	char name[16];

	for (int k = 0; k < names_per_thread; k++) {
		snprintf(name, sizeof(name), "t%ld-%d", i, k);
		pthread_setname_np(pthread_self(), name);
	}
	return NULL;
}

static void *sleeper(void *arg)
{
	sleep_ms((long)arg);
	return NULL;
}

static void *exiter(void *arg)
{
	sleep_ms(20);
	exit((int)(long)arg);
}

static void *churner(void *arg)
{
	for (int i = 0; i < 20; i++) {
		pthread_t t;

		start_or_die(&t, inner, NULL);
		join_or_die(t);
		sleep_ms(20);
	}
	return arg;
}

static void *forever(void *arg)
{
	for (;;)
		sleep_ms(1000);
	return arg;
}

static void print_hwm(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			fputs(line, stdout);
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "nested";
	long a = argc > 2 ? atol(argv[2]) : 0;
	pthread_t t;

	if (strcmp(mode, "nested") == 0) {
		start_or_die(&t, outer, NULL);
		join_or_die(t);
	} else if (strcmp(mode, "many") == 0) {
		bool poll = argc > 4 && strcmp(argv[4], "poll") == 0;

		names_per_thread = argc > 3 ? atoi(argv[3]) : 0;
		for (long i = 0; i < a; i++) {
			start_or_die(&t, namer, (void *)i);
			if (!poll)
				join_or_die(t);
			else
				while (pthread_tryjoin_np(t, NULL) == EBUSY)
					sched_yield();
		}
	} else if (strcmp(mode, "join-wait") == 0) {
		start_or_die(&t, sleeper, (void *)a);
		join_or_die(t);
	} else if (strcmp(mode, "exit-thread") == 0) {
		start_or_die(&t, exiter, (void *)a);
		join_or_die(t); /* never returns: the thread exits the process */
		return 97;
	} else if (strcmp(mode, "main-exit") == 0) {
		start_or_die(&t, sleeper, (void *)50);
		pthread_exit(NULL);
	} else if (strcmp(mode, "main-exit-churn") == 0) {
		start_or_die(&t, churner, NULL);
		pthread_exit(NULL);
	} else if (strcmp(mode, "unshare") == 0) {
		return unshare(CLONE_NEWUSER) == 0 ? 0 : 10 + errno;
	} else if (strcmp(mode, "error-exit") == 0) {
		error((int)a, 0, "giving up as asked");
	} else if (strcmp(mode, "return") == 0) {
		return (int)a;
	} else if (strcmp(mode, "detached") == 0) {
		start_or_die(&t, forever, NULL);
		pthread_detach(t);
		sleep_ms(10);
	} else if (strcmp(mode, "cancel") == 0) {
		void *ret;
		start_or_die(&t, forever, NULL);
		sleep_ms(10);
		pthread_cancel(t);
		pthread_join(t, &ret);
		if (ret != PTHREAD_CANCELED)
			return 96;
	} else {
		fprintf(stderr, "unknown mode %s\n", mode);
		return 2;
	}
	if (getenv("THREADS_PRINT_HWM"))
		print_hwm();
	return 0;
}
