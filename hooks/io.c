/*
 * Channel hooks: pipes, FIFOs, eventfds and socketpairs (agent/channel.h).
 *
 * The creating calls make a channel of their descriptors; an open of a path
 * the program made with mkfifo joins that FIFO's channel. The transfers —
 * read, write, readv, writev, recv, send, recvfrom, sendto, their fortified
 * forms and splice — ask the descriptor table first: a descriptor that is no
 * channel (a file, a socket, a terminal) costs that one lookup and the real
 * call, nothing else. A channel transfer goes through weft_chan_io, which
 * makes the program's own call (with its own arguments; a non-blocking
 * attempt first only on a channel shared with another process), so return
 * values, errno, short transfers, EINTR, EAGAIN, EPIPE and SIGPIPE are the
 * real call's.
 *
 * Each hook saves errno around weft's own work and never allocates: the
 * tables grow with mmap. read and write are async-signal-safe and stay so:
 * the accounting is atomic operations and a ring record.
 */
/*
 * The build's _FILE_OFFSET_BITS=64 would make libc's headers rename open and
 * openat to open64 and openat64 (asm labels): this file defines both names
 * itself, so it sees the plain declarations.
 */
#undef _FILE_OFFSET_BITS

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "agent/channel.h"
#include "agent/hot.h"
#include "hooks/hook.h"
#include "hooks/xfer.h"

/* ------------------------------------------------------------ creation */

static void created(enum weft_chan_kind kind, const int *fds, int n, int flags, uint64_t initial,
		    const void *pc)
{
	int saved = errno;

	if (weft_hook_thread(WEFT_HOOK_FD))
		weft_chan_create(kind, fds, n, flags, initial, pc);
	errno = saved;
}

/* pipe: two descriptors, read end first; 0 or -1 with errno (EFAULT, EMFILE, ENFILE). */
WEFT_EXPORT int pipe(int fds[2])
{
	WEFT_REAL_OR_FAIL(pipe);
	int r = real(fds);

	if (r == 0)
		created(WEFT_CHAN_PIPE, fds, 2, 0, 0, WEFT_CALLER);
	return r;
}

/* pipe2: pipe with O_CLOEXEC, O_NONBLOCK, O_DIRECT; EINVAL for others. */
WEFT_EXPORT int pipe2(int fds[2], int flags)
{
	WEFT_REAL_OR_FAIL(pipe2);
	int r = real(fds, flags);

	if (r == 0)
		created(WEFT_CHAN_PIPE, fds, 2, flags, 0, WEFT_CALLER);
	return r;
}

/* eventfd: a descriptor, or -1 with errno (EINVAL, EMFILE, ENFILE, ENODEV, ENOMEM). */
WEFT_EXPORT int eventfd(unsigned int initval, int flags)
{
	WEFT_REAL_OR_FAIL(eventfd);
	int r = real(initval, flags);

	if (r >= 0)
		created(WEFT_CHAN_EVENTFD, &r, 1, flags, initval, WEFT_CALLER);
	return r;
}

/*
 * socketpair: two connected sockets in sv; 0 or -1 with errno. Only AF_UNIX
 * pairs exist; each is a channel with a queue per direction.
 */
WEFT_EXPORT int socketpair(int domain, int type, int protocol, int sv[2])
{
	WEFT_REAL_OR_FAIL(socketpair);
	int r = real(domain, type, protocol, sv);

	if (r == 0)
		created(WEFT_CHAN_SOCKETPAIR, sv, 2, (type & SOCK_NONBLOCK) ? O_NONBLOCK : 0, 0,
			WEFT_CALLER);
	return r;
}

static void fifo_made(const char *path, const void *pc)
{
	int saved = errno;

	if (weft_hook_thread(WEFT_HOOK_FD))
		weft_chan_fifo_made(path, pc);
	errno = saved;
}

/* mkfifo: 0 or -1 with errno (EEXIST, ENOENT, EACCES, ...); the path is remembered. */
WEFT_EXPORT int mkfifo(const char *path, mode_t mode)
{
	WEFT_REAL_OR_FAIL(mkfifo);
	int r = real(path, mode);

	if (r == 0)
		fifo_made(path, WEFT_CALLER);
	return r;
}

/* mkfifoat: mkfifo relative to dirfd; the path is remembered as given. */
WEFT_EXPORT int mkfifoat(int dirfd, const char *path, mode_t mode)
{
	WEFT_REAL_OR_FAIL(mkfifoat);
	int r = real(dirfd, path, mode);

	if (r == 0)
		fifo_made(path, WEFT_CALLER);
	return r;
}

/* mknod: a FIFO when mode says S_IFIFO (remembered), else any node, unchanged. */
WEFT_EXPORT int mknod(const char *path, mode_t mode, dev_t dev)
{
	WEFT_REAL_OR_FAIL(mknod);
	int r = real(path, mode, dev);

	if (r == 0 && S_ISFIFO(mode))
		fifo_made(path, WEFT_CALLER);
	return r;
}

/* mknodat: mknod relative to dirfd. */
WEFT_EXPORT int mknodat(int dirfd, const char *path, mode_t mode, dev_t dev)
{
	WEFT_REAL_OR_FAIL(mknodat);
	int r = real(dirfd, path, mode, dev);

	if (r == 0 && S_ISFIFO(mode))
		fifo_made(path, WEFT_CALLER);
	return r;
}

/* ------------------------------------------------------------ opens (FIFOs) */

static int opened(int fd, const char *path, int flags)
{
	int saved = errno;

	if (fd >= 0 && !weft_guard_active())
		weft_chan_fifo_open(path, fd, flags);
	errno = saved;
	return fd;
}

/* The mode argument exists only with O_CREAT or O_TMPFILE. */
#define OPEN_MODE(flags, last)                                                                     \
	__extension__({                                                                            \
		mode_t m_ = 0;                                                                     \
		if ((flags) & (O_CREAT | O_TMPFILE)) {                                             \
			va_list ap_;                                                               \
			va_start(ap_, last);                                                       \
			m_ = va_arg(ap_, mode_t);                                                  \
			va_end(ap_);                                                               \
		}                                                                                  \
		m_;                                                                                \
	})

/*
 * open, open64, openat, openat64 and the fortified __open_2 family: the real
 * call, unchanged (a cancellation point; every errno its own). A descriptor
 * opened on a path the program made with mkfifo joins that FIFO's channel.
 */
WEFT_EXPORT int open(const char *path, int flags, ...)
{
	WEFT_REAL_OR_FAIL(open);
	return opened(real(path, flags, OPEN_MODE(flags, flags)), path, flags);
}

WEFT_EXPORT int open64(const char *path, int flags, ...)
{
	WEFT_REAL_OR_FAIL(open64);
	return opened(real(path, flags, OPEN_MODE(flags, flags)), path, flags);
}

WEFT_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	WEFT_REAL_OR_FAIL(openat);
	return opened(real(dirfd, path, flags, OPEN_MODE(flags, flags)), path, flags);
}

WEFT_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	WEFT_REAL_OR_FAIL(openat64);
	return opened(real(dirfd, path, flags, OPEN_MODE(flags, flags)), path, flags);
}

WEFT_EXPORT int __open_2(const char *path, int flags)
{
	WEFT_REAL_OR_FAIL(__open_2);
	return opened(real(path, flags), path, flags);
}

WEFT_EXPORT int __open64_2(const char *path, int flags)
{
	WEFT_REAL_OR_FAIL(__open64_2);
	return opened(real(path, flags), path, flags);
}

WEFT_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	WEFT_REAL_OR_FAIL(__openat_2);
	return opened(real(dirfd, path, flags), path, flags);
}

WEFT_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	WEFT_REAL_OR_FAIL(__openat64_2);
	return opened(real(dirfd, path, flags), path, flags);
}

/* ------------------------------------------------------------ transfers */

size_t weft_hook_iov_total(const struct iovec *iov, size_t n)
{
	size_t total = 0;

	for (size_t i = 0; i < n && i < 1024; i++)
		total += iov[i].iov_len;
	return total;
}

/* The non-blocking attempt of a read-like call: one preadv2 with RWF_NOWAIT. */
static ssize_t read_nowait(int fd, const struct iovec *iov, int n)
{
	return preadv2(fd, iov, n, -1, RWF_NOWAIT);
}

static WEFT_HOT ssize_t call_read(struct weft_chan_op *op, bool nowait)
{
	struct weft_xfer *x = op->args;

	if (__builtin_expect(nowait, 0)) {
		struct iovec iov = { x->buf, x->n };

		return read_nowait(op->fd, &iov, 1);
	}
	return WEFT_REAL(read)(op->fd, x->buf, x->n);
}

static ssize_t call_read_chk(struct weft_chan_op *op, bool nowait)
{
	struct weft_xfer *x = op->args;
	struct iovec iov = { x->buf, x->n };

	return nowait ? read_nowait(op->fd, &iov, 1)
		      : WEFT_REAL(__read_chk)(op->fd, x->buf, x->n, x->buflen);
}

static ssize_t call_readv(struct weft_chan_op *op, bool nowait)
{
	struct weft_xfer *x = op->args;

	return nowait ? read_nowait(op->fd, x->iov, x->iovcnt)
		      : WEFT_REAL(readv)(op->fd, x->iov, x->iovcnt);
}

static WEFT_HOT ssize_t call_write(struct weft_chan_op *op, bool nowait)
{
	struct weft_xfer *x = op->args;

	(void)nowait;
	return WEFT_REAL(write)(op->fd, x->buf, x->n);
}

static ssize_t call_writev(struct weft_chan_op *op, bool nowait)
{
	struct weft_xfer *x = op->args;

	(void)nowait;
	return WEFT_REAL(writev)(op->fd, x->iov, x->iovcnt);
}

static ssize_t call_recvfrom(struct weft_chan_op *op, bool nowait)
{
	struct weft_xfer *x = op->args;
	int flags = x->flags | (nowait ? MSG_DONTWAIT : 0);

	return WEFT_REAL(recvfrom)(op->fd, x->buf, x->n, flags, x->addr, x->addrlen);
}

static ssize_t call_sendto(struct weft_chan_op *op, bool nowait)
{
	struct weft_xfer *x = op->args;

	(void)nowait;
	return WEFT_REAL(sendto)(op->fd, x->buf, x->n, x->flags, x->to, x->tolen);
}

/* read on a channel: out of line, so that the common path stays a lookup and a call. */
static WEFT_HOT __attribute__((noinline)) ssize_t slow_read(uint32_t e, const void *pc, int fd,
							    void *buf, size_t n)
{
	struct weft_xfer x = { .buf = buf, .n = n };

	return weft_hook_xfer(fd, e, false, call_read, &x, n, pc);
}

/*
 * read: up to n bytes into buf; the count (0 at end of file), or -1 with
 * errno (EAGAIN, EBADF, EFAULT, EINTR, EINVAL, EIO, EISDIR). A cancellation
 * point; async-signal-safe.
 */
WEFT_EXPORT WEFT_HOT ssize_t read(int fd, void *buf, size_t n)
{
	WEFT_REAL_OR_FAIL(read);
	uint32_t e = weft_chan_fd(fd);

	if (__builtin_expect(e == 0, 1))
		return real(fd, buf, n);
	return slow_read(e, WEFT_CALLER, fd, buf, n);
}

/* __read_chk on a channel: out of line, so that the common path stays a lookup and a call. */
static __attribute__((noinline)) ssize_t slow_read_chk(uint32_t e, const void *pc, int fd,
						       void *buf, size_t n, size_t buflen)
{
	struct weft_xfer x = { .buf = buf, .n = n, .buflen = buflen };

	return weft_hook_xfer(fd, e, false, call_read_chk, &x, n, pc);
}

/*
 * __read_chk: read for _FORTIFY_SOURCE programs; aborts (the real function
 * does) when n exceeds the buffer's size.
 */
WEFT_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	WEFT_REAL_OR_FAIL(__read_chk);
	uint32_t e = weft_chan_fd(fd);

	if (__builtin_expect(e == 0, 1) || n > buflen)
		return real(fd, buf, n, buflen);
	return slow_read_chk(e, WEFT_CALLER, fd, buf, n, buflen);
}

/* readv on a channel: out of line, so that the common path stays a lookup and a call. */
static __attribute__((noinline)) ssize_t slow_readv(uint32_t e, const void *pc, int fd,
						    const struct iovec *iov, int iovcnt)
{
	struct weft_xfer x = { .iov = iov, .iovcnt = iovcnt };

	return weft_hook_xfer(fd, e, false, call_readv, &x,
			      weft_hook_iov_total(iov, (size_t)iovcnt), pc);
}

/* readv: read into iovcnt buffers; as read, plus EINVAL for a bad vector. */
WEFT_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	WEFT_REAL_OR_FAIL(readv);
	uint32_t e = weft_chan_fd(fd);

	if (__builtin_expect(e == 0, 1) || iovcnt <= 0 || iovcnt > 1024)
		return real(fd, iov, iovcnt);
	return slow_readv(e, WEFT_CALLER, fd, iov, iovcnt);
}

/* write on a channel: out of line, so that the common path stays a lookup and a call. */
static WEFT_HOT __attribute__((noinline)) ssize_t slow_write(uint32_t e, const void *pc, int fd,
							     const void *buf, size_t n)
{
	struct weft_xfer x = { .buf = (void *)buf, .n = n };

	return weft_hook_xfer(fd, e, true, call_write, &x, n, pc);
}

/*
 * write: up to n bytes from buf; the count, or -1 with errno (EAGAIN, EBADF,
 * EFAULT, EINTR, EINVAL, EIO, ENOSPC, EPIPE — with SIGPIPE, as natively). A
 * cancellation point; async-signal-safe.
 */
WEFT_EXPORT WEFT_HOT ssize_t write(int fd, const void *buf, size_t n)
{
	WEFT_REAL_OR_FAIL(write);
	uint32_t e = weft_chan_fd(fd);

	if (__builtin_expect(e == 0, 1))
		return real(fd, buf, n);
	return slow_write(e, WEFT_CALLER, fd, buf, n);
}

/* writev on a channel: out of line, so that the common path stays a lookup and a call. */
static __attribute__((noinline)) ssize_t slow_writev(uint32_t e, const void *pc, int fd,
						     const struct iovec *iov, int iovcnt)
{
	struct weft_xfer x = { .iov = iov, .iovcnt = iovcnt };

	return weft_hook_xfer(fd, e, true, call_writev, &x,
			      weft_hook_iov_total(iov, (size_t)iovcnt), pc);
}

/* writev: write from iovcnt buffers; as write. */
WEFT_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	WEFT_REAL_OR_FAIL(writev);
	uint32_t e = weft_chan_fd(fd);

	if (__builtin_expect(e == 0, 1) || iovcnt <= 0 || iovcnt > 1024)
		return real(fd, iov, iovcnt);
	return slow_writev(e, WEFT_CALLER, fd, iov, iovcnt);
}

/*
 * A receive on a channel: MSG_PEEK takes nothing (not counted); MSG_DONTWAIT
 * never blocks (never a wait).
 */
static ssize_t chan_recv(int fd, uint32_t e, struct weft_xfer *x, const void *pc)
{
	if (x->flags & MSG_PEEK)
		e = 0;
	if (x->flags & MSG_DONTWAIT)
		e |= WEFT_CHAN_NONBLOCK;
	if (!weft_chan_entry_id(e))
		return WEFT_REAL(recvfrom)(fd, x->buf, x->n, x->flags, x->addr, x->addrlen);
	return weft_hook_xfer(fd, e, false, call_recvfrom, x, x->n, pc);
}

/* recv on a channel: out of line, so that the common path stays a lookup and a call. */
static __attribute__((noinline)) ssize_t slow_recv(uint32_t e, const void *pc, int fd, void *buf,
						   size_t n, int flags)
{
	struct weft_xfer x = { .buf = buf, .n = n, .flags = flags };

	return chan_recv(fd, e, &x, pc);
}

/*
 * recv, recvfrom: receive up to n bytes; the count (0 at orderly shutdown),
 * or -1 with errno (EAGAIN, EBADF, ECONNREFUSED, EFAULT, EINTR, EINVAL,
 * ENOMEM, ENOTCONN, ENOTSOCK). Cancellation points. recv is recvfrom without
 * an address; both go to the real recvfrom on a channel.
 */
WEFT_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	WEFT_REAL_OR_FAIL(recv);
	uint32_t e = weft_chan_fd(fd);

	if (__builtin_expect(e == 0, 1))
		return real(fd, buf, n, flags);
	return slow_recv(e, WEFT_CALLER, fd, buf, n, flags);
}

/* recvfrom on a channel: out of line, so that the common path stays a lookup and a call. */
static __attribute__((noinline)) ssize_t slow_recvfrom(uint32_t e, const void *pc, int fd,
						       void *buf, size_t n, int flags,
						       __SOCKADDR_ARG addr, socklen_t *addrlen)
{
	struct weft_xfer x = {
		.buf = buf, .n = n, .flags = flags, .addr = addr, .addrlen = addrlen
	};

	return chan_recv(fd, e, &x, pc);
}

WEFT_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, __SOCKADDR_ARG addr,
			     socklen_t *addrlen)
{
	WEFT_REAL_OR_FAIL(recvfrom);
	uint32_t e = weft_chan_fd(fd);

	if (__builtin_expect(e == 0, 1))
		return real(fd, buf, n, flags, addr, addrlen);
	return slow_recvfrom(e, WEFT_CALLER, fd, buf, n, flags, addr, addrlen);
}

/* __recv_chk on a channel: out of line, so that the common path stays a lookup and a call. */
static __attribute__((noinline)) ssize_t
slow_recv_chk(uint32_t e, const void *pc, int fd, void *buf, size_t n, size_t buflen, int flags)
{
	struct weft_xfer x = { .buf = buf, .n = n, .flags = flags };

	return chan_recv(fd, e, &x, pc);
}

/* __recv_chk, __recvfrom_chk: the fortified forms; abort (the real ones do) past buflen. */
WEFT_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	WEFT_REAL_OR_FAIL(__recv_chk);
	uint32_t e = weft_chan_fd(fd);

	if (__builtin_expect(e == 0, 1) || n > buflen)
		return real(fd, buf, n, buflen, flags);
	return slow_recv_chk(e, WEFT_CALLER, fd, buf, n, buflen, flags);
}

/* __recvfrom_chk on a channel: out of line, so that the common path stays a lookup and a call. */
static __attribute__((noinline)) ssize_t slow_recvfrom_chk(uint32_t e, const void *pc, int fd,
							   void *buf, size_t n, size_t buflen,
							   int flags, __SOCKADDR_ARG addr,
							   socklen_t *addrlen)
{
	struct weft_xfer x = {
		.buf = buf, .n = n, .flags = flags, .addr = addr, .addrlen = addrlen
	};

	return chan_recv(fd, e, &x, pc);
}

WEFT_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
				   __SOCKADDR_ARG addr, socklen_t *addrlen)
{
	WEFT_REAL_OR_FAIL(__recvfrom_chk);
	uint32_t e = weft_chan_fd(fd);

	if (__builtin_expect(e == 0, 1) || n > buflen)
		return real(fd, buf, n, buflen, flags, addr, addrlen);
	return slow_recvfrom_chk(e, WEFT_CALLER, fd, buf, n, buflen, flags, addr, addrlen);
}

/* send on a channel: out of line, so that the common path stays a lookup and a call. */
static __attribute__((noinline)) ssize_t slow_send(uint32_t e, const void *pc, int fd,
						   const void *buf, size_t n, int flags)
{
	struct weft_xfer x = { .buf = (void *)buf, .n = n, .flags = flags };

	return weft_hook_xfer(fd, e, true, call_sendto, &x, n, pc);
}

/*
 * send, sendto: send n bytes; the count, or -1 with errno (EAGAIN, EBADF,
 * ECONNRESET, EINTR, EMSGSIZE, ENOBUFS, EPIPE with SIGPIPE unless
 * MSG_NOSIGNAL, ...). Cancellation points. Both go to the real sendto on a
 * channel.
 */
WEFT_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	WEFT_REAL_OR_FAIL(send);
	uint32_t e = weft_chan_fd(fd);

	if (__builtin_expect(e == 0, 1))
		return real(fd, buf, n, flags);
	return slow_send(e, WEFT_CALLER, fd, buf, n, flags);
}

/* sendto on a channel: out of line, so that the common path stays a lookup and a call. */
static __attribute__((noinline)) ssize_t slow_sendto(uint32_t e, const void *pc, int fd,
						     const void *buf, size_t n, int flags,
						     __CONST_SOCKADDR_ARG to, socklen_t tolen)
{
	struct weft_xfer x = {
		.buf = (void *)buf, .n = n, .flags = flags, .to = to, .tolen = tolen
	};

	return weft_hook_xfer(fd, e, true, call_sendto, &x, n, pc);
}

WEFT_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, __CONST_SOCKADDR_ARG to,
			   socklen_t tolen)
{
	WEFT_REAL_OR_FAIL(sendto);
	uint32_t e = weft_chan_fd(fd);

	if (__builtin_expect(e == 0, 1))
		return real(fd, buf, n, flags, to, tolen);
	return slow_sendto(e, WEFT_CALLER, fd, buf, n, flags, to, tolen);
}

/*
 * splice: moves up to len bytes between two descriptors, one of them a pipe;
 * the count, or -1 with errno. Bytes into or out of a channel are counted
 * (it is not timed as a wait).
 */
WEFT_EXPORT ssize_t splice(int fd_in, off64_t *off_in, int fd_out, off64_t *off_out, size_t len,
			   unsigned int flags)
{
	WEFT_REAL_OR_FAIL(splice);
	ssize_t r = real(fd_in, off_in, fd_out, off_out, len, flags);

	if (r > 0 && (weft_chan_fd(fd_in) || weft_chan_fd(fd_out))) {
		int saved = errno;

		weft_chan_spliced(fd_in, fd_out, r);
		errno = saved;
	}
	return r;
}
