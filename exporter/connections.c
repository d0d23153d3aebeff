/*
 * The connection interpreter: sockets' spans and metrics (agent/conn.h).
 *
 * Sockets are channel slots of kind WEFT_CHAN_SOCKET, read from the agent's
 * slot table before each metric export the way channels are
 * (exporter/channels.c, which leaves them alone). Each collect adds what a
 * socket sent and received since the last one to weft.socket.io, by
 * transport, direction and the server's port (never a client's ephemeral
 * port: a client's server is its peer, a server's is itself; a UNIX socket
 * has none); a stream connection counts in weft.socket.connections while it
 * is established; and a connection that ended (closed, or its connect
 * failed) becomes its span, `connect` (CLIENT) or `accept` (SERVER), with
 * the ids the agent gave it when it opened, so that the waits on it made
 * since are already its children. A closed slot is given back one collect
 * later (every event naming it has been drained by then); at exit, open
 * connections end with the process.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/agent.h"
#include "agent/channel.h"
#include "agent/clock.h"
#include "agent/conn.h"
#include "exporter/connections.h"
#include "exporter/exporter.h"
#include "exporter/interp.h"
#include "exporter/metrics.h"
#include "exporter/spans.h"

static struct {
	struct weft_instrument *io, *connections;
} cn;

static void connections_setup(void)
{
	static const char *const io_keys[] = { "network.transport", "network.io.direction",
					       "server.port" };
	static const char *const conn_keys[] = { "network.transport", "weft.connection.side" };

	cn.io = weft_metrics_sum("weft.socket.io", "Bytes sent and received through sockets.", "By",
				 true, 3, io_keys);
	weft_metrics_int_keys(cn.io, 1u << 2);
	cn.connections = weft_metrics_sum("weft.socket.connections", "Open stream connections.",
					  "{connection}", false, 2, conn_keys);
}

static const char *side_name(const struct weft_conn *conn)
{
	return conn->side == WEFT_CONN_SERVER ? "server" : "client";
}

/* The port of the server this socket talks to, or is: "" when there is none. */
static void server_port(const struct weft_conn *conn, char out[8])
{
	uint16_t port = 0;

	if (conn->transport != WEFT_CONN_UNIX) {
		if (conn->side == WEFT_CONN_SERVER || conn->side == WEFT_CONN_LISTENER)
			port = conn->local.port;
		else if (conn->side == WEFT_CONN_NONE && conn->local.port)
			port = conn->local.port; /* a datagram socket bound to serve a port */
		else
			port = conn->peer.port;
	}
	if (port)
		snprintf(out, 8, "%u", port);
	else
		out[0] = '\0';
}

/* An address as text: an IP address, a UNIX path ("" when unnamed). */
static void addr_text(const struct weft_conn_addr *a, char *out, size_t size)
{
	out[0] = '\0';
	if (a->family == AF_INET || a->family == AF_INET6) {
		if (!inet_ntop(a->family, a->ip, out, (socklen_t)size))
			out[0] = '\0';
	} else if (a->family == AF_UNIX) {
		snprintf(out, size, "%s", a->path);
	}
}

static void export_counts(struct weft_chan *c)
{
	const char *transport = weft_conn_transport_name(c->conn.transport);
	uint64_t now[4];
	char port[8];
	const char *tx[3] = { transport, "transmit", port },
		   *rx[3] = { transport, "receive", port };

	weft_chan_counts(c, now);
	if (now[0] == c->seen[0] && now[2] == c->seen[2])
		return; /* nothing moved: no series for a socket that sends nothing */
	server_port(&c->conn, port);
	if (now[0] != c->seen[0])
		weft_metrics_add(cn.io, tx, (int64_t)(now[0] - c->seen[0]));
	if (now[2] != c->seen[2])
		weft_metrics_add(cn.io, rx, (int64_t)(now[2] - c->seen[2]));
	memcpy(c->seen, now, sizeof(now));
}

/* The connection's span, from its open to `end_ns`. */
static void make_span(struct weft_chan *c, uint64_t end_ns)
{
	const struct weft_conn *conn = &c->conn;
	bool server = conn->side == WEFT_CONN_SERVER;
	const struct weft_conn_addr *srv = server ? &conn->local : &conn->peer;
	int err = weft_load_relaxed(&c->conn.error);
	struct weft_qspan *q;
	uint64_t counts[4];

	q = weft_exporter_span(&conn->trace, conn->span, conn->parent_span, conn->t_open, end_ns,
			       server ? "accept" : "connect", "");
	if (!q)
		return;
	q->s.kind = server ? WEFT_SPAN_KIND_SERVER : WEFT_SPAN_KIND_CLIENT;
	weft_qspan_attr_str(q, "network.transport", weft_conn_transport_name(conn->transport));
	if (conn->peer.family == AF_INET || conn->peer.family == AF_INET6)
		weft_qspan_attr_str(q, "network.type",
				    conn->peer.family == AF_INET ? "ipv4" : "ipv6");
	addr_text(&conn->peer, q->addr[0], sizeof(q->addr[0]));
	if (q->addr[0][0])
		weft_qspan_attr_str(q, "network.peer.address", q->addr[0]);
	if (conn->peer.port)
		weft_qspan_attr_int(q, "network.peer.port", conn->peer.port);
	addr_text(srv, q->addr[1], sizeof(q->addr[1]));
	if (q->addr[1][0])
		weft_qspan_attr_str(q, "server.address", q->addr[1]);
	if (srv->port && conn->transport != WEFT_CONN_UNIX)
		weft_qspan_attr_int(q, "server.port", srv->port);
	weft_chan_counts(c, counts);
	weft_qspan_attr_int(q, "weft.connection.bytes_sent", (int64_t)counts[0]);
	weft_qspan_attr_int(q, "weft.connection.bytes_received", (int64_t)counts[2]);
	weft_qspan_attr_int(q, "thread.id", conn->tid);
	if (weft_load_acquire(&c->conn.phase) == WEFT_CONN_FAILED) {
		const char *name = strerrorname_np(err);

		snprintf(q->object, sizeof(q->object), "%s", name ? name : "error");
		q->s.status = WEFT_STATUS_ERROR;
		q->s.status_message = q->object;
		weft_qspan_attr_str(q, "error.type", q->object);
	}
}

static void visit(uint32_t id, struct weft_chan *c, uint32_t st, bool exiting, uint64_t now)
{
	struct weft_conn *conn = &c->conn;
	uint8_t phase = weft_load_acquire(&conn->phase);
	uint64_t end = weft_load_acquire(&conn->t_end);
	const char *vals[2] = { weft_conn_transport_name(conn->transport), side_name(conn) };

	if (weft_chan_drop_parents(id, c, st, exiting))
		return;
	export_counts(c);
	if (conn->span && conn->spanned != c->gen + 1) {
		bool counted = conn->counted == c->gen + 1;

		if (!counted && phase == WEFT_CONN_ESTABLISHED && st == WEFT_CHAN_LIVE) {
			weft_metrics_add(cn.connections, vals, 1);
			conn->counted = c->gen + 1;
		}
		if (phase == WEFT_CONN_FAILED || st == WEFT_CHAN_CLOSED || exiting) {
			/* Still open at exit: it ends with the process, and stays counted. */
			bool ended = phase == WEFT_CONN_FAILED || st == WEFT_CHAN_CLOSED;

			make_span(c, end ? end : now);
			conn->spanned = c->gen + 1;
			/*
			 * Closed before any collect saw it open: its +1 and -1 cancel,
			 * but the series exists, as it would in an SDK that recorded both.
			 */
			if (phase == WEFT_CONN_ESTABLISHED || counted)
				weft_metrics_add(cn.connections, vals, counted && ended ? -1 : 0);
			if (ended)
				conn->counted = 0;
		}
	}
	if (st != WEFT_CHAN_CLOSED)
		return;
	/* Given back a cycle after it was seen closed (at exit there is none). */
	if (c->closed_seen == c->gen + 1 || exiting)
		weft_chan_slot_free(id);
	else
		c->closed_seen = c->gen + 1;
}

static void connections_collect(void)
{
	uint32_t high = weft_chan_high();
	bool exiting = weft_load_acquire(&weft_process.exiting);
	uint64_t now = weft_clock_now();

	for (uint32_t id = 1; id <= high; id++) {
		struct weft_chan *c = weft_chan_slot(id);
		uint32_t st = c ? weft_load_acquire(&c->state) : WEFT_CHAN_FREE;

		if ((st == WEFT_CHAN_LIVE || st == WEFT_CHAN_CLOSED) && c->kind == WEFT_CHAN_SOCKET)
			visit(id, c, st, exiting, now);
	}
}

bool weft_connections_parent(uint32_t id, const struct weft_trace_id **trace, uint64_t *span)
{
	struct weft_chan *c = weft_chan_slot(id);
	uint32_t st = c ? weft_load_acquire(&c->state) : WEFT_CHAN_FREE;

	if ((st != WEFT_CHAN_LIVE && st != WEFT_CHAN_CLOSED) || c->kind != WEFT_CHAN_SOCKET ||
	    !c->conn.span)
		return false;
	*trace = &c->conn.trace;
	*span = c->conn.span;
	return true;
}

static void connections_after_fork(void)
{
	uint32_t high = weft_chan_high();

	cn.io = cn.connections = NULL;
	/* The parent's connections are the parent's spans: the child makes none of them. */
	for (uint32_t id = 1; id <= high; id++) {
		struct weft_chan *c = weft_chan_slot(id);

		if (c && c->kind == WEFT_CHAN_SOCKET) {
			c->conn.spanned = c->gen + 1;
			c->conn.counted = 0;
		}
	}
}

const struct weft_interp weft_interp_connections = {
	.name = "connections",
	.setup = connections_setup,
	.collect = connections_collect,
	.after_fork = connections_after_fork,
};
