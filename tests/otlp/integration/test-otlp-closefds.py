"""A program that closes every descriptor from 3 to 1023 while weft's exporter
keeps a connection to the collector, then reuses the numbers for its own
files and pipes (tests/otlp/closefds.c). weft must never write into them, and
the telemetry recorded after the close must still arrive, over a new
connection.

And where weft's exporter has a descriptor table of its own (agent/fd.h),
its OTLP exports (libcurl's loading, its name resolution, its connection)
never show in the program's table: a thread that opens and closes without
pause always gets the same number, and no socket of weft's is there.
"""
import os
import tempfile

import otlptest
from otlptest import Receiver, check, equal, run, weftrun

otlptest.setup_or_skip()
CLOSEFDS = otlptest.otlp_program("closefds")

for gzip in ("none", "gzip"):
    what = f"closefds ({gzip})"
    with Receiver() as rx:
        scratch = tempfile.mkdtemp(prefix="weft-closefds-")
        r = run([CLOSEFDS, scratch], rx.url, env={
            "OTEL_BSP_SCHEDULE_DELAY": "100ms",
            "OTEL_METRIC_EXPORT_INTERVAL": "100ms",
            "OTEL_EXPORTER_OTLP_COMPRESSION": gzip,
        })
        equal(r.rc, 0, f"{what}: exit code (stderr: {r.stderr.strip()})")
        check("closefds: ok" in r.stdout, f"{what}: the program's files and pipes are intact")
        equal(otlptest.weft_lines(r.stderr), [], f"{what}: no weft: lines")
        tr = rx.requests("traces", wait=2)
        mr = rx.requests("metrics", wait=2)
        names = [s["name"] for s in otlptest.spans_of(tr)]
        for i in range(4):
            equal(names.count(f"thread before-{i}"), 1, f"{what}: span before the close {i}")
            equal(names.count(f"thread after-{i}"), 1, f"{what}: span after the close {i}")
        equal(names.count("process"), 1, f"{what}: the process span")
        check(len(tr) >= 2, f"{what}: exported before and after the close ({len(tr)} requests)")
        check(all(q["status"] == 200 and q["error"] is None for q in tr + mr),
              f"{what}: every request well formed")
        if mr:
            m = otlptest.metrics_of(mr[-1])
            equal(otlptest.value(m.get("weft.thread.created"), weft_pool_name="work"), 8,
                  f"{what}: threads created, counted after the close")
            for sig in ("traces", "metrics"):
                equal(otlptest.value(m.get("weft.agent.export.failures"), weft_signal=sig), 0,
                      f"{what}: no failed export of {sig}")
        for f in os.listdir(scratch):
            os.unlink(os.path.join(scratch, f))
        os.rmdir(scratch)


def own_table_possible():
    """agent/fd.h: pidfd_getfd and close_range (Linux 5.9), no seccomp filter."""
    release = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2])
    with open("/proc/self/status") as f:
        seccomp = [l.split()[1] for l in f if l.startswith("Seccomp:")]
    return release >= (5, 9) and seccomp in ([], ["0"])


FDPLAY = weftrun.program("fdplay")
if own_table_possible():
    with Receiver() as rx:
        r = run([FDPLAY, "steady", "1000", "socket:"], rx.url, env={
            "OTEL_BSP_SCHEDULE_DELAY": "50ms",
            "OTEL_METRIC_EXPORT_INTERVAL": "100ms",
        })
        out = dict(l.split(" ", 1) for l in r.stdout.splitlines() if " " in l)
        equal(r.rc, 0, f"steady over OTLP: exit code (stderr: {r.stderr.strip()})")
        equal(out.get("moved"), "0", "steady over OTLP: every open got the first free number")
        equal(out.get("sockets"), "0", "steady over OTLP: no socket of weft's in the program's table")
        check(int(out.get("opens", "0")) > 1000, f"steady over OTLP: the opener kept opening: {r.stdout!r}")
        equal(otlptest.weft_lines(r.stderr), [], "steady over OTLP: no weft: lines")
        names = [s["name"] for s in otlptest.spans_of(rx.requests("traces", wait=2))]
        equal(sum(n.startswith("thread") for n in names), 52, "steady over OTLP: every thread span")
        check(len(rx.requests("traces")) >= 2, "steady over OTLP: exported while the opener ran")
else:
    print("no descriptor table of its own for the exporter here: the steady check is left out")

weftrun.done()
