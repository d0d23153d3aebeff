"""Lock-order inversions (WEFT_LOCK_ORDER=1): found once, with both locks and both sites.

tests/programs/lockorder.c never deadlocks (its threads run one after the
other) but takes mutexes a and b in both orders; c and d always in the same
order; and e, f, g so that the inversion g→e would be reported only if weft
believed e still held after an unlock that was not the newest lock's. With
WEFT_LOCK_ORDER=1: one `weft:` warning, one report finding, one
`weft.finding` and one `weft.lock_order_inversion` event on the process span,
each naming a and b and the functions that took the second lock in each
order. Without the option: nothing. The program's output is as without weft
in both cases.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import Run, attrs, program, check, equal, done, check_report_from_file  # noqa: E402

native = Run([program("lockorder")], preload=False, expect_file=False)
r = Run([program("lockorder")], env={"WEFT_LOCK_ORDER": "1", "WEFT_REPORT": "stderr"})
equal(r.rc, 0, "exit status")
equal(re.sub(r"\d+", "N", r.stdout), re.sub(r"\d+", "N", native.stdout),
      "output as without weft (addresses aside)")
m = {f[1]: int(f[2]) for f in (ln.split() for ln in r.stdout.splitlines()) if f[0] == "mutex"}
a, b = hex(m.get("a", 0)), hex(m.get("b", 0))
check_report_from_file(r, "WEFT_LOCK_ORDER=1:")
out = r.only()
beta = next((s["attrs"].get("thread.id") for s in out.named("thread beta")), None)
want = (f"lock order inversion: mutex {a} then {b} (the second taken in take_a_then_b), and "
        f"{b} then {a} (in take_b_then_a, thread {beta}): two threads doing both at once "
        "deadlock")
warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("weft: lock order")]
equal(warnings, ["weft: " + want], "one warning, a then b, b then a")
check(f"  findings:\n    {want}\n" in r.stderr, f"the report's finding: {r.stderr[:800]}")
events = out.span("process").get("events", [])
inv = [attrs(e.get("attributes")) for e in events if e.get("name") == "weft.lock_order_inversion"]
equal(inv, [{"weft.lock.first": a, "weft.lock.second": b, "weft.site.forward": "take_a_then_b",
             "weft.site.reverse": "take_b_then_a"}], "one weft.lock_order_inversion event")
fnd = [attrs(e.get("attributes")) for e in events if e.get("name") == "weft.finding"]
equal([(f.get("weft.finding.kind"), f.get("weft.finding.text")) for f in fnd],
      [("lock_order_inversion", want)], "one weft.finding event")

r = Run([program("lockorder")], env={"WEFT_REPORT": "stderr"})
equal(re.sub(r"\d+", "N", r.stdout), re.sub(r"\d+", "N", native.stdout),
      "without the option: output as without weft")
check("lock order" not in r.stderr, "without the option: no inversion reported")
equal([e for e in r.only().span("process").get("events", [])
       if e.get("name") == "weft.lock_order_inversion"], [],
      "without the option: no weft.lock_order_inversion event")
done()
