"""Pipes, FIFOs, eventfds and socketpairs as channels: exact counts, waits and hand-off links.

tests/programs/pipeline.c and tests/programs/chanplay.c force every wait they
make (a writer writes only once its reader is seen asleep in the call, see
tests/programs/channels.h), so every count below is exact:

  pipeline    three stages joined by two pipes: bytes and messages per channel
              and direction, the channels' names, one `wait pipe.read` per
              read with one `pipe` link to the writing thread's span, and the
              queue depth of the second pipe while the last stage is slowed.
  poll        a consumer woken by each readiness call in turn (epoll_wait,
              epoll_pwait, epoll_pwait2, poll, ppoll, select, pselect): the
              `wait poll` span carries the link of the read that followed it.
  eventfd     main notifies a waiter: links of kind `eventfd` to the process span.
  socketpair  request and reply: `wait socket.recv` both ways, links of kind `socket`.
  fifo        mkfifo + two opens are one channel; a read ended by EOF has no link.
  writers     three writers take turns: each read links to the writer of its
              bytes; one read after a poll consumed two writers' bytes (one of
              them twice) and the reader's own: two links, no duplicate, no self;
              with OTEL_SPAN_LINK_COUNT_LIMIT=1, one.
  fullpipe    a write that blocked on a full pipe: one `wait pipe.write`.
  xproc       a child writes, the parent holds the read end only: the queue
              depth is FIONREAD, sampled by the exporter; a regular file and a
              UDP socket are no channels. The child's counts are its own:
              nothing of a pipe the parent closed just before the fork, nor of
              the parent's bytes through the pipe it inherited, nor of the
              parent's closed UDP socket.
  reuse       a pipe closed and its numbers reused by a file and a new pipe:
              the new pipe is channel #2, the file no channel, dup/dup2/dup3/
              F_DUPFD_CLOEXEC/close_range followed; closed channels disappear.
  forkturns   a parent and child take turns through pipes made before the fork:
              the child's reads each block, each a wait; through a FIFO and
              with MSG_WAITALL, no system call but the read's (strace counts).
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import LIB, Output, Run, attrs, program, check, equal, done  # noqa: E402

ENV = {"WEFT_SPAN_MIN_WAIT": "0", "OTEL_METRIC_EXPORT_INTERVAL": "100",
       "WEFT_RING_SIZE": "16384"}
CHANNEL_METRICS = ("weft.channel.io", "weft.channel.messages", "weft.channel.queue.depth")


class Play:
    """One run of a channel program: its output and what it printed."""

    def __init__(self, argv, what, env=None):
        self.what = what
        self.r = Run(argv, env=dict(ENV, **(env or {})))
        equal(self.r.rc, 0, f"{what}: exit status")
        check(self.r.stdout.rstrip().endswith("done"),
              f"{what}: ran to the end: {self.r.stdout[-500:]!r} {self.r.stderr[-500:]!r}")
        self.tids, self.n, self.fd, self.pid, self.lines = {}, {}, {}, {}, {}
        for line in self.r.stdout.splitlines():
            f = line.split()
            if len(f) >= 2:
                self.lines.setdefault(f[0], []).append(f[1:])
            if len(f) == 3 and f[0] == "tid":
                self.tids[f[1]] = int(f[2])
            elif len(f) == 3 and f[0] == "count":
                self.n[f[1]] = int(f[2])
            elif len(f) == 3 and f[0] == "pid":
                self.pid[f[1]] = int(f[2])
            elif len(f) >= 3 and f[0] == "fd":
                self.fd[f[1]] = [int(x) for x in f[2:]]
        self.out = self.r.by_pid.get(self.pid["parent"]) if "parent" in self.pid else None
        if self.out is None:
            self.out = self.r.only()
        equal(self.out.value("weft.agent.events.dropped", weft_drop_reason="ring_full"), 0,
              f"{what}: no event dropped, so every count below is exact")
        for out in self.r.by_pid.values():
            TASK_THREAD.update({s["spanId"]: s["attrs"].get("thread.id", out.resource.get(
                "process.pid")) for s in out.spans if s["name"].startswith("task ")})

    def counts(self, *names):
        """The constants the program printed as `count <name> <n>` (-1 if not)."""
        check(all(k in self.n for k in names), f"{self.what}: the program printed its counts")
        return [self.n.get(k, -1) for k in names]

    def fds(self, name):
        """The descriptors printed as `fd <name> ...` ([-1, -1] if none)."""
        got = self.fd.get(name)
        check(got is not None, f"{self.what}: the program printed its descriptors {name}")
        return got or [-1, -1]

    def thread_span(self, role, out=None):
        """The span of thread `role` (the process span for main)."""
        out = out or self.out
        if role == "main":
            return out.span("process")
        found = [s for s in out.named("thread ")
                 if s["attrs"].get("thread.id") == self.tids.get(role)]
        check(len(found) == 1, f"{self.what}: one span for thread {role}, got {len(found)}")
        if found:
            equal(found[0]["name"], f"thread {role}", f"{self.what}: the span of thread {role}")
        return found[0] if found else {}

    def waits(self, kind, role):
        """Thread `role`'s `wait <kind>` spans, in the order they started."""
        found = [s for s in self.out.spans if s["name"] == f"wait {kind}"
                 and s["attrs"].get("thread.id") == self.tids.get(role)]
        return sorted(found, key=lambda s: int(s.get("startTimeUnixNano", 0)))


CHANPLAY_COUNTS = ("M", "SIZE", "REQ", "RESP", "TURNS", "XN", "FILE_BYTES")


def chanplay(mode, what=None, env=None):
    return Play([program("chanplay"), mode], what or mode, env)


def links(s, kind=None):
    return [ln for ln in s.get("links", []) if kind is None or
            attrs(ln.get("attributes")).get("weft.link.kind") == kind]


# Task spans of every run so far, by id: their thread (agent/task.h). A writer
# inside a task writes as its task, so a link to the writer may name the task.
TASK_THREAD = {}


def points_to(ln, target):
    """The link names the target span, or a task of the target's thread."""
    if ln.get("spanId") == target.get("spanId") and ln.get("traceId") == target.get("traceId"):
        return True
    tid = TASK_THREAD.get(ln.get("spanId"))
    want = target.get("attrs", {}).get("thread.id", target.get("attrs", {}).get("process.pid"))
    return tid is not None and tid == want


def one_link_to(s, kind, target):
    """Exactly one link on s, of this kind, to the target span."""
    return len(s.get("links", [])) == 1 and len(links(s, kind)) == 1 and \
        points_to(links(s, kind)[0], target)


def describe_links(spans):
    return [[(attrs(ln.get("attributes")).get("weft.link.kind"), ln.get("spanId"))
             for ln in s.get("links", [])] for s in spans]


def series(out, metric):
    """{attributes as a sorted tuple: [value in each export that has it, in order]}."""
    got = {}
    for ml in out.metric_lines:
        m = ml.get(metric)
        if not m:
            continue
        data = m.get("sum") or m.get("gauge") or {}
        for p in data.get("dataPoints", []):
            a = tuple(sorted(attrs(p.get("attributes")).items()))
            v = int(p["asInt"]) if "asInt" in p else p.get("asDouble", 0)
            got.setdefault(a, []).append(v)
    return got


def io(out, metric, name, direction):
    """The final value of a channel counter (from the last export that has it), else None."""
    vals = series(out, metric).get(
        tuple(sorted({"weft.channel.name": name, "network.io.direction": direction}.items())))
    return vals[-1] if vals else None


def depths(out, name):
    return series(out, "weft.channel.queue.depth").get((("weft.channel.name", name),), [])


def channel_names(out):
    return {dict(a).get("weft.channel.name") for m in CHANNEL_METRICS for a in series(out, m)}


def hist_count(out, **want):
    w = {k.replace("_", "."): v for k, v in want.items()}
    return sum(int(p.get("count", 0)) for p in out.points("weft.wait.duration")
               if attrs(p.get("attributes")) == w)


def check_io(p, name, tx, tx_msgs, rx, rx_msgs, out=None):
    out = out or p.out
    equal(io(out, "weft.channel.io", name, "transmit"), tx, f"{p.what}: {name} bytes transmitted")
    equal(io(out, "weft.channel.messages", name, "transmit"), tx_msgs,
          f"{p.what}: {name} messages transmitted")
    equal(io(out, "weft.channel.io", name, "receive"), rx, f"{p.what}: {name} bytes received")
    equal(io(out, "weft.channel.messages", name, "receive"), rx_msgs,
          f"{p.what}: {name} messages received")


def check_read_waits(p, spans, kind, channel, fd, fn, writer_span, link_kind):
    """Every wait is the reader's, on this channel and descriptor, called from fn,
    a child of the reader's thread span, with one link of link_kind to the writer's span."""
    equal(sorted({s["attrs"].get("weft.channel.name") for s in spans}), [channel],
          f"{p.what}: the `wait {kind}` spans name the channel")
    equal(sorted({s["attrs"].get("weft.object") for s in spans}), [f"fd:{fd}"],
          f"{p.what}: weft.object of the `wait {kind}` spans is the descriptor")
    equal(sorted({s["attrs"].get("code.function.name") for s in spans}), [fn],
          f"{p.what}: code.function.name of the `wait {kind}` spans is the caller")
    bad = [s for s in spans if not one_link_to(s, link_kind, writer_span)]
    check(not bad, f"{p.what}: every `wait {kind}` has exactly one link, of kind {link_kind}, "
          f"to the writer's span {writer_span.get('spanId')}: {len(bad)} of {len(spans)} do "
          f"not, the first: {describe_links(bad[:3])}")


# ------------------------------------------------------------------- pipeline

p = Play([program("pipeline")], "pipeline")
M, B, SIZE = p.counts("M", "B", "SIZE")
P1, P2 = "pipe:make_pipes#1", "pipe:make_pipes#2"
equal(channel_names(p.out), {P1, P2}, "pipeline: the channels and their names")
for ch in (P1, P2):
    check_io(p, ch, (M + B) * SIZE, M + B, (M + B) * SIZE, M + B)
s1, s2, s3 = p.thread_span("stage1"), p.thread_span("stage2"), p.thread_span("stage3")
w2, w3 = p.waits("pipe.read", "stage2"), p.waits("pipe.read", "stage3")
equal(len(w2), M + B, "pipeline: stage2 blocked in every read")
equal(len(w3), M, "pipeline: stage3 blocked in every lockstep read, and in no slowed one")
check_read_waits(p, w2, "pipe.read", P1, p.fds("pipe1")[0], "stage2", s1, "pipe")
check_read_waits(p, w3, "pipe.read", P2, p.fds("pipe2")[0], "stage3", s2, "pipe")
check(all(s.get("parentSpanId") == s2.get("spanId") for s in w2) and
      all(s.get("parentSpanId") == s3.get("spanId") for s in w3),
      "pipeline: each `wait pipe.read` is a child of its reader's thread span")
equal(len(p.out.named("wait pipe.write")), 0, "pipeline: no write blocked")
equal(hist_count(p.out, weft_wait_kind="pipe.read", code_function_name="stage2"), M + B,
      "pipeline: weft.wait.duration{pipe.read, stage2}")
equal(hist_count(p.out, weft_wait_kind="pipe.read", code_function_name="stage3"), M,
      "pipeline: weft.wait.duration{pipe.read, stage3}")
d2 = depths(p.out, P2)
check(B * SIZE in d2, f"pipeline: the depth of {P2} rose to {B * SIZE} while stage3 slept: {d2}")
check(d2 and max(d2) == B * SIZE, f"pipeline: and never above: {d2}")
check(all(v in (0, SIZE) for v in depths(p.out, P1)),
      f"pipeline: {P1} never held more than one message: {depths(p.out, P1)}")
for ch in (P1, P2):
    check(depths(p.out, ch)[-1:] == [0], f"pipeline: {ch} is empty at the end: {depths(p.out, ch)}")

# ----------------------------------------------------------------------- poll

p = chanplay("poll")
M, SIZE, REQ, RESP, TURNS, XN, FILE_BYTES = p.counts(*CHANPLAY_COUNTS)
CH = "pipe:make_poll_pipe#1"
equal(channel_names(p.out), {CH}, "poll: the channel")
check_io(p, CH, M * SIZE, M, M * SIZE, M)
producer = p.thread_span("producer")
pw = p.waits("poll", "consumer")
calls = [c[1] for c in p.lines.get("call", [])]
equal(len(pw), M, f"poll: one `wait poll` per readiness call ({calls})")
equal(sorted({s["attrs"].get("code.function.name") for s in pw}), ["await_readable"],
      "poll: code.function.name of the `wait poll` spans")
missing = [calls[i] for i, s in enumerate(pw)
           if i < len(calls) and not one_link_to(s, "pipe", producer)]
equal(missing, [], "poll: the readiness calls whose `wait poll` lacks exactly one `pipe` link "
      "to the producer's span (the read that followed consumed its bytes)")
equal(p.waits("pipe.read", "consumer"), [], "poll: the reads after the wait did not block")
equal(hist_count(p.out, weft_wait_kind="poll", code_function_name="await_readable"), M,
      "poll: weft.wait.duration{poll, await_readable}")

# -------------------------------------------------------------------- eventfd

p = chanplay("eventfd")
M, SIZE, REQ, RESP, TURNS, XN, FILE_BYTES = p.counts(*CHANPLAY_COUNTS)
CH = "eventfd:make_eventfd#1"
equal(channel_names(p.out), {CH}, "eventfd: the channel")
check_io(p, CH, 8 * M, M, 8 * M, M)
ew = p.waits("pipe.read", "waiter")
equal(len(ew), M, "eventfd: the waiter blocked in every read")
check_read_waits(p, ew, "pipe.read", CH, p.fds("eventfd")[0], "waiter", p.thread_span("main"),
                 "eventfd")

# ----------------------------------------------------------------- socketpair

p = chanplay("socketpair")
M, SIZE, REQ, RESP, TURNS, XN, FILE_BYTES = p.counts(*CHANPLAY_COUNTS)
CH = "socketpair:make_socketpair#1"
equal(channel_names(p.out), {CH}, "socketpair: the channel")
check_io(p, CH, M * (REQ + RESP), 2 * M, M * (REQ + RESP), 2 * M)
server, client = p.thread_span("server"), p.thread_span("client")
sw, cw = p.waits("socket.recv", "server"), p.waits("socket.recv", "client")
equal((len(sw), len(cw)), (M, M), "socketpair: server and client blocked in every receive")
check_read_waits(p, sw, "socket.recv", CH, p.fds("socketpair")[1], "server", client, "socket")
check_read_waits(p, cw, "socket.recv", CH, p.fds("socketpair")[0], "client", server, "socket")
equal(len(p.out.named("wait pipe.read")), 0, "socketpair: reads on a socketpair are socket.recv")

# ----------------------------------------------------------------------- fifo

p = chanplay("fifo")
M, SIZE, REQ, RESP, TURNS, XN, FILE_BYTES = p.counts(*CHANPLAY_COUNTS)
CH = "fifo:make_fifo#1"
equal(channel_names(p.out), {CH}, "fifo: both opens are one channel, named after mkfifo's caller")
check_io(p, CH, M * SIZE, M, M * SIZE, M)
fw = p.waits("pipe.read", "fifo_reader")
equal(len(fw), M + 1, "fifo: the reader blocked in every read, and in the one EOF ended")
check_read_waits(p, fw[:M], "pipe.read", CH, p.fds("fifo_read")[0], "fifo_reader",
                 p.thread_span("fifo_writer"), "pipe")
eof = fw[M:] if M >= 0 else []
check(len(eof) == 1 and not eof[0].get("links"),
      f"fifo: the read EOF ended has no link: {describe_links(eof)}")

# -------------------------------------------------------------------- writers

p = chanplay("writers")
M, SIZE, REQ, RESP, TURNS, XN, FILE_BYTES = p.counts(*CHANPLAY_COUNTS)
CH = "pipe:make_shared_pipe#1"
equal(channel_names(p.out), {CH}, "writers: one channel")
check_io(p, CH, (TURNS + 4) * SIZE, TURNS + 4, (TURNS + 4) * SIZE, TURNS + 1)
writer = {f"writer{k}": p.thread_span(f"writer{k}") for k in range(3)}
reader = p.thread_span("reader")
turns = {int(t[0]): t[1] for t in p.lines.get("turn", [])}
equal(sorted(turns), list(range(TURNS)), "writers: the program printed every turn")
rw = p.waits("pipe.read", "reader")
equal(len(rw), TURNS, "writers: the reader blocked in every turn's read")
bad = [i for i, s in enumerate(rw) if not one_link_to(s, "pipe", writer.get(turns.get(i), {}))]
equal(bad, [], "writers: the turns whose read wait lacks exactly one `pipe` link to that turn's "
      f"writer (their links: {describe_links([rw[i] for i in bad])}; writers: "
      f"{ {w: s.get('spanId') for w, s in writer.items()} }, reader {reader.get('spanId')})")
pw = p.waits("poll", "reader")
if equal(len(pw), 1, "writers: one `wait poll` for the merged read"):
    got = sorted(ln.get("spanId") for ln in links(pw[0], "pipe"))
    want = sorted(writer[w].get("spanId") for w in ("writer0", "writer1"))
    equal(got, want, "writers: the merged read links once to each writer whose bytes it "
          "consumed (writer0 twice: one link), not to the reader's own span")
    equal(len(pw[0].get("links", [])), 2, "writers: and has no other link")
    check(not any(points_to(ln, reader) for ln in pw[0].get("links", [])), "writers: no self link")

# OTEL_SPAN_LINK_COUNT_LIMIT=1: the merged read's wait keeps one of its two links.
p = chanplay("writers", "writers, one link per span", {"OTEL_SPAN_LINK_COUNT_LIMIT": "1"})
M, SIZE, REQ, RESP, TURNS, XN, FILE_BYTES = p.counts(*CHANPLAY_COUNTS)
writers = {p.thread_span(f"writer{k}").get("spanId") for k in range(3)}
rw = p.waits("pipe.read", "reader")
equal([len(links(s, "pipe")) for s in rw], [1] * TURNS, "writers, limit 1: each turn's one link")
pw = p.waits("poll", "reader")
check(len(pw) == 1 and len(pw[0].get("links", [])) == 1 and
      pw[0]["links"][0].get("spanId") in writers,
      f"writers, limit 1: the merged read's wait has one link, to a writer: {describe_links(pw)}")

# ------------------------------------------------------------------- fullpipe

p = chanplay("fullpipe")
M, SIZE, REQ, RESP, TURNS, XN, FILE_BYTES = p.counts(*CHANPLAY_COUNTS)
CH = "pipe:make_full_pipe#1"
equal(channel_names(p.out), {CH}, "fullpipe: the channel")
check_io(p, CH, 65536 + SIZE, 2, 65536 + SIZE, 2)
ww = p.waits("pipe.write", "filler")
equal(len(ww), 1, "fullpipe: one `wait pipe.write`, the write into the full pipe")
equal([(s["attrs"].get("weft.channel.name"), s["attrs"].get("weft.object"),
        s["attrs"].get("code.function.name")) for s in ww],
      [(CH, f"fd:{p.fds('pipe')[1]}", "filler")], "fullpipe: its channel, descriptor and caller")
equal(len(p.out.named("wait pipe.read")), 0, "fullpipe: no read blocked")
equal(hist_count(p.out, weft_wait_kind="pipe.write", code_function_name="filler"), 1,
      "fullpipe: weft.wait.duration{pipe.write, filler}")
d = depths(p.out, CH)
check(65536 in d and max(d) == 65536, f"fullpipe: the depth showed the full pipe: {d}")
check(d[-1:] == [0], f"fullpipe: empty at the end: {d}")
waiting = series(p.out, "weft.thread.waiting").get((("weft.wait.kind", "pipe.write"),), [])
check(1 in waiting and waiting[-1:] == [0],
      f"fullpipe: weft.thread.waiting{{pipe.write}} showed the blocked writer: {waiting}")

# ---------------------------------------------------------------------- xproc

p = chanplay("xproc")
M, SIZE, REQ, RESP, TURNS, XN, FILE_BYTES = p.counts(*CHANPLAY_COUNTS)
CH, DEAD, PRE = "pipe:make_xpipe#1", "pipe:make_dead_pipe#1", p.n.get("PRE")
equal(channel_names(p.out), {CH, DEAD},
      "xproc: the pipes are the parent's only channels (the file and the UDP socket are none)")
equal([io(p.out, m, DEAD, d) for m in ("weft.channel.io", "weft.channel.messages")
       for d in ("transmit", "receive")], [PRE, PRE, 1, 1], "xproc: the closed pipe's counts")
d = depths(p.out, CH)
check(XN in d, f"xproc: the parent's depth showed the child's {XN} bytes (FIONREAD): {d}")
check(d and max(d) == XN and d[-1] == 0, f"xproc: never more, and 0 at the end: {d}")
equal(io(p.out, "weft.channel.io", CH, "receive"), PRE + XN, "xproc: bytes the parent received")
equal(io(p.out, "weft.channel.messages", CH, "receive"), 2, "xproc: in two reads")
equal(io(p.out, "weft.channel.io", CH, "transmit"), PRE, "xproc: the parent's own bytes")
check(all(FILE_BYTES not in v for v in series(p.out, "weft.channel.io").values()),
      "xproc: the regular file's and the UDP socket's bytes are counted nowhere")
child = p.r.by_pid.get(p.pid.get("child"))
if check(child is not None, f"xproc: the child wrote its output: {p.r.files}"):
    # Its counts are its own: nothing of the pipe the parent closed before
    # the fork, nor of the parent's bytes through the inherited one.
    equal(channel_names(child), {CH}, "xproc: the child's channel is the pipe it inherited")
    equal(io(child, "weft.channel.io", CH, "transmit"), XN, "xproc: bytes the child wrote")
    equal(io(child, "weft.channel.messages", CH, "transmit"), 1, "xproc: in one write")
    equal((io(child, "weft.channel.io", CH, "receive"),
           io(child, "weft.channel.messages", CH, "receive")), (0, 0),
          "xproc: the child received nothing")
    # Nor of the UDP socket the parent used and closed before the fork.
    equal({a: v[-1] for a, v in series(child, "weft.socket.io").items() if v[-1]}, {},
          "xproc: no socket bytes of the parent's in the child")

# ---------------------------------------------------------------------- reuse

p = chanplay("reuse")
M, SIZE, REQ, RESP, TURNS, XN, FILE_BYTES = p.counts(*CHANPLAY_COUNTS)
R1, R2 = "pipe:make_reused#1", "pipe:make_reused#2"
equal(p.lines.get("same_number_file"), [["1"]], "reuse: the file got the closed read end's number")
equal(p.lines.get("same_number_pipe"), [["1"]],
      "reuse: the new pipe got the old write end's number")
equal(channel_names(p.out), {R1, R2}, "reuse: the new pipe is channel #2; the file is no channel")
check_io(p, R1, 10, 1, 10, 1)
check_io(p, R2, 90, 3, 90, 3)
check(all(FILE_BYTES not in v for v in series(p.out, "weft.channel.io").values()),
      "reuse: the file's bytes are counted nowhere")
# A closed channel's last point, if an export saw it closed before the final
# one, is 0 (the exporter may not have run between the close and the exit).
for ch in (R1, R2):
    check(depths(p.out, ch)[-1:] in ([0], []), f"reuse: {ch} had a last depth point of 0: "
          f"{depths(p.out, ch)}")
last = p.out.metric_lines[-1] if p.out.metric_lines else {}
gauge = (last.get("weft.channel.queue.depth") or {}).get("gauge", {})
left = [attrs(x.get("attributes")).get("weft.channel.name") for x in gauge.get("dataPoints", [])]
equal(left, [], "reuse: a channel whose every descriptor is closed disappears from the depth gauge")
equal(len(p.out.named("wait pipe.")), 0, "reuse: no call blocked")

# ------------------------------------------------------------------ forkturns
# A channel shared with another process (made before a fork) whose reader
# blocks in every read: each read is a wait. Through a pipe each read tries
# first (RWF_NOWAIT), which finds nothing; through a FIFO, which has no
# RWF_NOWAIT, and with recv(MSG_WAITALL), which cannot be tried, the read is
# timed (agent/channel.h), with no try, no poll and no FIONREAD before it.
# The child's system calls are counted with strace.
TURNS = 50


def forkturns(mode, syscalls):
    """The child's output and its traced calls (strace lines) of forkturns MODE."""
    d = tempfile.mkdtemp(prefix="weft-forkturns-")
    trace = os.path.join(d, "trace")
    e = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "WEFT_"))}
    e.update(ENV, WEFT_OUTPUT=os.path.join(d, "out-%p.jsonl"))
    r = subprocess.run(["strace", "-f", "-qq", "-e", "trace=" + syscalls,
                        "-E", "LD_PRELOAD=" + LIB, "-o", trace,
                        program("forkturns"), str(TURNS), mode],
                       env=e, capture_output=True, text=True, timeout=120, cwd=d)
    equal(r.returncode, 0, f"forkturns {mode}: exit status under strace")
    check(r.stdout.rstrip().endswith("done"), f"forkturns {mode}: ran to the end: {r.stdout!r}")
    child = int(r.stdout.split()[1]) if r.stdout.startswith("child ") else -1
    with open(trace) as f:
        calls = [ln for ln in f if ln.split()[0] == str(child)]
    path = os.path.join(d, f"out-{child}.jsonl")
    out = Output(path if os.path.exists(path) else None)
    shutil.rmtree(d, ignore_errors=True)
    kind = "socket.recv" if mode == "waitall" else "pipe.read"
    equal(len(out.named("wait " + kind)), TURNS,
          f"forkturns {mode}: each of the child's reads blocked through the parent's sleep: a wait")
    return out, calls


if shutil.which("strace"):
    out, calls = forkturns("pipe", "preadv2")
    equal(sum("EAGAIN" in ln for ln in calls), TURNS,
          "forkturns pipe: each of the child's reads tried first and found nothing")
    equal(io(out, "weft.channel.io", "pipe:main#1", "receive"), TURNS,
          "forkturns pipe: the child's bytes read")
    out, calls = forkturns("fifo", "preadv2,poll,ppoll")
    check(len(calls) <= 1,
          f"forkturns fifo: the child made no try and no poll beyond one first try: {calls[:3]}")
    equal(io(out, "weft.channel.io", "fifo:main#1", "receive"), TURNS,
          "forkturns fifo: the child's bytes read")
    out, calls = forkturns("waitall", "ioctl,poll,recvfrom")
    asked = [ln for ln in calls if "FIONREAD" in ln or "poll(" in ln]
    # The final export samples each shared descriptor's depth once (FIONREAD).
    check(len(asked) <= 6, f"forkturns waitall: the child's MSG_WAITALL receives asked nothing "
          f"first ({len(asked)} FIONREAD or poll in all, one a receive before): {asked[:3]}")
    equal(sum("MSG_WAITALL" in ln for ln in calls), TURNS,
          "forkturns waitall: one receive a turn")
    equal(io(out, "weft.channel.io", "socketpair:main#1", "receive"), TURNS,
          "forkturns waitall: the child's bytes read")
else:
    print("strace not found: the forkturns checks are skipped")
done()
