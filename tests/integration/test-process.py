"""The process tree: every child's `process` span continues its parent's trace.

tests/programs/spawner.c starts children every way it can (see there): from
a thread named `launcher`, posix_spawn, fork then exec, vfork then exec,
system and popen (whose shell starts the child); from the main thread,
posix_spawnp; and last it execs itself into a new image. Each child's process span must be in the parent's trace, its parent
the span current in the thread that started it (the launcher's thread span,
or the process span for the main thread); a forked child that only execs
leaves no process span of its own; the image replaced by exec exports its
telemetry first, its process span marked weft.process.exec, and the new
image's process span is its child. Natively the program prints the same.
"""
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import Run, program, check, equal, done  # noqa: E402


def normalised(text):
    return sorted(re.sub(r"\d+", "N", line) for line in text.splitlines())


native = Run([program("spawner")], preload=False, expect_file=False)
r = Run([program("spawner")])
equal((native.rc, r.rc), (0, 0), "exit status natively and under weft")
equal(normalised(r.stdout), normalised(native.stdout), "the same output natively and under weft")

pids = {}
shells = {}
for line in r.stdout.splitlines():
    f = line.split()
    if len(f) == 3 and f[0] == "spawned":
        pids[f[1]] = int(f[2])
    elif len(f) == 2 and f[0] == "replacing":
        pids["self"] = int(f[1])
    elif f[-3:-1] in (["child", "system"], ["child", "popen"]):
        shells[f[-2]] = int(f[-1])
check(set(pids) == {"spawned", "forked", "vforked", "main", "self"}, f"pids printed: {pids}")
check(set(shells) == {"system", "popen"}, f"the shells' children printed their pids: {shells}")

parent = r.by_pid.get(pids.get("self"))
check(parent is not None, f"the parent's output: {r.files}")
procs = [s for s in parent.spans if s["name"] == "process"] if parent else []
equal(len(procs), 2, "the parent's pid has two process spans: its first image's and its second's")
first = [s for s in procs if s["attrs"].get("weft.process.exec") is True]
second = [s for s in procs if "weft.process.exec" not in s["attrs"]]
equal((len(first), len(second)), (1, 1), "one image replaced by exec, one that exited")
trace = first[0]["traceId"] if first else None
launcher = [s for s in parent.spans if s["name"] == "thread launcher"] if parent else []
equal(len(launcher), 1, "the launcher thread's span")
if first and second and launcher:
    check("process.exit.code" not in first[0]["attrs"], "an image replaced by exec has no exit code")
    equal(second[0].get("parentSpanId"), first[0]["spanId"],
          "the new image's process span is a child of the image it replaced (the main thread's span)")
    equal(second[0]["traceId"], trace, "... in the same trace")
    equal(second[0]["attrs"].get("process.exit.code"), 0, "the new image exited 0")
    check(int(second[0]["startTimeUnixNano"]) >= int(first[0]["endTimeUnixNano"]) - 1_000_000,
          "the new image starts where the old one ended")
    for label, want in (("spawned", launcher[0]), ("forked", launcher[0]),
                        ("vforked", launcher[0]), ("main", first[0])):
        out = r.by_pid.get(pids.get(label))
        check(out is not None, f"{label}: the child wrote its own output")
        if not out:
            continue
        ps = [s for s in out.spans if s["name"] == "process"]
        equal(len(ps), 1, f"{label}: one process span (a forked child that only execs has no "
              "other)")
        if ps:
            equal(ps[0]["traceId"], trace, f"{label}: the child is in the parent's trace")
            equal(ps[0].get("parentSpanId"), want["spanId"],
                  f"{label}: its parent is the span of the thread that started it "
                  f"({want['name']})")
            equal(ps[0]["attrs"].get("process.exit.code"), 0, f"{label}: exit code")
    # system and popen: the child's process span, its parent the shell's
    # process span (in the shell's own output, the shell a child of the
    # parent process), whose parent is the launcher's thread span.
    for label, pid in shells.items():
        out = r.by_pid.get(pid)
        ps = [s for s in out.spans if s["name"] == "process"] if out else []
        equal(len(ps), 1, f"{label}: the shell's child exported one process span")
        shell = r.by_pid.get(out.resource.get("process.parent_pid")) if out else None
        check(shell is not None and shell is not parent,
              f"{label}: the shell wrote its own output")
        sps = [s for s in shell.spans if s["name"] == "process"] if shell else []
        equal(len(sps), 1, f"{label}: the shell's process span")
        if ps and sps:
            equal(shell.resource.get("process.parent_pid"), pids.get("self"),
                  f"{label}: the shell is the parent's child")
            equal((ps[0]["traceId"], sps[0]["traceId"]), (trace, trace),
                  f"{label}: the shell and its child are in the parent's trace")
            equal(ps[0].get("parentSpanId"), sps[0]["spanId"],
                  f"{label}: the child's parent is the shell's process span")
            equal(sps[0].get("parentSpanId"), launcher[0]["spanId"],
                  f"{label}: the shell's parent is the span of the thread that ran {label}()")
equal(len(r.by_pid), 9, "one output per process: the parent, its four children, and the two "
      "shells and their children")

# A daemon: fork, setsid, fork, close every descriptor, (as root) chroot. It
# keeps exporting; the intermediate child's _exit exports too, so the tree holds.
for root in ([None, tempfile.mkdtemp(prefix="weft-chroot-")] if os.geteuid() == 0 else [None]):
    what = "daemon in a chroot" if root else "daemon"
    r = Run([program("daemonize")] + ([root] if root else []))
    equal(r.rc, 0, f"{what}: the program ran")
    m = re.search(r"daemon (\d+)", r.stdout)
    check(m is not None, f"{what}: printed the daemon's pid")
    d = r.by_pid.get(int(m.group(1))) if m else None
    check(d is not None, f"{what}: the daemon wrote its output ({r.files})")
    equal(len(r.by_pid), 3, f"{what}: the parent, the intermediate child (its _exit exports) "
          "and the daemon")
    if d:
        equal(len([s for s in d.spans if s["name"] == "thread daemon-worker"]), 2,
              f"{what}: both worker threads' spans")
        ps = [s for s in d.spans if s["name"] == "process"]
        ids = {s["spanId"]: s for out in r.by_pid.values() for s in out.spans}
        chain, span = [], ps[0] if ps else None
        while span:
            chain.append(span)
            span = ids.get(span.get("parentSpanId"))
        equal(len(chain), 3, f"{what}: daemon → intermediate child → parent, all exported")
        equal(len({s["traceId"] for s in chain}), 1, f"{what}: one trace")

# A forked child runs its parent's executable: it keeps the path its parent
# read (exporter/resource.c) rather than reading /proc/self/exe again, which
# in a chroot without /proc it could not. The parent reads it when its
# exporter starts, at its first thread (`--threaded`).
if os.geteuid() == 0:
    r = Run([program("daemonize"), "--threaded", tempfile.mkdtemp(prefix="weft-chroot-")])
    equal(r.rc, 0, "threaded parent, daemon in a chroot: the program ran")
    equal(len(r.by_pid), 3, "threaded parent, daemon in a chroot: three outputs")
    for pid, out in sorted(r.by_pid.items()):
        equal(out.resource.get("process.executable.path"), program("daemonize"),
              f"threaded parent, daemon in a chroot: process {pid}'s executable path")

# Signals ignored when the program starts (nohup, a shell's trap '' ...) stay
# ignored: weft puts its handlers in only for a default disposition (and puts
# anything else straight back, agent/signals.c).
ignoring = ["sh", "-c", f"trap '' HUP INT; exec {program('sigplay')} view"]
native = Run(ignoring, preload=False, expect_file=False)
check(all(ln.split()[:2] == [s, "SIG_IGN"] for s in ("HUP", "INT")
          for ln in native.stdout.splitlines() if ln.split()[:1] == [s]),
      f"inherited SIG_IGN: natively ignored: {native.stdout!r}")
r = Run(ignoring, expect_file=False)
equal(r.stdout, native.stdout, "inherited SIG_IGN: the same dispositions as natively")

# Dying of a signal: the same death as natively, and the telemetry exported
# first (tests/programs/sigplay.c).
for mode, sig in (("term", "SIGTERM"), ("int", "SIGINT"), ("segv", "SIGSEGV"),
                  ("abort", "SIGABRT"), ("handled", None), ("view", None)):
    native = Run([program("sigplay"), mode], preload=False, expect_file=False)
    for env in ({}, {"OTEL_SDK_DISABLED": "true"}):
        r = Run([program("sigplay"), mode], env=env, expect_file=not env)
        tag = f"sigplay {mode}" + (" (disabled)" if env else "")
        equal(r.rc, native.rc, f"{tag}: the same exit status as natively")
        equal(r.stdout, native.stdout, f"{tag}: the same output as natively")
    out = r = Run([program("sigplay"), mode])
    if mode == "view":
        continue
    out = r.only()
    ps = [s for s in out.spans if s["name"] == "process"]
    equal(len(ps), 1, f"sigplay {mode}: the process span was exported")
    equal(len(out.named("thread sigplay-worker")), 1, f"sigplay {mode}: the thread's span too")
    if ps and sig:
        equal((ps[0]["attrs"].get("weft.process.signal"), ps[0].get("status", {}).get("code"),
               ps[0].get("status", {}).get("message")), (sig, 2, sig),
              f"sigplay {mode}: died of {sig}, status ERROR")
        check("process.exit.code" not in ps[0]["attrs"], f"sigplay {mode}: no exit code")
    elif ps:
        equal(ps[0]["attrs"].get("process.exit.code"), 3,
              "the program's own SIGTERM handler ran (its exit code), not weft's")
        check("weft.process.signal" not in ps[0]["attrs"], "handled: no signal death recorded")

# The family off: no context passed, each child its own trace.
r = Run([program("spawner")], env={"WEFT_HOOKS": "thread,mutex,rwlock,cond,sem,fd,socket,poll"})
traces = {s["traceId"] for out in r.by_pid.values() for s in out.spans if s["name"] == "process"}
check(len(traces) >= 5, f"WEFT_HOOKS without process: the children start their own traces ({len(traces)})")
done()
