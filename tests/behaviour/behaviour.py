"""weft never changes what the program does: the behaviour tests.

Each check runs a test program three ways and compares them:

  native    no weft at all
  weft      LD_PRELOAD=libweft.so, WEFT_OUTPUT in a private directory
  disabled  the same with OTEL_SDK_DISABLED=true (every hook a pass-through)

The weft and disabled runs must print exactly what the native run printed, on
stdout and on stderr, and end with the same status. The weft run must have
written its OTLP JSON Lines file; the disabled run must have written nothing.

    behaviour.py contract   LIBWEFT BEHAVIOUR
    behaviour.py alloc      LIBWEFT ALLOC_CHECK [JEMALLOC_CHECK]
    behaviour.py own-malloc LIBWEFT OWN_MALLOC
    behaviour.py exec       LIBWEFT EXEC_CHECK
    behaviour.py shell      LIBWEFT SHELL_CHECK
    behaviour.py mutex-malloc LIBWEFT MUTEX_MALLOC
    behaviour.py malloc-conf LIBWEFT ALLOC_CHECK [JEMALLOC_CHECK]
    behaviour.py bootstrap  LIBWEFT EARLY_MAIN RTLD_NEXT DLOPEN_MAIN LIBDLCTOR
    behaviour.py symbols    LIBWEFT LIBWEFT_MAP HOOKS_ARCHIVE NM

Prints one line per failed check and a final `N passed, N failed`; exits 1 on
failure, 77 when the test cannot run here.
"""
import difflib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

# own-malloc: require identical allocator call counts, every call included.
# See cmd_own_malloc before changing this.
OWN_MALLOC_STRICT = True


def _glibc_bookkeeping_only(native, other):
    """Counts identical but for what glibc itself does for a preloaded library with
    TLS and one thread (see cmd_own_malloc): any number of free(NULL), and exactly
    the one calloc for the DTV of weft's exporter thread, on whichever thread
    started it (the program's first pthread_create), or none if it never started."""
    for k in set(native) | set(other):
        a, b = native.get(k, (0, 0)), other.get(k, (0, 0))
        if k == "free(NULL)":
            continue
        if k == "calloc":
            if not 0 <= (b[0] + b[1]) - (a[0] + a[1]) <= 1 or b[0] < a[0] or b[1] < a[1]:
                return False
            continue
        if a != b:
            return False
    return True


_passed = 0
_failed = 0


def check(cond, what, detail=None):
    global _passed, _failed
    if cond:
        _passed += 1
    else:
        _failed += 1
        print("FAIL:", what, flush=True)
        if detail:
            print(detail.rstrip("\n"), flush=True)
    return cond


def done():
    print(f"{_passed} passed, {_failed} failed")
    sys.exit(1 if _failed else 0)


def skip(why):
    print("SKIP:", why)
    print("0 passed, 0 failed")
    sys.exit(77)


def command_line(doc, least=3):
    """(command, arguments) from sys.argv, the arguments that name files made
    absolute (programs run in a fresh directory each); prints `doc` and exits
    2 with fewer than `least` words, skips when the library (the first
    argument) is not built."""
    if len(sys.argv) < least:
        print(doc)
        sys.exit(2)
    args = [os.path.abspath(a) if a and os.path.exists(a) else a for a in sys.argv[2:]]
    if not os.path.exists(args[0]):
        skip(f"{args[0]} not built")
    return sys.argv[1], args


def diff(a, b, name_a, name_b):
    lines = difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True),
                                 name_a, name_b, n=2)
    lines = list(lines)
    if len(lines) > 40:
        lines = lines[:40] + [f"[... {len(lines) - 40} more diff lines]\n"]
    return "".join(lines)


class Run:
    """One run of a program in a fresh directory."""

    def __init__(self, lib, argv, mode, env=None, timeout=120):
        self.mode = mode
        self.dir = tempfile.mkdtemp(prefix=f"weft-behaviour-{mode}-")
        e = {k: v for k, v in os.environ.items()
             if not k.startswith(("OTEL_", "WEFT_")) and k not in
             ("TRACEPARENT", "LD_PRELOAD", "MALLOC_CONF", "MALLOC_ARENA_MAX")}
        # The same variables in every mode: only LD_PRELOAD differs (and
        # OTEL_SDK_DISABLED), so a native run is not told anything weft is.
        e["WEFT_OUTPUT"] = os.path.join(self.dir, "weft-%p.jsonl")
        if mode != "native":
            e["LD_PRELOAD"] = lib
        if mode == "disabled":
            e["OTEL_SDK_DISABLED"] = "true"
        for k, v in (env or {}).items():
            e[k] = v.replace("{dir}", self.dir)
        try:
            p = subprocess.run(argv, env=e, cwd=self.dir, capture_output=True, text=True,
                               errors="replace", timeout=timeout)
            self.rc, self.stdout, self.stderr = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as t:
            self.rc = "timeout"
            self.stdout = t.stdout.decode(errors="replace") if t.stdout else ""
            self.stderr = t.stderr.decode(errors="replace") if t.stderr else ""
        self.outputs = sorted(os.path.join(self.dir, f) for f in os.listdir(self.dir)
                              if f.endswith(".jsonl"))

    def path(self, name):
        return os.path.join(self.dir, name)

    def spans(self):
        """Every span in the weft output, with its attributes as a dict."""
        spans = []
        for f in self.outputs:
            with open(f) as fh:
                for line in fh:
                    d = json.loads(line)
                    for rs in d.get("resourceSpans", []):
                        for ss in rs.get("scopeSpans", []):
                            for s in ss.get("spans", []):
                                s["attrs"] = {a["key"]: next(iter(a["value"].values()), None)
                                              for a in s.get("attributes", [])}
                                spans.append(s)
        return spans

    def metric(self, name, want):
        """A sum point's value in the last export that has it, the largest over the
        run's processes (each forked child has its own output); None if absent."""
        best = None
        for f in self.outputs:
            value = None
            with open(f) as fh:
                for line in fh:
                    for rm in json.loads(line).get("resourceMetrics", []):
                        for sm in rm.get("scopeMetrics", []):
                            for m in sm.get("metrics", []):
                                if m["name"] != name:
                                    continue
                                for p in m.get("sum", {}).get("dataPoints", []):
                                    a = {x["key"]: next(iter(x["value"].values()), None)
                                         for x in p.get("attributes", [])}
                                    if a == want:
                                        value = int(p.get("asInt", 0))
            if value is not None and (best is None or value > best):
                best = value
        return best

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def valid_jsonl(path):
    try:
        with open(path) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        return len(lines) > 0
    except (OSError, ValueError):
        return False


def compare(lib, name, argv, want_rc=None, env=None, timeout=120, compare_stdout=True,
            compare_stderr=True, keep=False):
    """Runs argv native / weft / disabled; checks they behave the same.

    Returns the weft run (for further checks on its output)."""
    native = Run(lib, argv, "native", env, timeout)
    runs = [Run(lib, argv, "weft", env, timeout), Run(lib, argv, "disabled", env, timeout)]
    if want_rc is not None:
        check(native.rc == want_rc,
              f"{name}: native exit status {native.rc}, the test expects {want_rc}",
              native.stdout[-3000:] + native.stderr[-3000:])
    check(not native.outputs, f"{name}: the native run wrote telemetry: {native.outputs}")
    for r in runs:
        check(r.rc == native.rc, f"{name}: exit status under {r.mode} is {r.rc}, "
              f"natively {native.rc}", r.stderr[-3000:])
        if compare_stdout:
            check(r.stdout == native.stdout,
                  f"{name}: stdout under {r.mode} differs from native",
                  diff(native.stdout, r.stdout, "native", r.mode))
        if compare_stderr:
            check(r.stderr == native.stderr,
                  f"{name}: stderr under {r.mode} differs from native",
                  diff(native.stderr, r.stderr, "native", r.mode))
    weft, disabled = runs
    if check(len(weft.outputs) >= 1, f"{name}: weft wrote no output file",
             weft.stderr[-3000:]):
        check(all(valid_jsonl(f) for f in weft.outputs),
              f"{name}: weft's output is not non-empty JSON lines: {weft.outputs}")
    check(not disabled.outputs,
          f"{name}: with OTEL_SDK_DISABLED=true weft wrote {disabled.outputs}")
    if not keep:
        native.cleanup()
        disabled.cleanup()
    return weft if not keep else (native, weft, disabled)


# --------------------------------------------------------------- contract

EXIT_MODES = [
    ("contract", 0),
    ("exit-in-thread", 42),
    ("return-main", 7),
    ("main-pthread-exit", 3),
    ("main-pthread-exit-last", 0),
    ("return-while-blocked", 9),
    ("cancel-main", 0),
]


def cmd_contract(lib, prog):
    for mode, rc in EXIT_MODES:
        w = compare(lib, f"behaviour {mode}", [prog, mode], want_rc=rc,
                    timeout=120 if mode == "contract" else 30)
        spans = w.spans()
        process = [s for s in spans if s["name"] == "process"]
        if check(len(process) == 1, f"behaviour {mode}: one process span, got {len(process)}"):
            code = process[0]["attrs"].get("process.exit.code")
            check(code is not None and int(code) == rc,
                  f"behaviour {mode}: process.exit.code is {code}, the program exited {rc}")
        w.cleanup()


# ------------------------------------------------------------------ alloc

def cmd_alloc(lib, alloc_check, jemalloc_check=None):
    compare(lib, "alloc-check", [alloc_check]).cleanup()
    if jemalloc_check:
        # jemalloc's own mutexes (pthread_mutex_trylock/lock) go through weft's hooks.
        w = compare(lib, "jemalloc-check", [jemalloc_check], want_rc=0)
        n = w.metric("weft.lock.acquisitions", {"weft.wait.kind": "mutex"})
        check(n is not None and n > 0, "jemalloc-check: jemalloc's mutex acquisitions were "
              f"seen by weft's hooks (weft.lock.acquisitions{{mutex}} = {n})")
        w.cleanup()
    else:
        print("note: jemalloc-check not built (no jemalloc pkg-config); skipped")


COUNT_NAMES = ["malloc", "free", "free(NULL)", "calloc", "realloc", "memalign",
               "posix_memalign", "aligned_alloc", "valloc", "pvalloc", "malloc_usable_size"]


def read_counts(path):
    """own-malloc's shared counters file: unsigned long n[11][2]."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    n = len(COUNT_NAMES) * 2
    if len(data) < 8 * n:
        return None
    v = struct.unpack(f"<{n}Q", data[:8 * n])
    return {name: (v[2 * i], v[2 * i + 1]) for i, name in enumerate(COUNT_NAMES)}


def format_counts(c):
    return "".join(f"  {k:20} program={p:<8} foreign={f}\n" for k, (p, f) in c.items())


def cmd_own_malloc(lib, prog):
    """
    own-malloc defines the whole malloc family and counts every call, on the
    program's own threads and on threads it did not start ("foreign"), until
    the process is gone (the counters live in a shared file mapping).

    Strict (OWN_MALLOC_STRICT): every count identical to the native run.
    Always: the calls that allocate or free a block (everything but
    free(NULL)) on the program's own threads are identical — weft's hooks,
    which run on those threads, never reach the program's allocator.

    With glibc 2.36 the strict comparison fails, and what differs comes from
    inside glibc, not from weft's code (traced with gdb breakpoints on the
    allocator):
      - free(NULL), once per TLS module for every thread stack glibc recycles
        or releases (get_cached_stack, _dl_deallocate_tls): libweft.so's
        initial-exec TLS is one more module (+16 here, with weft disabled too);
      - one calloc, the DTV glibc allocates for weft's exporter thread
        (allocate_dtv <- pthread_create <- weft_exporter_ensure_started), on
        the program thread whose first pthread_create starts weft's thread;
      - sometimes two free(NULL) on the exporter thread as it ends at exit.
    The project accepts exactly these (they come with any preloaded library
    that has TLS and starts a thread, and no weft code makes them); the strict
    check allows them and nothing else. OWN_MALLOC_STRICT=False would keep only
    the allocating-calls check.
    """
    env = {"OWN_MALLOC_COUNTS": "{dir}/counts"}
    native, weft, disabled = compare(lib, "own-malloc", [prog], want_rc=0, env=env, keep=True,
                                     compare_stdout=False)
    allocating = [k for k in COUNT_NAMES if k != "free(NULL)"]
    for r in (weft, disabled):
        # stdout: "threads: ok", then the counts at the end of main.
        check(r.stdout.splitlines()[:1] == native.stdout.splitlines()[:1],
              f"own-malloc: under {r.mode} the program's threads did not behave as natively",
              diff(native.stdout, r.stdout, "native", r.mode))
        at_end = {}
        for text, into in ((native.stdout, "native"), (r.stdout, r.mode)):
            at_end[into] = {m.group(1): (int(m.group(2)), int(m.group(3))) for m in
                            re.finditer(r"^(\S+): program=(\d+) foreign=(\d+)$", text, re.M)}
        a, b = at_end["native"], at_end[r.mode]
        check(all(k in a and k in b and (a[k][0] == b[k][0] or
                                         (k == "calloc" and b[k][0] - a[k][0] == 1))
                  for k in allocating),
              f"own-malloc: by the end of main under {r.mode}, the program's threads made "
              "different calls that allocate or free (weft's hooks must never call the "
              "program's malloc)", diff(native.stdout, r.stdout, "native", r.mode))
        if OWN_MALLOC_STRICT:
            check(_glibc_bookkeeping_only(a, b), f"own-malloc: under {r.mode}, the allocator "
                  "call counts at the end of main differ from native beyond glibc's own "
                  "bookkeeping (strict)", diff(native.stdout, r.stdout, "native", r.mode))
    base = read_counts(native.path("counts"))
    check(base is not None, "own-malloc: the native run wrote no counts file")
    for r in (weft, disabled) if base is not None else ():
        c = read_counts(r.path("counts"))
        if not check(c is not None, f"own-malloc: the {r.mode} run wrote no counts file"):
            continue
        detail = "native:\n" + format_counts(base) + f"{r.mode}:\n" + format_counts(c)
        check(all(c[k][0] == base[k][0] or (k == "calloc" and c[k][0] - base[k][0] == 1)
                  for k in allocating),
              f"own-malloc: by exit under {r.mode}, the program's threads made different "
              "calls that allocate or free", detail)
        if OWN_MALLOC_STRICT:
            check(_glibc_bookkeeping_only(base, c), f"own-malloc: under {r.mode}, the "
                  "allocator call counts at exit differ from native beyond glibc's own "
                  "bookkeeping (strict)", detail)
    for r in (native, weft, disabled):
        r.cleanup()


def cmd_mutex_malloc(lib, prog):
    """
    mutex-malloc's malloc takes a pthread mutex (see there): the hooks run
    inside the program's allocator before weft is initialised, while weft
    resolves its symbols, around fork() in atfork handlers and contended
    from four threads. Each lock must be real: the program checks mutual
    exclusion itself and must print the same under weft. Its threads lock
    the allocator 48,000 times after main starts (2 x 4 threads x 3,000
    malloc+free pairs); weft must have counted at least those.
    """
    w = compare(lib, "mutex-malloc", [prog], want_rc=0)
    n = w.metric("weft.lock.acquisitions", {"weft.wait.kind": "mutex"})
    check(n is not None and n >= 48000, "mutex-malloc: the allocator's acquisitions counted "
          f"(weft.lock.acquisitions{{mutex}} = {n}, at least 48000)")
    w.cleanup()


def cmd_malloc_conf(lib, alloc_check, jemalloc_check=None):
    """
    MALLOC_CONF belongs to the program's jemalloc (or to nobody, for a glibc
    program): weft's private allocator must not read it. A glibc program
    under weft must not print jemalloc statistics, abort on a jemalloc option
    or get jemalloc's background threads; a jemalloc program must print its
    statistics once, not twice.
    """
    for conf in ("stats_print:true", "abort_conf:true,bogus_option:1",
                 "background_thread:true"):
        compare(lib, f"alloc-check with MALLOC_CONF={conf}", [alloc_check],
                want_rc=0, env={"MALLOC_CONF": conf}).cleanup()
    if jemalloc_check:
        marker = "___ Begin jemalloc statistics ___"
        native, weft, disabled = compare(lib, "jemalloc-check with MALLOC_CONF=stats_print:true",
                                         [jemalloc_check], want_rc=0,
                                         env={"MALLOC_CONF": "stats_print:true"},
                                         compare_stderr=False, keep=True)
        n = native.stderr.count(marker)
        check(n == 1, f"jemalloc-check: natively {n} statistics reports, expected 1")
        for r in (weft, disabled):
            check(r.stderr.count(marker) == n,
                  f"jemalloc-check under {r.mode}: {r.stderr.count(marker)} jemalloc "
                  f"statistics reports on stderr, natively {n}")
        for r in (native, weft, disabled):
            r.cleanup()


# -------------------------------------------------------------- bootstrap

def thread_spans(spans):
    return [s for s in spans if s["name"].startswith("thread ")]


def describe(spans):
    """One line per span: name, thread.id, thread.name, code.function.name."""
    return "".join(f"  {s['name']!r} thread.id={s['attrs'].get('thread.id')} "
                   f"thread.name={s['attrs'].get('thread.name')!r} "
                   f"code.function.name={s['attrs'].get('code.function.name')!r}\n"
                   for s in spans)


def cmd_bootstrap(lib, early_main, rtld_next, dlopen_main, libdlctor):
    # A thread created, named and joined in another library's constructor,
    # before weft's own constructor has run.
    w = compare(lib, "early-main", [early_main], want_rc=0)
    spans = thread_spans(w.spans())
    names = sorted(s["name"] for s in spans)
    check(len(spans) == 2, f"early-main: 2 thread spans, got {names}")
    early = [s for s in spans if s["name"] == "thread early-ctor"]
    if check(len(early) == 1, f"early-main: one span 'thread early-ctor', got {names}"):
        fn = early[0]["attrs"].get("code.function.name")
        check(fn == "early_thread",
              "early-main: 'thread early-ctor' is the thread the constructor started "
              f"(code.function.name early_thread), got {fn!r}", describe(spans))
    worker = [s for s in spans if s["name"] == "thread main-worker"]
    if check(len(worker) == 1, f"early-main: one span 'thread main-worker', got {names}"):
        fn = worker[0]["attrs"].get("code.function.name")
        check(fn == "worker", f"early-main: 'thread main-worker' runs worker, got {fn!r}",
              describe(spans))
    w.cleanup()

    # Lookups with dlsym(RTLD_NEXT/RTLD_DEFAULT) and dlvsym, called directly.
    w = compare(lib, "rtld-next", [rtld_next], want_rc=5)
    spans = thread_spans(w.spans())
    named = [s for s in spans if s["name"] == "thread via-dlsym"]
    names = sorted(s["name"] for s in spans)
    if check(len(named) == 1, f"rtld-next: one span 'thread via-dlsym', got {names}"):
        fn = named[0]["attrs"].get("code.function.name")
        check(fn == "gated", "rtld-next: 'thread via-dlsym' is the thread that was named "
              f"(code.function.name gated), got {fn!r}", describe(spans))
    w.cleanup()

    # A dlopen()ed library whose constructor and destructor create threads.
    w = compare(lib, "dlopen-main", [dlopen_main, libdlctor], want_rc=0)
    spans = thread_spans(w.spans())
    names = sorted(s["name"] for s in spans)
    want = sorted(f"thread {p}-{i}" for p, n in (("dl-ctor", 3), ("dl-call", 2), ("dl-dtor", 1))
                  for i in range(n)) * 2
    check(sorted(names) == sorted(want), "dlopen-main: the threads the library started, "
          f"each under its name: want {want}, got {names}", describe(spans))
    w.cleanup()


# ---------------------------------------------------------------- symbols

ALLOCATORS = {"malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign",
              "aligned_alloc", "memalign", "valloc", "pvalloc", "malloc_usable_size",
              "__libc_malloc", "__libc_free", "__libc_calloc", "__libc_realloc",
              "__libc_memalign"}


def map_globals(path):
    """The names in the version script's global: section(s)."""
    text = re.sub(r"/\*.*?\*/", "", open(path).read(), flags=re.S)
    text = re.sub(r"(#|//)[^\n]*", "", text)
    names, section = set(), None
    for tok in re.findall(r"[A-Za-z_][A-Za-z0-9_.*]*:|[^;{}\s]+(?=\s*;)", text):
        if tok.endswith(":"):
            section = tok[:-1]
        elif section == "global":
            names.add(tok)
    return names


def nm(nm_prog, lib, which):
    out = subprocess.run([nm_prog, "-D", which, lib], capture_output=True, text=True,
                         check=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if parts:
            names.add(parts[-1].split("@")[0])
    return names


def hook_exports(archive):
    """Functions the hooks mark for export (global, default visibility, defined)."""
    out = subprocess.run(["readelf", "-Ws", archive], capture_output=True, text=True,
                         check=True).stdout
    names = set()
    for line in out.splitlines():
        f = line.split()
        # Num: Value Size Type Bind Vis Ndx Name
        if len(f) >= 8 and f[3] == "FUNC" and f[4] == "GLOBAL" and f[5] == "DEFAULT" \
                and f[6] != "UND":
            names.add(f[7])
    return names


def cmd_symbols(lib, mapfile, hooks_archive, nm_prog):
    if not nm_prog or not shutil.which(nm_prog):
        skip("nm not found")
    want = map_globals(mapfile)
    check(len(want) > 0, f"no global names found in {mapfile}")
    got = nm(nm_prog, lib, "--defined-only")
    check(got == want, "libweft.so exports exactly the rows of agent/real_list.h",
          f"exported but not a row: {sorted(got - want)}\n"
          f"a row but not exported: {sorted(want - got)}")
    hooks = hook_exports(hooks_archive)
    check(hooks == want, "every hook marked WEFT_EXPORT is a row, and every row is a hook",
          f"hooks without a row: {sorted(hooks - want)}\n"
          f"rows without a hook: {sorted(want - hooks)}")
    undefined = nm(nm_prog, lib, "--undefined-only")
    bad = sorted(undefined & ALLOCATORS)
    check(not bad, "libweft.so references no malloc-family symbol (they would bind to the "
          f"program's allocator): {bad}")


def main():
    cmd, args = command_line(__doc__)
    lib = args[0]
    if cmd == "contract":
        cmd_contract(lib, args[1])
    elif cmd == "alloc":
        cmd_alloc(lib, args[1], args[2] if len(args) > 2 and args[2] else None)
    elif cmd == "own-malloc":
        cmd_own_malloc(lib, args[1])
    elif cmd == "exec":
        compare(lib, "exec-check", [args[1]], want_rc=0).cleanup()
    elif cmd == "shell":
        compare(lib, "shell-check", [args[1]], want_rc=0).cleanup()
    elif cmd == "mutex-malloc":
        cmd_mutex_malloc(lib, args[1])
    elif cmd == "malloc-conf":
        cmd_malloc_conf(lib, args[1], args[2] if len(args) > 2 and args[2] else None)
    elif cmd == "bootstrap":
        cmd_bootstrap(lib, *args[1:5])
    elif cmd == "symbols":
        cmd_symbols(lib, args[1], args[2], args[3] if len(args) > 3 else "nm")
    else:
        print(f"unknown command {cmd}")
        sys.exit(2)
    done()


if __name__ == "__main__":
    main()
