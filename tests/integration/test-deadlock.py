"""Deadlocks: wait-for cycles found, reported once, with every thread, object and call site.

tests/programs/deadlock.c closes four kinds of cycle, each broken after 4 s
by a timed wait that gives up (so the program ends): an AB-BA cycle between
threads "left" and "right" (main joins left meanwhile: blocked behind the
cycle, not in it), a three-thread cycle, a join cycle, and a thread that
locks a normal mutex it holds. For each, under weft:
  - one `weft: deadlock:` line on stderr naming every thread of the cycle
    (name, tid, pool), what it waits on and where, and no other thread;
    indented stack lines follow (WEFT_STACKS is on by default);
  - one `deadlock` span, a child of the process span, ending within a
    second (plus scheduling slack) of the cycle's forming, with a link of
    kind `deadlock` to each thread's span and one `weft.deadlock` event per
    thread carrying its attributes;
  - weft.deadlocks = 1; the report's findings name it;
  - the program's own output is as without weft.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import Run, attrs, program, check, equal, done, check_report_from_file  # noqa: E402

# mode -> threads of the cycle: name -> (kind, call site, the object's name,
# the thread it waits for)
CYCLES = {
    "abba": {"left": ("mutex", "lock_or_give_up", "b", "right"),
             "right": ("mutex", "lock_or_give_up", "a", "left")},
    "three": {"t0": ("mutex", "lock_or_give_up", "m1", "t1"),
              "t1": ("mutex", "lock_or_give_up", "m2", "t2"),
              "t2": ("mutex", "lock_or_give_up", "m0", "t0")},
    "join": {"j1": ("join", "join_other", None, "j2"),
             "j2": ("join", "join_other", None, "j1")},
    "self": {"selfish": ("mutex", "lock_or_give_up", "mine", "selfish")},
}
POOLS = {"left": "left", "right": "right", "t0": "t", "t1": "t", "t2": "t", "j1": "j",
         "j2": "j", "selfish": "selfish"}

for mode, cycle in CYCLES.items():
    native = Run([program("deadlock"), mode], preload=False, expect_file=False)
    r = Run([program("deadlock"), mode], env={"WEFT_REPORT": "stderr"})
    what = f"{mode}:"
    equal(r.rc, 0, f"{what} exit status")
    norm = lambda s: sorted(re.sub(r"\d+", "N", ln) for ln in s.splitlines())  # noqa: E731
    equal(norm(r.stdout), norm(native.stdout), f"{what} output as without weft (numbers aside)")
    tids, mutexes = {}, {}
    for ln in r.stdout.splitlines():
        f = ln.split()
        if f[0] == "tid":
            tids[f[1]] = int(f[2])
        elif f[0] == "mutex":
            mutexes[f[1]] = int(f[2])
    check(set(tids) >= set(cycle), f"{what} the program printed its threads: {tids}")

    # --- stderr: one line, every member, nobody else
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("weft: deadlock:")]
    equal(len(lines), 1, f"{what} one deadlock line on stderr")
    line = lines[0] if lines else ""
    for name, (kind, site, obj, holder) in cycle.items():
        who = f"thread {name} (tid {tids.get(name)}, pool {POOLS[name]})"
        if kind == "join":
            want = f"{who} waits to join tid {tids.get(holder)} in {site}"
        else:
            want = (f"{who} waits for mutex {hex(mutexes.get(obj, 0))} in {site}, "
                    f"held by tid {tids.get(holder)}")
        check(want in line, f"{what} the line has {want!r}: {line}")
    for name in set(tids) - set(cycle):
        check(f"tid {tids[name]}" not in line, f"{what} {name} is not in the cycle: {line}")
    check(re.search(r"\n    tid \d+:\n      \S", r.stderr) is not None,
          f"{what} indented stack lines follow: {r.stderr[:2000]}")

    # --- telemetry
    out = r.only()
    proc = out.span("process")
    spans = out.named("deadlock")
    equal(len(spans), 1, f"{what} one deadlock span")
    if spans:
        d = spans[0]
        equal(d.get("parentSpanId"), proc.get("spanId"), f"{what} a child of the process span")
        equal(d["attrs"].get("weft.deadlock.threads"), len(cycle), f"{what} weft.deadlock.threads")
        took = (int(d["endTimeUnixNano"]) - int(d["startTimeUnixNano"])) / 1e9
        check(0.4 <= took <= 2.0, f"{what} found {took:.2f} s after the cycle formed (walks "
              "every 0.5 s, confirmed at the next)")
        by_tid = {s["attrs"].get("thread.id"): s for s in out.named("thread ")}
        want_links = sorted(by_tid[tids[n]]["spanId"] for n in cycle if tids.get(n) in by_tid)
        got_links = sorted(ln["spanId"] for ln in d.get("links", [])
                           if attrs(ln.get("attributes")).get("weft.link.kind") == "deadlock")
        equal(got_links, want_links, f"{what} a deadlock link to each thread's span")
        evs = {attrs(e.get("attributes")).get("thread.id"): attrs(e.get("attributes"))
               for e in d.get("events", []) if e.get("name") == "weft.deadlock"}
        equal(sorted(evs), sorted(tids[n] for n in cycle), f"{what} a weft.deadlock event each")
        for name, (kind, site, obj, holder) in cycle.items():
            a = evs.get(tids.get(name), {})
            equal(a.get("thread.name"), name, f"{what} {name}: thread.name")
            equal(a.get("weft.pool.name"), POOLS[name], f"{what} {name}: weft.pool.name")
            equal(a.get("weft.wait.kind"), kind, f"{what} {name}: weft.wait.kind")
            equal(a.get("code.function.name"), site, f"{what} {name}: code.function.name")
            check(str(a.get("code.stacktrace", "")).startswith(site + "\n"),
                  f"{what} {name}: code.stacktrace starts at the call site: {a}")
            equal(a.get("weft.holder.thread.id"), tids.get(holder),
                  f"{what} {name}: weft.holder.thread.id, the thread it waits for")
            if obj:
                equal(a.get("weft.object"), hex(mutexes.get(obj, 0)), f"{what} {name}: object")
    equal(out.value("weft.deadlocks"), 1, f"{what} weft.deadlocks")
    check_report_from_file(r, what)
    report = r.stderr[r.stderr.find("weft report:"):]
    check("  findings:\n    deadlock: " in report, f"{what} the report's findings: {report[:600]}")
    equal(len(re.findall(r"\n    deadlock: ", report)), 1, f"{what} one deadlock finding")
    evs = [attrs(e.get("attributes")) for e in proc.get("events", [])
           if e.get("name") == "weft.finding" and
           attrs(e.get("attributes")).get("weft.finding.kind") == "deadlock"]
    equal([(a.get("weft.finding.kind"), a.get("weft.finding.threads")) for a in evs],
          [("deadlock", len(cycle))], f"{what} a weft.finding event on the process span")
    if evs:
        equal("weft: " + evs[0].get("weft.finding.text", ""), line,
              f"{what} the finding's text is the stderr line")

# No cycle, no report: threads that only wait for each other in turn.
r = Run([program("syncplay")], env={"WEFT_SPAN_MIN_WAIT": "0"})
equal(r.rc, 0, "syncplay exit status")
check("deadlock" not in r.stderr, "no deadlock reported for syncplay")
equal(r.only().value("weft.deadlocks"), 0, "syncplay: weft.deadlocks 0")
done()
