"""Calls left from a signal handler with siglongjmp (tests/programs/sigjump.c).

POSIX lets a program leave an async-signal-safe call from a signal handler;
a program that times out a blocking read with alarm() and siglongjmp does.
Under weft the jump may land in the middle of weft's own work around the
call. For each kind of call, under a storm of such jumps:

- the program ends as it does natively (no lock left held: dup2's move of
  weft's descriptors, the private allocator, mkfifo, sigaction);
- weft still exports at exit (the allocator's lock, once left held, stopped
  the exporter: no telemetry, and the exit waited for WEFT_EXIT_TIMEOUT);
- what the thread records after the storm arrives (a push left half-way
  once kept every later record of the thread unpublished);
- a wait left by a jump does not show the thread blocked for good: not in
  weft.thread.waiting, not a stuck thread, not a join of a blocked thread.

And setuid/setgid, which glibc makes process-wide by signalling every thread
and waiting for each, return with weft's threads there (weft holds no
signal glibc needs).
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import Run, check, done, equal, program  # noqa: E402

P = program("sigjump")
MODES = ["redirect", "pipe", "block", "sleep", "poll", "create", "eventfd"]


def kv(stdout):
    return dict(l.split(" ", 1) for l in stdout.splitlines() if " " in l)


def run(*args, env=None):
    try:
        return Run([P, *args], env=env, timeout=60)
    except subprocess.TimeoutExpired:
        check(False, f"{args[0]}: the program hung under weft")
        return None


for mode in MODES:
    native = Run([P, mode, "700"], preload=False, expect_file=False)
    equal((native.rc, kv(native.stdout).get("done")), (0, "1"), f"{mode}: the native run ends")
    r = run(mode, "700")
    if r is None:
        continue
    out = kv(r.stdout)
    equal((r.rc, out.get("done")), (0, "1"), f"{mode}: the program ends under weft")
    check(int(out.get("jumps", 0)) > 100, f"{mode}: the handler jumped out often: {out}")
    check("weft:" not in r.stderr, f"{mode}: weft has nothing to say: {r.stderr[-300:]!r}")
    o = r.only()
    equal(len(o.named("process")), 1, f"{mode}: the process span exported")
    jumper = [s for s in o.named("thread jumper")]
    equal(len(jumper), 1, f"{mode}: the jumper's thread span exported")
    if jumper:
        slept = jumper[0]["attrs"].get("weft.thread.time.blocked.sleep", 0)
        check(slept >= 0.045, f"{mode}: the 50 sleeps after the storm recorded: {slept} s")

# Each read the handler left is a wait that ended there (the jump hook,
# agent/jump.h): recorded, interrupted (EINTR), once. Before the hook a left
# wait was never recorded (the next wait found it and let it go).
r = run("block", "300", env={"WEFT_SPAN_MIN_WAIT": "0"})
if r is not None:
    out = kv(r.stdout)
    equal((r.rc, out.get("done")), (0, "1"), "left reads: the program ends")
    left = int(out.get("left", 0))
    o = r.only()
    waits = sum(int(p["count"]) for p in o.series("weft.wait.duration", "weft.wait.kind",
                                                   "pipe.read"))
    spans = o.named("wait pipe.read")
    print(f"left reads: {out.get('jumps')} jumps, {left} left the read, {waits} waits", flush=True)
    check(left > 100, f"left reads: the handler left the read often: {out}")
    check(0.9 * left <= waits <= left, f"left reads: one wait each: {waits} waits, {left} left")
    equal(len(spans), waits, "left reads: a span each")
    equal({s["attrs"].get("weft.wait.result") for s in spans}, {-4},
          "left reads: each interrupted (-EINTR)")
    equal({s["attrs"].get("thread.name") for s in spans}, {"jumper"}, "left reads: the jumper's")

# __longjmp_chk into a frame that has returned: glibc's check aborts, under
# weft too (a hook calling it from a frame of its own let the jump through).
native = Run([P, "deadframe"], preload=False, expect_file=False)
r = run("deadframe")
if r is not None:
    equal((native.rc, r.rc), (-6, -6), "deadframe: SIGABRT natively and under weft")
    check("uninitialized stack frame" in r.stderr, f"deadframe: glibc's message: {r.stderr!r}")

# A jump within a handler on an alternate stack that lies above the blocked
# read's frame (in main's): nothing is left, the read goes on. One wait, the
# read's own, ended by the byte (result 1), not a left one (-4) as well.
# And the read stays on view after the handler: main blocked in pipe.read.
r = run("altlocal", env={"WEFT_SPAN_MIN_WAIT": "0", "OTEL_METRIC_EXPORT_INTERVAL": "10"})
if r is not None:
    out = kv(r.stdout)
    equal((r.rc, out.get("read"), out.get("handled"), out.get("done")), (0, "1", "1", "1"),
          "altlocal: the read returns its byte after the handler")
    o = r.only()
    spans = o.named("wait pipe.read")
    equal([s["attrs"].get("weft.wait.result") for s in spans], [1],
          "altlocal: one wait, the read's own")
    after, before = int(out.get("signalled", 0)) + 20_000_000, int(out.get("writing", 0))
    seen = []
    for line in o.metric_lines:
        m = line.get("weft.thread.waiting")
        for p in (m or {}).get("gauge", {}).get("dataPoints", []):
            if (p["attributes"][0]["value"]["stringValue"] == "pipe.read" and
                    after <= int(p["timeUnixNano"]) <= before):
                seen.append(int(p.get("asInt", 0)))
    check(seen and set(seen) == {1}, f"altlocal: blocked in pipe.read after the handler: {seen}")

# setuid and setgid signal every thread, weft's exporter too, and wait for
# each: weft's threads must leave glibc's own signals open.
r = run("setid")
if r is not None:
    equal((r.rc, r.stdout), (0, "done 1\n"), "setid: setgid and setuid return")

# A wait left by a jump (the read the last signal interrupted), then 5 s of
# computing: not blocked on view, not stuck, and main's join of it neither.
r = run("block", "300", "5000", env={"OTEL_METRIC_EXPORT_INTERVAL": "500",
                                   "WEFT_STUCK_AFTER": "2s", "WEFT_REPORT": "stderr"})
if r is not None:
    equal(r.rc, 0, "block then compute: the program ends")
    check("stuck:" not in r.stderr, f"block then compute: no stuck thread: {r.stderr[:600]!r}")
    o = r.only()
    start = int(o.span("process")["startTimeUnixNano"])
    late = []
    for line in o.metric_lines:
        m = line.get("weft.thread.waiting")
        if not m:
            continue
        points = {p["attributes"][0]["value"]["stringValue"]: int(p.get("asInt", 0))
                  for p in m["gauge"]["dataPoints"]}
        at = int(m["gauge"]["dataPoints"][0]["timeUnixNano"])
        if at - start > 3.3e9 and points.get("join") == 1:
            late.append(points.get("pipe.read"))
    check(len(late) >= 2, f"block then compute: gauges while main still joins: {late}")
    equal(set(late), {0}, "block then compute: the left read is not a thread blocked in pipe.read")
done()
