/*
 * Socket hooks: connections and their transfers (agent/conn.h).
 *
 * The calls that make a socket something weft follows — socket (a datagram
 * socket), bind, listen, connect, accept, accept4 — and getsockopt, where a
 * program learns how its non-blocking connect ended; then the transfers the
 * channel hooks (hooks/io.c) do not cover: sendmsg and recvmsg (through the
 * channel code, like send and recv), sendmmsg, recvmmsg and sendfile
 * (counted, not timed).
 *
 * Every hook makes the program's own call with its own arguments, and only
 * that call: the return value, errno, the blocking, EINTR and SIGPIPE are the
 * real call's. What weft learns beyond the arguments (a socket's type, its
 * flags, its addresses) it asks the kernel once per connection with raw
 * system calls; errno is kept around all of it.
 */
/* sendfile and sendfile64 are both defined here: no renaming by _FILE_OFFSET_BITS. */
#undef _FILE_OFFSET_BITS

#include <errno.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include "agent/channel.h"
#include "agent/conn.h"
#include "agent/task.h"
#include "hooks/hook.h"
#include "hooks/xfer.h"

/* ------------------------------------------------------------ connections */

/* socket: a descriptor or -1 with errno (EAFNOSUPPORT, EINVAL, EMFILE, ENOBUFS, ...). */
WEFT_EXPORT int socket(int domain, int type, int protocol)
{
	WEFT_REAL_OR_FAIL(socket);
	int fd = real(domain, type, protocol), saved = errno;

	if (fd >= 0 && weft_hook_thread(WEFT_HOOK_SOCKET))
		weft_conn_socket(fd, domain, type, WEFT_CALLER);
	errno = saved;
	return fd;
}

/* bind: 0 or -1 with errno (EADDRINUSE, EACCES, EINVAL, ...). */
WEFT_EXPORT int bind(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	WEFT_REAL_OR_FAIL(bind);
	int r = real(fd, addr, len), saved = errno;

	if (r == 0 && weft_chan_fd(fd) && weft_hook_thread(WEFT_HOOK_SOCKET))
		weft_conn_bound(fd, addr.__sockaddr__, len);
	errno = saved;
	return r;
}

/* listen: 0 or -1 with errno (EADDRINUSE, EBADF, ENOTSOCK, EOPNOTSUPP). */
WEFT_EXPORT int listen(int fd, int backlog)
{
	WEFT_REAL_OR_FAIL(listen);
	int r = real(fd, backlog), saved = errno;

	if (r == 0 && weft_hook_thread(WEFT_HOOK_SOCKET))
		weft_conn_listening(fd, WEFT_CALLER);
	errno = saved;
	return r;
}

/*
 * connect: 0, or -1 with errno (ECONNREFUSED, EINPROGRESS on a non-blocking
 * socket, EINTR — the connection then goes on —, ETIMEDOUT, EALREADY,
 * EISCONN, ...). A cancellation point. On a blocking socket the call is a
 * `connect` wait.
 */
WEFT_EXPORT int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	WEFT_REAL_OR_FAIL(connect);
	struct weft_thread *t = weft_hook_thread(WEFT_HOOK_SOCKET);
	bool blocking = false;
	struct weft_wait w;
	uint32_t id;
	int r, saved = errno;

	if (!t)
		return real(fd, addr, len);
	id = weft_conn_connect_begin(t, fd, addr.__sockaddr__, len, WEFT_CALLER, &blocking);
	errno = saved;
	if (blocking) {
		weft_wait_begin(&w, t, WEFT_WAIT_CONNECT, (void *)(intptr_t)fd, WEFT_CALLER);
		w.ev.u.wait.channel = id;
	}
	r = real(fd, addr, len);
	saved = errno;
	if (blocking)
		weft_wait_end_sys(&w, r);
	if (id)
		weft_conn_connect_end(id, r, r == 0 ? 0 : saved);
	errno = saved;
	return r;
}

/*
 * The accepts' common part: a blocking listener's accept is an `accept`
 * wait (given back if it answers EAGAIN: the listener was non-blocking).
 */
static int accept_common(int fd, __SOCKADDR_ARG addr, socklen_t *len, int flags, bool four,
			 const void *pc)
{
	struct weft_thread *t = weft_hook_thread(WEFT_HOOK_SOCKET);
	uint32_t e = weft_chan_fd(fd);
	struct weft_chan *l = weft_chan_entry_slot(e);
	bool blocking = t && l && l->kind == WEFT_CHAN_SOCKET && !(e & WEFT_CHAN_NONBLOCK);
	struct weft_wait w;
	int r, saved;

	if (blocking)
		weft_wait_begin(&w, t, WEFT_WAIT_ACCEPT, (void *)(intptr_t)fd, pc);
	r = four ? WEFT_REAL(accept4)(fd, addr, len, flags) : WEFT_REAL(accept)(fd, addr, len);
	saved = errno;
	if (blocking) {
		if (r < 0 && saved == EAGAIN) {
			weft_wait_cancel(&w);
			weft_chan_nonblock_hint(fd, e);
		} else {
			/* A listener is a work source (agent/task.h): a connection, a task. */
			weft_task_receive(&w);
			weft_wait_end_task_sys(&w, r, r >= 0, 0);
		}
	}
	if (r >= 0 && t)
		weft_conn_accepted(t, fd, r, addr.__sockaddr__, len, four ? flags : 0, pc);
	errno = saved;
	return r;
}

/*
 * accept: a connected socket's descriptor, or -1 with errno (EAGAIN on a
 * non-blocking listener, EINTR, ECONNABORTED, EMFILE, ...). A cancellation
 * point. The peer's address goes where the program asked, as always.
 */
WEFT_EXPORT int accept(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len)
{
	WEFT_REAL_OR_FAIL(accept);
	if (!weft_chan_fd(fd) && !weft_hook_thread(WEFT_HOOK_SOCKET))
		return real(fd, addr, len);
	return accept_common(fd, addr, len, 0, false, WEFT_CALLER);
}

/* accept4: accept with SOCK_NONBLOCK and SOCK_CLOEXEC for the new descriptor. */
WEFT_EXPORT int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len, int flags)
{
	WEFT_REAL_OR_FAIL(accept4);
	if (!weft_chan_fd(fd) && !weft_hook_thread(WEFT_HOOK_SOCKET))
		return real(fd, addr, len, flags);
	return accept_common(fd, addr, len, flags, true, WEFT_CALLER);
}

/*
 * getsockopt: 0 or -1 with errno, the option's value where the program
 * asked. SO_ERROR on a socket whose non-blocking connect is under way is how
 * the program learns its outcome: weft learns it from the same answer.
 */
WEFT_EXPORT int getsockopt(int fd, int level, int name, void *value, socklen_t *len)
{
	WEFT_REAL_OR_FAIL(getsockopt);
	int r = real(fd, level, name, value, len), saved = errno;

	if (r == 0 && level == SOL_SOCKET && name == SO_ERROR && value && len &&
	    *len >= (socklen_t)sizeof(int) && weft_chan_fd(fd) &&
	    weft_hook_thread(WEFT_HOOK_SOCKET))
		weft_conn_so_error(fd, *(const int *)value);
	errno = saved;
	return r;
}

/* ------------------------------------------------------------ message transfers */

static ssize_t call_recvmsg(struct weft_chan_op *op, bool nowait)
{
	struct weft_xfer *x = op->args;

	return WEFT_REAL(recvmsg)(op->fd, (struct msghdr *)x->msg,
				  x->flags | (nowait ? MSG_DONTWAIT : 0));
}

static ssize_t call_sendmsg(struct weft_chan_op *op, bool nowait)
{
	struct weft_xfer *x = op->args;

	(void)nowait;
	return WEFT_REAL(sendmsg)(op->fd, x->msg, x->flags);
}

/* recvmsg on a channel or socket: out of line, so that the common path stays a lookup and a call.
 */
static __attribute__((noinline)) ssize_t slow_recvmsg(uint32_t e, const void *pc, int fd,
						      struct msghdr *msg, int flags)
{
	struct weft_xfer x = { .msg = msg, .flags = flags };

	if (flags & MSG_PEEK)
		return WEFT_REAL(recvmsg)(fd, msg, flags); /* takes nothing: not counted */
	return weft_hook_xfer(fd, e, false, call_recvmsg, &x,
			      weft_hook_iov_total(msg->msg_iov, msg->msg_iovlen), pc);
}

/*
 * recvmsg: the bytes received into msg's buffers (0 at orderly shutdown),
 * or -1 with errno (as recv). A cancellation point.
 */
WEFT_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	WEFT_REAL_OR_FAIL(recvmsg);
	uint32_t e = weft_chan_fd(fd);

	if (__builtin_expect(e == 0, 1) || !msg)
		return real(fd, msg, flags);
	return slow_recvmsg(e, WEFT_CALLER, fd, msg, flags);
}

/* sendmsg on a channel or socket: out of line, so that the common path stays a lookup and a call.
 */
static __attribute__((noinline)) ssize_t slow_sendmsg(uint32_t e, const void *pc, int fd,
						      const struct msghdr *msg, int flags)
{
	struct weft_xfer x = { .msg = msg, .flags = flags };

	return weft_hook_xfer(fd, e, true, call_sendmsg, &x,
			      weft_hook_iov_total(msg->msg_iov, msg->msg_iovlen), pc);
}

/*
 * sendmsg: the bytes sent from msg's buffers, or -1 with errno (as send;
 * EPIPE with SIGPIPE unless MSG_NOSIGNAL). A cancellation point.
 */
WEFT_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	WEFT_REAL_OR_FAIL(sendmsg);
	uint32_t e = weft_chan_fd(fd);

	if (__builtin_expect(e == 0, 1) || !msg)
		return real(fd, msg, flags);
	return slow_sendmsg(e, WEFT_CALLER, fd, msg, flags);
}

/* The bytes of the first n messages of a vector, as the call reported them. */
static uint64_t mmsg_bytes(const struct mmsghdr *v, int n)
{
	uint64_t total = 0;

	for (int i = 0; i < n; i++)
		total += v[i].msg_len;
	return total;
}

/*
 * recvmmsg: the number of messages received (each one's length in its
 * msg_len), or -1 with errno. Counted; not timed.
 */
WEFT_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int n, int flags,
			 struct timespec *timeout)
{
	WEFT_REAL_OR_FAIL(recvmmsg);
	int r = real(fd, vec, n, flags, timeout), saved = errno;

	if (r > 0 && !(flags & MSG_PEEK) && weft_chan_fd(fd))
		weft_chan_moved(fd, false, mmsg_bytes(vec, r), (uint64_t)r);
	errno = saved;
	return r;
}

/* sendmmsg: the number of messages sent, or -1 with errno. Counted; not timed. */
WEFT_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int n, int flags)
{
	WEFT_REAL_OR_FAIL(sendmmsg);
	int r = real(fd, vec, n, flags), saved = errno;

	if (r > 0 && weft_chan_fd(fd))
		weft_chan_moved(fd, true, mmsg_bytes(vec, r), (uint64_t)r);
	errno = saved;
	return r;
}

/* A sendfile's bytes into a socket or channel: counted (not timed). */
static ssize_t sent_file(int out_fd, ssize_t r)
{
	int saved = errno;

	if (r > 0 && weft_chan_fd(out_fd))
		weft_chan_moved(out_fd, true, (uint64_t)r, 1);
	errno = saved;
	return r;
}

/*
 * sendfile, sendfile64: copies up to count bytes from in_fd to out_fd in the
 * kernel; the count, or -1 with errno.
 */
WEFT_EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
	WEFT_REAL_OR_FAIL(sendfile);
	return sent_file(out_fd, real(out_fd, in_fd, offset, count));
}

WEFT_EXPORT ssize_t sendfile64(int out_fd, int in_fd, off64_t *offset, size_t count)
{
	WEFT_REAL_OR_FAIL(sendfile64);
	return sent_file(out_fd, real(out_fd, in_fd, offset, count));
}
