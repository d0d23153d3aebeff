"""Readiness waits: exactly the calls that blocked, as `wait poll`.

tests/programs/pollplay.c forces every wait it makes (see there): for each of
poll, ppoll, select, pselect, epoll_wait, epoll_pwait and epoll_pwait2, B
calls that block until main writes a byte and one that times out, made from a
function named wait_<function>; calls that find a byte ready or have a zero
timeout (ready_calls), which must leave no trace; and a thread parked alone
in epoll_wait, which weft.thread.waiting{poll} must show. All of it twice:
pollplay-fortify is the same program built with _FORTIFY_SOURCE, whose poll
and ppoll calls are __poll_chk and __ppoll_chk.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import Run, attrs, program, check, equal, done  # noqa: E402

FUNCTIONS = ["poll", "ppoll", "select", "pselect", "epoll_wait", "epoll_pwait", "epoll_pwait2"]
ENV = {"WEFT_SPAN_MIN_WAIT": "0", "OTEL_METRIC_EXPORT_INTERVAL": "100"}


def check_program(prog):
    """Every check on one build of pollplay."""
    r = Run([program(prog)], env=ENV)
    equal(r.rc, 0, f"{prog} exit status")
    check(r.stdout.rstrip().endswith("done"), f"{prog} ran to the end: {r.stdout[-500:]}")
    out = r.only()
    equal(out.value("weft.agent.events.dropped", weft_drop_reason="ring_full"), 0,
          "no event dropped: every count below is exact")

    tids, fds, counts, window = {}, {}, {}, None
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) == 3 and f[0] in ("tid", "fd", "count"):
            {"tid": tids, "fd": fds, "count": counts}[f[0]][f[1]] = int(f[2])
        elif len(f) == 3 and f[0] == "park_window":
            window = (int(f[1]), int(f[2]))
    B = counts.get("B", -1)
    check(B > 0 and window is not None,
          f"{prog} printed its counts and window: {r.stdout[-500:]}")

    by_tid = {s["attrs"].get("thread.id"): s for s in out.named("thread ")}
    polls = [s for s in out.spans if s["name"] == "wait poll"]

    def hist_count(kind, fn):
        return sum(int(p.get("count", 0)) for p in out.points("weft.wait.duration")
                   if attrs(p.get("attributes")) == {"weft.wait.kind": kind,
                                                     "code.function.name": fn})

    # ------------------------------------------------------ each function's waits

    for name in FUNCTIONS:
        fn = "wait_" + name
        mine = [s for s in polls if s["attrs"].get("code.function.name") == fn]
        equal(len(mine), B + 1,
              f"{prog} {name}: one `wait poll` span per call that blocked (B + 1)")
        equal(sorted(s["attrs"].get("weft.wait.result") for s in mine if
                     "weft.wait.result" in s["attrs"]), [1] * B,
              f"{prog} {name}: B waits ended with one descriptor ready (weft.wait.result 1), "
              "the one that timed out with none (no result attribute)")
        equal(hist_count("poll", fn), B + 1,
              f"{prog} {name}: weft.wait.duration{{poll, {fn}}} count")
        equal(sorted({s["attrs"].get("weft.object") for s in mine}), [f"fd:{fds.get(fn)}"],
              f"{prog} {name}: weft.object is the descriptor waited on (the epoll fd for epoll)")
        equal(sorted({s["attrs"].get("weft.wait.kind") for s in mine}), ["poll"],
              f"{prog} {name}: weft.wait.kind")
        equal(sorted({s["attrs"].get("thread.id") for s in mine}), [tids.get(fn)],
              f"{prog} {name}: the waits are the waiting thread's")
        parent = by_tid.get(tids.get(fn), {})
        check(parent and all(s.get("parentSpanId") == parent.get("spanId") for s in mine),
              f"{prog} {name}: each `wait poll` is a child of the waiting thread's span")
        timed_out = [s for s in mine if "weft.wait.result" not in s["attrs"]]
        check(len(timed_out) == 1 and
              int(timed_out[0]["endTimeUnixNano"]) - int(timed_out[0]["startTimeUnixNano"])
              >= 25_000_000, f"{prog} {name}: the wait that timed out lasted its 30 ms")

    # ---------------------------------------------- calls that never blocked

    equal([s["name"] for s in out.spans if s["attrs"].get("code.function.name") == "ready_calls"],
          [], "no span for calls that found a descriptor ready or had a zero timeout")
    equal([p for p in out.points("weft.wait.duration")
           if attrs(p.get("attributes")).get("code.function.name") == "ready_calls"], [],
          "no weft.wait.duration point for calls that never blocked")
    equal(sum(int(p.get("count", 0)) for p in out.points("weft.wait.duration")
              if attrs(p.get("attributes")).get("weft.wait.kind") == "poll"),
          len(FUNCTIONS) * (B + 1) + 1, "weft.wait.duration{poll}: every blocked call, no other")
    equal(len(polls), len(FUNCTIONS) * (B + 1) + 1,
          "`wait poll` spans: every blocked call, no other")

    # ----------------------------------------------------- parked in epoll_wait

    parked = [s for s in polls if s["attrs"].get("code.function.name") == "epoll_parked"]
    equal(len(parked), 1, "epoll_parked: its one wait")
    if parked:
        equal(parked[0]["attrs"].get("weft.object"), f"fd:{fds.get('epoll_parked')}",
              "epoll_parked: weft.object is its epoll descriptor")
    in_window = []
    for ml in out.metric_lines:
        m = ml.get("weft.thread.waiting")
        for p in (m or {}).get("gauge", {}).get("dataPoints", []):
            if attrs(p.get("attributes")) == {"weft.wait.kind": "poll"} and window and \
                    window[0] <= int(p.get("timeUnixNano", 0)) <= window[1]:
                in_window.append(int(p.get("asInt", 0)))
    check(len(in_window) >= 1, f"a metric export while epoll_parked is parked: {window}")
    check(in_window and all(v == 1 for v in in_window),
          f"weft.thread.waiting{{poll}} is 1 while the thread is parked in epoll_wait: {in_window}")
    equal(out.value("weft.thread.waiting", weft_wait_kind="poll"), 0, "nobody blocked at exit")


check_program("pollplay")
# Built with _FORTIFY_SOURCE, its poll and ppoll are __poll_chk and __ppoll_chk.
with open(program("pollplay-fortify"), "rb") as f:
    image = f.read()
check(b"__poll_chk" in image and b"__ppoll_chk" in image,
      "pollplay-fortify calls __poll_chk and __ppoll_chk")
check_program("pollplay-fortify")

# ------------------------------------------------- the hook family switched off

r = Run([program("pollplay")], env=dict(ENV, WEFT_HOOKS="thread"))
equal(r.rc, 0, "pollplay with WEFT_HOOKS=thread")
out = r.only()
equal([s for s in out.spans if s["name"] == "wait poll"], [],
      "WEFT_HOOKS without poll: no `wait poll` span")
done()
