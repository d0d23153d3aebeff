"""Outputs: the file's safety rules, console, none, the report, and the default."""
import os
import stat
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import Output, Run, program, check, equal, done  # noqa: E402

T = program("threads")

# The file: created 0600, one JSON object per line, traces then metrics.
r = Run([T, "nested"])
out = r.only()
mode = stat.S_IMODE(os.stat(r.files[0]).st_mode)
equal(mode, 0o600, "output file mode")
equal(len(out.lines), 2, "one traces line and one metrics line at exit")
check(out.lines[0].startswith('{"resourceSpans":'), "first line is an ExportTraceServiceRequest")
check(out.lines[1].startswith('{"resourceMetrics":'), "second line is an ExportMetricsServiceRequest")
equal(r.stderr, "", "nothing on stderr")

# Default path: weft-<service>-<pid>.jsonl in the working directory.
d = tempfile.mkdtemp(prefix="weft-cwd-")
r = Run([T, "nested"], env={"WEFT_OUTPUT": ""}, cwd=d, expect_file=False)
files = os.listdir(d)
check(len(files) == 1 and files[0].startswith("weft-threads-") and files[0].endswith(".jsonl"),
      f"default output name in the working directory: {files}")

# Never through a symlink: the link's target is untouched, the data goes to a
# private fallback directory with one warning saying why and where.
d = tempfile.mkdtemp(prefix="weft-link-")
tmpd = tempfile.mkdtemp(prefix="weft-tmpdir-")
target = os.path.join(d, "victim")
with open(target, "w") as f:
    f.write("precious\n")
os.symlink(target, os.path.join(d, "out.jsonl"))
r = Run([T, "nested"], env={"WEFT_OUTPUT": os.path.join(d, "out.jsonl"), "OTEL_SERVICE_NAME": "linktest",
                            "TMPDIR": tmpd, "XDG_RUNTIME_DIR": ""}, expect_file=False)
equal(open(target).read(), "precious\n", "symlink target untouched")
equal(r.rc, 0, "program unaffected")
warn = [l for l in r.stderr.splitlines() if l.startswith("weft:")]
equal(len(warn), 1, "one line saying why and where the data went")
private = os.path.join(tmpd, f"weft-{os.geteuid()}")
check(any(f"{private}/weft-linktest-" in l and "Too many levels of symbolic links" in l for l in warn),
      f"fallback path in the private directory named: {warn}")
equal(stat.S_IMODE(os.stat(private).st_mode), 0o700, "private directory is 0700")
fb = os.listdir(private)
check(len(fb) == 1 and Output(os.path.join(private, fb[0])).named("process"), "fallback file written")

# An unwritable directory: same fallback, program fine.
r = Run([T, "nested"], env={"WEFT_OUTPUT": "/proc/nonexistent/out.jsonl", "TMPDIR": tmpd,
                            "XDG_RUNTIME_DIR": ""}, expect_file=False)
equal(r.rc, 0, "unwritable output: program fine")
check(r.stderr.count("weft:") == 1, "unwritable output: one weft line")
equal(len(os.listdir(private)), 2, "unwritable output: fallback file written")

# Console output: readable spans and metrics on stderr, no file.
r = Run([T, "nested"], env={"OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "console"},
        expect_file=False)
equal(r.files, [], "console: no file")
check("thread inner" in r.stderr and "process.thread.count" in r.stderr, "console shows spans and metrics")

# none: nothing at all, anywhere.
r = Run([T, "nested"], env={"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"},
        expect_file=False)
equal(r.files, [], "none: no file")
equal(r.stderr, "", "none: silent")

# Traces off, metrics to the file.
r = Run([T, "nested"], env={"OTEL_TRACES_EXPORTER": "none"})
out = r.only()
equal(out.spans, [], "no spans")
equal(out.value("weft.thread.created", weft_pool_name="outer"), 1, "metrics still written")
equal(out.value("weft.agent.spans.exported"), 0, "no span built, none counted as exported")
equal(out.value("weft.agent.events.dropped", weft_drop_reason="queue_full"), 0, "nor as dropped")

# The report: on stderr, or to a file.
r = Run([program("worker-pool")], env={"WEFT_REPORT": "stderr"})
check("weft report:" in r.stderr, "report printed")
check("threads: 6 created" in r.stderr, "report counts the threads")
check(r.files[0] in r.stderr, "report names the output file")
d = tempfile.mkdtemp(prefix="weft-report-")
rp = os.path.join(d, "report.txt")
r = Run([program("worker-pool")], env={"WEFT_REPORT": rp})
check(os.path.exists(rp) and "threads: 6 created" in open(rp).read(), "report written to a file")
check("weft report:" not in r.stderr, "not on stderr then")

# Periodic exports: short intervals give several lines, each valid.
r = Run([program("threads"), "join-wait", "400"],
        env={"OTEL_BSP_SCHEDULE_DELAY": "50", "OTEL_METRIC_EXPORT_INTERVAL": "100"})
out = r.only()
check(len(out.metric_lines) >= 3, f"metrics exported periodically ({len(out.metric_lines)} collections)")
waiting = [ms.get("weft.thread.waiting") for ms in out.metric_lines[:-1]]
check(any(w and any(p.get("asInt") == "1" for p in w["gauge"]["dataPoints"]) for w in waiting),
      "weft.thread.waiting{join} is 1 while main is blocked in join")
equal(out.value("weft.thread.waiting", weft_wait_kind="join"), 0, "and 0 at exit")

# Batches: OTEL_BSP_MAX_EXPORT_BATCH_SIZE bounds the spans per request.
r = Run([program("threads"), "many", "100", "0", "poll"], env={"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "16"})
out = r.only()
span_lines = [l for l in out.lines if l.startswith('{"resourceSpans"')]
equal(len(out.spans), 101, "all spans")
check(all(l.count('"spanId"') <= 16 for l in span_lines), "at most 16 spans per request")
equal(len(span_lines), 7, "101 spans in 7 requests of at most 16")
done()
