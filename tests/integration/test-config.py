"""Configuration from the environment: honoured when valid; when malformed, one
warning line, the default, and a program that runs exactly as before."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import resource  # noqa: E402
from weftrun import Run, program, check, equal, done, LIB, SOURCE  # noqa: E402

T = program("threads")
WEFT = os.path.join(os.path.abspath(SOURCE), "scripts", "weft")


def weft_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("weft:")]

# Service name and resource attributes.
r = Run([T, "nested"], env={"OTEL_SERVICE_NAME": "checkout",
                            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,team=a%20b%2Cc,service.name=ignored"})
res = r.only().resource
equal(res.get("service.name"), "checkout", "OTEL_SERVICE_NAME wins")
equal(res.get("deployment.environment"), "prod", "resource attribute")
equal(res.get("team"), "a b,c", "percent-decoded value")
r = Run([T, "nested"], env={"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs"})
equal(r.only().resource.get("service.name"), "from-attrs", "service.name from OTEL_RESOURCE_ATTRIBUTES")
check(os.path.basename(r.files[0]).startswith("out-"), "output named by WEFT_OUTPUT")
r = Run([T, "nested"], env={"OTEL_RESOURCE_ATTRIBUTES": "telemetry.sdk.name=fake"})
equal(r.only().resource.get("telemetry.sdk.name"), "weft", "telemetry.sdk.* cannot be overridden")

# %n and %p in WEFT_OUTPUT.
r = Run([T, "nested"], env={"OTEL_SERVICE_NAME": "a/b", "WEFT_OUTPUT": "%n-%p.jsonl"})
check(len(r.files) == 1 and os.path.basename(r.files[0]).startswith("a_b-"),
      f"%n expands to a path-safe service name: {r.files}")

# Command arguments may hold secrets: recorded only on request.
r = Run([T, "nested"])
check("process.command_args" not in r.only().resource, "no arguments by default")
r = Run([T, "nested"], env={"WEFT_CAPTURE_ARGS": "0"})
check("process.command_args" not in r.only().resource, "WEFT_CAPTURE_ARGS=0 omits the arguments")
r = Run([T, "nested"], env={"WEFT_CAPTURE_ARGS": "1"})
equal(r.only().resource.get("process.command_args"), [T, "nested"], "WEFT_CAPTURE_ARGS=1")
r = Run([WEFT, "run", "--capture-args", "--lib", LIB, T, "nested"], preload=False)
equal(r.rc, 0, "launcher --capture-args: exit code")
equal(r.only().resource.get("process.command_args"), [T, "nested"], "launcher --capture-args")
r = Run([WEFT, "run", "--lib", LIB, T, "nested"], preload=False)
check("process.command_args" not in r.only().resource, "launcher: no arguments by default")

# OTEL_RESOURCE_ATTRIBUTES as long as the configuration allows is kept whole.
long_value = "v" * (4 * 512 - 1 - len("long="))
r = Run([T, "nested"], env={"OTEL_RESOURCE_ATTRIBUTES": "long=" + long_value})
equal(r.only().resource.get("long"), long_value, "longest OTEL_RESOURCE_ATTRIBUTES kept")
equal(weft_lines(r.stderr), [], "and no warning")

# WEFT_HOOKS without `thread`: no thread telemetry, program unchanged.
r = Run([T, "nested"], env={"WEFT_HOOKS": "mutex"})
out = r.only()
equal(out.named("thread "), [], "thread hooks off: no thread spans")
equal(len(out.named("process")), 1, "the process span remains")

# Malformed values: one warning each, defaults (or, for a duration out of its
# range, the nearer bound), program fine.
bad = {
    "WEFT_SPAN_MIN_WAIT": "soon",
    "WEFT_RING_SIZE": "-3",
    "OTEL_BSP_SCHEDULE_DELAY": "5 parsecs",
    "OTEL_BSP_MAX_QUEUE_SIZE": "lots",
    "OTEL_METRIC_EXPORT_INTERVAL": "0",
    "OTEL_TRACES_SAMPLER": "sometimes",
    "WEFT_CAPTURE_ARGS": "perhaps",
    "OTEL_SDK_DISABLED": "maybe",
    "WEFT_LOG_LEVEL": "chatty",
}
r = Run([program("worker-pool")], env=bad)
equal(r.rc, 0, "malformed configuration: exit code unchanged")
check("200 items processed" in r.stdout, "malformed configuration: program output unchanged")
warns = [l for l in r.stderr.splitlines() if l.startswith("weft:")]
equal(len(warns), len(bad), "one warning line per malformed variable")
for name in bad:
    equal(sum(1 for l in warns if name in l), 1, f"{name} named once")
equal(len(r.only().named("thread ")), 6, "telemetry still produced with the defaults")

# A value can hold anything: a newline in it must not start a line of its own,
# several bad items in one variable make one line, headers are never shown.
forging = {
    "WEFT_LOG_LEVEL": "warn\nforged line",
    "OTEL_SERVICE_NAME": "x" * 600,
    "OTEL_RESOURCE_ATTRIBUTES": "a\nweft: forged,b,c=d,e\n\nf,=g",
    "OTEL_TRACES_EXPORTER": "file,\nforged",
    "OTEL_EXPORTER_OTLP_HEADERS": "api-key=" + "s3cr3t" * 400,
    "WEFT_SPAN_MIN_WAIT": "1\r\n2",
}
r = Run([program("worker-pool")], env=forging)
equal(r.rc, 0, "values with newlines: exit code unchanged")
lines = r.stderr.splitlines()
equal([l for l in lines if not l.startswith("weft: ")], [], "every stderr line is weft's own")
equal(len(lines), len(forging), "one line per bad variable")
for name in forging:
    equal(sum(1 for l in lines if l.startswith(f"weft: {name}=")), 1, f"{name}: one line")
check("s3cr3t" not in r.stderr, "headers are never shown")
check(all(len(l) < 1000 for l in lines), "long values are cut")
res = r.only().resource
equal(res.get("c"), "d", "the well-formed resource attribute is kept")
check("a\nweft: forged" not in res and "b" not in res, "the malformed items are dropped")

# Durations far out of range are clamped: a period or timeout of 2^64-1 ns must
# not wrap a deadline, 1 ns must not make the exporter spin.
def cpu_children():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


huge = "18446744073709551615ns"
for what, env in (("huge", {"OTEL_BSP_SCHEDULE_DELAY": huge, "OTEL_METRIC_EXPORT_INTERVAL": huge,
                            "OTEL_BSP_EXPORT_TIMEOUT": huge, "OTEL_METRIC_EXPORT_TIMEOUT": huge,
                            "OTEL_EXPORTER_OTLP_TIMEOUT": huge, "WEFT_EXIT_TIMEOUT": huge,
                            "WEFT_SPAN_MIN_WAIT": huge}),
                  ("tiny", {"OTEL_BSP_SCHEDULE_DELAY": "1ns", "OTEL_METRIC_EXPORT_INTERVAL": "1ns",
                            "OTEL_METRIC_EXPORT_TIMEOUT": "1ns", "OTEL_EXPORTER_OTLP_TIMEOUT": "1ns"}),
                  ("mixed", {"OTEL_BSP_SCHEDULE_DELAY": huge, "OTEL_METRIC_EXPORT_INTERVAL": "1ns"})):
    before = cpu_children()
    r = Run([T, "join-wait", "1500"], env=env, timeout=60)
    cpu = cpu_children() - before
    equal(r.rc, 0, f"{what} durations: exit code")
    equal(len(weft_lines(r.stderr)), len(env), f"{what} durations: one line each")
    check(all("out of range" in l for l in weft_lines(r.stderr)), f"{what} durations: clamped")
    check(cpu < 0.5, f"{what} durations: bounded CPU time ({cpu:.2f} s for a 1.5 s sleep)")
    size = sum(os.path.getsize(f) for f in r.files)
    check(size < 10 << 20, f"{what} durations: bounded output ({size} bytes)")
    out = r.only()
    equal(len(out.named("process")), 1, f"{what} durations: the process span is exported")

# A ring size that is not a power of two is rounded up, with a note.
r = Run([T, "nested"], env={"WEFT_RING_SIZE": "100"})
check("WEFT_RING_SIZE" in r.stderr and "128" in r.stderr, "ring size rounded up to 128")
equal(len(r.only().named("thread ")), 3, "and works")
done()
