/*
 * Readiness waits: poll, ppoll, select, pselect, epoll_wait, epoll_pwait and
 * epoll_pwait2 (and __poll_chk, __ppoll_chk: poll and ppoll in a program
 * built with _FORTIFY_SOURCE), as waits of kind `poll`.
 *
 * Only a call that would block is timed and recorded. A call with a zero
 * timeout passes straight through. Any other call is first tried: the real
 * function, with the program's own descriptors, events buffer and signal
 * mask, but a zero timeout. When the try finds something ready (> 0) or
 * fails, that is the program's result, errno included, and nothing is
 * recorded. Only when it finds nothing ready does the hook begin a wait and
 * make the real call with the program's own arguments. The try is exactly
 * what the kernel does on the way into a blocking call (check the arguments,
 * poll each descriptor once), so the result, the errno and the order in which
 * errors are found are the real call's; a signal that arrives between the try
 * and the blocking call is one that could have arrived just before a native
 * call. These calls are cancellation points, so is the try (a pending
 * cancellation acts there, as it would natively), and a cancellation of the
 * blocking call ends the wait (WEFT_WAIT_UNWIND). Linux never restarts any of
 * them after a signal handler, SA_RESTART or not: EINTR comes back from the
 * real call either way, and a wait that a handler interrupted is recorded
 * with that result.
 *
 * What the kernel would refuse before looking at any descriptor is left to
 * the real call, untimed: a malformed or negative timeout (EINVAL), a
 * negative nfds (EINVAL), and a timeout or an fd_set the kernel could not
 * read (EFAULT). The timeouts of select, pselect and ppoll are read by glibc
 * itself, in user space, before the system call, so the hook reads them too;
 * epoll_pwait2's is read by the kernel alone, and select's and pselect's
 * sets must be saved before the try (a try that finds nothing ready clears
 * them), so the hook reads those only once it knows the memory is readable
 * (poll_readable).
 *
 * The wait's object (weft.object) is the descriptor waited on: the epoll
 * descriptor for the epoll calls, the first descriptor polled for poll and
 * ppoll, the lowest descriptor in select's and pselect's sets (0 when there
 * is none). The wait, once recorded, is the thread's last (weft_wait_finish
 * keeps its start): a channel read that follows, before the thread's next
 * wait, puts its hand-off links on it (agent/channel.c).
 */
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/task.h"
#include "hooks/hook.h"

/*
 * The blocking half of every hook, once the try found nothing ready: the
 * wait around `call` (which returns -1/errno or a count).
 */
#define POLL_WAIT(self, fd, call)                                                                  \
	do {                                                                                       \
		struct weft_wait w_;                                                               \
		WEFT_WAIT_UNWIND(unwind_);                                                         \
		int rc_;                                                                           \
                                                                                                   \
		weft_wait_begin(&w_, (self), WEFT_WAIT_POLL, (const void *)(uintptr_t)(fd),        \
				WEFT_CALLER);                                                      \
		weft_task_receive(&w_);                                                            \
		unwind_ = (struct weft_wait_unwind){ &w_, true };                                  \
		rc_ = call;                                                                        \
		unwind_.w = NULL;                                                                  \
		weft_wait_end_task_sys(&w_, rc_, rc_ > 0, 0);                                      \
		return rc_;                                                                        \
	} while (0)

/* ------------------------------------------------------------ readable memory */

/*
 * Whether [p, p + len) can be read without a fault, as the kernel would find
 * it (EFAULT) — asked of the kernel itself, a page at a time: rt_sigprocmask
 * with no such `how` copies eight bytes from its `set` argument (EFAULT if it
 * cannot) and only then refuses the `how` (EINVAL), changing nothing. A page
 * found readable is remembered, four per thread, so that a program calling
 * select in a loop with its sets on its stack or in a structure pays this
 * once. A page the program unmaps afterwards and then passes again would be
 * read (a fault, where natively the call fails with EFAULT): the price of not
 * asking the kernel on every call. The pages are 4 KiB steps, the smallest
 * page Linux has; a larger page is asked about more than once, never wrongly.
 */
#define POLL_PAGE     4096UL
#define POLL_REMEMBER 4

static __thread uintptr_t readable_pages[POLL_REMEMBER] __attribute__((tls_model("initial-exec")));
static __thread unsigned readable_next __attribute__((tls_model("initial-exec")));

static bool page_readable(uintptr_t page)
{
	/* Stored as page + 1, so that the zeroes of a new thread match no page. */
	uintptr_t tag = page + 1;
	int saved;
	bool ok;

	for (unsigned i = 0; i < POLL_REMEMBER; i++)
		if (readable_pages[i] == tag)
			return true;
	saved = errno;
	ok = syscall(SYS_rt_sigprocmask, -1, (const void *)page, NULL, sizeof(uint64_t)) == -1 &&
	     errno == EINVAL;
	errno = saved;
	if (ok)
		readable_pages[readable_next++ % POLL_REMEMBER] = tag;
	return ok;
}

static bool poll_readable(const void *p, size_t len)
{
	uintptr_t first = (uintptr_t)p & ~(POLL_PAGE - 1);
	uintptr_t last = ((uintptr_t)p + len - 1) & ~(POLL_PAGE - 1);

	if ((uintptr_t)p + len < (uintptr_t)p)
		return false;
	for (uintptr_t page = first;; page += POLL_PAGE) {
		if (!page_readable(page))
			return false;
		if (page == last)
			return true;
	}
}

/* ------------------------------------------------------------------ poll */

/*
 * poll: waits until one of nfds descriptors is ready or `timeout` ms pass
 * (negative: forever); returns the number of entries with events in revents,
 * 0 on timeout, or -1 with errno (EFAULT, EINTR, EINVAL, ENOMEM). weft tries
 * it with a zero timeout on the program's own array (the blocking call
 * rewrites every revents) and times only a call that found nothing ready.
 */
WEFT_EXPORT int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	WEFT_REAL_OR_FAIL(poll);
	struct weft_thread *self;
	int rc;

	if (timeout == 0 || !(self = weft_hook_thread(WEFT_HOOK_POLL)))
		return real(fds, nfds, timeout);
	if ((rc = real(fds, nfds, 0)) != 0)
		return rc;
	/* The try read the array: fds[0] is readable. */
	POLL_WAIT(self, nfds ? fds[0].fd : 0, real(fds, nfds, timeout));
}

/*
 * __poll_chk: poll in a program built with _FORTIFY_SOURCE, given the size of
 * the array as the compiler knows it; aborts the program (__chk_fail) when
 * nfds entries do not fit, else is poll. weft leaves that check to the real
 * function (each call below is the real __poll_chk) and otherwise does what
 * it does for poll.
 */
WEFT_EXPORT int __poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen)
{
	WEFT_REAL_OR_FAIL(__poll_chk);
	struct weft_thread *self;
	int rc;

	if (timeout == 0 || fdslen / sizeof(*fds) < nfds ||
	    !(self = weft_hook_thread(WEFT_HOOK_POLL)))
		return real(fds, nfds, timeout, fdslen);
	if ((rc = real(fds, nfds, 0, fdslen)) != 0)
		return rc;
	POLL_WAIT(self, nfds ? fds[0].fd : 0, real(fds, nfds, timeout, fdslen));
}

/* Whether a timespec is one the kernel accepts as a timeout (else EINVAL). */
static bool ts_valid(const struct timespec *ts)
{
	return ts->tv_sec >= 0 && (unsigned long)ts->tv_nsec < 1000000000UL;
}

static bool ts_zero(const struct timespec *ts)
{
	return ts->tv_sec == 0 && ts->tv_nsec == 0;
}

/*
 * ppoll: poll with a timespec timeout (NULL: forever) and, when sigmask is
 * not NULL, that signal mask in force for the call alone, set and restored
 * atomically by the kernel. weft's try uses the same mask, so a signal it
 * unblocks that is already pending interrupts the try (EINTR), as it would
 * the call; one that arrives after the try finds it blocked again, pending
 * for the blocking call.
 */
WEFT_EXPORT int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
		      const sigset_t *sigmask)
{
	WEFT_REAL_OR_FAIL(ppoll);
	static const struct timespec zero;
	struct weft_thread *self;
	int rc;

	/* glibc copies *tmo before the system call: reading it is what it does. */
	if ((tmo && (!ts_valid(tmo) || ts_zero(tmo))) || !(self = weft_hook_thread(WEFT_HOOK_POLL)))
		return real(fds, nfds, tmo, sigmask);
	if ((rc = real(fds, nfds, &zero, sigmask)) != 0)
		return rc;
	POLL_WAIT(self, nfds ? fds[0].fd : 0, real(fds, nfds, tmo, sigmask));
}

/* __ppoll_chk: ppoll in a fortified program (see __poll_chk). */
WEFT_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
			    const sigset_t *sigmask, size_t fdslen)
{
	WEFT_REAL_OR_FAIL(__ppoll_chk);
	static const struct timespec zero;
	struct weft_thread *self;
	int rc;

	if ((tmo && (!ts_valid(tmo) || ts_zero(tmo))) || fdslen / sizeof(*fds) < nfds ||
	    !(self = weft_hook_thread(WEFT_HOOK_POLL)))
		return real(fds, nfds, tmo, sigmask, fdslen);
	if ((rc = real(fds, nfds, &zero, sigmask, fdslen)) != 0)
		return rc;
	POLL_WAIT(self, nfds ? fds[0].fd : 0, real(fds, nfds, tmo, sigmask, fdslen));
}

/* ---------------------------------------------------------------- select */

/*
 * What select and pselect share: the program's sets saved before the try, and
 * put back when the try, finding nothing ready, has cleared them. The kernel
 * reads (and clears) FDS_BYTES(nfds), whole longs; at most FD_SETSIZE bits
 * here (more: see sets_save).
 */
struct select_sets {
	fd_set *set[3];
	size_t bytes;
	unsigned long saved[3][FD_SETSIZE / (8 * sizeof(unsigned long))];
};

/*
 * Saves the sets; false when the call must go to the real function untried:
 * nfds out of range (negative: EINVAL at once; above FD_SETSIZE, sets larger
 * than fd_set that a program allocated itself, not saved here), or a set the
 * kernel could not read (EFAULT at once).
 */
static bool sets_save(struct select_sets *s, int nfds, fd_set *r, fd_set *w, fd_set *e)
{
	s->set[0] = r;
	s->set[1] = w;
	s->set[2] = e;
	if (nfds < 0 || nfds > FD_SETSIZE)
		return false;
	s->bytes = ((size_t)nfds + 8 * sizeof(unsigned long) - 1) / (8 * sizeof(unsigned long)) *
		   sizeof(unsigned long);
	for (int i = 0; i < 3; i++) {
		if (!s->set[i] || !s->bytes)
			continue;
		if (!poll_readable(s->set[i], s->bytes))
			return false;
		memcpy(s->saved[i], s->set[i], s->bytes);
	}
	return true;
}

/*
 * The try cleared the sets (the kernel wrote them: they are writable); puts
 * them back and returns the lowest descriptor they hold, the wait's object.
 */
static int sets_restore(const struct select_sets *s)
{
	size_t words = s->bytes / sizeof(unsigned long);
	int lowest = -1;

	for (int i = 0; i < 3; i++) {
		if (!s->set[i])
			continue;
		memcpy(s->set[i], s->saved[i], s->bytes);
		for (size_t k = 0; k < words; k++) {
			int fd;

			if (!s->saved[i][k])
				continue;
			fd = (int)(k * 8 * sizeof(unsigned long)) + __builtin_ctzl(s->saved[i][k]);
			if (lowest < 0 || fd < lowest)
				lowest = fd;
			break;
		}
	}
	return lowest < 0 ? 0 : lowest;
}

/*
 * select leaves the time not slept in *tv (Linux's select does, and glibc's
 * wrapper copies it back after every system call, success or failure). A
 * call that the try answered never slept: its timeval gets what the kernel
 * would have left there, the timeout less the time the call took (the try's,
 * measured around it), in whole microseconds, never below zero. (A timeout so
 * large that the kernel saturates its deadline, some 292 years, is not
 * mimicked.)
 */
static void select_remaining(struct timeval *tv, long sec, long usec, uint64_t took)
{
	long long rs = sec + usec / 1000000, rns = (long long)(usec % 1000000) * 1000;

	rs -= (long long)(took / 1000000000u);
	rns -= (long long)(took % 1000000000u);
	if (rns < 0) {
		rns += 1000000000;
		rs--;
	}
	if (rs < 0)
		rs = rns = 0;
	tv->tv_sec = rs;
	tv->tv_usec = rns / 1000;
}

/*
 * select: waits until a descriptor of the three sets is ready or the timeout
 * passes (NULL: forever); returns the number of ready descriptors, leaving
 * only those in the sets, 0 on timeout (sets cleared), or -1 with errno
 * (EBADF, EINTR, EINVAL, ENOMEM); on Linux it also leaves the time not slept
 * in *tv. weft saves the sets, tries with a zero timeout on the program's own
 * sets (so a ready answer is the kernel's, written where the kernel writes
 * it), and, when nothing was ready, restores them and times the real call.
 */
WEFT_EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	WEFT_REAL_OR_FAIL(select);
	struct weft_thread *self;
	struct select_sets s;
	struct timeval zero = { 0, 0 };
	long sec = 0, usec = 0;
	uint64_t t0 = 0;
	int rc, saved;

	if (!(self = weft_hook_thread(WEFT_HOOK_POLL)))
		return real(nfds, r, w, e, tv);
	/* glibc reads *tv before the system call: reading it is what it does. */
	if (tv) {
		sec = tv->tv_sec;
		usec = tv->tv_usec;
		if (sec < 0 || usec < 0 || (sec == 0 && usec == 0))
			return real(nfds, r, w, e, tv); /* EINVAL, or no wait */
	}
	if (!sets_save(&s, nfds, r, w, e))
		return real(nfds, r, w, e, tv);
	if (tv)
		t0 = weft_clock_now();
	if ((rc = real(nfds, r, w, e, &zero)) != 0) {
		if (tv) {
			saved = errno;
			select_remaining(tv, sec, usec, weft_clock_now() - t0);
			errno = saved;
		}
		return rc;
	}
	POLL_WAIT(self, sets_restore(&s), real(nfds, r, w, e, tv));
}

/*
 * pselect: select with a timespec timeout that it leaves alone (glibc passes
 * the kernel a copy) and, when sigmask is not NULL, that signal mask in force
 * for the call alone, atomically. The try uses the program's mask (see ppoll).
 */
WEFT_EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *tmo,
			const sigset_t *sigmask)
{
	WEFT_REAL_OR_FAIL(pselect);
	static const struct timespec zero;
	struct weft_thread *self;
	struct select_sets s;
	int rc;

	/* glibc copies *tmo before the system call: reading it is what it does. */
	if ((tmo && (!ts_valid(tmo) || ts_zero(tmo))) ||
	    !(self = weft_hook_thread(WEFT_HOOK_POLL)) || !sets_save(&s, nfds, r, w, e))
		return real(nfds, r, w, e, tmo, sigmask);
	if ((rc = real(nfds, r, w, e, &zero, sigmask)) != 0)
		return rc;
	POLL_WAIT(self, sets_restore(&s), real(nfds, r, w, e, tmo, sigmask));
}

/* ----------------------------------------------------------------- epoll */

/*
 * epoll_wait: waits up to `timeout` ms (negative: forever) for events on the
 * epoll instance epfd; returns how many it stored in `events` (at most
 * maxevents), 0 on timeout, or -1 with errno (EBADF, EFAULT, EINTR, EINVAL).
 * weft tries it with a zero timeout (which consumes nothing the blocking call
 * would not: an edge-triggered or one-shot event the try reports is the
 * program's result) and times only a call that found nothing ready.
 */
WEFT_EXPORT int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
	WEFT_REAL_OR_FAIL(epoll_wait);
	struct weft_thread *self;
	int rc;

	if (timeout == 0 || !(self = weft_hook_thread(WEFT_HOOK_POLL)))
		return real(epfd, events, maxevents, timeout);
	if ((rc = real(epfd, events, maxevents, 0)) != 0)
		return rc;
	POLL_WAIT(self, epfd, real(epfd, events, maxevents, timeout));
}

/* epoll_pwait: epoll_wait with a signal mask for the call alone (see ppoll). */
WEFT_EXPORT int epoll_pwait(int epfd, struct epoll_event *events, int maxevents, int timeout,
			    const sigset_t *sigmask)
{
	WEFT_REAL_OR_FAIL(epoll_pwait);
	struct weft_thread *self;
	int rc;

	if (timeout == 0 || !(self = weft_hook_thread(WEFT_HOOK_POLL)))
		return real(epfd, events, maxevents, timeout, sigmask);
	if ((rc = real(epfd, events, maxevents, 0, sigmask)) != 0)
		return rc;
	POLL_WAIT(self, epfd, real(epfd, events, maxevents, timeout, sigmask));
}

/*
 * epoll_pwait2: epoll_pwait with a timespec timeout (NULL: forever), which
 * glibc hands to the kernel as it is: the kernel reads it first (EFAULT,
 * then EINVAL if malformed), so the hook reads it only once it knows it can.
 */
WEFT_EXPORT int epoll_pwait2(int epfd, struct epoll_event *events, int maxevents,
			     const struct timespec *tmo, const sigset_t *sigmask)
{
	WEFT_REAL_OR_FAIL(epoll_pwait2);
	static const struct timespec zero;
	struct weft_thread *self;
	int rc;

	if (!(self = weft_hook_thread(WEFT_HOOK_POLL)) ||
	    (tmo && (!poll_readable(tmo, sizeof(*tmo)) || !ts_valid(tmo) || ts_zero(tmo))))
		return real(epfd, events, maxevents, tmo, sigmask);
	if ((rc = real(epfd, events, maxevents, &zero, sigmask)) != 0)
		return rc;
	POLL_WAIT(self, epfd, real(epfd, events, maxevents, tmo, sigmask));
}
