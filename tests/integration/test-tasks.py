"""Tasks and pools inferred from condition variables and semaphores.

tests/programs/jobqueue.c hands every job to a worker that waits for it, so
the tasks are exact (see there):

  cond 1000 4   1,000 jobs and a stop broadcast through a mutex+condvar
                queue: 1,004 `task worker` spans (the pool's threads are
                named worker-0..3, start routine cond_worker), each one
                CONSUMER, a root of its own trace, with one `cond.signal`
                link to the span that handed it (main's current span);
                weft.task.duration{worker} counts 1,004; at every export
                busy ≤ threads; with the pool idle, an export sees 4
                threads and none busy. With WEFT_TASK_PARENT=child the
                tasks are in the process's trace, each a child of the span
                its link would name.
  sem 200 4     the same through a semaphore: 204 `task sem_worker` spans
                (unnamed threads: the start routine names the pool), each
                with a `sem.post` link.
  idle          a thread that only takes a mutex, sleeps, and waits on a
                condition variable until it times out: no task at all.

Channels, sockets and readiness waits (tests/programs/pipeline.c, chanplay.c,
jobqueue epoll):

  pipeline      three stages joined by pipes, with WEFT_TASK_PARENT=child:
                stage2 blocks for each of its M + B items (a task each, the
                child of stage1's span, which wrote it); stage3 blocks for M
                and finds the last B waiting in the pipe (a task each all the
                same: each item's bytes carry their writer's link), each task
                the child of the stage2 task that forwarded its item.
  eventfd       the waiter blocks in every read: M tasks, each with one
                `eventfd` link to main.
  poll          the consumer waits in a readiness call, then reads the
                message that made it ready: M tasks, each with the `pipe`
                link its read found.
  epoll N       a server waits in epoll_wait, accepts, answers: N tasks, each
                the parent of its connection's `accept` span.
"""
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import Run, attrs, program, check, equal, done  # noqa: E402

# The run makes about 2,100 spans (the worker tasks, main's, the waits), more
# than the queue's default 2,048 if no export happened meanwhile; and its five
# threads keep both cores busy, where weft's exporter (one thread among six) may drain
# main's ring (about 3,000 events) too late for the default 1,024 slots. What
# is checked here is the inference: nothing may be dropped.
ENV = {"OTEL_METRIC_EXPORT_INTERVAL": "100", "OTEL_BSP_MAX_QUEUE_SIZE": "16384",
       "WEFT_RING_SIZE": "16384"}
CONSUMER = 5


def link_kinds(span):
    return [attrs(link.get("attributes")).get("weft.link.kind") for link in span.get("links", [])]


def histogram_count(out, name, pool):
    for p in out.points(name):
        if attrs(p.get("attributes")) == {"weft.pool.name": pool}:
            return int(p.get("count", 0))
    return None


def gauge_history(out, name, pool):
    """Each export's value of a pool gauge (None where it has no point)."""
    values = []
    for ml in out.metric_lines:
        m = ml.get(name) or {}
        value = None
        for p in (m.get("gauge") or {}).get("dataPoints", []):
            if attrs(p.get("attributes")) == {"weft.pool.name": pool}:
                value = int(p.get("asInt", 0))
        values.append(value)
    return values


def check_pool(mode, n, w, pool, kind, env=None):
    native = Run([program("jobqueue"), mode, str(n), str(w)], preload=False, expect_file=False)
    r = Run([program("jobqueue"), mode, str(n), str(w)], env=dict(ENV, **(env or {})))
    what = f"{mode} {n} {w}" + (" (child)" if env else "")
    equal((r.rc, r.stdout), (native.rc, native.stdout), f"{what}: the same result as natively")
    out = r.only()
    tasks = out.named(f"task {pool}")
    equal(len(tasks), n + w, f"{what}: one task per hand-off to the pool ({n} jobs, {w} stops)")
    equal({t.get("kind") for t in tasks}, {CONSUMER}, f"{what}: the tasks are CONSUMER spans")
    if not env:
        equal({tuple(link_kinds(t)) for t in tasks}, {(kind,)},
              f"{what}: each task has one {kind} link, to the span that handed it its job")
    equal({t["attrs"].get("weft.pool.name") for t in tasks}, {pool}, f"{what}: weft.pool.name")
    equal(histogram_count(out, "weft.task.duration", pool), n + w,
          f"{what}: weft.task.duration counts every task")
    equal(histogram_count(out, "weft.task.queue.duration", pool), n + w,
          f"{what}: weft.task.queue.duration: every task's hand-off time is known")
    ids = {s["spanId"]: s for s in out.spans}
    process = out.span("process")
    dangling = [(t["startTimeUnixNano"], link["spanId"]) for t in tasks
                for link in t.get("links", []) if link["spanId"] not in ids]
    check(not dangling, f"{what}: every link names a span of the run: {dangling[:4]} "
          f"(spans by name: {collections.Counter(s['name'] for s in out.spans)})")
    if env:
        equal({t["traceId"] for t in tasks}, {process["traceId"]},
              f"{what}: with WEFT_TASK_PARENT=child the tasks are in the process's trace")
        parents = [ids.get(t.get("parentSpanId")) for t in tasks]
        check(all(parents), f"{what}: each task is a child of a span of the run")
        equal({not t.get("links") for t in tasks}, {True},
              f"{what}: no link besides the parent (its one producer)")
        # The span that handed the job over: main's (the process span, or a
        # task of main's, woken by a worker that became idle).
        # (The process span only when main found a worker waiting without
        # waiting itself first: a matter of timing.)
        names = {p["name"] for p in parents if p}
        check("task main" in names and names <= {"process", "task main"},
              f"{what}: the tasks' parents are main's spans: {names}")
    else:
        check(all(not t.get("parentSpanId") for t in tasks), f"{what}: each task is a root")
        equal(len({t["traceId"] for t in tasks}), n + w, f"{what}: each in a trace of its own")
    for reason in ("queue_full", "ring_full"):
        equal(out.value("weft.agent.events.dropped", weft_drop_reason=reason), 0,
              f"{what}: nothing dropped ({reason})")
    threads = gauge_history(out, "weft.pool.threads", pool)
    busy = gauge_history(out, "weft.pool.busy", pool)
    check(all(b is None or (t is not None and b <= t) for b, t in zip(busy, threads)),
          f"{what}: busy ≤ threads at every export: {list(zip(busy, threads))}")
    return out, threads, busy


out, threads, busy = check_pool("cond", 1000, 4, "worker", "cond.signal")
check(any(t == 4 and b == 0 for t, b in zip(threads, busy)),
      f"cond: an export saw the idle pool, 4 threads and none busy: {list(zip(threads, busy))}")
equal(threads[-1], 0, "cond: the pool has no thread left at the end")
check_pool("cond", 1000, 4, "worker", "cond.signal", env={"WEFT_TASK_PARENT": "child"})
check_pool("sem", 200, 4, "sem_worker", "sem.post")

# A fan-out and fan-in (tests/programs/fanin.c): each round main hands a job
# to each of 4 waiting workers with one broadcast, then waits for the 4
# results, each handed to it waiting: 4 main tasks a round, each linked to the
# worker task whose result woke it, and every worker task linked to the main
# span that handed it its job (the last main task of the round before). More
# results signalled before main runs are linked to the one task
# (tests/unit/test-handoff.c).
ROUNDS, FAN = 30, 4
native = Run([program("fanin"), str(ROUNDS), str(FAN)], preload=False, expect_file=False)
r = Run([program("fanin"), str(ROUNDS), str(FAN)], env=ENV)
equal((r.rc, r.stdout), (native.rc, native.stdout), "fanin: the same result as natively")
out = r.only()
ids = {s["spanId"]: s for s in out.spans}
fan = out.named("task fan")
mains = out.named("task main")
equal(len(fan), FAN * ROUNDS + FAN, "fanin: a worker task per job, and per worker for the stop")
equal(len(mains), FAN * ROUNDS, "fanin: a main task per result")
equal({tuple(link_kinds(t)) for t in mains}, {("cond.signal",)},
      "fanin: each main task has one cond.signal link, to the result that woke it")
linked = [ln["spanId"] for t in mains for ln in t.get("links", [])]
equal(len(set(linked)), len(linked), "fanin: no worker task linked twice")
equal({ids.get(x, {}).get("name") for x in linked}, {"task fan"},
      "fanin: the main tasks' links name worker tasks")
equal({tuple(link_kinds(t)) for t in fan}, {("cond.signal",)},
      "fanin: each worker task has one cond.signal link (its job's hand-off)")
by_producer = collections.Counter(ids.get(t["links"][0]["spanId"], {}).get("name") for t in fan)
equal(dict(by_producer), {"process": FAN, "task main": FAN * ROUNDS},
      "fanin: the first round's jobs come from the process span, later ones (and the stop) "
      "from main's tasks")
fan_out = collections.Counter(t["links"][0]["spanId"] for t in fan)
equal(collections.Counter(fan_out[t["spanId"]] for t in mains),
      collections.Counter({FAN: ROUNDS, 0: (FAN - 1) * ROUNDS}),
      "fanin: the last main task of each round hands out the next round's jobs (or the stop)")
unlinked = {t["spanId"] for t in fan} - set(linked)
equal(len(unlinked), FAN, "fanin: every job's task is linked by a main task (all but the stop's)")

# A hand-off inside a task (the worker waits for a helper's answer on another
# condition variable): no task of its own; the wait is a child of the task.
r = Run([program("jobqueue"), "inner", "200", "1"], env=dict(ENV, WEFT_SPAN_MIN_WAIT="0"))
equal(r.rc, 0, "inner: exit status")
out = r.only()
tasks = out.named("task worker")
equal(len(tasks), 201, "inner: one task per job and the stop, none for the helper's answers")
task_ids = {t["spanId"] for t in tasks}
answers = [s for s in out.named("wait cond") if s["attrs"].get("thread.name") == "worker-0" and
           s.get("parentSpanId") in task_ids]
equal(len(answers) == 200 and all(s.get("links") for s in answers), True,
      f"inner: the worker's waits for answers are children of its tasks, linked to the "
      f"helper ({len(answers)})")
equal(len(out.named("task helper")), 201, "inner: the helper's tasks, one per question and the stop")

def printed_counts(r):
    """The constants a channel program printed as `count <name> <n>`."""
    return {f[1]: int(f[2]) for f in (line.split() for line in r.stdout.splitlines())
            if len(f) == 3 and f[0] == "count"}


def chains(out):
    ids = {s["spanId"]: s for s in out.spans}
    return ids, lambda s: ids.get(s.get("parentSpanId"), {})


r = Run([program("pipeline")], env=dict(ENV, WEFT_TASK_PARENT="child", WEFT_SPAN_MIN_WAIT="0"))
equal(r.rc, 0, "pipeline: exit status")
out = r.only()
counts = printed_counts(r)
M, B = counts.get("M", -1), counts.get("B", -1)
ids, parent = chains(out)
t2, t3 = out.named("task stage2"), out.named("task stage3")
equal((len(t2), len(t3)), (M + B, M + B), "pipeline: a task per item in stage2 and in stage3")
equal(len(out.named("wait pipe.read")) - M - B, M,
      f"pipeline: stage3 blocked for {M} items only (the other {B} were waiting)")
equal({parent(t)["name"] for t in t2 if parent(t)}, {"thread stage1"},
      "pipeline: each stage2 task is a child of stage1, which wrote its item")
check(all(parent(t).get("name") == "task stage2" for t in t3),
      "pipeline: each stage3 task is a child of a stage2 task, also the ones that did not block")
equal(len({t.get("parentSpanId") for t in t3}), M + B,
      "pipeline: each item's own: a chain stage3 → stage2 → stage1 per item")
equal({t["traceId"] for t in t2 + t3}, {out.span("process")["traceId"]},
      "pipeline: one trace")
# Queue time: from the write of an item's first byte to its task's start.
# stage3 has one per item: the B slowed items waited in the pipe while it
# slept (SLOW_MS, 400 ms), the others about a wake-up. stage1 writes every
# item from one span (one hand-off record), so only stage2's first item has a
# write time of its own.
q3 = [p for p in out.points("weft.task.queue.duration")
      if attrs(p.get("attributes")) == {"weft.pool.name": "stage3"}]
equal(int(q3[0]["count"]) if q3 else None, M + B, "pipeline: a queue time for every stage3 item")
slow = sum(int(c) for c in q3[0]["bucketCounts"][6:]) if q3 else None
equal(slow, B, "pipeline: the slowed items waited over 100 ms in the pipe, the others less")
equal(histogram_count(out, "weft.task.queue.duration", "stage2"), 1,
      "pipeline: stage2's items share stage1's one hand-off record: one queue time")

r = Run([program("chanplay"), "eventfd"], env=ENV)
equal(r.rc, 0, "eventfd: exit status")
out = r.only()
counts = printed_counts(r)
tasks = out.named("task waiter")
equal(len(tasks), counts.get("M"), "eventfd: a task per count the waiter read")
main_span = out.span("process")["spanId"]
equal({tuple((attrs(ln.get("attributes")).get("weft.link.kind"), ln["spanId"])
             for ln in t.get("links", [])) for t in tasks}, {(("eventfd", main_span),)},
      "eventfd: each linked to main, which wrote it")

r = Run([program("chanplay"), "poll"], env=ENV)
equal(r.rc, 0, "poll: exit status")
out = r.only()
tasks = out.named("task consumer")
ids, parent = chains(out)
equal(len(tasks), counts.get("M"), "poll: a task per readiness wait that returned ready")
check(all([attrs(ln.get("attributes")).get("weft.link.kind") for ln in t.get("links", [])] ==
          ["pipe"] and ids.get(t["links"][0]["spanId"], {}).get("name") == "thread producer"
          for t in tasks),
      "poll: each task has the `pipe` link of the read that followed its wait, to the producer")
# The producer writes every message from its one thread span: one hand-off
# record, whose first write's time only the first item has (as stage2's).
equal(histogram_count(out, "weft.task.queue.duration", "consumer"), 1,
      "poll: the first task's queue time, from its read's hand-off record")

r = Run([program("jobqueue"), "epoll", "20"], env=ENV)
equal((r.rc, r.stdout), (0, "served 20\n"), "epoll: the server answered every client")
out = r.only()
tasks = out.named("task acceptor")
ids, parent = chains(out)
equal(len(tasks), 20, "epoll: a task per ready epoll_wait")
equal(sorted(parent(s).get("name", "") for s in out.named("accept")), ["task acceptor"] * 20,
      "epoll: each accepted connection's span is the child of its task")
equal(len({s.get("parentSpanId") for s in out.named("accept")}), 20,
      "epoll: one connection per task")

r = Run([program("jobqueue"), "idle"])
equal(r.rc, 0, "idle: exit status")
out = r.only()
equal([s["name"] for s in out.spans if s["name"].startswith("task")], [],
      "idle: mutexes, sleeps and a timed-out condvar wait start no task")
equal(len(out.named("wait cond")), 1, "idle: the timed-out wait is there, as a wait")
done()
