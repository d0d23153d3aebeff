/*
 * promplay: a program whose concurrency is known exactly while it runs, for
 * the Prometheus endpoint's tests (tests/integration/test-prometheus.py) and
 * benchmark (tests/bench/prom-scrape.py).
 *
 *   promplay N [C [S]]
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
 * With S > 0 (at most 500), a `sites` thread then blocks once on mutex SM
 * from each of S distinct functions, site_100 to site_(99 + S), while main
 * holds SM until the kernel shows it asleep: S series of the wait histogram
 * and of the contention counter, one per call site.
 *
 * A line `spin` instead of an empty one runs a second of work (an
 * uncontended mutex pair and a byte through a pipe, per unit) and prints
 * how many units it did: the program's own rate, for the benchmark. A line
 * `steal` makes /dev/null, with dup2, every descriptor above 2 that is a
 * socket or an eventfd (weft's endpoint among them) and prints how many and
 * the longest dup2 in microseconds.
 *
 * Prints "ready" once all of this is in place, and "done" at the end.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "blocked.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int finished;
static pid_t tids[256];

/*
 * S distinct call sites of pthread_mutex_lock, each with its own constant so
 * that the compiler cannot fold them into one function.
 */
static pthread_mutex_t sm = PTHREAD_MUTEX_INITIALIZER;
static volatile int site_seen;

#define SITE(k)                                                                                    \
	__attribute__((noinline)) static void site_##k(void)                                       \
	{                                                                                          \
		pthread_mutex_lock(&sm);                                                           \
		site_seen = k;                                                                     \
		pthread_mutex_unlock(&sm);                                                         \
	}
#define SITE10(p)                                                                                  \
	SITE(p##0)                                                                                 \
	SITE(p##1)                                                                                 \
	SITE(p##2) SITE(p##3) SITE(p##4) SITE(p##5) SITE(p##6) SITE(p##7) SITE(p##8) SITE(p##9)
#define SITE100(p)                                                                                 \
	SITE10(p##0)                                                                               \
	SITE10(p##1)                                                                               \
	SITE10(p##2)                                                                               \
	SITE10(p##3) SITE10(p##4) SITE10(p##5) SITE10(p##6) SITE10(p##7) SITE10(p##8) SITE10(p##9)
SITE100(1)
SITE100(2)
SITE100(3)
SITE100(4)
SITE100(5)

#define REF(k) site_##k,
#define REF10(p)                                                                                   \
	REF(p##0)                                                                                  \
	REF(p##1) REF(p##2) REF(p##3) REF(p##4) REF(p##5) REF(p##6) REF(p##7) REF(p##8) REF(p##9)
#define REF100(p)                                                                                  \
	REF10(p##0)                                                                                \
	REF10(p##1)                                                                                \
	REF10(p##2)                                                                                \
	REF10(p##3) REF10(p##4) REF10(p##5) REF10(p##6) REF10(p##7) REF10(p##8) REF10(p##9)
static void (*const sites[])(void) = { REF100(1) REF100(2) REF100(3) REF100(4) REF100(5) };
#define N_SITES ((long)(sizeof(sites) / sizeof(sites[0])))

static int site_go = -1, site_done = -1;
static pid_t site_tid;

static void *site_runner(void *arg)
{
	long s = (long)arg;

	__atomic_store_n(&site_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	for (int i = 0; i < s; i++) {
		while (__atomic_load_n(&site_go, __ATOMIC_ACQUIRE) != i)
			sched_yield();
		sites[i]();
		__atomic_store_n(&site_done, i, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* Each site blocks once: SM held until the runner sleeps on it. */
static int run_sites(long s)
{
	static const long futex_calls[] = { SYS_futex, -1 };
	pthread_t th;

	pthread_create(&th, NULL, site_runner, (void *)s);
	while (!__atomic_load_n(&site_tid, __ATOMIC_ACQUIRE))
		sched_yield();
	for (int i = 0; i < s; i++) {
		pthread_mutex_lock(&sm);
		__atomic_store_n(&site_go, i, __ATOMIC_RELEASE);
		if (!thread_blocked_in(site_tid, -1, futex_calls, 10000))
			return -1;
		pthread_mutex_unlock(&sm);
		while (__atomic_load_n(&site_done, __ATOMIC_ACQUIRE) != i)
			sched_yield();
	}
	return pthread_join(th, NULL);
}

/* dup2 of /dev/null onto every socket and eventfd above 2: "count max_us". */
static void steal(void)
{
	char path[64], target[128];
	int null = open("/dev/null", O_RDWR | O_CLOEXEC), n = 0;
	long max_us = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	while (d && null >= 0 && (e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name);
		struct timespec t0, t1;
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		len = readlink(path, target, sizeof(target) - 1);
		if (fd <= 2 || fd == null || fd == dirfd(d) || len <= 0)
			continue;
		target[len] = '\0';
		if (strncmp(target, "socket:", 7) != 0 &&
		    strcmp(target, "anon_inode:[eventfd]") != 0)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (dup2(null, fd) == fd)
			n++;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if ((t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000 > max_us)
			max_us = (t1.tv_sec - t0.tv_sec) * 1000000L +
				 (t1.tv_nsec - t0.tv_nsec) / 1000;
	}
	if (d)
		closedir(d);
	printf("%d %ld\n", n, max_us);
	fflush(stdout);
}

/* Units of work done in one second. */
static long spin(int fds[2])
{
	static pthread_mutex_t um = PTHREAD_MUTEX_INITIALIZER;
	struct timespec t0, t;
	char byte = 'y';
	long units = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (int i = 0; i < 256; i++, units++) {
			pthread_mutex_lock(&um);
			pthread_mutex_unlock(&um);
			if (write(fds[1], &byte, 1) != 1 || read(fds[0], &byte, 1) != 1)
				return -1;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 1000000000L);
	return units;
}

/*
 * The blockers' wait for the end, out of line: their race for `cm` (a
 * contended lock now and then) is not one of the N waits in `blocker`.
 */
__attribute__((noinline)) static void wait_until_finished(void)
{
	pthread_mutex_lock(&cm);
	while (!finished)
		pthread_cond_wait(&cv, &cm);
	pthread_mutex_unlock(&cm);
	__asm__ volatile("" ::: "memory");
}

static void *blocker(void *arg)
{
	tids[(long)arg] = (pid_t)syscall(SYS_gettid);
	pthread_mutex_lock(&m);
	pthread_mutex_unlock(&m);
	wait_until_finished();
	return NULL;
}

int main(int argc, char **argv)
{
	static const long futex_calls[] = { SYS_futex, -1 };
	long n = argc > 1 ? atol(argv[1]) : 3, c = argc > 2 ? atol(argv[2]) : 0;
	long sites_n = argc > 3 ? atol(argv[3]) : 0;
	int spin_fds[2];
	pthread_t th[256];
	int(*fds)[2] = NULL;
	char line[256], byte = 'x';
	long work = 0;

	if (n < 1 || n > 256 || c < 0 || c > 100000 || sites_n < 0 || sites_n > N_SITES)
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
	if (sites_n && run_sites(sites_n) != 0)
		return 6;
	if (pipe(spin_fds) != 0)
		return 4;
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		if (strncmp(line, "steal", 5) == 0) {
			steal();
			continue;
		}
		if (strncmp(line, "spin", 4) == 0) {
			printf("%ld\n", spin(spin_fds));
			fflush(stdout);
			continue;
		}
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
