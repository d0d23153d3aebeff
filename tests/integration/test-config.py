"""Configuration from the environment: honoured when valid; when malformed, one
warning line, the default, and a program that runs exactly as before."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import Run, program, check, equal, done  # noqa: E402

T = program("threads")

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

# Command arguments can be left out.
r = Run([T, "nested"], env={"WEFT_CAPTURE_ARGS": "0"})
check("process.command_args" not in r.only().resource, "WEFT_CAPTURE_ARGS=0 omits the arguments")

# WEFT_HOOKS without `thread`: no thread telemetry, program unchanged.
r = Run([T, "nested"], env={"WEFT_HOOKS": "mutex"})
out = r.only()
equal(out.named("thread "), [], "thread hooks off: no thread spans")
equal(len(out.named("process")), 1, "the process span remains")

# Malformed values: one warning each, defaults, program fine.
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

# A ring size that is not a power of two is rounded up, with a note.
r = Run([T, "nested"], env={"WEFT_RING_SIZE": "100"})
check("WEFT_RING_SIZE" in r.stderr and "128" in r.stderr, "ring size rounded up to 128")
equal(len(r.only().named("thread ")), 3, "and works")
done()
