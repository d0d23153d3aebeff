/*
 * Readiness waits: poll, ppoll, select, pselect, epoll_wait, epoll_pwait and
 * epoll_pwait2, each as its libc contract says — results, revents and sets,
 * errno for invalid arguments (EFAULT, EINVAL, EBADF, in the order the kernel
 * finds them), timeouts zero, short, negative or absent, select's update of
 * its timeval, edge-triggered and one-shot events, EINTR from a handler with
 * and without SA_RESTART (Linux restarts none of these), the atomic signal
 * mask of ppoll, pselect, epoll_pwait and epoll_pwait2, and cancellation
 * (those three in behaviour-poll-signal.c).
 *
 * A byte is written, and a thread interrupted or cancelled, only once the
 * kernel shows it asleep in a poll-family system call (thread_asleep_in_poll), so
 * that it reaches the blocking call, never weft's zero-timeout try before it.
 */
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../programs/blocked.h"
#include "behaviour-poll.h"

const char *const pfn_name[P_N] = { "poll",       "ppoll",       "select",      "pselect",
				    "epoll_wait", "epoll_pwait", "epoll_pwait2" };

void chan_open(struct chan *c, uint32_t events)
{
	int p[2];
	struct epoll_event ev = { .events = events };

	must(pipe(p), "pipe");
	c->rd = p[0];
	c->wr = p[1];
	ev.data.fd = c->rd;
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	must(c->ep < 0 ? errno : 0, "epoll_create1");
	must(epoll_ctl(c->ep, EPOLL_CTL_ADD, c->rd, &ev), "epoll_ctl");
}

void chan_close(struct chan *c)
{
	close(c->ep);
	close(c->rd);
	close(c->wr);
}

void put(struct chan *c)
{
	must(write(c->wr, "x", 1) == 1 ? 0 : errno, "write");
}

void take(struct chan *c)
{
	char b;

	must(read(c->rd, &b, 1) == 1 ? 0 : errno, "read");
}

int pcall(enum pfn f, struct chan *c, long ms, const sigset_t *mask)
{
	struct pollfd p = { .fd = c->rd, .events = POLLIN };
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	struct epoll_event ev[4] = { 0 };
	fd_set r;
	int rc;

	FD_ZERO(&r);
	FD_SET(c->rd, &r);
	switch (f) {
	case P_POLL:
		rc = poll(&p, 1, (int)ms);
		break;
	case P_PPOLL:
		rc = ppoll(&p, 1, ms < 0 ? NULL : &ts, mask);
		break;
	case P_SELECT:
		rc = select(c->rd + 1, &r, NULL, NULL, ms < 0 ? NULL : &tv);
		break;
	case P_PSELECT:
		rc = pselect(c->rd + 1, &r, NULL, NULL, ms < 0 ? NULL : &ts, mask);
		break;
	case P_EPOLL_WAIT:
		rc = epoll_wait(c->ep, ev, 4, (int)ms);
		break;
	case P_EPOLL_PWAIT:
		rc = epoll_pwait(c->ep, ev, 4, (int)ms, mask);
		break;
	default:
		rc = epoll_pwait2(c->ep, ev, 4, ms < 0 ? NULL : &ts, mask);
		break;
	}
	c->revents = p.revents;
	c->in_set = FD_ISSET(c->rd, &r);
	c->event_fd = rc > 0 ? ev[0].data.fd == c->rd : -1;
	return rc;
}

static const char *errname(int e)
{
	switch (e) {
	case EFAULT:
		return "EFAULT";
	case EBADF:
		return "EBADF";
	default:
		return ename(e);
	}
}

int pobserve(const char *what, int rc)
{
	int e = errno;

	printf("%-52s rc=%d errno=%s\n", what, rc, errname(e));
	return rc;
}

void wait_asleep(pid_t tid)
{
	for (int i = 0; i < 20000; i++) {
		if (thread_asleep_in_poll(tid))
			return;
		sleep_ms(1);
	}
	printf("SETUP FAILED: a thread never slept in a poll\n");
	fflush(stdout);
	abort();
}

/* Address 1: never mapped (hidden from the compiler, which would warn). */
static void *bad_ptr(void)
{
	static void *volatile p = (void *)(uintptr_t)1;

	return p;
}

void *act_when_asleep(void *arg)
{
	struct later *l = arg;

	wait_asleep(l->tid);
	if (l->sig)
		pthread_kill(l->target, l->sig);
	else
		put(l->c);
	return NULL;
}

/* ------------------------------------------------------------- results */

static void check_results(void)
{
	char what[80];

	for (int f = 0; f < P_N; f++) {
		struct chan c;
		long long t0;
		int rc;

		chan_open(&c, EPOLLIN);
		snprintf(what, sizeof(what), "%s: empty, zero timeout", pfn_name[f]);
		POBSERVE(what, pcall(f, &c, 0, NULL));
		t0 = now_ns(CLOCK_MONOTONIC);
		snprintf(what, sizeof(what), "%s: empty, 60 ms", pfn_name[f]);
		POBSERVE(what, pcall(f, &c, 60, NULL));
		fact("  waited the timeout", now_ns(CLOCK_MONOTONIC) - t0 >= 59 * MS);
		fact("  revents / in set", f <= P_PPOLL ? c.revents : c.in_set);
		put(&c);
		snprintf(what, sizeof(what), "%s: ready, zero timeout", pfn_name[f]);
		rc = POBSERVE(what, pcall(f, &c, 0, NULL));
		fact("  revents / in set / event", f <= P_PPOLL     ? c.revents
						   : f <= P_PSELECT ? c.in_set
								    : c.event_fd);
		t0 = now_ns(CLOCK_MONOTONIC);
		snprintf(what, sizeof(what), "%s: ready, 5 s", pfn_name[f]);
		rc = POBSERVE(what, pcall(f, &c, 5000, NULL));
		fact("  revents / in set / event", f <= P_PPOLL     ? c.revents
						   : f <= P_PSELECT ? c.in_set
								    : c.event_fd);
		snprintf(what, sizeof(what), "%s: ready, no timeout", pfn_name[f]);
		rc = POBSERVE(what, pcall(f, &c, -1, NULL));
		fact("  at once", now_ns(CLOCK_MONOTONIC) - t0 < 1000 * MS);
		(void)rc;
		take(&c);
		/* The write end closed: readable (end of file) and POLLHUP. */
		close(c.wr);
		c.wr = -1;
		snprintf(what, sizeof(what), "%s: writer gone, 5 s", pfn_name[f]);
		POBSERVE(what, pcall(f, &c, 5000, NULL));
		fact("  revents / in set / event", f <= P_PPOLL     ? c.revents
						   : f <= P_PSELECT ? c.in_set
								    : c.event_fd);
		chan_close(&c);
	}
}

static void check_wakeups(void)
{
	char what[80];

	for (int f = 0; f < P_N; f++) {
		for (int inf = 0; inf < 2; inf++) {
			struct chan c;
			struct later l;
			pthread_t th;

			chan_open(&c, EPOLLIN);
			l = (struct later){ .c = &c, .tid = tid_self() };
			must(pthread_create(&th, NULL, act_when_asleep, &l), "create");
			snprintf(what, sizeof(what), "%s: woken by a write (%s)", pfn_name[f],
				 inf ? "no timeout" : "5 s");
			POBSERVE(what, pcall(f, &c, inf ? -1 : 5000, NULL));
			fact("  revents / in set / event", f <= P_PPOLL     ? c.revents
							   : f <= P_PSELECT ? c.in_set
									    : c.event_fd);
			pthread_join(th, NULL);
			chan_close(&c);
		}
	}
}

/* --------------------------------------------------------- poll details */

static void check_poll_details(void)
{
	struct chan c;
	struct pollfd p[3];
	struct rlimit rl;
	struct timespec bad = { 0, 1000000000L }, neg = { -1, 0 }, ts = { 1, 0 };
	void *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int closed;
	sigset_t *badmask = bad_ptr();

	chan_open(&c, EPOLLIN);
	closed = dup(c.rd);
	close(closed);
	p[0] = (struct pollfd){ .fd = -1, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = closed, .events = POLLIN };
	p[2] = (struct pollfd){ .fd = c.wr, .events = POLLOUT };
	POBSERVE("poll: negative fd, closed fd, writable", poll(p, 3, 1000));
	fact("  revents of the negative fd", p[0].revents);
	fact("  revents of the closed fd (POLLNVAL)", p[1].revents);
	fact("  revents of the write end", p[2].revents);
	POBSERVE("poll: bad array, 1 s", poll(bad_ptr(), 1, 1000));
	POBSERVE("poll: bad array, no timeout", poll(bad_ptr(), 1, -1));
	POBSERVE("poll: unmapped array, 1 s", poll(none, 1, 1000));
	POBSERVE("poll: nothing, 50 ms", poll(NULL, 0, 50));
	getrlimit(RLIMIT_NOFILE, &rl);
	POBSERVE("poll: nfds above RLIMIT_NOFILE", poll(p, (nfds_t)rl.rlim_cur + 1, 1000));
	POBSERVE("poll: -2 is no timeout too (ready)", poll(&p[2], 1, -2));

	p[0] = (struct pollfd){ .fd = c.rd, .events = POLLIN };
	POBSERVE("ppoll: tv_nsec 1e9", ppoll(p, 1, &bad, NULL));
	POBSERVE("ppoll: negative timeout", ppoll(p, 1, &neg, NULL));
	POBSERVE("ppoll: bad sigmask", ppoll(p, 1, &ts, badmask));
	POBSERVE("ppoll: bad array and bad timeout (EINVAL first)",
		 ppoll(bad_ptr(), 1, &neg, NULL));
	POBSERVE("ppoll: bad array", ppoll(none, 1, &ts, NULL));
	fact("  timeout left alone", ts.tv_sec == 1 && ts.tv_nsec == 0);
	munmap(none, 4096);
	chan_close(&c);
}

/* ------------------------------------------------------- select details */

static void check_select_details(void)
{
	struct chan c;
	fd_set r, w, *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct timeval tv;
	struct timespec ts, bad = { 0, 1000000000L };
	sigset_t *badmask = bad_ptr();
	int closed;
	long long t0;

	chan_open(&c, EPOLLIN);
	/* The time not slept, left in the timeval. */
	FD_ZERO(&r);
	FD_SET(c.rd, &r);
	tv = (struct timeval){ 0, 80000 };
	t0 = now_ns(CLOCK_MONOTONIC);
	POBSERVE("select: empty, 80 ms", select(c.rd + 1, &r, NULL, NULL, &tv));
	fact("  waited", now_ns(CLOCK_MONOTONIC) - t0 >= 79 * MS);
	fact("  timeval left at zero", tv.tv_sec == 0 && tv.tv_usec == 0);
	fact("  set cleared", FD_ISSET(c.rd, &r));
	put(&c);
	FD_ZERO(&r);
	FD_SET(c.rd, &r);
	FD_ZERO(&w);
	FD_SET(c.rd, &w);
	FD_SET(c.wr, &w);
	tv = (struct timeval){ 5, 0 };
	POBSERVE("select: ready, 5 s", select(c.wr + 1, &r, &w, NULL, &tv));
	fact("  read end readable", FD_ISSET(c.rd, &r));
	fact("  read end writable", FD_ISSET(c.rd, &w));
	fact("  write end writable", FD_ISSET(c.wr, &w));
	fact("  timeval below 5 s", tv.tv_sec < 5);
	fact("  timeval above 4 s", tv.tv_sec >= 4);
	FD_ZERO(&r);
	FD_SET(c.rd, &r);
	tv = (struct timeval){ 0, 1500000 };
	POBSERVE("select: ready, tv_usec 1500000", select(c.rd + 1, &r, NULL, NULL, &tv));
	fact("  timeval normalised, seconds", tv.tv_sec);
	fact("  timeval normalised, below 1.5 s", tv.tv_usec < 500000);
	take(&c);

	/* Invalid arguments. */
	closed = dup(c.rd);
	close(closed);
	FD_ZERO(&r);
	FD_SET(closed, &r);
	tv = (struct timeval){ 5, 0 };
	POBSERVE("select: a closed descriptor, 5 s", select(closed + 1, &r, NULL, NULL, &tv));
	fact("  set untouched", FD_ISSET(closed, &r));
	fact("  timeval below 5 s", tv.tv_sec < 5);
	tv = (struct timeval){ 5, 0 };
	POBSERVE("select: a closed descriptor, no timeout",
		 select(closed + 1, &r, NULL, NULL, NULL));
	FD_ZERO(&r);
	FD_SET(c.rd, &r);
	POBSERVE("select: nfds -1", select(-1, &r, NULL, NULL, &tv));
	tv = (struct timeval){ -1, 0 };
	POBSERVE("select: negative seconds", select(c.rd + 1, &r, NULL, NULL, &tv));
	tv = (struct timeval){ 0, -1 };
	POBSERVE("select: negative microseconds", select(c.rd + 1, &r, NULL, NULL, &tv));
	tv = (struct timeval){ 1, 0 };
	POBSERVE("select: bad set pointer", select(c.rd + 1, bad_ptr(), NULL, NULL, &tv));
	POBSERVE("select: unmapped set, no timeout", select(c.rd + 1, NULL, none, NULL, NULL));
	POBSERVE("select: nothing, 50 ms",
		 select(0, NULL, NULL, NULL, &(struct timeval){ 0, 50000 }));

	ts = (struct timespec){ 0, 80000000 };
	FD_ZERO(&r);
	FD_SET(c.rd, &r);
	POBSERVE("pselect: empty, 80 ms", pselect(c.rd + 1, &r, NULL, NULL, &ts, NULL));
	fact("  timeout left alone", ts.tv_nsec == 80000000);
	FD_SET(c.rd, &r);
	POBSERVE("pselect: tv_nsec 1e9", pselect(c.rd + 1, &r, NULL, NULL, &bad, NULL));
	ts = (struct timespec){ 1, 0 };
	POBSERVE("pselect: bad sigmask", pselect(c.rd + 1, &r, NULL, NULL, &ts, badmask));
	POBSERVE("pselect: unmapped set", pselect(c.rd + 1, none, NULL, NULL, &ts, NULL));
	FD_ZERO(&r);
	FD_SET(closed, &r);
	POBSERVE("pselect: a closed descriptor", pselect(closed + 1, &r, NULL, NULL, &ts, NULL));
	munmap(none, 4096);
	chan_close(&c);
}

/* -------------------------------------------------------- epoll details */

static void check_epoll_details(void)
{
	struct chan c;
	struct epoll_event ev[2];
	struct epoll_event *kernel = (struct epoll_event *)(uintptr_t)(~0UL - 4095);
	struct timespec ts = { 1, 0 }, bad = { 0, -1 };
	sigset_t *badmask = bad_ptr();
	void *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	chan_open(&c, EPOLLIN);
	POBSERVE("epoll_wait: not an epoll descriptor", epoll_wait(c.rd, ev, 2, 1000));
	POBSERVE("epoll_wait: closed descriptor", epoll_wait(-1, ev, 2, 1000));
	POBSERVE("epoll_wait: maxevents 0", epoll_wait(c.ep, ev, 0, 1000));
	POBSERVE("epoll_wait: events not in user space", epoll_wait(c.ep, kernel, 2, 1000));
	put(&c);
	POBSERVE("epoll_wait: ready, events unwritable", epoll_wait(c.ep, none, 2, 1000));
	POBSERVE("epoll_wait: then ready, 1 s", epoll_wait(c.ep, ev, 2, 1000));
	take(&c);
	POBSERVE("epoll_pwait: bad sigmask", epoll_pwait(c.ep, ev, 2, 1000, badmask));
	POBSERVE("epoll_pwait2: bad timeout pointer", epoll_pwait2(c.ep, ev, 2, bad_ptr(), NULL));
	put(&c);
	POBSERVE("epoll_pwait2: ready, bad timeout pointer",
		 epoll_pwait2(c.ep, ev, 2, bad_ptr(), NULL));
	POBSERVE("epoll_pwait2: ready, malformed timeout", epoll_pwait2(c.ep, ev, 2, &bad, NULL));
	POBSERVE("epoll_pwait2: ready, 1 s", epoll_pwait2(c.ep, ev, 2, &ts, NULL));
	take(&c);
	POBSERVE("epoll_pwait2: bad sigmask", epoll_pwait2(c.ep, ev, 2, &ts, badmask));
	chan_close(&c);

	/* An edge-triggered event is reported once; a one-shot one until re-armed. */
	for (int k = 0; k < 2; k++) {
		chan_open(&c, EPOLLIN | (k ? EPOLLONESHOT : EPOLLET));
		put(&c);
		POBSERVE(k ? "epoll_wait: one-shot, ready" : "epoll_wait: edge-triggered, ready",
			 epoll_wait(c.ep, ev, 2, 1000));
		POBSERVE("  again, 50 ms", epoll_wait(c.ep, ev, 2, 50));
		put(&c);
		POBSERVE("  a second byte, 50 ms", epoll_wait(c.ep, ev, 2, 50));
		chan_close(&c);
	}
	munmap(none, 4096);
}

void check_poll(void)
{
	check_results();
	check_wakeups();
	check_poll_details();
	check_select_details();
	check_epoll_details();
	check_poll_signals();
	check_poll_sigmask();
	check_poll_cancel();
}
