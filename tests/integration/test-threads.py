"""Many threads: nothing lost when the rings are big enough, drops counted exactly
when they are not, memory bounded by the configuration."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import Run, program, check, equal, done  # noqa: E402

N = 1000
# Export only at exit, so every event of the run sits in the rings until then.
LATE = {"OTEL_BSP_SCHEDULE_DELAY": "60000", "OTEL_METRIC_EXPORT_INTERVAL": "60000"}

# 1,000 short-lived threads, each naming itself 3 times, default rings: all there.
r = Run([program("threads"), "many", str(N), "3"], env=LATE)
equal(r.rc, 0, "exit code")
out = r.only()
threads = out.named("thread ")
equal(len(threads), N, "one span per thread")
equal(sorted(s["name"] for s in threads), sorted(f"thread t{i}-2" for i in range(N)),
      "each span carries the thread's last name")
proc = out.span("process")
check(all(s.get("parentSpanId") == proc["spanId"] for s in threads), "all under the process span")
equal(len({s["attrs"]["thread.id"] for s in threads}) > 0, True, "thread ids present")
equal(out.value("weft.thread.created", weft_pool_name="namer"), N, "created counter")
equal(out.value("weft.agent.events.dropped", weft_drop_reason="ring_full"), 0, "no ring drops")
equal(out.value("weft.agent.events.dropped", weft_drop_reason="queue_full"), 0, "no queue drops")
equal(out.value("weft.agent.spans.exported"), len(out.spans), "every span exported")
equal(out.value("process.thread.count"), 1, "only main alive at exit")

# Rings of 4 events, 6 names per thread, main not blocking (tryjoin polling):
# each thread keeps 4 names and drops exactly 2. Thread spans themselves are
# never lost to a full ring: start and end live in the thread's state. Fewer
# threads than the exits that wake the exporter early
# (WEFT_CONSUMER_PENDING_EXITS_WAKE, 64): a drain while the next thread names
# itself would let it keep more (seen under load with 1,000).
N = 63
r = Run([program("threads"), "many", str(N), "6", "poll"], env=dict(LATE, WEFT_RING_SIZE="4"))
out = r.only()
threads = out.named("thread ")
equal(len(threads), N, "one span per thread with tiny rings")
equal(out.value("weft.agent.events.dropped", weft_drop_reason="ring_full"), 2 * N,
      "exactly two dropped names per thread")
equal(sorted(s["name"] for s in threads), sorted(f"thread t{i}-3" for i in range(N)),
      "the last name that fitted")
check("weft:" not in r.stderr, "drops are counted, not printed")

# Early collection: with more exited threads than the wake threshold, the
# exporter collects before the schedule delay; memory stays bounded.
M = 20000
native = Run([program("threads"), "many", str(M), "0"], env={"THREADS_PRINT_HWM": "1"},
             preload=False, expect_file=False)
under = Run([program("threads"), "many", str(M), "0"], env=dict(LATE, THREADS_PRINT_HWM="1"))


def hwm_kb(run):
    for line in run.stdout.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


n_kb, w_kb = hwm_kb(native), hwm_kb(under)
check(n_kb > 0 and w_kb > 0, "peak RSS reported")
check(w_kb - n_kb < 48 * 1024, f"peak RSS with weft within 48 MiB of native ({w_kb} vs {n_kb} KiB)")
out = under.only()
equal(len(out.named("thread ")), M, f"{M} thread spans")
equal(out.value("weft.agent.events.dropped", weft_drop_reason="ring_full"), 0, "no drops")
done()
