"""Channels follow their descriptors across exec (agent/channel_exec.h).

tests/programs/chanexec.c makes three channels, waits until its own output
names them, forks; the child dup2()s the pipe's write end to descriptor 10 and
execs the same program in writer mode, once per exec function, and once
through system() (the shell inherits the descriptors and execs it). The
exec'd image must export:

  pipe:make_exec_pipe#1        the parent's name; N bytes transmitted through
                               descriptor 10 and the original write end (one
                               channel, two descriptors), counted from 0
  socketpair:make_exec_socketpair#1
                               the second end: RN bytes received, SN sent
  pipe:make_exec_pipe#2        a pipe the new image made in the same function:
                               numbered after the inherited one

and nothing of pipe:make_cloexec_pipe#1, whose descriptors were O_CLOEXEC.
The new image never sees WEFT_CHANNELS in its environment; the parent reads
what the new image wrote, and its own counts are unchanged.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import Run, attrs, program, check, equal, done  # noqa: E402

ENV = {"OTEL_METRIC_EXPORT_INTERVAL": "100"}
VARIANTS = ("execve", "execv", "execvp", "execvpe", "execl", "execlp", "execle", "fexecve",
            "execveat", "system")
METRICS = ("weft.channel.io", "weft.channel.messages", "weft.channel.queue.depth")
PIPE, PIPE2 = "pipe:make_exec_pipe#1", "pipe:make_exec_pipe#2"
CLOEXEC, SOCK = "pipe:make_cloexec_pipe#1", "socketpair:make_exec_socketpair#1"


def names(out):
    got = set()
    for ml in out.metric_lines:
        for m in METRICS:
            data = (ml.get(m) or {}).get("sum") or (ml.get(m) or {}).get("gauge") or {}
            for p in data.get("dataPoints", []):
                got.add(attrs(p.get("attributes")).get("weft.channel.name"))
    return got


def io(out, metric, name, direction):
    """The channel counter's value in the last export that has it (None if none)."""
    want = {"weft.channel.name": name, "network.io.direction": direction}
    value = None
    for ml in out.metric_lines:
        for p in ((ml.get(metric) or {}).get("sum") or {}).get("dataPoints", []):
            if attrs(p.get("attributes")) == want:
                value = int(p.get("asInt", 0))
    return value


def check_io(out, what, name, tx, tx_msgs, rx, rx_msgs):
    equal(io(out, "weft.channel.io", name, "transmit"), tx, f"{what}: {name} bytes transmitted")
    equal(io(out, "weft.channel.messages", name, "transmit"), tx_msgs,
          f"{what}: {name} messages transmitted")
    equal(io(out, "weft.channel.io", name, "receive"), rx, f"{what}: {name} bytes received")
    equal(io(out, "weft.channel.messages", name, "receive"), rx_msgs,
          f"{what}: {name} messages received")


for variant in VARIANTS:
    r = Run([program("chanexec"), "parent", variant], env=ENV)
    what = f"chanexec {variant}"
    equal(r.rc, 0, f"{what}: exit status")
    if not check(r.stdout.rstrip().endswith("done"),
                 f"{what}: ran to the end: {r.stdout[-800:]!r} {r.stderr[-800:]!r}"):
        continue
    lines = {}
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) == 2:
            lines[f[0]] = f[1]
        elif len(f) == 3:
            lines[f"{f[0]} {f[1]}"] = f[2]
    n, rn, sn, new = (int(lines.get(f"count {k}", -1)) for k in ("N", "RN", "SN", "NEW"))
    equal(lines.get("named"), "1", f"{what}: the parent's channels were named before the exec")
    equal(lines.get("weft_channels_env"), "unset",
          f"{what}: the new image's environment has no WEFT_CHANNELS")
    equal(lines.get("cloexec_closed"), "1", f"{what}: the O_CLOEXEC pipe is closed after exec")
    equal(int(lines.get("count read", -1)), n, f"{what}: the parent read all the writer wrote")
    equal(int(lines.get("count sread", -1)), sn, f"{what}: the parent got the writer's reply")
    equal(lines.get("child_status"), "0", f"{what}: the writer succeeded")
    parent = r.by_pid.get(int(lines.get("pid parent", 0)))
    writer = r.by_pid.get(int(lines.get("pid writer", 0)))
    if not check(parent is not None and writer is not None,
                 f"{what}: both processes wrote their output: {r.files}"):
        continue
    equal(names(writer), {PIPE, PIPE2, SOCK},
          f"{what}: the new image's channels: the inherited pipe and socketpair under the "
          "parent's names, its own pipe numbered after them, no O_CLOEXEC pipe")
    # 1500 bytes on each descriptor in writes of at most 512: 3 + 3.
    check_io(writer, what, PIPE, n, 6, 0, 0)
    check_io(writer, what, SOCK, sn, 1, rn, 1)
    check_io(writer, what, PIPE2, new, 1, new, 1)
    equal(io(parent, "weft.channel.io", PIPE, "receive"), n,
          f"{what}: the parent received the writer's bytes on its pipe")
    equal(io(parent, "weft.channel.io", PIPE, "transmit"), 0,
          f"{what}: the parent transmitted nothing on the pipe")
    check(CLOEXEC in names(parent), f"{what}: the O_CLOEXEC pipe is the parent's channel")

done()
