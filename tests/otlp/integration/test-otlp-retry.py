"""The otlp output against a collector that is down, refusing, slow or broken.

Receiver down at start then up (data arrives after retrying); 503 and 429
with Retry-After in seconds and as an HTTP date (respected); 400 (not
retried, dropped, counted); partial success (logged once); a slow receiver
(the program's own run time is unaffected, exit is bounded by
WEFT_EXIT_TIMEOUT); a malformed endpoint URL and a libcurl that cannot
be loaded (one clear warning, the file output instead, the exit code kept).
The exit budget and the spool are test-otlp-exit.py's.
"""
import os
import re
import threading
import time

import otlptest
from otlptest import Receiver, check, equal, run, weftrun

otlptest.setup_or_skip()
WORKER_POOL = weftrun.program("worker-pool")
TIMED_WORK = otlptest.otlp_program("timed-work")


def span_count(req):
    return len(otlptest.spans_of([req]))


def check_down_then_up():
    """While the program runs (not at exit) a refused connection is retried."""
    port = otlptest.free_port()
    holder = {}

    def start():
        holder["rx"] = Receiver(port=port)

    timer = threading.Timer(1.0, start)
    timer.start()
    t0 = time.monotonic()
    try:
        # About 4 s of work; the first export (at 50 ms) is refused, then retried.
        r = run([TIMED_WORK, "600"], f"http://127.0.0.1:{port}",
                env={"OTEL_BSP_SCHEDULE_DELAY": "50ms", "OTEL_BSP_MAX_QUEUE_SIZE": "4096",
                     "WEFT_SPAN_MIN_WAIT": "1h",
                     "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "4096"})
        took = time.monotonic() - t0
        timer.join()
        rx = holder.get("rx")
        equal(r.rc, 0, "down then up: exit code")
        check(rx is not None, "down then up: the receiver started")
        if rx:
            tr = rx.requests("traces", wait=2)
            mr = rx.requests("metrics", wait=2)
            n = sum(span_count(q) for q in tr)
            equal(n, 600 * 4 + 1, "down then up: every span arrives after retrying")
            equal(len(mr), 1, "down then up: the metrics arrive")
            if mr:
                m = otlptest.metrics_of(mr[0])
                equal(otlptest.value(m.get("weft.agent.export.failures"), weft_signal="traces"),
                      0, "down then up: no failed export")
                equal(otlptest.value(m.get("weft.agent.events.dropped"),
                                     weft_drop_reason="export_failed"), 0,
                      "down then up: nothing dropped")
        equal(otlptest.weft_lines(r.stderr), [], "down then up: a retry that succeeds is silent")
        print(f"info: down then up: exit {took:.1f} s after start, receiver up after 1 s")
    finally:
        timer.cancel()
        if "rx" in holder:
            holder["rx"].stop()


def check_dead_collector():
    """Nothing listens: the exit is not delayed (the exit's budget and spool: test-otlp-exit)."""
    port = otlptest.free_port()
    t0 = time.monotonic()
    r = run([WORKER_POOL], f"http://127.0.0.1:{port}")
    took = time.monotonic() - t0
    print(f"info: dead collector: exit after {took:.1f} s")
    equal(r.rc, 0, "dead collector: exit code")
    check(took < 1, f"dead collector: a refused connection is not retried at exit ({took:.1f} s)")
    lines = otlptest.weft_lines(r.stderr)
    equal(len(lines), 1, f"dead collector: one line for both signals: {lines}")
    check(all(f"127.0.0.1:{port}" in line and "onnect" in line for line in lines),
          f"dead collector: names the endpoint and the reason: {lines}")


def check_retry_after(status, retry_after, min_gap_ms, what):
    with Receiver("--status", status, "--fail-count", "1", "--retry-after", retry_after) as rx:
        r = run([WORKER_POOL], rx.url, env={"OTEL_BSP_EXPORT_TIMEOUT": "20s",
                                            "WEFT_EXIT_TIMEOUT": "20s"})
        equal(r.rc, 0, f"{what}: exit code")
        tr = rx.requests("traces", wait=2)
        equal([q["status"] for q in tr], [int(status), 200], f"{what}: retried once")
        if len(tr) == 2:
            gap = tr[1]["time"] - tr[0]["time"]
            print(f"info: {what}: {gap} ms between the attempts")
            check(gap >= min_gap_ms, f"{what}: Retry-After respected ({gap} ms >= {min_gap_ms})")
            check(gap < min_gap_ms + 3000, f"{what}: and not much longer ({gap} ms)")
            equal(span_count(tr[1]), span_count(tr[0]), f"{what}: the same batch again")
        mr = rx.requests("metrics", wait=2)
        equal(len(mr), 1, f"{what}: metrics")
        if mr:
            m = otlptest.metrics_of(mr[0])
            equal(otlptest.value(m.get("weft.agent.export.failures"), weft_signal="traces"), 0,
                  f"{what}: no failure counted")
            equal(otlptest.value(m.get("weft.agent.events.dropped"),
                                 weft_drop_reason="export_failed"), 0, f"{what}: nothing dropped")
        equal(otlptest.weft_lines(r.stderr), [], f"{what}: silent")


def check_drain_while_retrying():
    """While a request waits for its Retry-After, the rings are still drained.

    timed-work's main thread records four join waits every round (about
    6 ms), into a ring of 256 events; the first export is answered 503 with
    Retry-After: 3, so for 3 s the exporter waits to retry: about 2,000
    events, eight rings' worth. Drained meanwhile (every 50 ms: some 30
    events a drain, room for a busy machine's delays), none is lost from a
    ring, and every span arrives.
    """
    with Receiver("--status", "503", "--fail-count", "1", "--retry-after", "3") as rx:
        r = run([TIMED_WORK, "600"], rx.url,
                env={"OTEL_BSP_SCHEDULE_DELAY": "50ms", "OTEL_BSP_MAX_QUEUE_SIZE": "4096",
                     "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "4096", "WEFT_RING_SIZE": "256",
                     "WEFT_SPAN_MIN_WAIT": "1h", "OTEL_BSP_EXPORT_TIMEOUT": "20s"})
        equal(r.rc, 0, "drain while retrying: exit code")
        tr = rx.requests("traces", wait=2)
        check(len(tr) >= 2 and tr[0]["status"] == 503,
              f"drain while retrying: the first export was retried ({[q['status'] for q in tr]})")
        if len(tr) >= 2:
            check(tr[1]["time"] - tr[0]["time"] >= 2900, "drain while retrying: Retry-After kept")
        equal(sum(span_count(q) for q in tr if q["status"] == 200), 600 * 4 + 1,
              "drain while retrying: every span arrives (the retried batch and those queued "
              "while it waited)")
        mr = rx.requests("metrics", wait=2)
        if check(len(mr) >= 1, "drain while retrying: metrics"):
            m = otlptest.metrics_of(mr[-1])
            equal(otlptest.value(m.get("weft.agent.events.dropped"), weft_drop_reason="ring_full"),
                  0, "drain while retrying: no event lost from a ring while the exporter waited")
            equal(otlptest.value(m.get("weft.agent.events.dropped"),
                                 weft_drop_reason="queue_full"), 0,
                  "drain while retrying: nor from the queue (4096 spans fit)")


def check_400():
    with Receiver("--status", "400", "--fail-count", "1") as rx:
        r = run([WORKER_POOL], rx.url)
        equal(r.rc, 0, "400: exit code")
        time.sleep(0.5)
        tr = rx.requests("traces", wait=2)
        equal([q["status"] for q in tr], [400], "400: exactly one request, not retried")
        n = span_count(tr[0]) if tr else -1
        check(n >= 7, "400: the rejected request held the spans")
        mr = rx.requests("metrics", wait=2)
        equal([q["status"] for q in mr], [200], "400: the metrics still get through")
        if mr:
            m = otlptest.metrics_of(mr[0])
            equal(otlptest.value(m.get("weft.agent.export.failures"), weft_signal="traces"), 1,
                  "400: weft.agent.export.failures{traces}")
            equal(otlptest.value(m.get("weft.agent.export.failures"), weft_signal="metrics"), 0,
                  "400: no metrics failure")
            equal(otlptest.value(m.get("weft.agent.events.dropped"),
                                 weft_drop_reason="export_failed"), n,
                  "400: every span of the batch counted as dropped")
            equal(otlptest.value(m.get("weft.agent.spans.exported")), 0, "400: nothing exported")
        lines = otlptest.weft_lines(r.stderr)
        equal(len(lines), 1, f"400: one weft: line, got {lines}")
        if lines:
            check(f"{rx.url}/v1/traces" in lines[0] and "400" in lines[0]
                  and "not retried" in lines[0], f"400: names endpoint and reason: {lines[0]}")


def check_400_every_time():
    """Every export refused: one line per kind, however many batches fail."""
    with Receiver("--status", "400") as rx:
        r = run([TIMED_WORK, "60"], rx.url, env={"OTEL_BSP_SCHEDULE_DELAY": "50ms",
                                                 "OTEL_METRIC_EXPORT_INTERVAL": "100ms"})
        equal(r.rc, 0, "400 always: exit code")
        tr = rx.requests("traces", wait=2)
        check(len(tr) >= 2, f"400 always: several trace exports ({len(tr)})")
        lines = otlptest.weft_lines(r.stderr)
        equal(len(lines), 2, f"400 always: one line per signal: {lines}")


def check_partial_success():
    with Receiver("--partial-rejected", "3", "--partial-message", "bad things") as rx:
        r = run([TIMED_WORK, "60"], rx.url, env={"OTEL_BSP_SCHEDULE_DELAY": "50ms",
                                                 "OTEL_METRIC_EXPORT_INTERVAL": "100ms"})
        equal(r.rc, 0, "partial success: exit code")
        tr = rx.requests("traces", wait=2)
        check(len(tr) >= 2, f"partial success: several trace exports ({len(tr)})")
        equal(sorted(otlptest.weft_lines(r.stderr)),
              ["weft: collector rejected 3 data points: bad things",
               "weft: collector rejected 3 spans: bad things"],
              "partial success: logged once per signal")
        equal(len({q["status"] for q in tr}), 1, "partial success: never retried")
        equal(len(tr), len({q["seq"] for q in tr}), "partial success: distinct requests")


def check_slow_receiver():
    rounds = "60"
    with Receiver() as rx:
        base = run([TIMED_WORK, rounds], rx.url)
    with Receiver("--delay-ms", "3000") as rx:
        t0 = time.monotonic()
        slow = run([TIMED_WORK, rounds], rx.url, env={
            "OTEL_BSP_SCHEDULE_DELAY": "20ms",
            "OTEL_METRIC_EXPORT_INTERVAL": "50ms",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "1s",
            "OTEL_BSP_EXPORT_TIMEOUT": "2s",
        })
        wall = time.monotonic() - t0
        reqs = rx.requests(wait=1)
    equal((base.rc, slow.rc), (0, 0), "slow receiver: exit codes")

    def elapsed(r):
        m = re.search(r"elapsed_ms=([0-9.]+)", r.stdout)
        return float(m.group(1)) if m else float("inf")

    b, s = elapsed(base), elapsed(slow)
    print(f"info: slow receiver: work {s:.0f} ms (with a healthy receiver {b:.0f} ms), "
          f"exit after {wall:.1f} s, {len(reqs)} requests")
    check(s <= b * 1.5 + 100, f"slow receiver: the program's own work is not slowed "
                              f"({s:.0f} ms vs {b:.0f} ms)")
    check(wall < s / 1000 + 1 + 1.5, f"slow receiver: exit bounded by WEFT_EXIT_TIMEOUT "
                                    f"({wall:.1f} s for {s / 1000:.1f} s of work)")
    check(reqs, "slow receiver: exports were attempted")


def check_malformed_endpoint():
    for url in ("htp:/not a url", "http://", "localhost:4318"):
        r = run([WORKER_POOL, "-n", "20"], url, env={}, )
        equal(r.rc, 0, f"{url!r}: exit code unchanged")
        lines = otlptest.weft_lines(r.stderr)
        equal(len(lines), 1, f"{url!r}: one weft: line: {lines}")
        if lines:
            check(lines[0].startswith("weft: OTEL_EXPORTER_OTLP_ENDPOINT=")
                  and "file output" in lines[0], f"{url!r}: a clear warning: {lines[0]}")
        out = r.only()
        check(len(out.named("thread ")) == 6, f"{url!r}: the spans went to the file output")
    r = run([WORKER_POOL, "-w", "0"], "http://[::1")
    equal(r.rc, 2, "malformed endpoint: a failing program's exit code is kept")
    r = run([WORKER_POOL, "-n", "20"], None, env={
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "ftp://example.invalid/x"})
    lines = otlptest.weft_lines(r.stderr)
    check(len(lines) == 1 and "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" in lines[0],
          f"per-signal malformed endpoint named: {lines}")
    r = run([WORKER_POOL, "-n", "20"], "http://user:secret@127.0.0.1:9",
            env={"OTEL_BSP_EXPORT_TIMEOUT": "1s"})
    equal(r.rc, 0, "refused: exit code")
    lines = otlptest.weft_lines(r.stderr)
    check(lines and all("secret" not in line for line in lines),
          f"credentials in the endpoint are not printed: {lines}")
    check(any("127.0.0.1:9/v1/traces" in line and "onnect" in line for line in lines),
          f"a refused connection names the endpoint and the reason: {lines}")


def check_no_libcurl():
    fake = os.path.join(otlptest.OTLP_PROGRAMS, "fakecurl")
    if not os.path.exists(os.path.join(fake, "libcurl.so.4")):
        check(False, "fakecurl/libcurl.so.4 was built")
        return
    r = run([WORKER_POOL, "-n", "20"], "http://127.0.0.1:9", env={"LD_LIBRARY_PATH": fake})
    equal(r.rc, 0, "no libcurl: exit code")
    lines = otlptest.weft_lines(r.stderr)
    equal(len(lines), 1, f"no libcurl: one weft: line: {lines}")
    if lines:
        check("libcurl" in lines[0] and "file output" in lines[0],
              f"no libcurl: says so: {lines[0]}")
    check(len(r.only().named("thread ")) == 6, "no libcurl: the file output instead")


check_down_then_up()
check_dead_collector()
check_retry_after("503", "2", 2000, "503 Retry-After: 2")
check_drain_while_retrying()
# An HTTP date 3 s after the answer (whole seconds: 2 to 3 s of waiting).
check_retry_after("429", "date+3", 2000, "429 Retry-After: HTTP date")
check_400()
check_400_every_time()
check_partial_success()
check_slow_receiver()
check_malformed_endpoint()
check_no_libcurl()
weftrun.done()
