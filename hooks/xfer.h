/*
 * What the transfer hooks share (hooks/io.c, hooks/socket.c): the arguments
 * of every transfer call whichever its shape, and the step into the channel
 * code (agent/channel.h).
 */
#ifndef WEFT_HOOKS_XFER_H
#define WEFT_HOOKS_XFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "agent/channel.h"

/* The arguments of every transfer call, whichever its shape. */
struct weft_xfer {
	void *buf;
	size_t n;
	const struct iovec *iov;
	int iovcnt;
	int flags;
	size_t buflen;
	__SOCKADDR_ARG addr;
	socklen_t *addrlen;
	__CONST_SOCKADDR_ARG to;
	socklen_t tolen;
	const struct msghdr *msg; /* sendmsg, recvmsg */
};

/*
 * A transfer on a channel descriptor (entry e): weft_chan_io with the hook's
 * own `call`; `len` is the bytes asked for. MSG_DONTWAIT in x->flags makes it
 * a call that never blocks. Inline in each hook's out-of-line path: one
 * call fewer on every transfer.
 */
static inline ssize_t weft_hook_xfer(int fd, uint32_t e, bool write,
				     ssize_t (*call)(struct weft_chan_op *, bool),
				     struct weft_xfer *x, size_t len, const void *pc)
{
	struct weft_chan_op op;

	if (x->flags & MSG_DONTWAIT)
		e |= WEFT_CHAN_NONBLOCK;
	op = (struct weft_chan_op){
		.fd = fd,
		.entry = e,
		.write = write,
		.may_try = !(x->flags & MSG_WAITALL),
		.pc = pc,
		.value = x->buf && len == sizeof(uint64_t) ? x->buf : NULL,
		.len = len,
		.call = call,
		.args = x,
	};
	return weft_chan_io(&op);
}

/* The bytes of a vector (its first 1024 buffers: the most a call accepts). */
size_t weft_hook_iov_total(const struct iovec *iov, size_t n);

#endif
