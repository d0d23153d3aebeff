"""Runs programs under weft and reads what they exported.

Shared by the integration tests: each test runs a real program with
LD_PRELOAD=libweft.so and a private output file, then checks the OTLP JSON
Lines it wrote. Parsing here is plain json (the proto3 JSON mapping), kept
deliberately independent of weft's own encoder.
"""
import json
import os
import subprocess
import sys
import tempfile

BUILD = os.environ.get("WEFT_BUILD_DIR") or (sys.argv[1] if len(sys.argv) > 1 else "build")
SOURCE = os.environ.get("WEFT_SOURCE_DIR") or (sys.argv[2] if len(sys.argv) > 2 else ".")
LIB = os.path.abspath(os.path.join(BUILD, "hooks", "libweft.so"))
PROGRAMS = os.path.abspath(os.path.join(BUILD, "tests", "programs"))

_failures = 0
_checks = 0


def program(name):
    return os.path.join(PROGRAMS, name)


def check(cond, what):
    global _failures, _checks
    _checks += 1
    if not cond:
        _failures += 1
        print("FAIL:", what, flush=True)
    return cond


def _short(v):
    r = repr(v)
    return r if len(r) <= 300 else r[:300] + f"... ({len(r)} chars)"


def equal(got, want, what):
    return check(got == want, f"{what}: got {_short(got)}, want {_short(want)}")


def weft_report(*files):
    """`scripts/weft report FILE...`: its status, stdout and stderr."""
    env = dict(os.environ, WEFT_READ=os.path.abspath(os.path.join(BUILD, "exporter", "weft-read")))
    p = subprocess.run([os.path.join(SOURCE, "scripts", "weft"), "report", *files], env=env,
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def check_report_from_file(run, what):
    """The report read back from the run's files is the one WEFT_REPORT=stderr printed."""
    live = run.stderr[run.stderr.find("weft report: pid"):]
    rc, out, err = weft_report(*run.files)
    equal((rc, out), (0, live), f"{what} weft report FILE prints the live report")


def done():
    print(f"{_checks - _failures} passed, {_failures} failed")
    sys.exit(1 if _failures else 0)


class Run:
    """One program run under weft, with its output parsed."""

    def __init__(self, argv, env=None, preload=True, timeout=120, expect_file=True, cwd=None):
        self.dir = tempfile.mkdtemp(prefix="weft-it-")
        self.output = os.path.join(self.dir, "out-%p.jsonl")
        e = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "WEFT_"))}
        e.pop("TRACEPARENT", None)
        e["WEFT_OUTPUT"] = self.output
        if preload:
            e["LD_PRELOAD"] = LIB
        e.update(env or {})
        p = subprocess.run(argv, env=e, capture_output=True, text=True, timeout=timeout,
                           cwd=cwd or self.dir)
        self.rc = p.returncode
        self.stdout = p.stdout
        self.stderr = p.stderr
        names = os.listdir(self.dir)
        self.files = sorted(os.path.join(self.dir, f) for f in names if f.endswith(".jsonl"))
        # A rotated output (WEFT_OUTPUT_MAX_SIZE: out-P.jsonl.1, ...) would be
        # read in part, its older spans silently missing from every count.
        backups = sorted(f for f in names if f.rsplit(".", 1)[-1].isdigit() and ".jsonl." in f)
        check(not backups, f"the output was not rotated (raise WEFT_OUTPUT_MAX_SIZE): {backups}")
        self.by_pid = {}
        for f in self.files:
            pid = int(f.rsplit("-", 1)[1].split(".")[0]) if "-" in os.path.basename(f) else 0
            self.by_pid[pid] = Output(f)
        if expect_file and not self.files:
            print("stderr was:", self.stderr)

    def only(self):
        """The output of the single process the run made."""
        check(len(self.by_pid) == 1, f"one output file, got {self.files}")
        return next(iter(self.by_pid.values())) if self.by_pid else Output(None)


def _value(v):
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return v["doubleValue"]
    if "boolValue" in v:
        return v["boolValue"]
    if "arrayValue" in v:
        return [_value(x) for x in v["arrayValue"].get("values", [])]
    return None


def attrs(lst):
    return {a["key"]: _value(a["value"]) for a in lst or []}


class Output:
    """Every span and the last value of every metric series in one file."""

    def __init__(self, path):
        self.spans = []
        self.metric_lines = []
        self.resource = {}
        self.lines = []
        if not path:
            return
        with open(path) as f:
            for line in f:
                self.lines.append(line)
                d = json.loads(line)
                for rs in d.get("resourceSpans", []):
                    self.resource = attrs(rs["resource"].get("attributes"))
                    for ss in rs.get("scopeSpans", []):
                        for s in ss.get("spans", []):
                            s["attrs"] = attrs(s.get("attributes"))
                            self.spans.append(s)
                for rm in d.get("resourceMetrics", []):
                    self.resource = attrs(rm["resource"].get("attributes"))
                    ms = {}
                    for sm in rm.get("scopeMetrics", []):
                        for m in sm.get("metrics", []):
                            ms[m["name"]] = m
                    self.metric_lines.append(ms)

    def named(self, prefix):
        return [s for s in self.spans if s["name"].startswith(prefix)]

    def span(self, name):
        found = [s for s in self.spans if s["name"] == name]
        check(len(found) == 1, f"exactly one span {name!r}, got {len(found)}")
        return found[0] if found else {}

    def metric(self, name):
        """The metric from the last collection (cumulative: the final values)."""
        return self.metric_lines[-1].get(name) if self.metric_lines else None

    def points(self, name):
        m = self.metric(name)
        if not m:
            return []
        data = m.get("sum") or m.get("gauge") or m.get("histogram") or {}
        return data.get("dataPoints", [])

    def value(self, name, **want):
        """A sum or gauge point's value for the given attributes (None if absent)."""
        for p in self.points(name):
            a = attrs(p.get("attributes"))
            if a == {k.replace("_", "."): v for k, v in want.items()}:
                if "asInt" in p:
                    return int(p["asInt"])
                return p.get("asDouble", 0)
        return None

    def series(self, name, key, value):
        return [p for p in self.points(name) if attrs(p.get("attributes")).get(key) == value]
