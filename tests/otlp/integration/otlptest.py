"""Shared by the OTLP end-to-end tests: the test receiver and what it stored.

Each test starts tests/otlp/receiver.js on 127.0.0.1 itself (port 0, or a
fixed port chosen beforehand), runs a program under LD_PRELOAD with
weftrun.Run, then reads the JSON lines the receiver wrote: one per request,
decoded by the OpenTelemetry JS project's generated protobuf code. The
receiver exits by itself after --max-seconds, and the tests stop it when
they are done.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# tests/otlp: the receiver, its decoder and its npm setup, shared by every kind of test.
OTLP_DIR = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(OTLP_DIR, "..", "integration"))

import weftrun  # noqa: E402  (after the path is set)
from weftrun import attrs, check, equal  # noqa: E402,F401

OTLP_PROGRAMS = os.path.abspath(os.path.join(weftrun.BUILD, "tests", "otlp", "integration"))

# The fake libcurl.so.4 is for the one test that asks for it, never by accident.
if "LD_LIBRARY_PATH" in os.environ:
    os.environ["LD_LIBRARY_PATH"] = ":".join(
        d for d in os.environ["LD_LIBRARY_PATH"].split(":") if "fakecurl" not in d)


def setup_or_skip():
    """Installs the receiver's npm packages; exits 77 (skipped) without node."""
    rc = subprocess.run(["sh", os.path.join(OTLP_DIR, "setup.sh")]).returncode
    if rc == 77:
        print("skipped: node and npm are needed for the OTLP receiver")
        sys.exit(77)
    if rc != 0:
        print("FAIL: tests/otlp/setup.sh failed")
        sys.exit(1)


def free_port():
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def otlp_program(name):
    return os.path.join(OTLP_PROGRAMS, name)


class Receiver:
    """tests/otlp/receiver.js, recording every request into a file."""

    def __init__(self, *options, port=0, max_seconds=120, env=None):
        self.dir = tempfile.mkdtemp(prefix="weft-otlp-")
        self.out = os.path.join(self.dir, "requests.jsonl")
        argv = ["node", os.path.join(OTLP_DIR, "receiver.js"), "--port", str(port), "--out",
                self.out, "--max-seconds", str(max_seconds)] + [str(o) for o in options]
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=e)
        line = self.proc.stdout.readline()
        if not line.startswith("listening 127.0.0.1:"):
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            raise RuntimeError(f"receiver did not start: {line!r} {err}")
        self.port = int(line.strip().rsplit(":", 1)[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def requests(self, signal=None, wait=0.0):
        """Every recorded request (optionally of one signal), in order."""
        deadline = time.monotonic() + wait
        while True:
            reqs = []
            if os.path.exists(self.out):
                with open(self.out) as f:
                    reqs = [json.loads(line) for line in f if line.strip()]
            if signal:
                reqs = [r for r in reqs if r["signal"] == signal]
            if reqs or time.monotonic() >= deadline:
                return reqs
            time.sleep(0.05)


def run(argv, receiver_url=None, env=None, **kw):
    """A program under weft exporting to receiver_url (when given)."""
    e = {}
    if receiver_url:
        e["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver_url
    e.update(env or {})
    return weftrun.Run(argv, env=e, expect_file=False, **kw)


def spans_of(reqs):
    """Every span of the given trace requests, attributes as a dict in "attrs"."""
    out = []
    for r in reqs:
        for rs in (r.get("request") or {}).get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for s in ss.get("spans", []):
                    s["attrs"] = attrs(s.get("attributes"))
                    s["scope"] = ss.get("scope", {})
                    out.append(s)
    return out


def resource_of(req):
    body = req.get("request") or {}
    for key in ("resourceSpans", "resourceMetrics"):
        for r in body.get(key, []):
            return attrs(r["resource"].get("attributes"))
    return {}


def metrics_of(req):
    """{name: metric} of one metrics request."""
    out = {}
    for rm in (req.get("request") or {}).get("resourceMetrics", []):
        for sm in rm.get("scopeMetrics", []):
            for m in sm.get("metrics", []):
                out[m["name"]] = m
    return out


def points(metric):
    if not metric:
        return []
    for kind in ("sum", "gauge", "histogram"):
        if metric.get(kind):
            return metric[kind].get("dataPoints", [])
    return []


def value(metric, **want):
    """A sum or gauge point's value for exactly these attributes (None if absent)."""
    want = {k.replace("_", "."): v for k, v in want.items()}
    for p in points(metric):
        if attrs(p.get("attributes")) == want:
            return int(p["asInt"]) if "asInt" in p else p.get("asDouble")
    return None


def weft_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("weft:")]
