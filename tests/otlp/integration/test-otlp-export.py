"""The otlp output end to end: a real program under LD_PRELOAD exporting to the
test receiver, whose OpenTelemetry JS decoder says what arrived.

Checks the exact content (resource, span tree, ids, metric points, histogram
buckets), gzip on and off, headers (common, per-signal, percent-decoded),
per-signal endpoints, endpoint joining, the samplers, and that libcurl is
loaded only when the otlp output is configured.
"""
import os
import re
import shutil
import socket
import subprocess
import tempfile

import otlptest
from otlptest import Receiver, check, equal, run, weftrun

otlptest.setup_or_skip()
WORKER_POOL = weftrun.program("worker-pool")


def one(reqs, what):
    equal(len(reqs), 1, f"{what}: requests")
    return reqs[0] if reqs else {"request": None, "headers": {}}


def check_content():
    report = os.path.join(tempfile.mkdtemp(prefix="weft-otlp-report-"), "report.txt")
    with Receiver() as rx:
        r = run([WORKER_POOL], rx.url, env={
            "OTEL_SERVICE_NAME": "wp-test",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test%20env,team=core",
            "WEFT_SPAN_MIN_WAIT": "0",
            "WEFT_CAPTURE_ARGS": "1",
            "WEFT_REPORT": report,
        })
        equal(r.rc, 0, "worker-pool exit code")
        equal(otlptest.weft_lines(r.stderr), [], "no weft: lines")
        equal(r.files, [], "no file output when exporting over OTLP")
        tr = one(rx.requests("traces", wait=2), "traces")
        mr = one(rx.requests("metrics", wait=2), "metrics")

    for req, what in ((tr, "traces"), (mr, "metrics")):
        equal(req.get("path"), f"/v1/{what}", f"{what}: path")
        equal(req.get("content_type"), "application/x-protobuf", f"{what}: content type")
        equal(req.get("content_encoding"), None, f"{what}: not compressed by default")
        equal(req["headers"].get("user-agent"), "weft/0.1.0", f"{what}: user agent")
        check("expect" not in req["headers"], f"{what}: no Expect header")
        equal(req.get("error"), None, f"{what}: decoded")

    res = otlptest.resource_of(tr)
    equal(otlptest.resource_of(mr), res, "metrics carry the same resource")
    equal(res.get("service.name"), "wp-test", "service.name")
    equal(res.get("deployment.environment"), "test env", "percent-decoded resource attribute")
    equal(res.get("team"), "core", "resource attribute")
    equal(res.get("process.executable.name"), "worker-pool", "process.executable.name")
    equal(res.get("process.executable.path"), os.path.realpath(WORKER_POOL),
          "process.executable.path")
    equal(res.get("process.command_args"), [WORKER_POOL], "process.command_args")
    equal(res.get("host.name"), socket.gethostname(), "host.name")
    equal(res.get("telemetry.sdk.name"), "weft", "telemetry.sdk.name")
    equal(res.get("telemetry.sdk.version"), "0.1.0", "telemetry.sdk.version")
    check(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                       str(res.get("service.instance.id"))), "service.instance.id is a UUID")
    check(isinstance(res.get("process.pid"), int) and isinstance(res.get("process.parent_pid"),
                                                                  int), "pids")

    spans = otlptest.spans_of([tr])
    for s in spans:
        equal(s["scope"].get("name"), "weft", f"{s['name']}: scope")
        check(re.fullmatch(r"[0-9a-f]{16}", s["spanId"]) and s["spanId"] != "0" * 16,
              f"{s['name']}: span id is 16 hex digits")
        check(s["startTimeUnixNano"] <= s["endTimeUnixNano"], f"{s['name']}: times")
    ids = [s["spanId"] for s in spans]
    equal(len(set(ids)), len(ids), "span ids are unique")
    traces = {s["traceId"] for s in spans}
    tasks = [s for s in spans if s["name"].startswith("task ")]
    equal(len(traces), 1 + len(tasks), "the process's trace, and one per task (each a root)")
    check(all(re.fullmatch(r"[0-9a-f]{32}", t) and t != "0" * 32 for t in traces),
          "trace id is 32 hex digits")

    process = [s for s in spans if s["name"] == "process"]
    equal(len(process), 1, "one process span")
    process = process[0] if process else {"spanId": "?", "attrs": {}}
    equal(process.get("parentSpanId"), "", "process span is a root")
    equal(process["attrs"].get("process.exit.code"), 0, "process.exit.code")
    equal(process["attrs"].get("process.pid"), res.get("process.pid"), "process span pid")
    # The report travels with the telemetry: a long multi-line string in an
    # event, decoded by the OpenTelemetry JS decoder, is the text WEFT_REPORT wrote.
    # Its findings, if any, come first: one weft.finding event each, its line in the report.
    events = process.get("events", [])
    names = [e.get("name") for e in events]
    n_findings = len(names) - 1
    equal(names, ["weft.finding"] * n_findings + ["weft.report"], "the process span's events")
    text = otlptest.attrs(events[-1].get("attributes")).get("weft.report.text") if events else None
    for e in events[:-1]:
        line = otlptest.attrs(e.get("attributes")).get("weft.finding.text")
        check(text is not None and f"\n    {line}\n" in text,
              f"a weft.finding's text is a line of the report's findings: {line!r}")
    want = open(report).read() if os.path.exists(report) else "(no report file)"
    check(want.count("\n") > 8, f"the report has many lines: {want!r}")
    equal(text, want, "weft.report.text is the report WEFT_REPORT wrote")

    threads = {s["name"]: s for s in spans if s["name"].startswith("thread ")}
    equal(sorted(threads), ["thread dispatcher", "thread reporter", "thread worker-0",
                            "thread worker-1", "thread worker-2", "thread worker-3"],
          "thread spans")
    by_id = {s["spanId"]: s for s in spans}
    dispatcher = threads.get("thread dispatcher", {}).get("spanId")
    for name, s in threads.items():
        want = dispatcher if "worker" in name else process["spanId"]
        equal(s.get("parentSpanId"), want, f"{name}: parent")
        equal(s["kind"], 1, f"{name}: kind INTERNAL")

    waits = [s for s in spans if s["name"].startswith("wait ")]
    joins = [s for s in waits if s["name"] == "wait join"]
    for s in waits:
        equal(s["name"], "wait " + str(s["attrs"].get("weft.wait.kind")), "wait span name")
        check(s.get("parentSpanId") in by_id, f"wait span parent {s.get('parentSpanId')} exists")
    equal(len([s for s in joins if s["parentSpanId"] == process["spanId"]]), 2,
          "main's two joins are waits of the process span")
    dispatcher_tid = threads.get("thread dispatcher", {}).get("attrs", {}).get("thread.id")
    check(all(s["parentSpanId"] == process["spanId"] or
              by_id.get(s["parentSpanId"], {}).get("attrs", {}).get("thread.id") == dispatcher_tid
              for s in joins),
          "only main and the dispatcher (in its thread span or a task) join")
    for s in tasks:
        equal(s["kind"], 5, f"{s['name']}: kind CONSUMER")
        equal(s.get("parentSpanId"), "", f"{s['name']}: a root")
        # One link per signal since the wait began that no other waiter
        # took: a dispatcher woken for room links every worker that made some.
        kinds = [otlptest.attrs(link.get("attributes")).get("weft.link.kind")
                 for link in s.get("links", [])]
        check(1 <= len(kinds) <= 4 and set(kinds) == {"cond.signal"},
              f"{s['name']}: its links, 1 to 4 cond.signal: {kinds}")
        check(all(link["spanId"] in by_id for link in s.get("links", [])),
              f"{s['name']}: its links name spans of the run")
    for s in joins:
        links = s.get("links", [])
        equal(len(links), 1, "a join links to the joined thread")
        if links:
            target = by_id.get(links[0]["spanId"], {})
            check(target.get("name", "").startswith("thread "), "join link target is a thread")
            equal(s["attrs"].get("weft.target.thread.id"),
                  target.get("attrs", {}).get("thread.id"), "join target thread id")
    equal(len(spans), 1 + 6 + len(waits) + len(tasks), "span count")

    m = otlptest.metrics_of(mr)
    equal(otlptest.value(m.get("process.thread.count")), 1, "process.thread.count at exit")
    created = m.get("weft.thread.created", {})
    equal(created.get("sum", {}).get("isMonotonic"), True, "weft.thread.created is monotonic")
    equal(created.get("sum", {}).get("aggregationTemporality"), 2, "cumulative")
    for pool, n in (("worker", 4), ("dispatcher", 1), ("reporter", 1)):
        equal(otlptest.value(created, weft_pool_name=pool), n, f"weft.thread.created {pool}")
    hist = m.get("weft.wait.duration", {}).get("histogram", {})
    equal(hist.get("aggregationTemporality"), 2, "histogram is cumulative")
    total = 0
    for p in hist.get("dataPoints", []):
        equal(p["explicitBounds"], [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10], "bucket bounds")
        counts = [int(c) for c in p["bucketCounts"]]
        equal(len(counts), 9, "bucket count")
        equal(sum(counts), int(p["count"]), "buckets add up to the count")
        check(p["min"] <= p["max"] and p["sum"] >= p["min"], "min, max, sum")
        check(p["startTimeUnixNano"] <= p["timeUnixNano"], "point times")
        total += int(p["count"])
    equal(total, len(waits), "every blocked call is a wait span (WEFT_SPAN_MIN_WAIT=0)")
    equal(otlptest.value(m.get("weft.agent.spans.exported")), len(spans), "spans.exported")
    for reason in ("ring_full", "queue_full", "export_failed"):
        equal(otlptest.value(m.get("weft.agent.events.dropped"), weft_drop_reason=reason), 0,
              f"dropped {reason}")
    for sig in ("traces", "metrics"):
        equal(otlptest.value(m.get("weft.agent.export.failures"), weft_signal=sig), 0,
              f"export failures {sig}")


def check_gzip():
    with Receiver() as rx:
        r = run([WORKER_POOL], rx.url, env={"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"})
        equal(r.rc, 0, "gzip: exit code")
        equal(otlptest.weft_lines(r.stderr), [], "gzip: no weft: lines")
        tr = one(rx.requests("traces", wait=2), "gzip traces")
        mr = one(rx.requests("metrics", wait=2), "gzip metrics")
    for req, what in ((tr, "traces"), (mr, "metrics")):
        equal(req.get("content_encoding"), "gzip", f"gzip {what}: Content-Encoding")
        equal(req.get("error"), None, f"gzip {what}: decoded")
        check(req.get("uncompressed_bytes", 0) > req.get("body_bytes", 0),
              f"gzip {what}: compressed ({req.get('body_bytes')} of "
              f"{req.get('uncompressed_bytes')} bytes)")
    equal(len([s for s in otlptest.spans_of([tr]) if s["name"].startswith("thread ")]), 6,
          "gzip: thread spans")
    check("weft.wait.duration" in otlptest.metrics_of(mr), "gzip: metrics decoded")


def check_headers():
    with Receiver() as rx:
        r = run([WORKER_POOL], rx.url, env={
            "OTEL_EXPORTER_OTLP_HEADERS":
                "x-common=c1, X-Over=general,authorization=Basic%20dXNlcjpwdw%3D%3D,"
                "secretname0,content-type=secret4",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-over=traces%2Cvalue,x-only-traces=1",
            "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "x-only-metrics=%E2%9C%93,Bearer secret1,"
                                                  "bad secretname=secret2,"
                                                  "x-secretcrlf=a%0D%0Asecret3",
        })
        equal(r.rc, 0, "headers: exit code")
        lines = otlptest.weft_lines(r.stderr)
        # One line per variable, whatever it holds; never a name or a value.
        equal(sorted(lines), [
            "weft: OTEL_EXPORTER_OTLP_HEADERS: ignored 2 of 5 header items (1 not key=value, "
            "1 a header weft sets itself); names and values are not shown",
            "weft: OTEL_EXPORTER_OTLP_METRICS_HEADERS: ignored 3 of 4 header items (1 not "
            "key=value, 2 not a valid HTTP header name or value); names and values are not "
            "shown",
        ], "headers: one line per bad variable")
        check(not any("secret" in line for line in lines), "headers: nothing of them printed")
        th = one(rx.requests("traces", wait=2), "headers traces")["headers"]
        mh = one(rx.requests("metrics", wait=2), "headers metrics")["headers"]
    for h, what in ((th, "traces"), (mh, "metrics")):
        equal(h.get("x-common"), "c1", f"{what}: common header")
        equal(h.get("authorization"), "Basic dXNlcjpwdw==", f"{what}: percent-decoded value")
        equal(h.get("user-agent"), "weft/0.1.0", f"{what}: user agent")
    equal(th.get("x-over"), "traces,value", "traces: per-signal header overrides")
    equal(th.get("x-only-traces"), "1", "traces: per-signal header")
    check("x-only-metrics" not in th, "traces: no metrics header")
    equal(mh.get("x-over"), "general", "metrics: common header kept")
    # Node gives header values as Latin-1: the three UTF-8 bytes of U+2713.
    equal(mh.get("x-only-metrics"), "\u2713".encode().decode("latin-1"),
          "metrics: UTF-8 percent-decoded")
    check("x-only-traces" not in mh, "metrics: no traces header")


def check_endpoints():
    with Receiver("--path-signal", "/custom/t=traces", "--path-signal", "/m/ingest=metrics") as rx:
        r = run([WORKER_POOL], None, env={
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": rx.url + "/custom/t",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": rx.url + "/m/ingest",
        })
        equal(r.rc, 0, "per-signal endpoints: exit code")
        equal([q["path"] for q in rx.requests(wait=2)], ["/custom/t", "/m/ingest"],
              "per-signal endpoints are used as given")
    with Receiver() as rx:
        r = run([WORKER_POOL], rx.url + "/prefix//")
        equal(r.rc, 0, "base endpoint: exit code")
        equal([q["path"] for q in rx.requests(wait=2)], ["/prefix/v1/traces",
                                                         "/prefix/v1/metrics"],
              "the base endpoint and v1/<signal> are joined with one slash")
    with Receiver() as rx:
        r = run([WORKER_POOL], None, env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9/unused",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": rx.url + "/v1/metrics",
            "OTEL_TRACES_EXPORTER": "none",
        })
        equal(r.rc, 0, "metrics only: exit code")
        equal([q["path"] for q in rx.requests(wait=2)], ["/v1/metrics"],
              "a per-signal endpoint wins over the base one")


TRACE_LOW = "4bf92f3577b34da6" + "0000000000000001"   # lower half tiny: ratio 0.5 samples
TRACE_HIGH = "4bf92f3577b34da6" + "fffffffffffffff0"  # lower half huge: ratio 0.5 does not
PARENT = "00f067aa0ba902b7"


def sampled(env):
    with Receiver() as rx:
        r = run([WORKER_POOL], rx.url, env=env)
        equal(r.rc, 0, f"{env}: exit code")
        mr = rx.requests("metrics", wait=2)
        check(mr, f"{env}: metrics arrive whatever the sampler")
        spans = otlptest.spans_of(rx.requests("traces"))
        if mr:
            m = otlptest.metrics_of(mr[-1])
            equal(otlptest.value(m.get("weft.agent.spans.exported")), len(spans),
                  f"{env}: spans.exported")
            equal(otlptest.value(m.get("weft.agent.events.dropped"),
                                 weft_drop_reason="queue_full"), 0,
                  f"{env}: unsampled spans are not counted as dropped")
        return spans


def check_sampling():
    equal(sampled({"OTEL_TRACES_SAMPLER": "always_off"}), [], "always_off: no spans")
    equal(len(sampled({"OTEL_TRACES_SAMPLER": "always_on"})) >= 7, True, "always_on: spans")
    equal(sampled({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}), [],
          "traceidratio 0: no spans")
    tp = f"00-{TRACE_LOW}-{PARENT}-00"
    spans = sampled({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.5",
                     "TRACEPARENT": tp})
    check(len(spans) >= 7, "traceidratio 0.5 samples a low trace id (the parent flag ignored)")
    equal({s["traceId"] for s in spans if s["name"] == "process" or s["name"].startswith("thread ")},
          {TRACE_LOW}, "the TRACEPARENT trace (tasks are roots of traces of their own)")
    proc = [s for s in spans if s["name"] == "process"]
    equal([s["parentSpanId"] for s in proc], [PARENT], "process span's parent is TRACEPARENT's")
    equal(sampled({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.5",
                   "TRACEPARENT": f"00-{TRACE_HIGH}-{PARENT}-01"}), [],
          "traceidratio 0.5 drops a high trace id")
    equal(sampled({"TRACEPARENT": f"00-{TRACE_LOW}-{PARENT}-00"}), [],
          "parentbased_always_on (default) follows an unsampled parent")
    check(len(sampled({"OTEL_TRACES_SAMPLER": "parentbased_always_off",
                       "TRACEPARENT": f"00-{TRACE_HIGH}-{PARENT}-01"})) >= 7,
          "parentbased_always_off follows a sampled parent")
    equal(sampled({"OTEL_TRACES_SAMPLER": "parentbased_always_off"}), [],
          "parentbased_always_off without a parent: no spans")
    check(len(sampled({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                       "OTEL_TRACES_SAMPLER_ARG": "0",
                       "TRACEPARENT": f"00-{TRACE_HIGH}-{PARENT}-01"})) >= 7,
          "parentbased_traceidratio follows a sampled parent")


def check_lazy_libcurl():
    r = run([WORKER_POOL], None, env={"LD_DEBUG": "files"})
    equal(r.rc, 0, "file output: exit code")
    check("libcurl" not in r.stderr, "file output: libcurl is never loaded")
    with Receiver() as rx:
        r = run([WORKER_POOL], rx.url, env={"LD_DEBUG": "files"})
        check("libcurl.so.4" in r.stderr, "otlp output: libcurl is loaded")
        check(rx.requests("traces", wait=2), "otlp output with LD_DEBUG: traces arrive")


def check_https():
    if not shutil.which("openssl"):
        print("info: no openssl command: https not tested")
        return
    d = tempfile.mkdtemp(prefix="weft-tls-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    with Receiver("--tls-cert", cert, "--tls-key", key) as rx:
        url = rx.url.replace("http:", "https:")
        r = run([WORKER_POOL], url, env={"OTEL_EXPORTER_OTLP_CERTIFICATE": cert,
                                         "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"})
        equal(r.rc, 0, "https: exit code")
        equal(otlptest.weft_lines(r.stderr), [], "https: no weft: lines")
        tr = rx.requests("traces", wait=2)
        equal(len(tr), 1, "https with OTEL_EXPORTER_OTLP_CERTIFICATE: traces arrive")
        equal(len(rx.requests("metrics", wait=2)), 1, "https: metrics arrive")
        check(tr and len(otlptest.spans_of(tr)) >= 7, "https: the spans")
    with Receiver("--tls-cert", cert, "--tls-key", key) as rx:
        url = rx.url.replace("http:", "https:")
        r = run([WORKER_POOL], url, env={"OTEL_BSP_EXPORT_TIMEOUT": "2s"})
        equal(r.rc, 0, "https, unknown CA: exit code")
        lines = otlptest.weft_lines(r.stderr)
        equal(len(lines), 2, f"https, unknown CA: one line per signal: {lines}")
        check(all(url in line and "not retried" in line and "certificate" in line.lower()
                  for line in lines), f"https, unknown CA: says why: {lines}")
        equal(rx.requests(), [], "https, unknown CA: nothing delivered")
    shutil.rmtree(d)


def check_fork():
    """A forked child exports on a connection of its own, in the parent's trace."""
    # A fork that lands while the exporter is inside libcurl (a request every
    # 50 ms; long ones on a loaded machine) makes the child write its file
    # instead, by design (README: fork). That is not what this checks: run
    # again, a few times at most, for a fork between requests.
    for attempt in range(4):
        with Receiver() as rx:
            r = run([otlptest.otlp_program("timed-work"), "3", "fork"], rx.url,
                    env={"OTEL_BSP_SCHEDULE_DELAY": "50ms",
                         "OTEL_METRIC_EXPORT_INTERVAL": "50ms"})
            lines = otlptest.weft_lines(r.stderr)
            inside = [line for line in lines if "forked while weft was inside libcurl" in line]
            if inside and attempt < 3:
                continue
            equal(r.rc, 0, "fork: exit code")
            equal(lines, [], "fork: no weft: lines")
            tr = rx.requests("traces", wait=2)
            check(all(q["status"] == 200 and q["error"] is None for q in rx.requests()),
                  "fork: every request well formed")
        break
    by_pid = {}
    for q in tr:
        pid = otlptest.resource_of(q).get("process.pid")
        by_pid.setdefault(pid, []).append(q)
    equal(len(by_pid), 2, "fork: two processes exported")
    procs = {pid: [s for s in otlptest.spans_of(qs) if s["name"] == "process"]
             for pid, qs in by_pid.items()}
    parent = [pid for pid, p in procs.items() if p and p[0]["parentSpanId"] == ""]
    child = [pid for pid, p in procs.items() if p and p[0]["parentSpanId"] != ""]
    equal((len(parent), len(child)), (1, 1), "fork: a parent and a child process span")
    if parent and child:
        pspans = otlptest.spans_of(by_pid[parent[0]])
        cspans = otlptest.spans_of(by_pid[child[0]])
        equal(len([s for s in pspans if s["name"].startswith("thread ")]), 20,
              "fork: the parent's threads, before and after the fork")
        equal(len([s for s in cspans if s["name"].startswith("thread ")]), 8,
              "fork: the child's threads")
        equal({s["traceId"] for s in cspans}, {s["traceId"] for s in pspans},
              "fork: the child continues the parent's trace")
        check(procs[child[0]][0]["parentSpanId"] in {s["spanId"] for s in pspans}
              or procs[child[0]][0]["parentSpanId"] == procs[parent[0]][0]["spanId"],
              "fork: the child's process span has a parent in the parent process")


def check_forkstorm():
    """Children forked while the exporter is still loading libcurl or sending."""
    with Receiver() as rx:
        r = run([otlptest.otlp_program("timed-work"), "2", "forkstorm"], rx.url)
        equal(r.rc, 0, "fork storm: exit code")
        check("children ok" in r.stdout, f"fork storm: every child exited with 0: {r.stdout}")
        tr = rx.requests("traces", wait=2)
    names = {otlptest.resource_of(q).get("process.executable.name") for q in tr}
    check("timed-work" in names, "fork storm: the parent's spans arrive")
    for line in otlptest.weft_lines(r.stderr):
        check("forked while weft was inside libcurl" in line, f"fork storm: {line}")
    for f in r.files:
        check(os.path.getsize(f) > 0, f"fork storm: fallback file {f} holds the child's data")


check_content()
check_fork()
check_forkstorm()
check_https()
check_gzip()
check_headers()
check_endpoints()
check_sampling()
check_lazy_libcurl()
weftrun.done()
