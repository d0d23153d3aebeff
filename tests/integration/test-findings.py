"""The report's hot locks, slow stage and saturated pools (hotlock.c, stages.c).

hot: mutex `buffer` is held 40 ms at a time by thread "flusher" (in
flush_buffer) while two consumers wait for it (in consume); mutex `count` is
taken by four counters that yield while holding it: many more contentions,
much less time waited. The report ranks hot locks by the time waited:
`buffer` first on an idle machine, named with the function that waited, the
holder's pool and the function that released it (WEFT_HOLD_SAMPLE=1 samples
every hold).
saturated: two workers fed faster than they work through a pipe, in three
bursts (each burst's last 8 clients start tasks): one saturated-pool finding. stages: a pipeline of three threads whose middle
stage is slow: named as the limit. The findings are also weft.finding events.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import Run, attrs, program, check, equal, done, check_report_from_file  # noqa: E402


def findings(stderr):
    out, on = [], False
    for ln in stderr.splitlines():
        if ln == "  findings:":
            on = True
        elif on and ln.startswith("    "):
            out.append(ln.strip())
        elif on:
            break
    return out


def finding_events(out):
    return [attrs(e.get("attributes")) for e in out.span("process").get("events", [])
            if e.get("name") == "weft.finding"]


r = Run([program("hotlock"), "hot"], env={"WEFT_REPORT": "stderr", "WEFT_HOLD_SAMPLE": "1"})
equal(r.rc, 0, "hot: exit status")
m = {f[1]: int(f[2]) for f in (ln.split() for ln in r.stdout.splitlines()) if f[0] == "mutex"}
hot = [f for f in findings(r.stderr) if f.startswith("hot lock:")]
check(len(hot) >= 1, f"hot: a hot lock: {findings(r.stderr)}")


def waited_ns(finding):
    """A hot lock's time waited in all, from its text ("waited 1.6s in all")."""
    w = re.search(r"waited ([0-9.]+)(ns|us|ms|s) in all", finding)
    return float(w.group(1)) * {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[w.group(2)] if w else -1


# Ranked by the time waited, not by how often: on an idle machine that puts
# `buffer` first. (On a machine whose other processes keep every CPU busy, the
# counters' yields while holding `count` can cost them whole time slices of
# other programs, and `count` can then have waited longest: still ranked by
# time.)
equal([waited_ns(f) for f in hot], sorted((waited_ns(f) for f in hot), reverse=True),
      "hot: the hot locks longest waited first")
buf = [f for f in hot if f.startswith(f"hot lock: mutex {hex(m.get('buffer', 0))}:")]
check(len(buf) == 1 and re.match(
    r"hot lock: mutex 0x[0-9a-f]+: waited \S+ in all \((\d+) waits\) at consume "
    r"\(\S+\); held by pool flusher, released in flush_buffer \(\S+\)", buf[0]) is not None,
    f"hot: buffer is hot, waited at consume, held by flusher, released in flush_buffer: {hot}")
out = r.only()
contended = {attrs(p.get("attributes")).get("code.function.name"): int(p.get("asInt", 0))
             for p in out.points("weft.lock.contentions")}
# Far more often on an idle machine (thousands against 40); a few hundred
# when other processes keep the CPUs busy.
check(contended.get("bump", 0) > 2 * contended.get("consume", 0) > 0,
      f"hot: count is contended more often than buffer: {contended}")
for f in hot:
    check(f in buf or hex(m.get("count", 0)) in f, f"hot: another hot lock is count: {f}")
evs = [a for a in finding_events(out) if a.get("weft.finding.kind") == "hot_lock"]
equal(len(evs), len(hot), "hot: a weft.finding event per hot lock")
equal([(a.get("weft.pool.name"), a.get("weft.wait.kind"), a.get("code.function.name"))
       for a in evs if buf and a.get("weft.finding.text") == buf[0]],
      [("flusher", "mutex", "consume")], "hot: buffer's event and its facts")

r = Run([program("hotlock"), "saturated"], env={"WEFT_REPORT": "stderr"})
equal(r.rc, 0, "saturated: exit status")
sat = [f for f in findings(r.stderr) if f.startswith("saturated pool:")]
equal(len(sat), 1, f"saturated: one finding: {findings(r.stderr)}")
check(bool(sat) and re.match(r"saturated pool: pool worker was busy \d+% of its 2 threads' time, "
                             r"and its items waited longer in the queue \(p50 \S+\) than a task "
                             r"took \(p50 \S+\): more work than threads$", sat[0]),
      f"saturated: the line: {sat}")
evs = [a for a in finding_events(r.only()) if a.get("weft.finding.kind") == "saturated_pool"]
equal([(a.get("weft.pool.name"), a.get("weft.finding.threads")) for a in evs], [("worker", 2)],
      "saturated: its weft.finding event")

# stages: the middle of three stages is slow, its input full, itself never blocked.
r = Run([program("stages")], env={"WEFT_REPORT": "stderr"})
equal(r.rc, 0, "stages: exit status")
check_report_from_file(r, "stages:")
slow = [f for f in findings(r.stderr) if f.startswith("slow stage:")]
equal(len(slow), 1, f"stages: one slow stage: {findings(r.stderr)}")
check(bool(slow) and re.match(r"slow stage: pool middle limits the pipeline: writers found its "
                              r"input pipe:make_pipes#1 full \d+% of the run, while it was "
                              r"blocked \d+% of its time$", slow[0]),
      f"stages: the middle stage named, with its input pipe: {slow}")
evs = [a for a in finding_events(r.only()) if a.get("weft.finding.kind") == "slow_stage"]
equal([a.get("weft.pool.name") for a in evs], ["middle"], "stages: its weft.finding event")

# None of these in a program that waits briefly and seldom.
r = Run([program("sleeper")], env={"WEFT_REPORT": "stderr"})
equal([f for f in findings(r.stderr) if f.startswith(("hot lock", "saturated", "slow stage"))],
      [], "sleeper: no hot lock, no saturated pool, no slow stage")
done()
