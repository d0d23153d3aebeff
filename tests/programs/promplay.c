/*
 * promplay: a program whose concurrency is known exactly while it runs, for
 * the Prometheus endpoint's tests (tests/integration/test-prometheus.py) and
 * benchmark (tests/bench/prom-scrape.py).
 *
 *   promplay N [C]
 *
 * Main locks mutex M and starts N `blocker` threads, each of which locks M
 * and blocks; once the kernel shows all N asleep (blocked.h), main unlocks:
 * N contended mutex waits, each by `blocker`. The blockers then wait on a
 * condition variable until main, which meanwhile reads its stdin, sees end
 * of file. So while main waits: N + 1 live threads, N waiting in `cond`, one
 * (main) in `pipe.read` when stdin is a pipe.
 *
 * With C > 0, main first creates C pipes: each is a channel named
 * `pipe:main#k` (k from 1), with one byte written and read, so that every channel metric has C
 * series (up to the cardinality limit: the benchmark's 500 per metric). After each line of stdin,
 * main does one unit of work (a byte through one of the pipes) and prints the running count, so
 * that a test can see the program's rate with and without scrapes.
 *
 * Prints "ready" once all of this is in place, and "done" at the end.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "blocked.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int finished;
static pid_t tids[256];

static void *blocker(void *arg)
{
	tids[(long)arg] = (pid_t)syscall(SYS_gettid);
	pthread_mutex_lock(&m);
	pthread_mutex_unlock(&m);
	pthread_mutex_lock(&cm);
	while (!finished)
		pthread_cond_wait(&cv, &cm);
	pthread_mutex_unlock(&cm);
	return NULL;
}

int main(int argc, char **argv)
{
	static const long futex_calls[] = { SYS_futex, -1 };
	long n = argc > 1 ? atol(argv[1]) : 3, c = argc > 2 ? atol(argv[2]) : 0;
	pthread_t th[256];
	int(*fds)[2] = NULL;
	char line[256], byte = 'x';
	long work = 0;

	if (n < 1 || n > 256 || c < 0 || c > 100000)
		return 2;
	pthread_mutex_lock(&m);
	for (long i = 0; i < n; i++)
		pthread_create(&th[i], NULL, blocker, (void *)i);
	for (long i = 0; i < n; i++) {
		while (!__atomic_load_n(&tids[i], __ATOMIC_ACQUIRE))
			usleep(1000);
		if (!thread_blocked_in(tids[i], -1, futex_calls, 10000))
			return 3;
	}
	pthread_mutex_unlock(&m);
	if (c) {
		fds = calloc((size_t)c, sizeof(*fds));
		for (long i = 0; i < c; i++) {
			if (pipe(fds[i]) != 0)
				return 4;
			if (write(fds[i][1], &byte, 1) != 1 || read(fds[i][0], &byte, 1) != 1)
				return 5;
		}
	}
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		if (c) {
			int *p = fds[work % c];

			if (write(p[1], &byte, 1) != 1 || read(p[0], &byte, 1) != 1)
				return 5;
		}
		printf("%ld\n", ++work);
		fflush(stdout);
	}
	pthread_mutex_lock(&cm);
	finished = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&cm);
	for (long i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	printf("done\n");
	return 0;
}
