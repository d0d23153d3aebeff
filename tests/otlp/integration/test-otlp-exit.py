"""A bad collector does not hold up the exit, and what it could not take is kept.

With a collector that accepts and never answers, one that resets every
connection and one that is not there at all (a refused port), a short program
exits within WEFT_EXIT_TIMEOUT (1 s by default) plus a small margin, or at
once when the connection is refused; what could not be delivered is in a
spool file beside the file output (0600, weft-<service>-<pid>.spool) named in
one `weft:` line, and `scripts/weft send SPOOL` delivers it to a healthy
collector (checked with the OpenTelemetry JS decoder) and removes it. An
export in flight when the program exits is cut at the budget and kept too.
A collector that answers with an endless body does not stall the export.
"""
import collections
import os
import re
import signal
import stat
import struct
import subprocess
import tempfile
import time

import otlptest
from otlptest import Receiver, check, equal, run, weftrun

otlptest.setup_or_skip()
WORKER_POOL = weftrun.program("worker-pool")
TIMED_WORK = otlptest.otlp_program("timed-work")
BEHAVIOUR = os.path.join(weftrun.BUILD, "tests", "behaviour", "behaviour")
WEFT = os.path.join(weftrun.SOURCE, "scripts", "weft")
WEFT_SEND = os.path.abspath(os.path.join(weftrun.BUILD, "exporter", "weft-send"))

# worker-pool's spans with no wait spans (WEFT_SPAN_MIN_WAIT=1h) and no task
# spans (the cond family off: no work source): exactly these.
POOL_SPANS = collections.Counter(["process", "thread dispatcher", "thread reporter"] +
                                 [f"thread worker-{i}" for i in range(4)])
NO_WAITS = {"WEFT_SPAN_MIN_WAIT": "1h",
            "WEFT_HOOKS": "thread,mutex,rwlock,sem,fd,socket,poll,process"}


def timed(argv, url, env=None):
    t0 = time.monotonic()
    r = run(argv, url, env=dict(NO_WAITS, **(env or {})))
    return r, time.monotonic() - t0


def read_spool(path):
    """[(signal, items, body)] of a spool file (format: exporter/otlp_spool.h)."""
    with open(path, "rb") as f:
        data = f.read()
    out = []
    if not check(data[:8] == b"WEFTSPL1", f"{path}: spool magic"):
        return out
    pos = 8
    while pos < len(data):
        sig, r1, r2, r3, items, n = struct.unpack_from("<BBBBII", data, pos)
        check(sig in (1, 2) and (r1, r2, r3) == (0, 0, 0), f"{path}: record header at {pos}")
        out.append(("traces" if sig == 1 else "metrics", items, data[pos + 12:pos + 12 + n]))
        check(pos + 12 + n <= len(data), f"{path}: record at {pos} is whole")
        pos += 12 + n
    return out


def spools(r):
    return sorted(os.path.join(r.dir, f) for f in os.listdir(r.dir) if f.endswith(".spool"))


def check_spooled(r, what, spans, metric_requests=1):
    """One spool file, 0600, named in the one weft: line, holding exactly `spans` spans."""
    files = spools(r)
    equal(len(files), 1, f"{what}: one spool file in the output's directory: {files}")
    if not files:
        print("stderr was:", r.stderr)
        return None
    path = files[0]
    equal(os.path.basename(path), f"weft-{r.service}-{r.pid}.spool", f"{what}: spool name")
    equal(stat.S_IMODE(os.stat(path).st_mode), 0o600, f"{what}: spool mode")
    recs = read_spool(path)
    equal(sum(n for s, n, _ in recs if s == "traces"), spans, f"{what}: spans spooled")
    equal(len([1 for s, _, _ in recs if s == "metrics"]), metric_requests,
          f"{what}: metrics requests spooled")
    lines = otlptest.weft_lines(r.stderr)
    equal(len(lines), 1, f"{what}: one weft: line: {lines}")
    if lines:
        check(path in lines[0] and re.search(rf"\b{spans} spans? ", lines[0]) and
              "weft send" in lines[0],
              f"{what}: the line says what was kept and where: {lines[0]}")
    return path


def send(path, url, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "WEFT_"))}
    e["OTEL_EXPORTER_OTLP_ENDPOINT"] = url
    e["WEFT_SEND"] = WEFT_SEND
    e.update(env or {})
    return subprocess.run([WEFT, "send", path], env=e, capture_output=True, text=True,
                          timeout=120)


def check_send(path, what, want_spans, metric_requests=1):
    """weft send delivers the spool: exactly the expected spans, then the file is gone."""
    with Receiver() as rx:
        p = send(path, rx.url)
        tr = rx.requests("traces", wait=2)
        mr = rx.requests("metrics", wait=2)
    equal(p.returncode, 0, f"{what}: weft send status ({p.stderr.strip()})")
    equal(p.stdout.count("\n"), 1, f"{what}: weft send prints one line: {p.stdout!r}")
    check(path in p.stdout and "delivered" in p.stdout, f"{what}: the line: {p.stdout!r}")
    got = collections.Counter(s["name"] for s in otlptest.spans_of(tr))
    equal(got, want_spans, f"{what}: the spans delivered by weft send")
    equal(len(mr), metric_requests, f"{what}: metrics requests delivered")
    check(all(q.get("error") is None for q in tr + mr), f"{what}: every request decoded")
    if mr:
        m = otlptest.metrics_of(mr[-1])
        check("process.thread.count" in m, f"{what}: the metrics request holds weft's metrics")
    check(not os.path.exists(path), f"{what}: the spool file is removed once delivered")


def service_pid(r):
    m = re.search(r"weft-([^/]+)-(\d+)\.spool", r.stderr)
    r.service, r.pid = (m.group(1), m.group(2)) if m else ("?", "?")


def check_never_answers():
    with Receiver("--mode", "hang") as rx:
        r, took = timed([WORKER_POOL], rx.url)
        n = len(rx.requests(wait=1))
    service_pid(r)
    print(f"info: never answers: exit after {took:.2f} s, {n} requests")
    equal(r.rc, 0, "never answers: exit code")
    check(took < 1.8, f"never answers: exit within the 1 s budget and a margin ({took:.2f} s)")
    check(n >= 1, "never answers: the final export was attempted")
    path = check_spooled(r, "never answers", 7)
    if path:
        check_send(path, "never answers", POOL_SPANS)


def check_never_answers_single_thread():
    """No exporter thread: the final export runs on the exiting thread, same budget."""
    with Receiver("--mode", "hang") as rx:
        r, took = timed(["/bin/true"], rx.url)
    service_pid(r)
    print(f"info: never answers, /bin/true: exit after {took:.2f} s")
    check(took < 1.8, f"/bin/true: exit within the budget ({took:.2f} s)")
    path = check_spooled(r, "/bin/true", 1)
    if path:
        check_send(path, "/bin/true", collections.Counter(["process"]))


def check_budget_variable():
    with Receiver("--mode", "hang") as rx:
        r, took = timed([WORKER_POOL], rx.url, env={"WEFT_EXIT_TIMEOUT": "2s"})
    service_pid(r)
    print(f"info: WEFT_EXIT_TIMEOUT=2s: exit after {took:.2f} s")
    check(2.0 <= took < 2.8, f"WEFT_EXIT_TIMEOUT=2s: the exit waits 2 s ({took:.2f} s)")
    check_spooled(r, "WEFT_EXIT_TIMEOUT=2s", 7)
    # Never more than OTEL_BSP_EXPORT_TIMEOUT.
    with Receiver("--mode", "hang") as rx:
        r, took = timed([WORKER_POOL], rx.url, env={"WEFT_EXIT_TIMEOUT": "5s",
                                                    "OTEL_BSP_EXPORT_TIMEOUT": "500ms"})
    print(f"info: WEFT_EXIT_TIMEOUT=5s, OTEL_BSP_EXPORT_TIMEOUT=500ms: exit after {took:.2f} s")
    check(took < 1.3, f"the budget is capped by OTEL_BSP_EXPORT_TIMEOUT ({took:.2f} s)")
    service_pid(r)
    # exporter.c waits for the final export OTEL_BSP_EXPORT_TIMEOUT: the budget leaves room
    # in that wait to write the spool.
    check_spooled(r, "capped budget", 7)


def check_in_flight():
    """A periodic export hangs (request timeout 10 s) when the program exits."""
    with Receiver("--mode", "hang") as rx:
        r, took = timed([TIMED_WORK, "20"], rx.url, env={"OTEL_BSP_SCHEDULE_DELAY": "20ms"})
        reqs = rx.requests(wait=1)
    service_pid(r)
    work = float(re.search(r"elapsed_ms=([0-9.]+)", r.stdout).group(1)) / 1000
    print(f"info: in flight: work {work:.2f} s, exit after {took:.2f} s, {len(reqs)} requests")
    check(took < work + 1.8, f"in flight: exit within the budget ({took:.2f} s)")
    path = check_spooled(r, "in flight", 20 * 4 + 1)
    if path:
        want = collections.Counter({"process": 1, "thread work": 80})
        check_send(path, "in flight", want)


def check_last_thread_exit():
    """main calls pthread_exit and the last thread returns while a metrics
    export hangs: the exit (glibc's, on that thread, once weft's exporter has
    stepped aside) keeps the same budget (756b104: 31 s, every retry of the
    export in flight), and the atexit handler still runs on the program's
    thread."""
    with Receiver("--mode", "hang") as rx:
        r, took = timed([BEHAVIOUR, "main-pthread-exit-last"], rx.url,
                        env={"OTEL_BSP_SCHEDULE_DELAY": "20ms",
                             "OTEL_METRIC_EXPORT_INTERVAL": "50ms"})
        n = len(rx.requests(wait=0.5))
    service_pid(r)
    print(f"info: last thread's exit: after {took:.2f} s, {n} requests")
    equal(r.rc, 0, "last thread's exit: exit code")
    check(n >= 1, "last thread's exit: an export was in flight")
    check(took < 1.8, f"last thread's exit: within the budget ({took:.2f} s)")
    check("atexit handler ran on the last thread" in r.stdout,
          f"last thread's exit: atexit ran on the program's last thread: {r.stdout!r}")
    # thread return_later and process; the metrics request in flight and the final one
    check_spooled(r, "last thread's exit", 2, metric_requests=2)


def check_signal_while_last_thread_waits():
    """SIGTERM reaches the last thread while it waits for weft's exporter to
    step aside (an export hangs): the process dies of it as without weft,
    and the final export is still made (spooled). 9d1dca6: it waited under
    weft's guard, and the signal skipped the final export."""
    e = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "WEFT_"))}
    with Receiver("--mode", "hang") as rx:
        d = tempfile.mkdtemp(prefix="weft-sigjoin-")
        e.update(NO_WAITS)
        e.update({"LD_PRELOAD": weftrun.LIB, "OTEL_EXPORTER_OTLP_ENDPOINT": rx.url,
                  "WEFT_OUTPUT": os.path.join(d, "out-%p.jsonl"),
                  "OTEL_BSP_SCHEDULE_DELAY": "20ms", "OTEL_METRIC_EXPORT_INTERVAL": "50ms",
                  "WEFT_EXIT_TIMEOUT": "3s", "OTEL_BSP_EXPORT_TIMEOUT": "10s"})
        p = subprocess.Popen([BEHAVIOUR, "main-pthread-exit-last"], env=e, cwd=d,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.8)  # the last thread returned at 150 ms and waits (budget 3 s)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
    print(f"info: SIGTERM while the last thread waits: status {p.returncode}")
    equal(p.returncode, -signal.SIGTERM, "SIGTERM while waiting: the process dies of it")
    check("atexit handler ran" not in out, f"SIGTERM while waiting: no exit(0) ran: {out!r}")
    files = [f for f in os.listdir(d) if f.endswith(".spool")]
    equal(len(files), 1, f"SIGTERM while waiting: the final export was made (spooled): "
                         f"{files} {err!r}")


def check_refused():
    port = otlptest.free_port()
    r, took = timed([WORKER_POOL], f"http://127.0.0.1:{port}")
    service_pid(r)
    print(f"info: refused: exit after {took:.2f} s")
    equal(r.rc, 0, "refused: exit code")
    check(took < 0.5, f"refused: exit at once ({took:.2f} s)")
    path = check_spooled(r, "refused", 7)
    lines = otlptest.weft_lines(r.stderr)
    check(lines and f"127.0.0.1:{port}/v1/traces" in lines[0] and "onnect" in lines[0],
          f"refused: the line names the endpoint and the reason: {lines}")
    if not path:
        return
    # Still refused: the file is kept as it was, and the status says so.
    fast = {"OTEL_BSP_EXPORT_TIMEOUT": "1s", "OTEL_METRIC_EXPORT_TIMEOUT": "1s"}
    p = send(path, f"http://127.0.0.1:{port}", env=fast)
    check(p.returncode != 0, "weft send to a refused port: non-zero status")
    equal(len(p.stderr.splitlines()), 1, f"weft send failing: one line: {p.stderr!r}")
    check(path in p.stderr and "onnect" in p.stderr, f"weft send failing says why: {p.stderr!r}")
    check(os.path.exists(path), "weft send failing: the file is kept")
    equal(sum(n for s, n, _ in read_spool(path) if s == "traces"), 7, "kept whole")
    # Spans delivered, metrics refused: the file keeps only the metrics request, so that
    # sending it again sends nothing twice.
    with Receiver() as rx:
        p = send(path, rx.url, env=dict(fast, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=
                                         f"http://127.0.0.1:{port}/v1/metrics"))
        tr = rx.requests("traces", wait=2)
    check(p.returncode != 0, "weft send, metrics refused: non-zero status")
    check("could not deliver 1 metrics request" in p.stderr and "delivered 7 spans" in p.stderr,
          f"weft send, metrics refused: says what was and was not delivered: {p.stderr!r}")
    equal(collections.Counter(s["name"] for s in otlptest.spans_of(tr)), POOL_SPANS,
          "weft send, metrics refused: the spans were delivered")
    equal([s for s, _, _ in read_spool(path)], ["metrics"],
          "weft send, metrics refused: the file keeps the metrics request only")
    equal(stat.S_IMODE(os.stat(path).st_mode), 0o600, "the rewritten spool's mode")
    check_send(path, "refused", collections.Counter(), metric_requests=1)


def check_reset():
    with Receiver("--mode", "reset") as rx:
        r, took = timed([WORKER_POOL], rx.url)
    service_pid(r)
    print(f"info: reset: exit after {took:.2f} s")
    check(took < 1.8, f"reset: exit within the budget ({took:.2f} s)")
    path = check_spooled(r, "reset", 7)
    if path:
        check_send(path, "reset", POOL_SPANS)


def check_endless_body():
    with Receiver("--mode", "endless") as rx:
        r, took = timed([WORKER_POOL], rx.url, env={"WEFT_EXIT_TIMEOUT": "5s",
                                                    "OTEL_BSP_EXPORT_TIMEOUT": "5s"})
        tr = rx.requests("traces", wait=1)
        mr = rx.requests("metrics", wait=1)
    r.service = r.pid = "?"
    print(f"info: endless body: exit after {took:.2f} s")
    equal(r.rc, 0, "endless body: exit code")
    check(took < 1.5, f"endless body: the export completes and the process exits ({took:.2f} s)")
    equal((len(tr), len(mr)), (1, 1), "endless body: one request per signal, not retried")
    equal(spools(r), [], "endless body: nothing spooled")
    equal(otlptest.weft_lines(r.stderr), [], "endless body: delivered, silently")


def check_spool_fallback():
    """The output's directory cannot take the spool: /tmp does."""
    with Receiver("--mode", "reset") as rx:
        r = run([WORKER_POOL], rx.url, env=dict(NO_WAITS, WEFT_OUTPUT="/nonexistent/x/o.jsonl"))
    lines = otlptest.weft_lines(r.stderr)
    m = re.search(r"saved in (/tmp/weft-[^ ]+\.spool)", lines[0] if lines else "")
    check(len(lines) == 1 and m, f"fallback: one line naming a spool in /tmp: {lines}")
    if m:
        equal(sum(n for s, n, _ in read_spool(m.group(1)) if s == "traces"), 7,
              "fallback: the spans are in /tmp")
        os.unlink(m.group(1))


def check_damaged_spool():
    """A cut spool file is not sent at all (nothing twice, nothing half), and kept."""
    d = weftrun.Run(["true"], preload=False, expect_file=False).dir
    path = os.path.join(d, "cut.spool")
    with open(path, "wb") as f:
        f.write(b"WEFTSPL1" + struct.pack("<BBBBII", 1, 0, 0, 0, 3, 100) + b"x" * 10)
    p = send(path, "http://127.0.0.1:9")
    equal(p.returncode, 1, "damaged spool: status")
    check("damaged" in p.stderr and "kept" in p.stderr, f"damaged spool: says so: {p.stderr!r}")
    check(os.path.exists(path), "damaged spool: kept")


check_damaged_spool()
check_refused()
check_never_answers()
check_never_answers_single_thread()
check_reset()
check_in_flight()
check_last_thread_exit()
check_signal_while_last_thread_waits()
check_budget_variable()
check_endless_body()
check_spool_fallback()
weftrun.done()
