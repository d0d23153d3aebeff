"""Locks, condition variables and semaphores: exact counts, holders and hand-off links.

tests/programs/syncplay.c forces every wait it makes (see there), so every
count below is exact: contended mutex waits and their holders, condvar waits
woken by a signal or a broadcast (each linked to the signaller's span) and
timed out (no link), semaphore waits woken by a post, lock acquisitions by
kind, sampled holds by unlocking function, and a thread seen blocked in a
mutex by the weft.thread.waiting gauge.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import Run, attrs, program, check, equal, done  # noqa: E402

ETIMEDOUT = 110

# Rings large enough that no event is dropped: main alone records 1,000+ holds
# in a burst (the default ring holds 1,024 events).
ENV = {"WEFT_SPAN_MIN_WAIT": "0", "WEFT_HOLD_SAMPLE": "1",
       "OTEL_METRIC_EXPORT_INTERVAL": "100", "WEFT_RING_SIZE": "16384"}

r = Run([program("syncplay")], env=ENV)
equal(r.rc, 0, "syncplay exit status")
check(r.stdout.rstrip().endswith("done"), f"syncplay ran to the end: {r.stdout[-500:]}")
out = r.only()
equal(out.value("weft.agent.events.dropped", weft_drop_reason="ring_full"), 0,
      "no event dropped: every count below is exact")

tids, n = {}, {}
for line in r.stdout.splitlines():
    f = line.split()
    if len(f) == 3 and f[0] == "tid":
        tids.setdefault(f[1], []).append(int(f[2]))
    elif len(f) == 3 and f[0] == "count":
        n[f[1]] = int(f[2])
N, K, T, K2, S, U, R, W = (n.get(k, -1) for k in ("N", "K", "T", "K2", "S", "U", "R", "W"))
check(min(N, K, T, K2, S, U, R, W) > 0, f"syncplay printed its counts: {n}")


def tid(role):
    return tids.get(role, [0])[0]


# ------------------------------------------------------------ spans by thread

proc = out.span("process")
by_tid = {s["attrs"].get("thread.id"): s for s in out.named("thread ")}
by_tid[tid("main")] = proc


def thread_span(role):
    s = by_tid.get(tid(role))
    check(s is not None, f"a span for thread {role} (tid {tid(role)})")
    return s or {}


def waits(kind, fn):
    return [s for s in out.spans if s["name"] == f"wait {kind}"
            and s["attrs"].get("code.function.name") == fn]


def links(s, kind=None):
    got = []
    for ln in s.get("links", []):
        a = attrs(ln.get("attributes"))
        if kind is None or a.get("weft.link.kind") == kind:
            got.append(ln)
    return got


def points_to(ln, target):
    return ln.get("spanId") == target.get("spanId") and ln.get("traceId") == target.get("traceId")


def hist_count(name, **want):
    w = {k.replace("_", "."): v for k, v in want.items()}
    return sum(int(p.get("count", 0)) for p in out.points(name)
               if attrs(p.get("attributes")) == w)


# ------------------------------------------------------------- contended mutex

holder, waiter = thread_span("contend_holder"), thread_span("contend_waiter")
mw = waits("mutex", "contend_waiter")
equal(len(mw), N, "one `wait mutex` span per forced contention")
equal(sorted({s["attrs"].get("weft.holder.thread.id") for s in mw}), [tid("contend_holder")],
      "weft.holder.thread.id is the holder's thread.id")
equal(sorted({s["attrs"].get("thread.id") for s in mw}), [tid("contend_waiter")],
      "the waits are the waiter's")
check(all(s.get("parentSpanId") == waiter.get("spanId") for s in mw),
      "each `wait mutex` is a child of the waiter's thread span")
check(all(len(s.get("links", [])) == 1 and len(links(s, "holder")) == 1 and
          points_to(links(s, "holder")[0], holder) for s in mw),
      "each `wait mutex` has exactly one link, of kind holder, to the holder's thread span")
gw = waits("mutex", "gauge_waiter")
equal(len(gw), 1, "the gauge waiter's one contended wait")
if gw:
    equal(gw[0]["attrs"].get("weft.holder.thread.id"), tid("main"), "gauge wait: held by main")
    check(len(links(gw[0], "holder")) == 1 and points_to(links(gw[0], "holder")[0], proc),
          "gauge wait: holder link to main's span (the process span)")

contentions = {(a.get("weft.wait.kind"), a.get("code.function.name")): int(p["asInt"])
               for p in out.points("weft.lock.contentions")
               for a in [attrs(p.get("attributes"))] if int(p.get("asInt", 0))}
equal(contentions, {("mutex", "contend_waiter"): N, ("mutex", "gauge_waiter"): 1},
      "weft.lock.contentions: exactly the forced contentions")

# ---------------------------------------------------------- condvar hand-offs

producer = thread_span("producer")
cw = waits("cond", "consumer")
woken = [s for s in cw if "weft.wait.result" not in s["attrs"]]
timed_out = [s for s in cw if s["attrs"].get("weft.wait.result") == ETIMEDOUT]
equal(len(cw), K + T, "consumer: K signalled waits and T timed-out ones, nothing else")
equal(len(woken), K, "consumer: waits that returned 0")
equal(len(timed_out), T, "consumer: waits that timed out")
check(all(len(s.get("links", [])) == 1 and len(links(s, "cond.signal")) == 1 and
          points_to(links(s, "cond.signal")[0], producer) for s in woken),
      "every consumer wake has exactly one cond.signal link, to the producer's thread span")
check(all(not s.get("links") for s in timed_out), "timed-out waits have no link")

bw = [s for t in tids.get("bcast_waiter", []) for s in out.spans
      if s["name"] == "wait cond" and s["attrs"].get("thread.id") == t]
equal(len(bw), 3, "one `wait cond` per broadcast waiter")
check(all(len(s.get("links", [])) == 1 and len(links(s, "cond.signal")) == 1 and
          points_to(links(s, "cond.signal")[0], proc) for s in bw),
      "every waiter woken by the broadcast links to the broadcaster's span (process)")

# ------------------------------------------------------------ semaphore posts

sw = waits("sem", "sem_consumer")
posted = [s for s in sw if "weft.wait.result" not in s["attrs"]]
sem_timed_out = [s for s in sw if s["attrs"].get("weft.wait.result") == -ETIMEDOUT]
equal(len(sw), K2 + 1, "sem_consumer: K2 posted waits and one timed out")
equal(len(posted), K2, "sem_consumer: waits that took a posted unit")
check(all(len(s.get("links", [])) == 1 and len(links(s, "sem.post")) == 1 and
          points_to(links(s, "sem.post")[0], proc) for s in posted),
      "every sem_wait woken by a post has exactly one sem.post link, to the poster's span")
check(all(not s.get("links") for s in sem_timed_out), "the timed-out sem wait has no link")

# ------------------------------------------------------------- cancellation

# A wait ended by cancellation is a wait all the same, ended with ECANCELED ...
ECANCELED = 125
for kind, fn, result in (("cond", "cancelled_cond", ECANCELED),
                         ("sem", "cancelled_sem", -ECANCELED),
                         ("join", "cancelled_join", ECANCELED)):
    got = [s["attrs"].get("weft.wait.result") for s in waits(kind, fn)]
    equal(got, [result], f"the {kind} wait a cancellation ended, with its result")
    equal(hist_count("weft.wait.duration", weft_wait_kind=kind, code_function_name=fn), 1,
          f"weft.wait.duration has the cancelled {kind} wait")

# ... and the thread is not on view as blocked while its cleanup handlers run.
window = [tuple(int(x) for x in line.split()[1:3]) for line in r.stdout.splitlines()
          if line.startswith("cancel_window ")]
in_window = []
for ml in out.metric_lines:
    m = ml.get("weft.thread.waiting")
    pts = {attrs(p.get("attributes")).get("weft.wait.kind"): (int(p.get("timeUnixNano", 0)),
                                                               int(p.get("asInt", 0)))
           for p in (m or {}).get("gauge", {}).get("dataPoints", [])}
    t = pts.get("cond", (0, 0))[0]
    if window and window[0][0] <= t <= window[0][1]:
        in_window.append({k: v for k, (_, v) in pts.items() if k in ("cond", "sem", "join")})
check(len(in_window) >= 1, f"a metric export while the cancelled threads clean up: {window}")
check(all(w == {"cond": 0, "sem": 0, "join": 1} for w in in_window),
      "while cancelled waiters run their cleanup handlers, weft.thread.waiting counts none "
      f"of them (only main, in join): {in_window}")

# ------------------------------------------------------------------ barriers

bar = waits("barrier", "contend_holder") + waits("barrier", "contend_waiter")
equal(len(bar), 4 * N, "every barrier arrival is a wait")
equal([s["attrs"].get("weft.wait.result") for s in bar if "weft.wait.result" in s["attrs"]], [],
      "a barrier's serial thread (PTHREAD_BARRIER_SERIAL_THREAD) is no error result")

# ------------------------------------------------------------------- metrics

want_waits = {("mutex", "contend_waiter"): N, ("mutex", "gauge_waiter"): 1,
              ("barrier", "contend_holder"): 2 * N, ("barrier", "contend_waiter"): 2 * N,
              ("cond", "consumer"): K + T, ("cond", "bcast_waiter"): 3,
              ("sem", "sem_consumer"): K2 + 1}
for (kind, fn), count in want_waits.items():
    equal(hist_count("weft.wait.duration", weft_wait_kind=kind, code_function_name=fn), count,
          f"weft.wait.duration count for {kind} in {fn}")

# Calls that fail at once (EDEADLK, EINVAL) never blocked: no wait, no contention.
equal([s["name"] for s in out.spans if s["attrs"].get("code.function.name") == "refusals"], [],
      "no wait span for calls refused at once (self-deadlock, malformed deadline)")
equal([p for p in out.points("weft.wait.duration")
       if attrs(p.get("attributes")).get("code.function.name") == "refusals"], [],
      "no weft.wait.duration point for calls refused at once")

# contend: N + N; queue: consumer 1 + producer K; broadcast: 3 waiters + main;
# plain: U; refusals: 2; cancel: 1; gauge: main + the waiter. Condvar
# re-acquisitions are glibc's own.
MUTEXES = 2 * N + 1 + K + 4 + U + 2 + 1 + 2
equal(out.value("weft.lock.acquisitions", weft_wait_kind="mutex"), MUTEXES,
      "weft.lock.acquisitions for mutexes: exact")
equal(out.value("weft.lock.acquisitions", weft_wait_kind="rwlock.read"), R, "rwlock.read")
equal(out.value("weft.lock.acquisitions", weft_wait_kind="rwlock.write"), W + 1, "rwlock.write")
equal(out.value("weft.lock.acquisitions", weft_wait_kind="spin"), S, "spin")

# WEFT_HOLD_SAMPLE=1: every hold, by the function that released it (a wait on
# a condvar releases the mutex too); spin locks are counted, never sampled.
holds = {attrs(p.get("attributes")).get("code.function.name"): int(p.get("count", 0))
         for p in out.points("weft.lock.hold.duration")}
equal(holds, {"contend_holder": N, "contend_waiter": N, "producer": K, "consumer": 1,
              "bcast_waiter": 3, "run_broadcast": 1, "uncontended": U, "rw_pairs": R + W,
              "refusals": 3, "cancelled_cond": 1, "run_gauge": 1, "gauge_waiter": 1},
      "weft.lock.hold.duration: one point per hold, at the unlocking function")

# The gauge: main holds mg for 400 ms with gauge_waiter blocked on it.
seen = []
for ml in out.metric_lines:
    m = ml.get("weft.thread.waiting")
    for p in (m or {}).get("gauge", {}).get("dataPoints", []):
        if attrs(p.get("attributes")) == {"weft.wait.kind": "mutex"}:
            seen.append(int(p.get("asInt", 0)))
check(1 in seen, f"weft.thread.waiting showed the thread blocked in a mutex: {seen}")
check(all(v in (0, 1) for v in seen), f"never more than one thread blocked in a mutex: {seen}")
equal(out.value("weft.thread.waiting", weft_wait_kind="mutex"), 0, "nobody blocked at exit")

# ---------------------------------------------------- sampling off: no holds

r = Run([program("syncplay")], env=dict(ENV, WEFT_HOLD_SAMPLE="0"))
equal(r.rc, 0, "syncplay with WEFT_HOLD_SAMPLE=0")
out = r.only()
equal(sum(int(p.get("count", 0)) for p in out.points("weft.lock.hold.duration")), 0,
      "WEFT_HOLD_SAMPLE=0: no hold is timed")
equal(out.value("weft.lock.acquisitions", weft_wait_kind="mutex"), MUTEXES,
      "acquisitions are counted all the same")
done()
