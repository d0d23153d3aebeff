"""Sleeps are waits of kind `sleep`: exact counts, spans, parents and call sites.

tests/programs/sleeper.c: two threads each sleep 3 ms once in nanosleep,
clock_nanosleep (relative and absolute), usleep and thrd_sleep, 100 µs once
in nanosleep, and make three calls that fail or return at once; main sleeps 1 s in
sleep(). With WEFT_SPAN_MIN_WAIT=1ms every 3 ms sleep and main's second is
a `wait sleep` span under its thread's span, named by the function that
slept; the 100 µs ones are counted in weft.wait.duration but make no span (unless
a loaded machine stretched one to a millisecond, which the program reports);
the calls that do not sleep are not waits at all. A sleep is no work source:
no task span. The behaviour of each call (results, errno, EINTR, time left,
cancellation) is tests/behaviour/behaviour-sleep.c's.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import Run, attrs, program, check, equal, done  # noqa: E402

r = Run([program("sleeper")], env={"WEFT_SPAN_MIN_WAIT": "1ms"})
equal(r.rc, 0, "sleeper exit status")
lines = r.stdout.splitlines()
equal(lines[-1:], ["done"], "sleeper output")
# A 100 µs sleep that a loaded machine stretched to a millisecond may be a span.
overslept = int(lines[0].split()[1]) if lines and lines[0].startswith("overslept ") else 0
out = r.only()

SITES = ["nap_nanosleep", "nap_clock", "nap_clock_abs", "nap_usleep", "nap_thrd"]

# --------------------------------------------------------------- the metric
counts = {}
for p in out.points("weft.wait.duration"):
    a = attrs(p.get("attributes"))
    if a.get("weft.wait.kind") == "sleep":
        counts[a.get("code.function.name")] = int(p.get("count", 0))
want = {site: 2 for site in SITES}
want.update(nap_short=2, nap_sleep=1)
equal(counts, want, "weft.wait.duration{sleep} by call site: one per sleep, none for nap_none")
for p in out.points("weft.wait.duration"):
    a = attrs(p.get("attributes"))
    if a.get("code.function.name") == "nap_sleep":
        check(float(p.get("sum", 0)) >= 1.0, f"main's sleep(1) lasted a second: {p.get('sum')}")

# ---------------------------------------------------------------- the spans
proc = out.span("process")
threads = {s["attrs"].get("thread.name"): s for s in out.named("thread ")}
equal(sorted(threads), ["napper-0", "napper-1"], "the two napper threads")
sleeps = out.named("wait sleep")
short = [s for s in sleeps if s["attrs"].get("code.function.name") == "nap_short"]
check(len(short) <= overslept,
      f"a 100 µs sleep is no span ({len(short)} are; {overslept} took 0.9 ms or more)")
sleeps = [s for s in sleeps if s not in short]
equal(len(sleeps), 2 * len(SITES) + 1, "a span per sleep of 1 ms or more")
for name, th in threads.items():
    mine = [s for s in sleeps if s.get("parentSpanId") == th.get("spanId")]
    equal(sorted(s["attrs"].get("code.function.name") for s in mine), sorted(SITES),
          f"{name}: its five 3 ms sleeps, children of its span, by call site")
    for s in mine:
        equal(s["attrs"].get("thread.id"), th["attrs"].get("thread.id"),
              f"{name}: a sleep span's thread.id")
        equal(s["attrs"].get("thread.name"), name, f"{name}: a sleep span's thread.name")
        equal(s["attrs"].get("weft.wait.kind"), "sleep", f"{name}: weft.wait.kind")
        check("weft.object" not in s["attrs"], f"{name}: a sleep has no weft.object")
        dur = int(s["endTimeUnixNano"]) - int(s["startTimeUnixNano"])
        check(3_000_000 <= dur < 1_000_000_000, f"{name}: a 3 ms sleep's span lasts {dur} ns")
main_sleep = [s for s in sleeps if s["attrs"].get("code.function.name") == "nap_sleep"]
equal(len(main_sleep), 1, "main's sleep(1) is a span")
if main_sleep:
    equal(main_sleep[0].get("parentSpanId"), proc.get("spanId"),
          "main's sleep is a child of the process span")
    check(int(main_sleep[0]["endTimeUnixNano"]) - int(main_sleep[0]["startTimeUnixNano"])
          >= 1_000_000_000, "main's sleep span lasts a second")
equal(out.named("task "), [], "sleeps start no task")
equal(out.value("weft.thread.waiting", weft_wait_kind="sleep"), 0,
      "weft.thread.waiting{sleep} is 0 at the end")

# A switched-off family: no sleep is a wait.
r2 = Run([program("sleeper")], env={"WEFT_SPAN_MIN_WAIT": "1ms", "WEFT_HOOKS": "thread,mutex,rwlock,cond,sem,fd,socket,poll,process"})
if check(r2.rc == 0, f"sleeper with WEFT_HOOKS without sleep: status {r2.rc}"):
    out2 = r2.only()
    equal(out2.named("wait sleep"), [], "WEFT_HOOKS without sleep: no sleep span")

done()
