/*
 * What pipeline.c and chanplay.c share: threads that publish their tid,
 * failure that ends the program with a FAILED line, and blocked_in, which
 * waits until the kernel shows a thread blocked in a given system call on a
 * given descriptor, asleep (from /proc/self/task/TID/syscall). A thread that writes
 * to a channel only once its reader is seen blocked in read makes that read
 * block on any machine, however loaded: the counts the tests check are exact.
 *
 * The functions that create channels are marked CREATOR (never inlined, and
 * exported): weft names a channel after the function that called pipe(),
 * eventfd(), socketpair() or mkfifo().
 */
#ifndef WEFT_TESTS_CHANNELS_H
#define WEFT_TESTS_CHANNELS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "blocked.h"

#define CREATOR  __attribute__((noinline, visibility("default")))
#define NOINLINE __attribute__((noinline))

/* Ends the program when a call the test relies on did not do what it must. */
#define MUST(expr, want)                                                                           \
	do {                                                                                       \
		if ((long)(expr) != (long)(want))                                                  \
			fail(#expr);                                                               \
	} while (0)

static inline pid_t tid_self(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static inline void fail(const char *what)
{
	printf("FAILED: %s\n", what);
	fflush(stdout);
	exit(1);
}

/*
 * Waits until `tid` is blocked in one of `nrs` (ended by -1) with first
 * argument a0 (-1: any), and then 100 us more: a call weft cannot ask
 * beforehand whether it will block (a FIFO's read, a socket's transfer) is
 * timed, and counts as a wait only when it lasted WEFT_WAIT_SLEPT_NS (20 us,
 * agent/wait.h). Seen asleep just after it began, a call woken at once
 * could last less; woken 100 us later, it always counts.
 */
static inline void blocked_in(pid_t tid, long a0, const long *nrs)
{
	struct timespec settle = { 0, 100000L };

	if (!thread_blocked_in(tid, a0, nrs, 30000))
		fail("a thread never blocked in the call");
	nanosleep(&settle, NULL);
}

#define BLOCKED_IN(tid, a0, ...) blocked_in((tid), (a0), (const long[]){ __VA_ARGS__, -1 })

static inline void spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
	if (pthread_create(t, NULL, fn, arg) != 0)
		fail("pthread_create");
}

static inline void join(pthread_t t)
{
	if (pthread_join(t, NULL) != 0)
		fail("pthread_join");
}

/* Names the calling thread (its span is `thread <role>`) and publishes its tid. */
static inline void announce(const char *role, _Atomic pid_t *slot)
{
	pid_t tid = tid_self();

	pthread_setname_np(pthread_self(), role);
	printf("tid %s %d\n", role, (int)tid);
	atomic_store(slot, tid);
}

static inline pid_t await_tid(_Atomic pid_t *slot)
{
	pid_t tid;

	while ((tid = atomic_load(slot)) == 0)
		sleep_ms(1);
	return tid;
}

/* Waits until *counter reaches `n` (a stage has consumed what came before). */
static inline void await_count(_Atomic int *counter, int n)
{
	while (atomic_load(counter) < n)
		sleep_ms(1);
}

#endif
