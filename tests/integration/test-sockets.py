"""Sockets: connection spans, their waits, and the socket metrics, exactly.

tests/programs/netplay.c makes connections whose every byte is known (see
there): three clients and an echo server over TCP on IPv4, TCP on IPv6 and a
UNIX stream socket; a connect refused; a non-blocking connect completed
through poll and getsockopt(SO_ERROR); a connection whose server answers
after 250 ms (the client's recv blocks); and UDP datagrams. The program runs
natively first: what it prints (its results, errno included) must be the
same under weft.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import Run, attrs, program, check, equal, done  # noqa: E402

CLIENTS = 3
ENV = {"OTEL_METRIC_EXPORT_INTERVAL": "100"}


def normalised(text):
    """What netplay printed, without what differs between runs (ports, paths, order)."""
    return sorted(re.sub(r"port \d+", "port N", line) for line in text.splitlines())


native = Run([program("netplay"), "all"], preload=False, expect_file=False)
r = Run([program("netplay"), "all"], env=ENV)
equal(r.rc, 0, "exit status under weft")
equal(native.rc, 0, "exit status natively")
equal(normalised(r.stdout), normalised(native.stdout),
      "netplay printed the same natively and under weft (results, errno)")
out = r.only()
equal(out.value("weft.agent.events.dropped", weft_drop_reason="ring_full"), 0,
      "no event dropped: every count below is exact")

ports = {}
for line in r.stdout.splitlines():
    f = line.split()
    if len(f) >= 4 and f[0] == "stream" and f[2] == "port":
        ports[f[1]] = int(f[3])
    elif len(f) >= 3 and f[0] in ("nonblock", "slow", "udp") and f[1] == "port":
        ports[f[0]] = int(f[2])
check(all(k in ports for k in ("tcp4", "tcp6", "unix", "nonblock", "slow", "udp")),
      f"netplay printed its ports: {ports}")

spans = out.spans
by_id = {s["spanId"]: s for s in spans}
connects = [s for s in spans if s["name"] == "connect"]
accepts = [s for s in spans if s["name"] == "accept"]


def parent_name(s):
    return by_id.get(s.get("parentSpanId"), {}).get("name")


# ------------------------------------------------------------ stream connections

for fam, transport, ntype, loop in (("tcp4", "tcp", "ipv4", "127.0.0.1"),
                                     ("tcp6", "tcp", "ipv6", "::1"),
                                     ("unix", "unix", None, None)):
    port = ports.get(fam)
    if fam == "unix":
        mine_c = [s for s in connects if s["attrs"].get("network.transport") == "unix"]
        mine_a = [s for s in accepts if s["attrs"].get("network.transport") == "unix"]
    else:
        mine_c = [s for s in connects if s["attrs"].get("server.port") == port]
        mine_a = [s for s in accepts if s["attrs"].get("server.port") == port]
    equal(len(mine_c), CLIENTS, f"{fam}: one `connect` span per client")
    equal(len(mine_a), CLIENTS, f"{fam}: one `accept` span per accepted connection")
    equal(sorted(s.get("kind") for s in mine_c), [3] * CLIENTS, f"{fam}: connect spans are CLIENT")
    equal(sorted(s.get("kind") for s in mine_a), [2] * CLIENTS, f"{fam}: accept spans are SERVER")
    for s in mine_c:
        name = parent_name(s) or ""
        check(name.startswith("thread client"),
              f"{fam}: a connect span's parent is its client thread's span, got {name!r}")
        i = int(name[len("thread client"):]) if name.startswith("thread client") else -1
        want = 1000 * (i + 3)
        equal((s["attrs"].get("weft.connection.bytes_sent"),
               s["attrs"].get("weft.connection.bytes_received")), (want, want),
              f"{fam}: client{i}'s connection sent and received its {want} bytes")
        equal(s["attrs"].get("network.transport"), transport, f"{fam}: network.transport")
        equal(s["attrs"].get("network.type"), ntype, f"{fam}: network.type")
        equal(s.get("status", {}).get("code", 0), 0, f"{fam}: a connection that worked is no error")
        if loop:
            equal((s["attrs"].get("network.peer.address"), s["attrs"].get("network.peer.port"),
                   s["attrs"].get("server.address")), (loop, port, loop),
                  f"{fam}: the client's peer is the server")
        else:
            check(s["attrs"].get("network.peer.address", "").startswith("/tmp/netplay-"),
                  f"unix: the peer address is the socket's path: {s['attrs']}")
            check("server.port" not in s["attrs"] and "network.peer.port" not in s["attrs"],
                  "unix: no ports")
        check(int(s["endTimeUnixNano"]) >= int(s["startTimeUnixNano"]), f"{fam}: ends after start")
    equal(sorted(s["attrs"].get("weft.connection.bytes_sent") for s in mine_a),
          [1000 * (i + 3) for i in range(CLIENTS)], f"{fam}: the server echoed each client's bytes")
    for s in mine_a:
        # The accept that returned it started a task of the server (a
        # listener is a work source): the connection is that task's child.
        equal(parent_name(s), "task server",
              f"{fam}: an accept span's parent is the server thread's task")
        if loop:
            equal((s["attrs"].get("network.peer.address"), s["attrs"].get("server.port")),
                  (loop, port), f"{fam}: the server's peer is a client on loopback")
            check(s["attrs"].get("network.peer.port") not in (None, port),
                  f"{fam}: the peer port is the client's own")
    if fam != "unix":
        for d in ("transmit", "receive"):
            equal(out.value("weft.socket.io", network_transport="tcp", network_io_direction=d,
                            server_port=port), 2 * 1000 * sum(i + 3 for i in range(CLIENTS)),
                  f"{fam}: weft.socket.io {d} on the server's port: both sides' bytes")

for d in ("transmit", "receive"):
    equal(out.value("weft.socket.io", network_transport="unix", network_io_direction=d),
          2 * 1000 * sum(i + 3 for i in range(CLIENTS)),
          f"unix: weft.socket.io {d} (no port)")

# ------------------------------------------------------------ refused, non-blocking, slow

refused = [s for s in connects if s.get("status", {}).get("code") == 2]
equal(len(refused), 1, "one connect span is an error: the refused one")
if refused:
    s = refused[0]
    equal((s["status"].get("message"), s["attrs"].get("error.type")),
          ("ECONNREFUSED", "ECONNREFUSED"), "the refused connect's status and error.type")
    equal((s["attrs"].get("weft.connection.bytes_sent"),
           s["attrs"].get("weft.connection.bytes_received")), (0, 0), "it moved nothing")
    equal(parent_name(s), "process", "made on the main thread: child of the process span")
check("refused rc -1 errno ECONNREFUSED" in r.stdout, "the program saw ECONNREFUSED under weft")

for what in ("nonblock", "slow"):
    port = ports.get(what)
    mine = [s for s in connects if s["attrs"].get("server.port") == port]
    equal(len(mine), 1, f"{what}: one connection (a non-blocking connect's poll and "
          "SO_ERROR do not make a second)")
    equal([(s["attrs"].get("weft.connection.bytes_sent"),
            s["attrs"].get("weft.connection.bytes_received")) for s in mine], [(100, 100)],
          f"{what}: 100 bytes each way")
    equal(len([s for s in accepts if s["attrs"].get("server.port") == port]), 1,
          f"{what}: one accepted connection")
    if what == "slow" and mine:
        waits = [s for s in spans if s["name"] == "wait socket.recv"
                 and s.get("parentSpanId") == mine[0]["spanId"]]
        equal(len(waits), 1, "slow: the client's blocked recv is a `wait socket.recv` child of "
              "its connect span")
        for w in waits:
            dur = int(w["endTimeUnixNano"]) - int(w["startTimeUnixNano"])
            check(dur >= 200_000_000, f"slow: the recv waited for the server's 250 ms: {dur} ns")
            equal(w["attrs"].get("code.function.name"), "round_trip", "slow: where it waited")
            equal(w["attrs"].get("weft.wait.result"), 100, "slow: the recv's result")
            check("weft.holder.thread.id" not in w["attrs"], "a socket wait has no lock holder")

# No wait on a socket is attributed to a lock holder, whatever its kind.
check(not any("weft.holder.thread.id" in s["attrs"] for s in spans
              if s["name"] in ("wait connect", "wait accept", "wait socket.recv",
                               "wait socket.send")), "socket waits carry no holder")

# ------------------------------------------------------------ datagrams and the gauge

for d in ("transmit", "receive"):
    equal(out.value("weft.socket.io", network_transport="udp", network_io_direction=d,
                    server_port=ports.get("udp")), 1000,
          f"udp: weft.socket.io {d}: the client's 500 bytes and the server's 500")
equal(len([p for p in out.points("weft.socket.io")
           if attrs(p.get("attributes")).get("network.transport") == "udp"]), 2,
      "udp: every datagram is attributed to the server's port (no series without one)")

for transport in ("tcp", "unix"):
    for side in ("client", "server"):
        equal(out.value("weft.socket.connections", network_transport=transport,
                        weft_connection_side=side), 0,
              f"weft.socket.connections {transport}/{side}: none open at the end")
seen_open = set()
for line in out.metric_lines:
    m = line.get("weft.socket.connections")
    for p in (m or {}).get("sum", {}).get("dataPoints", []):
        if int(p.get("asInt", 0)) > 0:
            a = attrs(p.get("attributes"))
            seen_open.add((a.get("network.transport"), a.get("weft.connection.side")))
check({("tcp", "client"), ("tcp", "server")} <= seen_open,
      f"the 250 ms connection was counted open while it was: {sorted(seen_open)}")

# Sockets are not channels.
equal(out.points("weft.channel.io"), [], "no socket is reported as a channel")

done()
