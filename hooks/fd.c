/*
 * Descriptor hooks: the calls that could close or replace weft's own
 * descriptors (agent/fd.h). weft keeps its files, sockets and its copy of
 * stderr at high numbers the program never opened; a program that closes
 * descriptors it does not own — a double close, close_range(3, ~0U, 0),
 * closefrom(3) before exec or after daemonising — must not close them, and
 * must see exactly what it would see without weft: its call succeeds, as if
 * the descriptor had been closed.
 *
 * They also keep the channel table (agent/channel.h) in step with the
 * program's descriptors: a closed channel descriptor leaves the table before
 * the real close (after it, the number could already be another thread's new
 * descriptor), a duplicate joins it after the real call succeeded. Their
 * common path is one load and one compare (weft_fd_maybe_owned: is the number
 * at least the lowest owned one?), one table lookup, then the real call. close must stay
 * async-signal-safe: the slow path only reads the table and, while weft is changing it on another
 * thread, yields.
 *
 * A symbol that cannot be resolved falls back to the system call itself (the
 * rows' fallbacks, agent/real.c): these are thin wrappers over one system
 * call each, and failing a close with ENOSYS would leak the program's
 * descriptor.
 */
/* fcntl and fcntl64 are both defined here: no renaming by _FILE_OFFSET_BITS (hooks/io.c). */
#undef _FILE_OFFSET_BITS

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <limits.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/channel.h"
#include "agent/fd.h"
#include "agent/guard.h"
#include "hooks/hook.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/*
 * At load, once the agent is initialised (and not disabled): weft's copy of
 * the program's stderr and the output directory (agent/fd.h). Here rather
 * than in the agent's initialisation so that the unit tests, which link the
 * agent without the hooks, keep descriptor 2 as weft's stderr.
 */
__attribute__((constructor)) static void fd_hooks_init(void)
{
	int saved = errno;

	if (weft_agent_init()) {
		weft_guard_enter();
		weft_fd_init(weft_cfg.output_path);
		weft_guard_leave();
	}
	errno = saved;
}

static int real_close(int fd)
{
	return WEFT_REAL(close)(fd);
}

static int real_close_range(unsigned int first, unsigned int last, int flags)
{
	return WEFT_REAL(close_range)(first, last, flags);
}

/*
 * close: releases fd; returns 0, or -1 with errno (EBADF, EINTR, EIO). A
 * cancellation point. weft's own descriptor is left open and the call
 * returns 0 with errno untouched, as a successful close does; anything else
 * goes to the real close unchanged. Before descriptor 2 is closed, weft's
 * stderr stops being it (weft_fd_stderr_closing, agent/fd.h).
 */
WEFT_EXPORT int close(int fd)
{
	if (weft_fd_maybe_owned(fd) && weft_fd_is_owned(fd))
		return 0;
	if (fd == STDERR_FILENO)
		weft_fd_stderr_closing();
	if (weft_chan_fd(fd))
		weft_chan_closed(fd);
	return real_close(fd);
}

/*
 * Closes [first, last] on the real call, skipping weft's descriptors: one
 * real call per stretch between them. Returns the first failure, or 0.
 */
static int close_stretches(unsigned int first, unsigned int last, int flags)
{
	unsigned int lo = first;
	int r = 0;

	while (lo <= last) {
		int next = lo > INT_MAX ? INT_MAX : weft_fd_next_owned((int)lo);

		if (next == INT_MAX || (unsigned int)next > last)
			return real_close_range(lo, last, flags);
		if ((unsigned int)next > lo &&
		    (r = real_close_range(lo, (unsigned)next - 1, flags)))
			return r;
		lo = (unsigned int)next + 1;
	}
	return r;
}

/*
 * close_range: closes every descriptor in [first, last] (or, with
 * CLOSE_RANGE_CLOEXEC, marks them close-on-exec; CLOSE_RANGE_UNSHARE first
 * gives the process its own table); returns 0, or -1 with EINVAL (first >
 * last, unknown flags) or ENOMEM. weft's descriptors inside the range stay
 * open: the range is closed around them. Marking close-on-exec is harmless to
 * them (they are already), so that call goes through whole. A range over
 * descriptor 2 lets go of it as close(2) does.
 */
WEFT_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	unsigned int top = last > INT_MAX ? INT_MAX : last;

	if (first <= last && !(flags & CLOSE_RANGE_CLOEXEC)) {
		weft_chan_closed_range(first, last);
		if (first <= STDERR_FILENO && last >= STDERR_FILENO)
			weft_fd_stderr_closing();
	}
	if (first > last || (flags & CLOSE_RANGE_CLOEXEC) || !weft_fd_maybe_owned((int)top))
		return real_close_range(first, last, flags);
	return close_stretches(first, last, flags);
}

/*
 * closefrom: closes every descriptor >= lowfd (a negative lowfd counts as
 * 0); returns nothing and never fails (glibc aborts when it cannot). weft's
 * descriptors stay open; the stretches between them are closed with
 * close_range, one by one when the kernel lacks close_range. From 2 or below,
 * it lets go of descriptor 2 as close(2) does.
 */
WEFT_EXPORT void closefrom(int lowfd)
{
	__typeof__(weft_real.closefrom) real = WEFT_REAL(closefrom);
	unsigned int lo = lowfd < 0 ? 0 : (unsigned int)lowfd;
	int next;

	weft_chan_closed_range(lo, ~0u);
	if (lo <= STDERR_FILENO)
		weft_fd_stderr_closing();
	while (weft_fd_maybe_owned(INT_MAX) && (next = weft_fd_next_owned((int)lo)) != INT_MAX) {
		for (unsigned int fd = lo; fd < (unsigned int)next;) {
			if (real_close_range(fd, (unsigned int)next - 1, 0) == 0)
				break;
			real_close((int)fd++); /* no close_range: one at a time */
		}
		lo = (unsigned int)next + 1;
	}
	real((int)lo);
}

/* A duplicate was made: newfd is now what oldfd is, channel or not. */
static void dup_done(int oldfd, int newfd)
{
	int saved = errno;

	if (weft_chan_fd(oldfd) || weft_chan_fd(newfd))
		weft_chan_dup(oldfd, newfd);
	errno = saved;
}

/*
 * dup2: makes newfd a copy of oldfd, closing what newfd was; returns newfd, or
 * -1 with errno (EBADF, EBUSY, EINTR, EMFILE). The program asked for that
 * number, so it gets it: when it is weft's, weft first moves its descriptor
 * elsewhere (weft_fd_yield), then the real call runs. If the real call fails,
 * the copy weft left at newfd is closed, so the number is free as before.
 * A program that redirects its stderr (newfd 2) takes weft's messages along
 * (weft_fd_stderr_redirected), so weft never holds the old one open. Both
 * moves hold signals off while they run (agent/sighold.h): dup2 is
 * async-signal-safe, and a handler that siglongjmps out of it must find
 * nothing of weft's half done.
 */
WEFT_EXPORT int dup2(int oldfd, int newfd)
{
	WEFT_REAL_OR_FAIL(dup2);
	bool stray = false;
	int r, saved;

	if (weft_fd_maybe_owned(newfd) && oldfd != newfd && weft_fd_is_owned(newfd))
		stray = weft_fd_yield(newfd);
	r = real(oldfd, newfd);
	if (r < 0 && stray) {
		saved = errno;
		real_close(newfd);
		errno = saved;
	}
	if (r == STDERR_FILENO && oldfd != newfd)
		weft_fd_stderr_redirected();
	if (r >= 0)
		dup_done(oldfd, newfd);
	return r;
}

/*
 * dup3: dup2 with flags (O_CLOEXEC), and EINVAL when oldfd == newfd. The same
 * as dup2 above for weft's descriptors.
 */
WEFT_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	WEFT_REAL_OR_FAIL(dup3);
	bool stray = false;
	int r, saved;

	if (weft_fd_maybe_owned(newfd) && oldfd != newfd && weft_fd_is_owned(newfd))
		stray = weft_fd_yield(newfd);
	r = real(oldfd, newfd, flags);
	if (r < 0 && stray) {
		saved = errno;
		real_close(newfd);
		errno = saved;
	}
	if (r == STDERR_FILENO)
		weft_fd_stderr_redirected();
	if (r >= 0)
		dup_done(oldfd, newfd);
	return r;
}

/* dup: the lowest free descriptor as a copy of fd; or -1 with errno (EBADF, EMFILE). */
WEFT_EXPORT int dup(int fd)
{
	WEFT_REAL_OR_FAIL(dup);
	int r = real(fd);

	if (r >= 0)
		dup_done(fd, r);
	return r;
}

/*
 * What a successful fcntl changed for the channel table: F_DUPFD and
 * F_DUPFD_CLOEXEC made a duplicate, F_SETFL may have changed O_NONBLOCK,
 * F_SETPIPE_SZ the pipe's capacity (its result).
 */
static int fcntl_done(int fd, int cmd, int r)
{
	int saved = errno;

	if (r < 0 || !weft_chan_fd(fd))
		return r;
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		weft_chan_dup(fd, r);
		break;
	case F_SETFL:
		weft_chan_flags_changed(fd);
		break;
	case F_SETPIPE_SZ:
		weft_chan_resized(fd, r);
		break;
	default:
		break;
	}
	errno = saved;
	return r;
}

/*
 * The third argument of a variadic fcntl or ioctl, as it came: an int or a
 * pointer, one register either way, passed on untouched.
 */
#define PASSED_ARG(last)                                                                           \
	__extension__({                                                                            \
		va_list ap_;                                                                       \
		void *arg_;                                                                        \
		va_start(ap_, last);                                                               \
		arg_ = va_arg(ap_, void *);                                                        \
		va_end(ap_);                                                                       \
		arg_;                                                                              \
	})

/*
 * fcntl, fcntl64: the real call with the program's third argument; its
 * result and errno unchanged (a cancellation point for F_SETLKW).
 */
WEFT_EXPORT int fcntl(int fd, int cmd, ...)
{
	WEFT_REAL_OR_FAIL(fcntl);
	return fcntl_done(fd, cmd, real(fd, cmd, PASSED_ARG(cmd)));
}

WEFT_EXPORT int fcntl64(int fd, int cmd, ...)
{
	WEFT_REAL_OR_FAIL(fcntl64);
	return fcntl_done(fd, cmd, real(fd, cmd, PASSED_ARG(cmd)));
}

/*
 * ioctl: the real call, argument passed on as it came; FIONBIO on a channel
 * changed its O_NONBLOCK.
 */
WEFT_EXPORT int ioctl(int fd, unsigned long request, ...)
{
	WEFT_REAL_OR_FAIL(ioctl);
	int r = real(fd, request, PASSED_ARG(request));

	if (r == 0 && request == FIONBIO && weft_chan_fd(fd)) {
		int saved = errno;

		weft_chan_flags_changed(fd);
		errno = saved;
	}
	return r;
}

/*
 * chroot: makes path the root directory; returns 0, or -1 with errno
 * (EACCES, ENOENT, ENOTDIR, EPERM, ...). Before the real call, weft opens its
 * output directory (agent/fd.h, weft_fd_output_dir_open) so that its file can
 * still be created under the old root; that open changes nothing the program
 * sees (a number above its soft limit, or none) and the call runs unchanged.
 */
WEFT_EXPORT int chroot(const char *path)
{
	WEFT_REAL_OR_FAIL(chroot);
	weft_fd_output_dir_open();
	return real(path);
}
