"""The end-of-run report's pools (WEFT_REPORT): one line per pool with its
threads, tasks, busy fraction and task and queue time percentiles.

tests/programs/jobqueue.c hands every job to a worker that waits for it (see
test-tasks.py), so the tasks are exact:

  cond 200 4   the pool `worker` (threads worker-0..3): threads 4, tasks 204
               (200 jobs and the 4 threads woken by the stop broadcast); its
               busy fraction and task percentiles agree with the `task worker`
               and `thread worker-N` spans of the same run; `main` has a line
               (its lifetime is the process's); the worker pool's queue time
               (a signal to its waiter's wake-up) has percentiles.
  idle         no hand-off, so no pool ran a task.

`weft report FILE...` prints, from the telemetry files, the report WEFT_REPORT
wrote, byte for byte: for that run, and for a forking program's two processes
(two files, each process's report in the order they started); a process whose
last line was lost (killed while writing) gets one line saying so.
"""
import math
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import BUILD, SOURCE, Run, program, check, equal, done, weft_report  # noqa: E402

# As test-tasks.py: rings and a span queue that hold the run, so that no task
# is dropped and the counts are exact.
ENV = {"OTEL_METRIC_EXPORT_INTERVAL": "100", "OTEL_BSP_MAX_QUEUE_SIZE": "16384",
       "WEFT_RING_SIZE": "16384"}

LINE = re.compile(r"^    (\S+)\s+threads (\d+)\s+tasks (\d+)\s+busy\s+(-|<1%|\d+%)\s+"
                  r"task p50 (\S+)\s+p99 (\S+)\s+queue p50 (\S+)\s+p99 (\S+)$")
UNITS = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}


def ns(text):
    """A duration as the report prints it (12us, 1.5ms, 2s), in ns; None for '-'."""
    if text == "-":
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ns|us|ms|s)", text)
    check(m is not None, f"a duration with a unit: {text!r}")
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def busy_percent(text):
    """The busy fraction in percent: '<1%' is between 0 and 1; None for '-'."""
    if text == "-":
        return None
    return 0.5 if text == "<1%" else float(text.rstrip("%"))


def report_pools(mode, *args):
    d = tempfile.mkdtemp(prefix="weft-report-")
    path = os.path.join(d, "report.txt")
    r = Run([program("jobqueue"), mode, *map(str, args)], env=dict(ENV, WEFT_REPORT=path))
    equal(r.rc, 0, f"{mode}: exit status")
    text = open(path).read() if os.path.exists(path) else ""
    check("weft report:" in text, f"{mode}: the report was written: {text!r}")
    lines = text.splitlines()
    pools = {}
    if check("  pools:" in lines, f"{mode}: a pools section:\n{text}"):
        for line in lines[lines.index("  pools:") + 1:]:
            m = LINE.match(line)
            if not m:
                break
            name, threads, tasks, busy, t50, t99, q50, q99 = m.groups()
            pools[name] = {"threads": int(threads), "tasks": int(tasks),
                           "busy": busy_percent(busy), "task": (ns(t50), ns(t99)),
                           "queue": (ns(q50), ns(q99)), "line": line}
    return r, text, pools


def nearest_rank(values, p):
    values = sorted(values)
    return values[max(1, math.ceil(len(values) * p)) - 1] if values else None


def duration(span):
    return int(span["endTimeUnixNano"]) - int(span["startTimeUnixNano"])


r, text, pools = report_pools("cond", 200, 4)
rc, out, err = weft_report(*r.files)
equal((rc, err), (0, ""), "weft report: exit status, nothing on stderr")
equal(out, text, "weft report FILE: the report WEFT_REPORT wrote, byte for byte")
check("threads: 4 created" in text, f"cond: the threads created: {text}")
# Two processes with one pid (two containers' pid 1, say) are told apart by their
# service.instance.id: a copy of the file under another instance id is a second report.
if r.files:
    data = open(r.files[0]).read()
    m = re.search(r'"service.instance.id","value":\{"stringValue":"([^"]+)"', data)
    if check(m is not None, "cond: the file names its service.instance.id"):
        twin = os.path.join(r.dir, "twin.jsonl")
        with open(twin, "w") as f:
            f.write(data.replace(m.group(1), "00000000-0000-4000-8000-000000000000"))
        rc, out2, err2 = weft_report(r.files[0], twin)
        equal((rc, out2), (0, text + text), "cond: the same pid in two instances: two reports")
worker = pools.get("worker")
if check(worker is not None, f"cond: a `worker` pool line: {text}"):
    equal(worker["threads"], 4, "cond: the worker pool's threads")
    equal(worker["tasks"], 204, "cond: the worker pool's tasks (200 jobs, 4 stops)")
    check(worker["busy"] is not None and 0 <= worker["busy"] <= 100,
          f"cond: busy is a fraction: {worker['line']}")
    t50, t99 = worker["task"]
    check(t50 is not None and t99 is not None and 0 < t50 <= t99,
          f"cond: task p50 ≤ p99: {worker['line']}")
    q50, q99 = worker["queue"]
    check(q50 is not None and q99 is not None and 0 < q50 <= q99,
          f"cond: queue time (signal to wake-up) p50 ≤ p99: {worker['line']}")
    # The same run's spans: the tasks' durations and the threads' lifetimes.
    out = r.only()
    tasks = [duration(s) for s in out.named("task worker")]
    lives = [duration(s) for s in out.named("thread worker-")]
    equal((len(tasks), len(lives)), (204, 4), "cond: the spans the report is checked against")
    if tasks and lives and worker["busy"] is not None and t50 and t99:
        busy = 100 * sum(tasks) / sum(lives)
        check(abs(worker["busy"] - busy) <= 1 or (worker["busy"] == 0.5 and busy < 1),
              f"cond: busy {worker['busy']}% is the tasks' time over the threads': {busy:.2f}%")
        # The histogram is within 12.5%, and the printed value within 5% more.
        for p, got in ((0.5, t50), (0.99, t99)):
            exact = nearest_rank(tasks, p)
            check(abs(got - exact) <= 0.2 * exact,
                  f"cond: task p{p * 100:g} {got:.0f}ns is the spans' {exact}ns within 20%")
main = pools.get("main")
if check(main is not None, f"cond: a `main` pool line: {text}"):
    equal(main["threads"], 1, "cond: main's pool is the main thread")
    check(main["busy"] is not None and 0 <= main["busy"] <= 100,
          f"cond: main's busy is a fraction: {main['line']}")

r, text, pools = report_pools("idle")
check("main" in pools and "locker" in pools, f"idle: main's and the locker's pools: {text}")
equal({name: p["tasks"] for name, p in pools.items() if p["tasks"] > 0}, {},
      "idle: no pool ran a task")
check(all(p["task"] == (None, None) for p in pools.values()),
      f"idle: no task durations: {text}")

# A forking program: two processes, two files, two reports (WEFT_REPORT with %p).
d = tempfile.mkdtemp(prefix="weft-report-fork-")
r = Run([program("forker")], env=dict(ENV, WEFT_REPORT=os.path.join(d, "report-%p.txt")))
equal(r.rc, 0, "forker: exit status")
equal(len(r.files), 2, "forker: a file per process")
reports = {int(f.split("-")[-1].split(".")[0]): open(os.path.join(d, f)).read()
           for f in os.listdir(d)}
equal(len(reports), 2, f"forker: a report per process: {sorted(reports)}")
parent = [pid for pid, out in r.by_pid.items() if out.resource.get("process.parent_pid") not in
          r.by_pid]
child = [pid for pid in r.by_pid if pid not in parent]
if check(len(parent) == 1 and len(child) == 1 and set(reports) == set(r.by_pid),
         f"forker: a parent and a child: {sorted(r.by_pid)}"):
    want = reports[parent[0]] + reports[child[0]]
    for files in (r.files, r.files[::-1]):
        rc, out, err = weft_report(*files)
        equal((rc, err), (0, ""), "forker: weft report's exit status, nothing on stderr")
        equal(out, want, "forker: both reports, byte for byte, in the order the processes started")
    # The parent's file cut in the middle of the line with its process span (and
    # the report), as when the program is killed while writing it.
    pf = r.by_pid[parent[0]]
    at = [i for i, line in enumerate(pf.lines) if '"name":"process"' in line]
    check(len(at) == 1, "cut: one line holds the parent's process span")
    at = at[0] if at else len(pf.lines) - 1
    cut = os.path.join(d, "cut.jsonl")
    with open(cut, "w") as f:
        f.write("".join(pf.lines[:at] + pf.lines[at + 1:]) + pf.lines[at][:len(pf.lines[at]) // 2])
    child_file = [f for f in r.files if f.endswith(f"-{child[0]}.jsonl")]
    rc, out, err = weft_report(cut, *child_file)
    equal(rc, 0, "cut: a report was found (the child's)")
    lines = out.splitlines()
    check(len(lines) >= 1 and re.fullmatch(
        rf"weft report: pid {parent[0]} \(forker\): no report in {re.escape(cut)}: the process "
        r"did not finish its export \(killed, e\.g\. by SIGKILL\) or its trace was not sampled",
        lines[0]) is not None, f"cut: one line for the parent, first: {out!r}")
    equal("\n".join(lines[1:]) + "\n", reports[child[0]], "cut: then the child's report")
    equal(len([l for l in err.splitlines() if "cut short" in l]), 1, f"cut: one warning: {err!r}")
    rc, out, err = weft_report(cut)
    equal(rc, 1, "cut alone: no report found, status 1")
    check("no report found in 1 file" in err, f"cut alone: said so: {err!r}")
    # Nothing complete at all: the file is named.
    with open(cut, "w") as f:
        f.write(pf.lines[at][:100])
    rc, out, err = weft_report(cut)
    equal((rc, out), (1, f"weft report: {cut}: no process in it: empty, or cut short before its "
                         "first complete line\n"), "cut to nothing: one line naming the file")

done()
