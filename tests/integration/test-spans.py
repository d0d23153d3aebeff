"""Span tree, ids, attributes and metrics of real programs under weft."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import Run, program, check, equal, done  # noqa: E402

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")

# --- The bundled example: 6 created threads, exact tree. ----------------------
# Command arguments are recorded only on request (WEFT_CAPTURE_ARGS=1).
r = Run([program("worker-pool"), "-n", "200", "-w", "4"], env={"WEFT_CAPTURE_ARGS": "1"})
equal(r.rc, 0, "worker-pool exit code")
out = r.only()
spans = out.spans
by_id = {s["spanId"]: s for s in spans}
proc = out.span("process")
threads = out.named("thread ")
equal(sorted(s["name"] for s in threads),
      ["thread dispatcher", "thread reporter"] + [f"thread worker-{i}" for i in range(4)],
      "thread span names")
equal(len(spans), len(by_id), "span ids are unique")


def root_of(s):
    while s.get("parentSpanId") in by_id:
        s = by_id[s["parentSpanId"]]
    return s


for s in spans:
    check(HEX32.match(s["traceId"]), f"trace id {s['traceId']} is 32 hex")
    check(HEX16.match(s["spanId"]), f"span id {s['spanId']} is 16 hex")
    # Tasks (CONSUMER) are roots of their own traces (WEFT_TASK_PARENT=link),
    # with what happened inside them; everything else is in the process trace.
    root = root_of(s)
    check(root is proc or root["name"].startswith("task "),
          f"{s['name']}: its root is the process span or a task")
    equal(s["traceId"], root["traceId"], f"{s['name']} is in its root's trace")
    equal(s["kind"], 5 if s["name"].startswith("task ") else 1,
          f"{s['name']} kind CONSUMER for a task, else INTERNAL")
    check(int(s["startTimeUnixNano"]) <= int(s["endTimeUnixNano"]), f"{s['name']} start <= end")
check("parentSpanId" not in proc, "process span is a root")
disp = out.span("thread dispatcher")
rep = out.span("thread reporter")
equal(disp.get("parentSpanId"), proc["spanId"], "dispatcher's parent is the process span")
equal(rep.get("parentSpanId"), proc["spanId"], "reporter's parent is the process span")
for i in range(4):
    w = out.span(f"thread worker-{i}")
    equal(w.get("parentSpanId"), disp["spanId"], f"worker-{i}'s parent is the dispatcher")
    equal(w["attrs"].get("code.function.name"), "worker", "worker start routine")
    equal(w["attrs"].get("thread.name"), f"worker-{i}", "worker thread.name")
    check(int(w["startTimeUnixNano"]) >= int(disp["startTimeUnixNano"]), "worker starts after its creator")
    check(int(w["endTimeUnixNano"]) <= int(disp["endTimeUnixNano"]), "worker ends before the dispatcher")
# The dispatcher's batches (24 items, then a 5 ms pause) outrun the queue's 16
# slots, and in each pause the workers run out of items: both pools run tasks,
# and a worker's task is started by the dispatcher's signal or its closing
# broadcast (only the dispatcher signals the workers' condition variable).
worker_tasks = [s for s in spans if s["name"] == "task worker"]
check(len(worker_tasks) >= 8, f"workers wait for batches: {len(worker_tasks)} tasks (8 at least)")
check(len(out.named("task dispatcher")) >= 1, "the dispatcher waits for room: its tasks")
disp_tid = disp["attrs"].get("thread.id")
for t in worker_tasks:
    producers = [by_id.get(link["spanId"], {}) for link in t.get("links", [])]
    check(producers and all(p.get("attrs", {}).get("thread.id") == disp_tid for p in producers),
          f"a worker's task links the dispatcher's spans: {[p.get('name') for p in producers]}")
tids = {s["attrs"]["thread.id"] for s in threads}
equal(len(tids), 6, "six distinct thread ids")
check(proc["attrs"]["process.pid"] not in tids, "no thread has the main thread's id")
equal(proc["attrs"].get("process.exit.code"), 0, "exit code on the process span")
check("status" not in proc, "exit 0: status unset")
for s in out.named("wait join"):
    equal(s["attrs"].get("weft.wait.kind"), "join", "wait kind")
    parent = by_id.get(s.get("parentSpanId"))
    check(parent is not None, "wait join has a parent in the trace")
    if parent:
        equal(parent["attrs"].get("thread.id", proc["attrs"]["process.pid"]),
              s["attrs"]["thread.id"], "wait span's parent is its own thread's span")
    for link in s.get("links", []):
        target = by_id.get(link["spanId"])
        check(target is not None and target["name"].startswith("thread "), "join links to the joined thread's span")
        if target:
            equal(target["attrs"]["thread.id"], s["attrs"].get("weft.target.thread.id"), "link target tid")

# Resource.
res = out.resource
equal(res.get("service.name"), "worker-pool", "service.name defaults to the executable name")
equal(res.get("process.pid"), proc["attrs"]["process.pid"], "resource pid")
equal(res.get("process.executable.name"), "worker-pool", "process.executable.name")
equal(res.get("process.executable.path"), program("worker-pool"), "process.executable.path")
equal(res.get("process.command_args"), [program("worker-pool"), "-n", "200", "-w", "4"],
      "command args with WEFT_CAPTURE_ARGS=1")
equal(res.get("telemetry.sdk.name"), "weft", "telemetry.sdk.name")
check(res.get("host.name"), "host.name present")
check(re.match(r"^[0-9a-f-]{36}$", res.get("service.instance.id", "")), "service.instance.id is a uuid")

# Metrics, from the final (exit) collection.
equal(out.value("process.thread.count"), 1, "live threads at exit: main")
equal(out.value("weft.thread.created", weft_pool_name="worker"), 4, "created workers")
equal(out.value("weft.thread.created", weft_pool_name="dispatcher"), 1, "created dispatcher")
equal(out.value("weft.thread.created", weft_pool_name="reporter"), 1, "created reporter")
equal(out.value("weft.thread.waiting", weft_wait_kind="join"), 0, "nobody waiting at exit")
equal(out.value("weft.agent.spans.exported"), len(spans), "spans.exported counts every span")
for reason in ("ring_full", "queue_full", "export_failed"):
    equal(out.value("weft.agent.events.dropped", weft_drop_reason=reason), 0, f"no drops ({reason})")
hist = out.points("weft.wait.duration")
joins = sum(int(p["count"]) for p in hist)
check(joins >= len(out.named("wait join")), "every wait span is in the histogram")
for p in hist:
    equal(sum(int(c) for c in p["bucketCounts"]), int(p["count"]), "bucket counts add up")
    equal(len(p["bucketCounts"]), len(p["explicitBounds"]) + 1, "one more bucket than bounds")
m = out.metric("process.thread.count")
check(m and m["sum"]["isMonotonic"] is False if "isMonotonic" in m["sum"] else True, "thread count is an UpDownCounter")
equal(m["sum"].get("aggregationTemporality"), 2, "cumulative")
equal(out.metric("weft.thread.created")["sum"].get("isMonotonic"), True, "created is monotonic")

# --- Nested creation: each thread under its creator. --------------------------
r = Run([program("threads"), "nested"])
out = r.only()
proc = out.span("process")
outer, middle, inner = out.span("thread outer"), out.span("thread middle"), out.span("thread inner")
equal(outer.get("parentSpanId"), proc["spanId"], "outer under process")
equal(middle.get("parentSpanId"), outer["spanId"], "middle under outer")
equal(inner.get("parentSpanId"), middle["spanId"], "inner under middle")
equal(len(out.named("thread ")), 3, "three thread spans")

# --- A join that blocks long enough is a wait span; one that does not is not. --
r = Run([program("threads"), "join-wait", "60"], env={"WEFT_SPAN_MIN_WAIT": "20ms"})
out = r.only()
w = out.named("wait join")
equal(len(w), 1, "one wait join span for a 60 ms join")
if w:
    d = int(w[0]["endTimeUnixNano"]) - int(w[0]["startTimeUnixNano"])
    check(40e6 <= d <= 5e9, f"wait join lasted about 60 ms ({d} ns)")
    equal(w[0].get("parentSpanId"), out.span("process")["spanId"], "main's wait is under the process span")
    equal(w[0]["attrs"].get("code.function.name"), "join_or_die", "caller of pthread_join")
    equal(len(w[0].get("links", [])), 1, "linked to the joined thread")
    equal(w[0]["links"][0]["spanId"], out.span("thread sleeper")["spanId"], "link to the sleeper's span")
r = Run([program("threads"), "join-wait", "60"], env={"WEFT_SPAN_MIN_WAIT": "10s"})
out = r.only()
equal(len(out.named("wait join")), 0, "no wait span below WEFT_SPAN_MIN_WAIT")
equal(sum(int(p["count"]) for p in out.series("weft.wait.duration", "weft.wait.kind", "join")), 1,
      "the blocked join is still in the histogram")

# --- TRACEPARENT: the process joins the caller's trace. -----------------------
tp_trace, tp_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
r = Run([program("threads"), "nested"], env={"TRACEPARENT": f"00-{tp_trace}-{tp_span}-01"})
out = r.only()
proc = out.span("process")
equal(proc["traceId"], tp_trace, "process span in the TRACEPARENT trace")
equal(proc.get("parentSpanId"), tp_span, "process span parented on TRACEPARENT's span")
for s in out.spans:
    equal(s["traceId"], tp_trace, f"{s['name']} in the TRACEPARENT trace")
r = Run([program("threads"), "nested"], env={"TRACEPARENT": "00-" + "0" * 32 + "-" + tp_span + "-01"})
out = r.only()
check("parentSpanId" not in out.span("process"), "invalid TRACEPARENT: a new root")
check("TRACEPARENT" in r.stderr and r.stderr.count("weft:") == 1, "invalid TRACEPARENT: one warning")

# --- Ids never collide across processes. --------------------------------------
seen = set()
for _ in range(5):
    out = Run([program("threads"), "nested"]).only()
    for s in out.spans:
        check(s["spanId"] not in seen, "span id unique across runs")
        seen.add(s["spanId"])
# --- Stacks (WEFT_STACKS, on by default): a wait's stack starts in the program.
r = Run([program("worker-pool"), "-n", "200", "-w", "4"], env={"WEFT_SPAN_MIN_WAIT": "0"})
out = r.only()
# How often a worker finds the queue empty depends on the machine; its 1 ms
# sleeps do not: one per even item (the dispatcher's own, between batches, are
# not the workers').
waits = [s for s in out.spans if s["name"].startswith("wait ") and
         s["attrs"].get("thread.name", "").startswith("worker-")]
equal(sum(s["name"] == "wait sleep" for s in waits), 100, "workers' sleeps are wait spans, one per even item")
stacked = [s for s in waits if "code.stacktrace" in s["attrs"]]
check(len(stacked) > 0, "some carry a stack (one per thread per millisecond at most)")
for s in stacked:
    frames = s["attrs"]["code.stacktrace"].split("\n")
    equal(frames[0], "worker", "the stack starts at the caller (weft's frames left out)")
    check("thread_trampoline" not in frames, "no frame of libweft.so")
# A depth counts the program's frames, whatever weft's path to the unwinder:
# the worker, weft's thread start (left out), then libc's.
r = Run([program("worker-pool"), "-n", "200", "-w", "4"],
        env={"WEFT_SPAN_MIN_WAIT": "0", "WEFT_STACKS": "3"})
stacked = [s for s in r.only().spans if s["name"] == "wait sleep" and "code.stacktrace" in s["attrs"]
           and s["attrs"].get("thread.name", "").startswith("worker-")]
check(len(stacked) > 0, "WEFT_STACKS=3: some sleeps carry a stack")
for s in stacked:
    frames = s["attrs"]["code.stacktrace"].split("\n")
    equal((len(frames), frames[0]), (2, "worker"), "WEFT_STACKS=3: worker and libc's thread start")
r = Run([program("worker-pool"), "-n", "200", "-w", "4"],
        env={"WEFT_SPAN_MIN_WAIT": "0", "WEFT_STACKS": "0"})
check(not any("code.stacktrace" in s["attrs"] for s in r.only().spans), "WEFT_STACKS=0: none")

# --- A thread waiting again and again from one place keeps its stack on every
# wait (agent/stack.h: the site's stack is used again without an unwind, so
# the unwind budget, one a millisecond, does not thin them out), and one call
# site reached at two depths of the stack keeps two stacks. 3 x 300 sleeps of
# 50 us take about 100 ms: the budget alone would give about a hundred.
N = 300
r = Run([program("sitestacks"), str(N)], env={"WEFT_SPAN_MIN_WAIT": "0"})
equal(r.rc, 0, "sitestacks exit code")
naps = sorted((s for s in r.only().spans if s["name"] == "wait sleep" and
               s["attrs"].get("thread.name") == "looper"),
              key=lambda s: int(s["startTimeUnixNano"]))
equal(len(naps), 3 * N, "every sleep of the looper is a wait span")
stacks = [s["attrs"].get("code.stacktrace", "").split("\n") for s in naps]
equal(sum(st[0] == "nap" for st in stacks), 3 * N, "every one carries its stack, from nap")
for part, path, other in ((0, "path_a", "path_b"), (1, "path_b", "path_a"), (2, "path_a", "path_b")):
    these = stacks[part * N:(part + 1) * N]
    equal(sum(len(st) > 1 and st[1] == path for st in these), N,
          f"sleeps {part * N}..{(part + 1) * N - 1}: through {path}")
    check(not any(other in st for st in these), f"sleeps {part * N}..: never {other}'s stack")

done()
