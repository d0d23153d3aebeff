"""C++ function names are readable: demangled, without parameters.

tests/programs/cxxnames.cc: two threads started from app::Worker::run (a
static member function, its symbol `_ZN3app6Worker3runEPv`) wait in
app::Queue::pop (`_ZN3app5Queue3popEv`) for ten items handed through a
mutex and condition variable. Their thread spans are `thread
app::Worker::run` (no thread name is set), their pool is app::Worker::run,
the condvar waits' call site (code.function.name) is app::Queue::pop, and
no name anywhere in the output is left mangled. Two std::threads and a
std::async, which all start in one routine of libstdc++'s, are named by
their callables: `thread main::{lambda()#1}`, `thread app::Ticker` and
`thread main::{lambda()#2}` (hooks/thread.c; exporter/symbols.c finds the
async's lambda inside the state type that runs it). Rust names,
legacy and v0, are tests/unit/test-demangle.c's.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import Run, attrs, program, check, equal, done  # noqa: E402

if not os.path.exists(program("cxxnames")):
    print("cxxnames was not built (no C++ compiler): skipped")
    sys.exit(77)

r = Run([program("cxxnames")])
equal(r.rc, 0, "cxxnames exit status")
equal(r.stdout.strip(), "55", "cxxnames: the workers took every item once")
out = r.only()

threads = sorted(s["name"] for s in out.named("thread "))
equal(threads, ["thread app::Ticker"] + ["thread app::Worker::run"] * 2
      + ["thread main::{lambda()#1}", "thread main::{lambda()#2}"],
      "the thread spans: the two workers, the two std::threads, the std::async")
for s in out.named("thread app::Worker::run"):
    equal(s["attrs"].get("code.function.name"), "app::Worker::run",
          "a worker's start routine (code.function.name)")
pools = {attrs(p.get("attributes")).get("weft.pool.name") for p in out.points("weft.pool.threads")}
equal(sorted(pools), ["app::Ticker", "app::Worker::run", "main", "main::{lambda()#1}",
                     "main::{lambda()#2}"],
      "the pools: each std::thread's by its callable")

tasks = out.named("task ")
check(tasks, "the workers ran tasks")
equal(sorted({s["name"] for s in tasks}), ["task app::Worker::run"], "their pool's tasks")
equal(sorted({s["attrs"].get("weft.pool.name") for s in tasks}), ["app::Worker::run"],
      "weft.pool.name")

sites = {}
for p in out.points("weft.wait.duration"):
    a = attrs(p.get("attributes"))
    if a.get("weft.wait.kind") == "cond":
        site = a.get("code.function.name")
        sites[site] = sites.get(site, 0) + int(p.get("count", 0))
equal(sorted(sites), ["app::Queue::pop"], "the condvar waits' call site")
check(sites.get("app::Queue::pop", 0) >= 2, f"at least one wait a worker: {sites}")


def strings(v):
    """Every string in a decoded JSON value."""
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for x in v.values():
            yield from strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from strings(x)


mangled = sorted({s for line in out.lines for s in strings(json.loads(line))
                  if s.startswith(("_Z", "_R")) and len(s) > 3})
equal(mangled, [], "no mangled name left in the output")
done()
