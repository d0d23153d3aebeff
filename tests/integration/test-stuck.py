"""Stuck and leaked threads: found, reported once, idle workers and sleeps left alone.

tests/programs/stuck.c with WEFT_STUCK_AFTER=1s (see there):
  hung  thread "hung" waits forever on a condvar: stuck (one info line) and,
        alive at exit and never joined, a leak in the report; three workers
        idle as long on their job queue's condvar after a job each: neither;
        thread "slow" waits 1.6 s for a mutex: stuck, then joined: no leak;
        main sleeps: never stuck; weft.thread.stuck{cond} is 1 at exit
  leak  five per-request threads (handle_request) blocked forever in
        wait_for_backend: one leak finding for the five
The report's findings are checked word for word but for durations; without
WEFT_LOG_LEVEL=info the stuck lines are not printed.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import Run, attrs, program, check, equal, done, check_report_from_file  # noqa: E402

ENV = {"WEFT_STUCK_AFTER": "1s", "WEFT_REPORT": "stderr"}


def findings(stderr):
    """The report's stuck and leak findings, durations replaced by D."""
    out, on = [], False
    for ln in stderr.splitlines():
        if ln == "  findings:":
            on = True
        elif on and ln.startswith(("    stuck:", "    leak:")):
            out.append(re.sub(r"\d+\.\d s", "D s", ln.strip()))
        elif on and ln.startswith("    "):
            continue  # other findings: a thread blocked 1.6 s makes its mutex a hot lock
        elif on:
            break
    return out


# ------------------------------------------------------------------- hung
r = Run([program("stuck"), "hung"], env=dict(ENV, WEFT_LOG_LEVEL="info"))
equal(r.rc, 0, "hung: exit status")
tids = {f[1]: int(f[2]) for f in (ln.split() for ln in r.stdout.splitlines()) if f[0] == "tid"}
stuck_lines = [ln for ln in r.stderr.splitlines() if ln.startswith("weft: stuck:")]
equal(len(stuck_lines), 2, f"hung: one stuck line each for hung and slow: {stuck_lines}")
for name, kind, site in (("hung", "cond", "wait_for_backend"), ("slow", "mutex", "wait_for_held")):
    want = re.compile(rf"weft: stuck: thread {name} \(tid {tids.get(name)}, pool {name}\) "
                      rf"blocked \d+\.\d s in {kind} 0x[0-9a-f]+ at {site}$")
    check(any(want.match(ln) for ln in stuck_lines), f"hung: the stuck line of {name}: {stuck_lines}")
check(not any("worker" in ln or "main" in ln for ln in stuck_lines),
      "hung: idle workers and main's sleep are not stuck")
equal(findings(r.stderr), [
    "leak: 1 thread of pool hung alive at exit, never joined or detached, blocked in cond at "
    "wait_for_backend (D s)",
    "stuck: 1 thread of pool slow blocked in mutex at wait_for_held (D s or more)",
], "hung: the report's findings")
out = r.only()
equal(out.value("weft.thread.stuck", weft_wait_kind="cond"), 1, "hung: weft.thread.stuck{cond}")
equal(out.value("weft.thread.stuck", weft_wait_kind="mutex"), 0,
      "hung: weft.thread.stuck{mutex} back to 0")
equal(out.value("weft.thread.stuck", weft_wait_kind="sleep"), 0, "hung: a sleep is never stuck")
tasks = out.named("task worker")
equal(len(tasks), 3, "hung: a task per job")
for s in tasks:
    check(int(s["endTimeUnixNano"]) - int(s["startTimeUnixNano"]) < 500_000_000,
          "hung: an idle worker's last task ends when it waits again, not at exit")

# Quiet by default: the findings still in the report.
r = Run([program("stuck"), "hung"], env=ENV)
check("weft: stuck:" not in r.stderr, "hung: no stuck line at the default log level")
equal(len(findings(r.stderr)), 2, "hung: the findings at the default log level")

# ------------------------------------------------------------------- leak
r = Run([program("stuck"), "leak"], env=ENV)
equal(r.rc, 0, "leak: exit status")
equal(findings(r.stderr), [
    "leak: 5 threads of pool handle_request alive at exit, never joined or detached, blocked in "
    "cond at wait_for_backend (longest D s)",
], "leak: one finding for the five")
check_report_from_file(r, "leak:")
out = r.only()
equal(out.value("weft.thread.stuck", weft_wait_kind="cond"), 5, "leak: weft.thread.stuck{cond}")
# The findings travel with the telemetry: weft.finding events on the process span
# (the leak's; a machine busy enough also has a cpu_starvation finding, rightly).
evs = [a for a in (attrs(e.get("attributes")) for e in out.span("process").get("events", [])
                   if e.get("name") == "weft.finding")
       if a.get("weft.finding.kind") != "cpu_starvation"]
equal(evs, [{"weft.finding.kind": "thread_leak",
             "weft.finding.text": next((ln[4:] for ln in r.stderr.splitlines()
                                        if ln.startswith("    leak:")), None),
             "weft.finding.threads": 5, "weft.pool.name": "handle_request",
             "weft.wait.kind": "cond", "code.function.name": "wait_for_backend"}],
      "leak: one weft.finding event with the report's line and its facts")

# A shorter program than WEFT_STUCK_AFTER (default 10 s): nothing.
r = Run([program("stuck"), "leak"], env={"WEFT_REPORT": "stderr"})
equal(findings(r.stderr), [], "leak, default WEFT_STUCK_AFTER: no finding")
done()
