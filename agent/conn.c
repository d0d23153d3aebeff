/*
 * Sockets as connections (agent/conn.h says what and why).
 *
 * The facts a socket's slot needs come from the calls' own arguments where
 * they have them (connect's address, accept's peer) and otherwise from the
 * kernel, asked once per connection with the system calls themselves:
 * getsockopt, getsockname, getpeername and fcntl made as raw system calls,
 * so that none of them is seen as the program's.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/clock.h"
#include "agent/conn.h"
#include "agent/wait.h"

const char *weft_conn_transport_name(enum weft_conn_transport transport)
{
	switch (transport) {
	case WEFT_CONN_TCP:
		return "tcp";
	case WEFT_CONN_UDP:
		return "udp";
	case WEFT_CONN_UNIX:
		return "unix";
	}
	return "unknown";
}

/* ------------------------------------------------------------ what the kernel knows */

static int sock_opt(int fd, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (syscall(SYS_getsockopt, fd, SOL_SOCKET, name, &v, &len) != 0)
		return -1;
	return v;
}

static bool nonblocking(int fd)
{
	long fl = syscall(SYS_fcntl, fd, F_GETFL);

	return fl >= 0 && (fl & O_NONBLOCK);
}

static void addr_from(const struct sockaddr *sa, socklen_t len, struct weft_conn_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (!sa || len < (socklen_t)sizeof(sa_family_t))
		return;
	switch (sa->sa_family) {
	case AF_INET: {
		struct sockaddr_in in;

		if (len < (socklen_t)sizeof(in))
			return;
		memcpy(&in, sa, sizeof(in));
		out->port = ntohs(in.sin_port);
		memcpy(out->ip, &in.sin_addr, 4);
		break;
	}
	case AF_INET6: {
		struct sockaddr_in6 in6;

		if (len < (socklen_t)sizeof(in6))
			return;
		memcpy(&in6, sa, sizeof(in6));
		out->port = ntohs(in6.sin6_port);
		memcpy(out->ip, &in6.sin6_addr, 16);
		break;
	}
	case AF_UNIX: {
		const char *path = ((const struct sockaddr_un *)sa)->sun_path;
		size_t n = (size_t)len > offsetof(struct sockaddr_un, sun_path)
				   ? (size_t)len - offsetof(struct sockaddr_un, sun_path)
				   : 0;
		size_t i = 0, o = 0;

		if (n > sizeof(((struct sockaddr_un *)0)->sun_path))
			n = sizeof(((struct sockaddr_un *)0)->sun_path);
		if (n && path[0] == '\0') {
			out->path[o++] = '@'; /* an abstract name, as ss and lsof print it */
			i = 1;
		} else {
			n = strnlen(path, n);
		}
		for (; i < n && o + 1 < sizeof(out->path); i++)
			out->path[o++] = path[i] ? path[i] : '@';
		out->path[o] = '\0';
		break;
	}
	default:
		return;
	}
	out->family = (uint8_t)sa->sa_family;
}

/* getsockname (local) or getpeername (peer) of fd, made as the system call. */
static void addr_of(int fd, bool peer, struct weft_conn_addr *out)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (syscall(peer ? SYS_getpeername : SYS_getsockname, fd, &ss, &len) != 0)
		len = 0;
	addr_from((const struct sockaddr *)&ss, len, out);
}

/* The transport of a socket of `family` and `type` (SOCK_*), 0 when weft does not follow it. */
static uint8_t transport_of(int family, int type)
{
	type &= 0xf; /* without SOCK_NONBLOCK and SOCK_CLOEXEC */
	if (family == AF_UNIX)
		return type == SOCK_STREAM || type == SOCK_SEQPACKET || type == SOCK_DGRAM
			       ? WEFT_CONN_UNIX
			       : 0;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	return type == SOCK_STREAM ? WEFT_CONN_TCP : type == SOCK_DGRAM ? WEFT_CONN_UDP : 0;
}

static bool stream_type(int type)
{
	type &= 0xf;
	return type == SOCK_STREAM || type == SOCK_SEQPACKET;
}

static struct weft_chan *socket_slot(int fd)
{
	struct weft_chan *c = weft_chan_entry_slot(weft_chan_fd(fd));

	return c && c->kind == WEFT_CHAN_SOCKET ? c : NULL;
}

/* The connection span's context: the thread's current span is its parent. */
static void span_context(struct weft_thread *t, struct weft_conn *conn)
{
	conn->tid = t->tid;
	conn->trace = *weft_thread_cur_trace(t);
	conn->parent_span = t->cur_span;
	conn->span = weft_ids_span(&t->rng);
}

static void set_phase(struct weft_chan *c, enum weft_conn_phase phase, int err)
{
	if (phase == WEFT_CONN_FAILED) {
		weft_store_relaxed(&c->conn.error, err);
		weft_store_relaxed(&c->conn.t_end, weft_clock_now());
	}
	weft_store_release(&c->conn.phase, (uint8_t)phase);
}

/* ------------------------------------------------------------ life */

void weft_conn_socket(int fd, int domain, int type, const void *pc)
{
	struct weft_conn conn = { .side = WEFT_CONN_NONE, .phase = WEFT_CONN_OPEN };

	if (stream_type(type) || !(conn.transport = transport_of(domain, type)))
		return;
	conn.local.family = (uint8_t)domain;
	conn.peer.family = (uint8_t)domain;
	conn.t_open = weft_clock_now();
	weft_chan_create_socket(fd, (type & SOCK_NONBLOCK) ? O_NONBLOCK : 0, pc, &conn);
}

void weft_conn_bound(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct weft_chan *c = socket_slot(fd);

	if (!c || c->conn.side != WEFT_CONN_NONE)
		return;
	addr_from(addr, len, &c->conn.local);
	if (!c->conn.local.port)
		addr_of(fd, false, &c->conn.local); /* port 0: the kernel chose one */
}

void weft_conn_listening(int fd, const void *pc)
{
	struct weft_conn conn = { .side = WEFT_CONN_LISTENER, .phase = WEFT_CONN_OPEN };

	addr_of(fd, false, &conn.local);
	if (!stream_type(sock_opt(fd, SO_TYPE)) ||
	    !(conn.transport = transport_of(conn.local.family, SOCK_STREAM)))
		return;
	conn.t_open = weft_clock_now();
	weft_chan_create_socket(fd, nonblocking(fd) ? O_NONBLOCK : 0, pc, &conn);
}

uint32_t weft_conn_connect_begin(struct weft_thread *t, int fd, const struct sockaddr *addr,
				 socklen_t len, const void *pc, bool *blocking)
{
	struct weft_chan *c = socket_slot(fd);
	struct weft_conn conn = { .side = WEFT_CONN_CLIENT, .phase = WEFT_CONN_CONNECTING };
	int type;
	bool nb;

	*blocking = false;
	if (!addr || len < (socklen_t)sizeof(sa_family_t))
		return 0;
	if (c && c->conn.side == WEFT_CONN_NONE) {
		/* A datagram socket: its peer from now on; no connection, no wait. */
		addr_from(addr, len, &c->conn.peer);
		return 0;
	}
	if (c && c->conn.side == WEFT_CONN_CLIENT) {
		uint8_t phase = weft_load_acquire(&c->conn.phase);

		/* connect again while in progress (EALREADY, EISCONN): the same connection. */
		if (phase == WEFT_CONN_CONNECTING || phase == WEFT_CONN_ESTABLISHED)
			return weft_chan_entry_id(weft_chan_fd(fd));
	}
	type = sock_opt(fd, SO_TYPE);
	if (type < 0 || !(conn.transport = transport_of(addr->sa_family, type)))
		return 0;
	if (!stream_type(type)) {
		/* A datagram socket created before weft saw it (or through another call). */
		conn.side = WEFT_CONN_NONE;
		conn.phase = WEFT_CONN_OPEN;
	} else {
		span_context(t, &conn);
	}
	addr_from(addr, len, &conn.peer);
	conn.local.family = (uint8_t)addr->sa_family;
	conn.t_open = weft_clock_now();
	nb = nonblocking(fd);
	if (!weft_chan_create_socket(fd, nb ? O_NONBLOCK : 0, pc, &conn) ||
	    conn.side == WEFT_CONN_NONE)
		return 0;
	*blocking = !nb;
	return weft_chan_entry_id(weft_chan_fd(fd));
}

void weft_conn_connect_end(uint32_t id, int rc, int err)
{
	struct weft_chan *c = weft_chan_slot(id);

	if (!c || c->kind != WEFT_CHAN_SOCKET || c->conn.side != WEFT_CONN_CLIENT ||
	    weft_load_acquire(&c->conn.phase) == WEFT_CONN_FAILED)
		return;
	if (rc == 0 || err == EISCONN)
		set_phase(c, WEFT_CONN_ESTABLISHED, 0);
	else if (err != EINPROGRESS && err != EALREADY && err != EINTR && err != EAGAIN)
		set_phase(c, WEFT_CONN_FAILED, err);
	/* In progress (or interrupted: it goes on in the background): settled later. */
}

void weft_conn_accepted(struct weft_thread *t, int lfd, int fd, const struct sockaddr *peer,
			const socklen_t *peer_len, int flags, const void *pc)
{
	struct weft_chan *l = socket_slot(lfd);
	struct weft_conn conn = { .side = WEFT_CONN_SERVER, .phase = WEFT_CONN_ESTABLISHED };

	if (l && l->conn.side == WEFT_CONN_LISTENER) {
		conn.local = l->conn.local;
		conn.transport = l->conn.transport;
	} else {
		addr_of(fd, false, &conn.local);
		conn.transport = transport_of(conn.local.family, SOCK_STREAM);
		if (!conn.transport || !stream_type(sock_opt(fd, SO_TYPE)))
			return;
	}
	if (peer && peer_len && *peer_len >= (socklen_t)sizeof(sa_family_t))
		addr_from(peer, *peer_len, &conn.peer);
	else
		addr_of(fd, true, &conn.peer);
	if (!conn.peer.family)
		conn.peer.family = conn.local.family;
	span_context(t, &conn);
	conn.t_open = weft_clock_now();
	weft_chan_create_socket(fd, (flags & SOCK_NONBLOCK) ? O_NONBLOCK : 0, pc, &conn);
}

void weft_conn_so_error(int fd, int err)
{
	struct weft_chan *c = socket_slot(fd);
	struct weft_conn_addr peer;

	if (!c || c->conn.side != WEFT_CONN_CLIENT ||
	    weft_load_acquire(&c->conn.phase) != WEFT_CONN_CONNECTING)
		return;
	if (err) {
		set_phase(c, WEFT_CONN_FAILED, err);
		return;
	}
	/* 0 is also the answer while the handshake is still under way: ask for the peer. */
	addr_of(fd, true, &peer);
	if (peer.family)
		set_phase(c, WEFT_CONN_ESTABLISHED, 0);
}

void weft_conn_transferred(struct weft_chan *c, ssize_t n, int err)
{
	if (c->conn.side != WEFT_CONN_CLIENT ||
	    weft_load_acquire(&c->conn.phase) != WEFT_CONN_CONNECTING)
		return;
	if (n >= 0)
		set_phase(c, WEFT_CONN_ESTABLISHED, 0);
	else if (err == ECONNREFUSED || err == ETIMEDOUT || err == EHOSTUNREACH ||
		 err == ENETUNREACH || err == ECONNRESET || err == ECONNABORTED)
		set_phase(c, WEFT_CONN_FAILED, err);
}

/* ------------------------------------------------------------ sending */

ssize_t weft_conn_write(struct weft_chan_op *op, struct weft_chan *c, struct weft_thread *t)
{
	struct weft_chan_queue *q = &c->q[0];
	bool timed = t && !(op->entry & WEFT_CHAN_NONBLOCK);
	struct weft_wait w;
	WEFT_WAIT_UNWIND(unwind); /* a send is a cancellation point (agent/wait.h) */
	ssize_t r;
	int saved;

	if (timed) {
		weft_wait_begin(&w, t, WEFT_WAIT_SOCKET_SEND, (void *)(intptr_t)op->fd, op->pc);
		w.ev.u.wait.channel = weft_chan_entry_id(op->entry);
		unwind = (struct weft_wait_unwind){ &w, true };
	}
	r = op->call(op, false);
	unwind.w = NULL;
	saved = *weft_errno();
	if (timed) {
		if (r < 0 && saved == EAGAIN) {
			weft_wait_cancel(&w); /* non-blocking after all */
			weft_chan_nonblock_hint(op->fd, op->entry);
		} else if (weft_wait_slept(&w)) {
			weft_wait_end_sys(&w, r);
		}
	}
	if (r > 0) {
		bool own = t && weft_chan_owns(&q->tx_owner, t->tid);

		weft_chan_add(own, &q->tx_units_own, &q->tx_units, (uint64_t)r);
		weft_chan_add(own, &q->tx_msgs_own, &q->tx_msgs, 1);
	}
	weft_conn_transferred(c, r, saved);
	*weft_errno() = saved;
	return r;
}
