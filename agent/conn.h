/*
 * Sockets: connections and datagram sockets (issue 10; names in
 * TELEMETRY.md).
 *
 * A network or UNIX socket the program connects, accepts, listens on, or (a
 * datagram socket) creates, is a channel slot of kind WEFT_CHAN_SOCKET: the
 * descriptor table finds it, its two queues count what it sends (queue 0)
 * and receives (queue 1), and its `conn` holds what the exporter needs to
 * make the connection's span and to attribute its bytes: which side, the
 * transport, both addresses, when it opened and ended, the span's ids.
 *
 * A stream connection (TCP, a UNIX stream or seqpacket socket) gets a span,
 * `connect` (CLIENT) from the connect call or `accept` (SERVER) from the
 * accept's return, to the close of its last descriptor; a connect that fails
 * ends its span at once, status ERROR. A non-blocking connect is one
 * connection whose outcome arrives later: with getsockopt(SO_ERROR), or with
 * the first transfer. Each connect on a socket starts a new connection (and
 * a new slot); a datagram socket counts bytes and has no span.
 *
 * Transfers go through the channel code (agent/channel_io.c), which makes
 * the program's own call and only that: on a blocking socket each transfer
 * is timed, and one that took long enough to have slept (WEFT_WAIT_SLEPT_NS,
 * agent/wait.h) is a `wait socket.recv` or `wait socket.send`. Whether a
 * socket call will block cannot be known without asking the kernel, and a
 * non-blocking try first would cost a system call on every transfer that
 * then blocks: a request/response server's every read.
 */
#ifndef WEFT_AGENT_CONN_H
#define WEFT_AGENT_CONN_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "agent/channel.h"
#include "agent/registry.h"

enum weft_conn_side {
	WEFT_CONN_NONE = 0, /* a datagram socket: counted, no connection */
	WEFT_CONN_CLIENT,
	WEFT_CONN_SERVER,
	WEFT_CONN_LISTENER,
};

enum weft_conn_transport {
	WEFT_CONN_TCP = 1,
	WEFT_CONN_UDP,
	WEFT_CONN_UNIX,
};

enum weft_conn_phase {
	WEFT_CONN_OPEN = 1,   /* a socket that is no connection (datagram, listener) */
	WEFT_CONN_CONNECTING, /* a non-blocking connect in progress */
	WEFT_CONN_ESTABLISHED,
	WEFT_CONN_FAILED,
};

/* "tcp", "udp", "unix": network.transport. */
const char *weft_conn_transport_name(enum weft_conn_transport transport);

/*
 * socket() returned fd: a datagram socket (UDP, UNIX datagram) is counted
 * from here. Stream sockets wait for connect, listen or accept.
 */
void weft_conn_socket(int fd, int domain, int type, const void *pc);

/* bind() succeeded: a datagram socket's port is the one it serves. */
void weft_conn_bound(int fd, const struct sockaddr *addr, socklen_t len);

/* listen() succeeded on fd. */
void weft_conn_listening(int fd, const void *pc);

/*
 * connect() on fd is about to run, from thread t: a new connection's slot
 * (its id, for the wait), or 0 when the socket is not one weft follows.
 * *blocking says whether the call may block (the socket is not
 * non-blocking): the hook times it as a `connect` wait.
 */
uint32_t weft_conn_connect_begin(struct weft_thread *t, int fd, const struct sockaddr *addr,
				 socklen_t len, const void *pc, bool *blocking);

/* connect() returned rc (errno err): established, in progress, or failed. */
void weft_conn_connect_end(uint32_t id, int rc, int err);

/*
 * accept() or accept4() on listener lfd returned the connection fd; `peer`
 * is what the program asked to receive (or NULL), `flags` accept4's.
 */
void weft_conn_accepted(struct weft_thread *t, int lfd, int fd, const struct sockaddr *peer,
			const socklen_t *peer_len, int flags, const void *pc);

/*
 * getsockopt(fd, SOL_SOCKET, SO_ERROR) answered err: the outcome of a
 * non-blocking connect.
 */
void weft_conn_so_error(int fd, int err);

/* A transfer on c moved n bytes (n < 0: failed with err): a connecting socket's outcome. */
void weft_conn_transferred(struct weft_chan *c, ssize_t n, int err);

/*
 * A write on a socket's descriptor (agent/channel_io.c calls it for kind
 * WEFT_CHAN_SOCKET): counted, and a `wait socket.send` when it blocked.
 */
ssize_t weft_conn_write(struct weft_chan_op *op, struct weft_chan *c, struct weft_thread *t);

#endif
