"""What loading libweft.so costs a process, as its ELF headers and a start show.

  - it needs libc.so.6 alone: not libgcc_s.so.1 (agent/unwind_link.c forwards
    the two unwinder functions its cleanups need), not libm.so.6;
  - it is bound lazily (no BIND_NOW: hooks/meson.build says why that is safe),
    and keeps its relro segment;
  - it carries no mallctl (scripts/private-jemalloc.sh takes jemalloc's ctl.o
    out): the data the loader relocates, and so copies, at every start stays
    under 24 KiB (41 KiB with it);
  - with OTEL_SDK_DISABLED=true, the private allocator never initialises (its
    constructor is removed: it would read /proc/sys/vm/overcommit_memory at
    start), nor in a process that never has a second thread (its exit export
    is served by the boot arena); it does when a program starts a thread.
    Needs strace; skipped without.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import LIB, program, check, equal, done  # noqa: E402


def readelf(*args):
    return subprocess.run(["readelf", *args, LIB], capture_output=True, text=True,
                          check=True).stdout


dyn = readelf("-dW")
needed = [line.split("[")[-1].rstrip("]") for line in dyn.splitlines() if "(NEEDED)" in line]
equal(needed, ["libc.so.6"], "libweft.so needs libc.so.6 alone")
flags = [line for line in dyn.splitlines() if "(FLAGS" in line or "(BIND_NOW)" in line]
check(not any("BIND_NOW" in f or " NOW" in f for f in flags),
      f"libweft.so is bound lazily: {flags}")
check("GNU_RELRO" in readelf("-lW"), "libweft.so keeps its relro segment")
relro = [int(line.split()[5], 16) for line in readelf("-SW").replace("[ ", "[").splitlines()
         if " .data.rel.ro " in line]
equal(len(relro), 1, "libweft.so has one .data.rel.ro")
check(relro and relro[0] < 24 * 1024, f"its relocated read-only data is under 24 KiB: {relro}")


def jemalloc_initialised(env, argv=None):
    """Whether a process under weft read what jemalloc reads when it initialises."""
    with tempfile.TemporaryDirectory(prefix="weft-linkage-") as d:
        trace = os.path.join(d, "trace")
        e = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "WEFT_"))}
        e.update(env, LD_PRELOAD=LIB, WEFT_OUTPUT=os.path.join(d, "out.jsonl"))
        p = subprocess.run(["strace", "-f", "-qq", "-e", "trace=open,openat", "-o", trace,
                            *(argv or [program("threads")])], env=e, capture_output=True, text=True,
                           timeout=60, cwd=d)
        equal(p.returncode, 0, f"the program's exit status under strace, {env}")
        with open(trace) as f:
            return "overcommit_memory" in f.read()


if shutil.which("strace"):
    check(not jemalloc_initialised({"OTEL_SDK_DISABLED": "true"}),
          "disabled: the private allocator does not initialise")
    check(not jemalloc_initialised({}, ["/bin/true"]),
          "a process that never has a second thread: it does not initialise")
    check(jemalloc_initialised({}), "a program that starts threads: it initialises")
else:
    print("strace not found: the allocator checks are skipped")
done()
