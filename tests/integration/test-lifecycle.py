"""How a program ends, and forks: every path flushes, with the right exit code."""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import Run, program, check, equal, done  # noqa: E402

T = program("threads")


def process_span(run):
    out = run.only()
    return out, out.span("process")


# Return from main with a code.
r = Run([T, "return", "4"])
equal(r.rc, 4, "exit code unchanged")
out, p = process_span(r)
equal(p["attrs"].get("process.exit.code"), 4, "process.exit.code from main's return")
equal(p.get("status", {}).get("code"), 2, "non-zero exit: status ERROR")
equal(p.get("status", {}).get("message"), "exit code 4", "status message")

# The status the process really returns: exit(256) exits 0, exit(-1) exits 255.
for status, want in (("256", 0), ("-1", 255), ("511", 255)):
    r = Run([T, "return", status])
    equal(r.rc, want, f"main returning {status} exits {want}")
    out, p = process_span(r)
    equal(p["attrs"].get("process.exit.code"), want,
          f"process.exit.code is what the process returned for {status}")
    equal(p.get("status", {}).get("code", 0), 2 if want else 0, f"status for exit {want}")

# exit() from a second thread while main blocks in join.
r = Run([T, "exit-thread", "3"])
equal(r.rc, 3, "exit code from a thread's exit()")
out, p = process_span(r)
equal(p["attrs"].get("process.exit.code"), 3, "process.exit.code from exit() in a thread")
ex = out.span("thread exiter")
equal(ex["attrs"].get("weft.thread.running_at_exit"), True, "the exiting thread was still running")

# main calls pthread_exit; the last thread's end ends the process (exit 0).
start = time.monotonic()
r = Run([T, "main-exit"], timeout=60)
elapsed = time.monotonic() - start
equal(r.rc, 0, "exit code after main's pthread_exit")
check(elapsed < 10, f"the process ends when its last thread does ({elapsed:.1f}s)")
out, p = process_span(r)
equal(p["attrs"].get("process.exit.code"), 0, "exit code 0")
s = out.span("thread sleeper")
equal(s.get("parentSpanId"), p["spanId"], "sleeper under the process")
check("weft.thread.running_at_exit" not in s["attrs"], "sleeper ended before exit")
equal(out.value("process.thread.count"), 0, "no live thread at the end")

# main calls pthread_exit before its only thread has even run: the exporter
# must keep going (the thread counts as live from pthread_create), exporting
# on schedule while that thread works.
r = Run([T, "main-exit-churn"], env={"OTEL_BSP_SCHEDULE_DELAY": "50"}, timeout=60)
equal(r.rc, 0, "main-exit-churn exit code")
out = r.only()
span_lines = [l for l in out.lines if l.startswith('{"resourceSpans"')]
check(len(span_lines) >= 3, f"spans exported on schedule, not only at exit ({len(span_lines)} requests)")
equal(len(out.named("thread inner")), 20, "all 20 threads")
equal(out.value("weft.agent.events.dropped", weft_drop_reason="ring_full"), 0, "nothing dropped")

# A program that never starts a thread stays single-threaded under weft (its
# exporter thread starts with the program's first pthread_create): what the
# kernel allows only single-threaded processes works as natively, and the
# telemetry is written at exit all the same.
native = Run([T, "unshare"], preload=False, expect_file=False)
r = Run([T, "unshare"])
equal(r.rc, native.rc, "unshare(CLONE_NEWUSER): same result as natively")
out, p = process_span(r)
equal(out.value("process.thread.count"), 1, "single-threaded run still exported")

# exit called inside libc (error(3)): the status still reaches the process span.
r = Run([T, "error-exit", "5"])
equal(r.rc, 5, "error(3) exit code")
out, p = process_span(r)
equal(p["attrs"].get("process.exit.code"), 5, "process.exit.code from error(3)")
equal(p.get("status", {}).get("code"), 2, "status ERROR")

# A detached thread still running when main returns.
r = Run([T, "detached"])
equal(r.rc, 0, "exit code")
out, p = process_span(r)
f = out.span("thread forever")
equal(f["attrs"].get("weft.thread.running_at_exit"), True, "running at exit")
equal(f["attrs"].get("weft.thread.detached"), True, "detached")
equal(f["endTimeUnixNano"], p["endTimeUnixNano"], "its span ends with the process")
equal(out.value("process.thread.count"), 2, "main and the detached thread alive at exit")

# A cancelled thread still gets its span (the end runs during the unwind).
r = Run([T, "cancel"])
equal(r.rc, 0, "cancel: exit code (PTHREAD_CANCELED seen by join)")
out, p = process_span(r)
f = out.span("thread forever")
check("weft.thread.running_at_exit" not in f["attrs"], "cancelled thread ended")

# fork from a non-main thread: the child is a new process span, parented on the
# forking thread's span in the same trace; its threads are its children.
r = Run([program("forker")])
equal(r.rc, 0, "forker exit code")
equal(len(r.by_pid), 2, "one output file per process")
outs = sorted(r.by_pid.values(), key=lambda o: len(o.named("thread child_work")))
parent, child = outs[0], outs[-1]
pp, cp = parent.span("process"), child.span("process")
ft = parent.span("thread forking_thread")
equal(cp["traceId"], pp["traceId"], "child in the parent's trace")
equal(cp.get("parentSpanId"), ft["spanId"], "child process under the forking thread's span")
check(cp["attrs"]["process.pid"] != pp["attrs"]["process.pid"], "child has its own pid")
equal(child.resource.get("process.parent_pid"), pp["attrs"]["process.pid"], "child's parent pid")
check(child.resource.get("service.instance.id") != parent.resource.get("service.instance.id"),
      "child has its own service.instance.id")
cw = child.named("thread child_work")
equal(len(cw), 2, "two child threads")
check(all(s.get("parentSpanId") == cp["spanId"] for s in cw), "child threads under the child's process span")
equal(len(parent.named("thread child_work")), 0, "no child thread in the parent's file")
equal(child.value("weft.thread.created", weft_pool_name="child_work"), 2, "child counts only its threads")
check(child.value("weft.thread.created", weft_pool_name="forking_thread") is None,
      "child's counters start from zero")

# Many forks while other threads churn and the exporter flushes every
# millisecond: no child deadlocks (the test has a timeout), none loses its data.
r = Run([program("forker"), "busy", "150"], env={"OTEL_BSP_SCHEDULE_DELAY": "1"}, timeout=120)
equal(r.rc, 0, "150 forks under churn complete")
equal(len(r.by_pid), 151, "every child wrote its own output")
children = [o for o in r.by_pid.values() if o.named("thread child_work") or not o.named("thread churn")]
equal(sum(1 for o in children if len(o.named("thread child_work")) == 2 and o.named("process")), 150,
      "every child exported its process span and both thread spans")

# OTEL_SDK_DISABLED: pure pass-through, nothing written.
r = Run([T, "nested"], env={"OTEL_SDK_DISABLED": "true"}, expect_file=False)
equal(r.rc, 0, "disabled: exit code")
equal(r.files, [], "disabled: no output")
equal(r.stderr, "", "disabled: silent")

# What a fork costs a child that does nothing (page faults between fork and
# _exit, median of 21, counted by the child): weft's fork handlers must not
# rewrite whole tables in every child (the hand-off table's 32 pages did), and
# disabled, weft must add none (its allocator's lock handling did, ~26).
native = int(Run([program("forkfaults")], preload=False, expect_file=False).stdout)
dis = int(Run([program("forkfaults")], env={"OTEL_SDK_DISABLED": "true"},
              expect_file=False).stdout)
on = int(Run([program("forkfaults")], env={"OTEL_TRACES_EXPORTER": "none",
                                           "OTEL_METRICS_EXPORTER": "none"},
             expect_file=False).stdout)
check(dis <= native + 6, f"disabled: a forked child's page faults {dis}, native {native}")
check(on <= native + 60, f"enabled: a forked child's page faults {on}, native {native}")

# A forked child that exports binds nothing of libweft.so's lazily: the C
# library functions its export calls were bound in the parent before its
# first fork (exporter_before_fork), not looked up again in every child. The
# loader's log (LD_DEBUG=bindings) is one file, each line under its pid.
ld_dir = tempfile.mkdtemp(prefix="weft-ld-")
r = Run([program("forkfaults"), "5", "exit"],
        env={"LD_DEBUG": "bindings", "LD_DEBUG_OUTPUT": os.path.join(ld_dir, "ld")})
equal(r.rc, 0, "forkfaults under LD_DEBUG: exit code")
equal(len(r.by_pid), 6, "forkfaults under LD_DEBUG: the parent and 5 children exported")
logs = [os.path.join(ld_dir, f) for f in os.listdir(ld_dir)]
equal(len(logs), 1, "the loader's log: one file")
parent = os.path.basename(logs[0]).rsplit(".", 1)[1]
lines = open(logs[0]).read().splitlines()
late = [ln for ln in lines if "libweft.so [0] to" in ln and ln.split(":")[0].strip() != parent]
check(any(ln.split(":")[0].strip() == parent for ln in lines), "the parent's bindings are logged")
check(late == [], f"forked children bound nothing of libweft.so's: {late[:3]}")
shutil.rmtree(ld_dir)

# The exporter thread is invisible: it is not a span and not counted.
r = Run([program("worker-pool")])
out = r.only()
check(all("weft" not in s["name"] for s in out.spans), "no span for weft's own thread")
equal(out.value("weft.thread.created", weft_pool_name="exporter_main"), None, "exporter not counted")
done()
