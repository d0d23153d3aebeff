"""Where the time went: running, runnable and blocked, against the kernel's own figures.

tests/programs/cpuhog.c runs four CPU-bound threads on this machine's cores
(two in CI: more threads than cores) until each has had 0.6 s of CPU, and a
thread that sleeps 1 s; each prints the kernel's running and runnable time
for itself as it ends (/proc/thread-self/schedstat). Each thread span's
weft.thread.time.running and .runnable must be within 10% of those (or 20 ms:
the thread ends a little after printing), the three states must add up to
the thread's life, the sleeper's blocked time is its sleep (also as
weft.thread.time.blocked.sleep), weft.thread.time{state, pool} adds up the
threads' figures, and the report names the CPU starvation (also a
weft.finding event). No file is read on the program's threads: they only
read their CPU clock as they end.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import Run, attrs, program, check, equal, done, check_report_from_file  # noqa: E402

r = Run([program("cpuhog")], env={"WEFT_REPORT": "stderr"})
equal(r.rc, 0, "exit status")
kernel = {}
for ln in r.stdout.splitlines():
    f = ln.split()
    if f[0] == "time":
        kernel[f[1]] = (int(f[2]), int(f[3]) / 1e9, int(f[4]) / 1e9)
equal(sorted(kernel), ["hog-0", "hog-1", "hog-2", "hog-3", "napper"], "every thread's figures")
check_report_from_file(r, "cpuhog:")
out = r.only()
spans = {s["attrs"].get("thread.name"): s for s in out.named("thread ")}


def close(got, want, what):
    check(got is not None and abs(got - want) <= max(0.1 * want, 0.02),
          f"{what}: weft {got}, the kernel {want:.4f}")


total = {"running": 0.0, "runnable": 0.0}
for name, (tid, run, wait) in kernel.items():
    s = spans.get(name, {})
    a = s.get("attrs", {})
    equal(a.get("thread.id"), tid, f"{name}: its span")
    got = {k: a.get(f"weft.thread.time.{k}") for k in ("running", "runnable", "blocked")}
    close(got["running"], run, f"{name}: running")
    close(got["runnable"], wait, f"{name}: runnable")
    if None not in got.values() and s:
        life = (int(s["endTimeUnixNano"]) - int(s["startTimeUnixNano"])) / 1e9
        check(abs(sum(got.values()) - life) <= 0.01 * life + 0.002,
              f"{name}: the states add up to its life ({got}, {life:.4f} s)")
        total["running"] += got["running"]
        total["runnable"] += got["runnable"]
    if name == "napper":
        check(got["blocked"] is not None and 0.98 <= got["blocked"] <= 1.1,
              f"napper: blocked for its sleep: {got}")
        check(0.98 <= (a.get("weft.thread.time.blocked.sleep") or 0) <= 1.1,
              f"napper: weft.thread.time.blocked.sleep: {a}")
    else:
        check(got["blocked"] is not None and got["blocked"] < 0.05,
              f"{name}: a CPU-bound thread is hardly blocked: {got}")

# The counter: the hogs' pool, by state, is the sum of their spans' figures.
pts = {(attrs(p.get("attributes")).get("weft.thread.state"),
        attrs(p.get("attributes")).get("weft.pool.name")): p.get("asDouble")
       for p in out.points("weft.thread.time")}
for state in ("running", "runnable"):
    want = sum(spans[n]["attrs"].get(f"weft.thread.time.{state}", 0) for n in spans if
               n.startswith("hog-"))
    got = pts.get((state, "hog"))
    check(got is not None and abs(got - want) <= 0.001 + 1e-6 * want,
          f"weft.thread.time{{{state}, hog}} = {got}, the spans' sum {want}")
check((pts.get(("blocked", "napper")) or 0) >= 0.98, f"weft.thread.time{{blocked, napper}}: {pts}")
# Main joins its threads all along: blocked, hardly running (the CPU time it had before weft
# saw it, loading the program, is not counted).
check((pts.get(("blocked", "main")) or 0) >= 1.0 and (pts.get(("running", "main")) or 1) < 0.1,
      f"weft.thread.time for main: blocked in its joins, hardly running: {pts}")

lines = [ln.strip() for ln in r.stderr.splitlines() if ln.strip().startswith("cpu starvation:")]
equal(len(lines), 1, f"the report names the CPU starvation: {r.stderr[:600]}")
ncpu = len(os.sched_getaffinity(0))
check(bool(lines) and lines[0].endswith(f"than the {ncpu} CPUs"),
      f"and the CPUs the process may run on ({ncpu}): {lines}")
kinds = [attrs(e.get("attributes")).get("weft.finding.kind")
         for e in out.span("process").get("events", []) if e.get("name") == "weft.finding"]
check("cpu_starvation" in kinds, f"a cpu_starvation weft.finding event: {kinds}")

# One thread on two cores, mostly asleep: no starvation.
r = Run([program("sleeper")], env={"WEFT_REPORT": "stderr"})
check("cpu starvation" not in r.stderr, "sleeper: no CPU starvation")
done()
