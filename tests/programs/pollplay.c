/*
 * pollplay: the seven readiness waits, each blocking a known number of
 * times, for tests/integration/test-poll.py.
 *
 * Every wait is forced, not left to the scheduler: main writes a byte only
 * once the kernel shows the waiting thread asleep in that very call
 * (/proc/self/task/TID/syscall names a poll-family system call only while the
 * thread sleeps in it; weft's try, with a zero timeout, never sleeps). So the
 * counts hold on any machine:
 *
 *   waits      for each of poll, ppoll, select, pselect, epoll_wait,
 *              epoll_pwait, epoll_pwait2, a thread whose start routine is
 *              named wait_<function> calls that function B times on the read
 *              end of its own pipe with a long (or infinite) timeout, and
 *              main writes a byte once it is blocked: B waits returning 1.
 *              Then one call with a 30 ms timeout on the empty pipe: a wait
 *              that times out (0). B + 1 waits in each wait_<function>.
 *   ready      main, in ready_calls: every function with a long timeout on a
 *              pipe that holds a byte (ready at once) and with a zero timeout
 *              on an empty pipe (nothing ready, no wait): no waits at all.
 *   parked     a thread, epoll_parked, blocks 600 ms in epoll_wait on an
 *              epoll instance with nothing in it (one wait that times out),
 *              alone: `park_window START END` (realtime ns) brackets the
 *              part of it in which it is the only thread blocked in a poll.
 *
 * Built twice: plainly, and with _FORTIFY_SOURCE (pollplay-fortify), where
 * poll and ppoll are __poll_chk and __ppoll_chk.
 *
 * It prints `tid <role> <tid>`, `fd <role> <fd>` (the descriptor each wait is
 * on: weft.object), `count B <n>`, then `done`.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "blocked.h"

#define B 3

#define NOINLINE __attribute__((noinline))

/*
 * The number of entries of every poll and ppoll call: not a constant, so that
 * built with _FORTIFY_SOURCE (pollplay-fortify) the calls go through
 * __poll_chk and __ppoll_chk, which check it against the array's size.
 */
static volatile nfds_t one = 1;

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static void fail(const char *what)
{
	printf("FAILED: %s\n", what);
	fflush(stdout);
	exit(1);
}

static long long realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* What one waiting thread shares with main. */
struct waiter {
	const char *role;
	int pipe[2];
	int epfd;
	_Atomic pid_t tid;
	_Atomic int phase; /* the wait it is in (1..B), 0 before */
	_Atomic int done;  /* waits that returned and whose byte was read */
};

static void announce(struct waiter *w, int fd)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);

	printf("tid %s %d\nfd %s %d\n", w->role, (int)tid, w->role, fd);
	fflush(stdout);
	atomic_store(&w->tid, tid);
}

static void expect(int rc, int want, const char *what)
{
	if (rc != want) {
		printf("FAILED: %s returned %d, expected %d\n", what, rc, want);
		fflush(stdout);
		exit(1);
	}
}

/* The byte main wrote, consumed; then main may go on. */
static void consumed(struct waiter *w)
{
	char c;

	if (read(w->pipe[0], &c, 1) != 1)
		fail("read");
	atomic_fetch_add(&w->done, 1);
}

static int make_epoll(int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	int epfd = epoll_create1(EPOLL_CLOEXEC);

	if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		fail("epoll");
	return epfd;
}

static NOINLINE void *wait_poll(void *arg)
{
	struct waiter *w = arg;
	struct pollfd p = { .fd = w->pipe[0], .events = POLLIN };

	announce(w, p.fd);
	for (int i = 1; i <= B; i++) {
		atomic_store(&w->phase, i);
		expect(poll(&p, one, i == 1 ? -1 : 10000), 1, "poll");
		consumed(w);
	}
	expect(poll(&p, one, 30), 0, "poll timing out");
	return NULL;
}

static NOINLINE void *wait_ppoll(void *arg)
{
	struct waiter *w = arg;
	struct pollfd p = { .fd = w->pipe[0], .events = POLLIN };
	struct timespec ts = { 10, 0 }, short_ts = { 0, 30000000 };
	sigset_t none;

	sigemptyset(&none);
	announce(w, p.fd);
	for (int i = 1; i <= B; i++) {
		atomic_store(&w->phase, i);
		expect(ppoll(&p, one, i == 1 ? NULL : &ts, i == 3 ? &none : NULL), 1, "ppoll");
		consumed(w);
	}
	expect(ppoll(&p, one, &short_ts, NULL), 0, "ppoll timing out");
	return NULL;
}

static NOINLINE void *wait_select(void *arg)
{
	struct waiter *w = arg;
	fd_set r;
	struct timeval tv;

	announce(w, w->pipe[0]);
	for (int i = 1; i <= B; i++) {
		FD_ZERO(&r);
		FD_SET(w->pipe[0], &r);
		tv = (struct timeval){ 10, 0 };
		atomic_store(&w->phase, i);
		expect(select(w->pipe[0] + 1, &r, NULL, NULL, i == 1 ? NULL : &tv), 1, "select");
		if (!FD_ISSET(w->pipe[0], &r))
			fail("select: the descriptor is not in the set");
		consumed(w);
	}
	FD_ZERO(&r);
	FD_SET(w->pipe[0], &r);
	tv = (struct timeval){ 0, 30000 };
	expect(select(w->pipe[0] + 1, &r, NULL, NULL, &tv), 0, "select timing out");
	return NULL;
}

static NOINLINE void *wait_pselect(void *arg)
{
	struct waiter *w = arg;
	fd_set r;
	struct timespec ts = { 10, 0 }, short_ts = { 0, 30000000 };
	sigset_t none;

	sigemptyset(&none);
	announce(w, w->pipe[0]);
	for (int i = 1; i <= B; i++) {
		FD_ZERO(&r);
		FD_SET(w->pipe[0], &r);
		atomic_store(&w->phase, i);
		expect(pselect(w->pipe[0] + 1, &r, NULL, NULL, i == 1 ? NULL : &ts,
			       i == 3 ? &none : NULL),
		       1, "pselect");
		consumed(w);
	}
	FD_ZERO(&r);
	FD_SET(w->pipe[0], &r);
	expect(pselect(w->pipe[0] + 1, &r, NULL, NULL, &short_ts, NULL), 0, "pselect timing out");
	return NULL;
}

static NOINLINE void *wait_epoll_wait(void *arg)
{
	struct waiter *w = arg;
	struct epoll_event ev[4];

	announce(w, w->epfd);
	for (int i = 1; i <= B; i++) {
		atomic_store(&w->phase, i);
		expect(epoll_wait(w->epfd, ev, 4, i == 1 ? -1 : 10000), 1, "epoll_wait");
		consumed(w);
	}
	expect(epoll_wait(w->epfd, ev, 4, 30), 0, "epoll_wait timing out");
	return NULL;
}

static NOINLINE void *wait_epoll_pwait(void *arg)
{
	struct waiter *w = arg;
	struct epoll_event ev[4];
	sigset_t none;

	sigemptyset(&none);
	announce(w, w->epfd);
	for (int i = 1; i <= B; i++) {
		atomic_store(&w->phase, i);
		expect(epoll_pwait(w->epfd, ev, 4, i == 1 ? -1 : 10000, i == 3 ? &none : NULL), 1,
		       "epoll_pwait");
		consumed(w);
	}
	expect(epoll_pwait(w->epfd, ev, 4, 30, NULL), 0, "epoll_pwait timing out");
	return NULL;
}

static NOINLINE void *wait_epoll_pwait2(void *arg)
{
	struct waiter *w = arg;
	struct epoll_event ev[4];
	struct timespec ts = { 10, 0 }, short_ts = { 0, 30000000 };
	sigset_t none;

	sigemptyset(&none);
	announce(w, w->epfd);
	for (int i = 1; i <= B; i++) {
		atomic_store(&w->phase, i);
		expect(epoll_pwait2(w->epfd, ev, 4, i == 1 ? NULL : &ts, i == 3 ? &none : NULL), 1,
		       "epoll_pwait2");
		consumed(w);
	}
	expect(epoll_pwait2(w->epfd, ev, 4, &short_ts, NULL), 0, "epoll_pwait2 timing out");
	return NULL;
}

/* Main's side: B times, once the waiter sleeps in its i-th call, one byte. */
static void feed(struct waiter *w)
{
	pid_t tid;

	while ((tid = atomic_load(&w->tid)) == 0)
		sleep_ms(1);
	for (int i = 1; i <= B; i++) {
		int tries = 0;

		while (atomic_load(&w->phase) != i || !thread_asleep_in_poll(tid)) {
			if (++tries > 20000)
				fail("a waiter never blocked");
			sleep_ms(1);
		}
		if (write(w->pipe[1], "x", 1) != 1)
			fail("write");
		while (atomic_load(&w->done) != i)
			sleep_ms(1);
	}
}

/* Calls that never block: ready at once, or a zero timeout. */
static NOINLINE void ready_calls(void)
{
	int p[2], epfd;
	struct pollfd pf;
	fd_set r;
	struct timeval tv;
	struct timespec ts = { 5, 0 }, zero = { 0, 0 };
	struct epoll_event ev[2];
	char c;

	if (pipe(p) != 0)
		fail("pipe");
	epfd = make_epoll(p[0]);
	/* Nothing to read: a zero timeout returns 0 at once. */
	pf = (struct pollfd){ .fd = p[0], .events = POLLIN };
	expect(poll(&pf, one, 0), 0, "poll, zero timeout");
	expect(ppoll(&pf, one, &zero, NULL), 0, "ppoll, zero timeout");
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	tv = (struct timeval){ 0, 0 };
	expect(select(p[0] + 1, &r, NULL, NULL, &tv), 0, "select, zero timeout");
	FD_SET(p[0], &r);
	expect(pselect(p[0] + 1, &r, NULL, NULL, &zero, NULL), 0, "pselect, zero timeout");
	expect(epoll_wait(epfd, ev, 2, 0), 0, "epoll_wait, zero timeout");
	expect(epoll_pwait(epfd, ev, 2, 0, NULL), 0, "epoll_pwait, zero timeout");
	expect(epoll_pwait2(epfd, ev, 2, &zero, NULL), 0, "epoll_pwait2, zero timeout");
	/* A byte to read: every call, with a long or no timeout, returns 1 at once. */
	if (write(p[1], "x", 1) != 1)
		fail("write");
	expect(poll(&pf, one, 5000), 1, "poll, ready");
	expect(poll(&pf, one, -1), 1, "poll, ready, no timeout");
	expect(ppoll(&pf, one, &ts, NULL), 1, "ppoll, ready");
	expect(ppoll(&pf, one, NULL, NULL), 1, "ppoll, ready, no timeout");
	FD_SET(p[0], &r);
	tv = (struct timeval){ 5, 0 };
	expect(select(p[0] + 1, &r, NULL, NULL, &tv), 1, "select, ready");
	expect(select(p[0] + 1, &r, NULL, NULL, NULL), 1, "select, ready, no timeout");
	expect(pselect(p[0] + 1, &r, NULL, NULL, &ts, NULL), 1, "pselect, ready");
	expect(pselect(p[0] + 1, &r, NULL, NULL, NULL, NULL), 1, "pselect, ready, no timeout");
	expect(epoll_wait(epfd, ev, 2, 5000), 1, "epoll_wait, ready");
	expect(epoll_wait(epfd, ev, 2, -1), 1, "epoll_wait, ready, no timeout");
	expect(epoll_pwait(epfd, ev, 2, 5000, NULL), 1, "epoll_pwait, ready");
	expect(epoll_pwait2(epfd, ev, 2, &ts, NULL), 1, "epoll_pwait2, ready");
	expect(epoll_pwait2(epfd, ev, 2, NULL, NULL), 1, "epoll_pwait2, ready, no timeout");
	if (read(p[0], &c, 1) != 1)
		fail("read");
	close(epfd);
	close(p[0]);
	close(p[1]);
}

static _Atomic pid_t parked_tid;

static NOINLINE void *epoll_parked(void *arg)
{
	int *epfd = arg;
	struct epoll_event ev;

	atomic_store(&parked_tid, (pid_t)syscall(SYS_gettid));
	expect(epoll_wait(*epfd, &ev, 1, 600), 0, "epoll_wait parked");
	return NULL;
}

int main(void)
{
	static void *(*const fns[])(void *) = { wait_poll,        wait_ppoll,      wait_select,
						wait_pselect,     wait_epoll_wait, wait_epoll_pwait,
						wait_epoll_pwait2 };
	static const char *const roles[] = { "wait_poll",        "wait_ppoll",
					     "wait_select",      "wait_pselect",
					     "wait_epoll_wait",  "wait_epoll_pwait",
					     "wait_epoll_pwait2" };
	struct waiter ws[7];
	pthread_t th[7], parked;
	int empty[2], park_ep;
	long long t0, t1;

	printf("count B %d\n", B);
	ready_calls();
	for (int i = 0; i < 7; i++) {
		memset(&ws[i], 0, sizeof(ws[i]));
		ws[i].role = roles[i];
		if (pipe(ws[i].pipe) != 0)
			fail("pipe");
		ws[i].epfd = make_epoll(ws[i].pipe[0]);
		if (pthread_create(&th[i], NULL, fns[i], &ws[i]) != 0)
			fail("pthread_create");
		feed(&ws[i]);
		if (pthread_join(th[i], NULL) != 0)
			fail("pthread_join");
	}

	/* Parked: the only thread blocked in a poll, for 600 ms. */
	if (pipe(empty) != 0)
		fail("pipe");
	park_ep = make_epoll(empty[0]);
	printf("fd epoll_parked %d\n", park_ep);
	if (pthread_create(&parked, NULL, epoll_parked, &park_ep) != 0)
		fail("pthread_create");
	while (atomic_load(&parked_tid) == 0 || !thread_asleep_in_poll(atomic_load(&parked_tid)))
		sleep_ms(1);
	t0 = realtime_ns();
	sleep_ms(350);
	t1 = realtime_ns();
	printf("tid epoll_parked %d\n", (int)atomic_load(&parked_tid));
	printf("park_window %lld %lld\n", t0, t1);
	if (pthread_join(parked, NULL) != 0)
		fail("pthread_join");
	printf("done\n");
	return 0;
}
