"""weft's own descriptors under a program that handles descriptors carelessly.

A program that closes every descriptor it did not open (close loops, a double
close, close_range, closefrom) and then opens a file must get exactly the
number it gets natively, and its file must receive only its own bytes; weft's
output must survive with every span. A dup2 onto weft's descriptor gives the
program the number and weft moves elsewhere. The program can open exactly as
many descriptors as natively under a soft RLIMIT_NOFILE, with the same numbers,
and exit with all of them open without losing telemetry. weft's messages go to
the stderr the program had when weft started.
(A dup2 left by a jump out of a signal handler: test-sigjump.py.)
"""
import os
import sys
import socket
import subprocess
import time
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import LIB, Run, check, done, equal, program  # noqa: E402

P = program("fdplay")
FAST = {"OTEL_BSP_SCHEDULE_DELAY": "50", "OTEL_METRIC_EXPORT_INTERVAL": "100"}


def kv(stdout):
    return dict(l.split(" ", 1) for l in stdout.splitlines() if " " in l)


def kernel_at_least(major, minor):
    release = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2])
    return release >= (major, minor)


def no_seccomp():
    with open("/proc/self/status") as f:
        return [l.split()[1] for l in f if l.startswith("Seccomp:")] in ([], ["0"])


# Whether weft's exporter gets a descriptor table of its own here (agent/fd.h:
# pidfd_getfd and close_range, from Linux 5.9; no seccomp filter), and whether
# it can still borrow the program's descriptors once main has exited (thread
# pidfds, from 6.9).
OWN_TABLE = kernel_at_least(5, 9) and no_seccomp()
BORROW_AFTER_MAIN = not OWN_TABLE or kernel_at_least(6, 9)

for how in ["close", "double", "close_range", "closefrom"]:
    d = tempfile.mkdtemp(prefix="weft-fds-")
    mine = os.path.join(d, "mine.txt")
    native = Run([P, "closeall", how, mine], env=FAST, preload=False, expect_file=False)
    native_fd = kv(native.stdout).get("fd")
    os.unlink(mine)
    r = Run([P, "closeall", how, mine], env=FAST)
    equal(r.rc, 0, f"{how}: program fine")
    equal(kv(r.stdout).get("fd"), native_fd, f"{how}: the program's open gets the native number")
    if how == "close_range":
        equal(kv(r.stdout).get("close_range"), "0", "close_range reports success")
    equal(open(mine).read(), "program\n", f"{how}: the program's file holds only its bytes")
    if OWN_TABLE:
        # The exporter's table of its own holds weft's file; the program's never did.
        equal(kv(r.stdout).get("before"), None, f"{how}: weft's file is not in the program's table")
        before = kv(r.stdout).get("before-own")
        check(before is not None, f"{how}: weft's file was open in the exporter's table")
        equal(kv(r.stdout).get("after-own"), before, f"{how}: and is still open, on the same number")
    else:
        before = kv(r.stdout).get("before")
        check(before is not None, f"{how}: weft's file was open before the close")
        equal(kv(r.stdout).get("after"), before, f"{how}: and is still open, on the same number")
    out = r.only()
    equal(len(out.named("thread")), 3, f"{how}: every thread span delivered")
    equal(len(out.named("process")), 1, f"{how}: the process span delivered")
    check(len(out.lines) >= 4, f"{how}: weft kept exporting after the close ({len(out.lines)} lines)")
    check("weft:" not in r.stderr, f"{how}: nothing to say: {r.stderr!r}")



def proc_helper_can_run():
    """Whether weft's helper task can run here (agent/fd.h: x86-64 or aarch64,
    no seccomp filter, close_range from Linux 5.9)."""
    return os.uname().machine in ("x86_64", "aarch64") and no_seccomp() and kernel_at_least(5, 9)


# weft's opens once it runs (the modules it symbolises, its allocator's own
# files) never take a number in the program's table: a thread that opens and
# closes without pause while weft exports always gets the same number. (Where
# the helper cannot run, weft opens in the program's table: not checked.)
native = Run([P, "steady", "1000"], preload=False, expect_file=False)
equal(kv(native.stdout).get("moved"), "0", "natively every open gets the first free number")
r = Run([P, "steady", "1000"], env=FAST)
equal(r.rc, 0, "steady: program fine")
if proc_helper_can_run():
    equal(kv(r.stdout).get("moved"), "0", "under weft too, while it exports and symbolises")
else:
    print("weft's helper task cannot run here: the steady check is left out")
check(int(kv(r.stdout).get("opens", "0")) > 1000, f"the opener kept opening: {r.stdout!r}")
out = r.only()
threads = out.named("thread")
equal(len(threads), 52, "steady: every thread span delivered")
equal(sorted(s["attrs"].get("code.function.name") for s in threads),
      ["steady_opener"] + ["work"] * 51,
      "the start routines were symbolised (static functions: from the module's symbol table)")

# dup2 onto weft's descriptors in the program's table (the Prometheus
# output's wake-up descriptor; without a table of its own, the exporter's
# files too): the program gets the number, weft moves.
def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


d = tempfile.mkdtemp(prefix="weft-dup2-")
mine = os.path.join(d, "mine.txt")
r = Run([P, "dup2", mine], env={**FAST, "OTEL_METRICS_EXPORTER": "prometheus",
                                "OTEL_EXPORTER_PROMETHEUS_PORT": str(free_port())})
got = kv(r.stdout)
n = int(got.get("replaced", "0"))
check(n >= 1, f"the program found weft's descriptors: {r.stdout!r}")
check(all(v.split()[0] == v.split()[1] for k, v in got.items() if k == "dup2"), "dup2 returned newfd")
equal(open(mine).read(), "program\n" * n, "the program's file holds only its bytes")
out = r.only()
equal(len(out.named("thread")), 3, "dup2: every thread span delivered after the move")
# The wake-up descriptor is pinned (the program's threads write to its
# number): replaced, it is lost, and weft says so once; nothing else.
said = [l for l in r.stderr.splitlines() if l.startswith("weft:")]
equal(said, ["weft: prometheus: the program took the endpoint's descriptor (dup2); "
             "metrics are no longer served"], "dup2: one line, about the pinned descriptor")

# Descriptor numbers and count under a soft limit: exactly as natively, and
# exiting with every descriptor open loses nothing.
native = Run([P, "fill", "64"], preload=False, expect_file=False)
r = Run([P, "fill", "64"])
equal(kv(r.stdout), kv(native.stdout), "the same count and numbers under ulimit -n 64")
equal(kv(r.stdout).get("opened"), "61", "64 minus the standard streams")
out = r.only()
equal(len(out.named("process")), 1, "every descriptor in use at exit: the process span delivered")
check("weft:" not in r.stderr, f"fill: nothing to say: {r.stderr!r}")

# The same with the soft limit set before the program starts (weft's copy of
# stderr and its output directory are taken with that limit).
sh = ["sh", "-c", f"ulimit -Sn 40 && exec {P} fill 40"]
native = Run(sh, preload=False, expect_file=False)
r = Run(sh)
equal(kv(r.stdout), kv(native.stdout), "the same count and numbers under ulimit -n 40")
equal(kv(r.stdout).get("opened"), "37", "40 minus the standard streams")
check(len(r.by_pid) >= 1 and any(o.named("process") for o in r.by_pid.values()),
      "ulimit -n 40, every descriptor in use at exit: the process span delivered")

# No room above the limit (soft = hard) and every descriptor in use at exit:
# weft cannot deliver, and says once what was lost and why.
r = Run(["sh", "-c", f"ulimit -n 40 && exec {P} fill 40"], expect_file=False)
equal(r.rc, 0, "ulimit -n 40 (hard): program fine")
w = [l for l in r.stderr.splitlines() if l.startswith("weft:")]
check(any("Too many open files" in l for l in w), f"says why: {w}")
check(any("spans" in l and "not written" in l for l in w), f"says what was lost: {w}")
check(len(w) <= 3, f"said once: {w}")

# Messages go to the stderr the program had when weft started (a file: weft
# keeps a copy when the program closes it), not to the file the program later
# opened on descriptor 2.
d = tempfile.mkdtemp(prefix="weft-stderr-")
mine, err = os.path.join(d, "mine.txt"), os.path.join(d, "stderr.txt")
in_file = ["sh", "-c", f'exec "$0" stderr "$1" 2>"$2"', P, mine, err]
r = Run(in_file, env={"WEFT_OUTPUT": "/proc/nonexistent/out.jsonl"}, expect_file=False)
equal(kv(r.stdout).get("fd"), "2", "the program's file got descriptor 2")
equal(open(mine).read(), "program\n", "weft wrote nothing into the program's file")
said = open(err).read()
check("weft: cannot write /proc/nonexistent/out.jsonl" in said,
      f"the message reached the original stderr: {said!r}")
for l in said.splitlines():
    if " instead" in l:
        os.unlink(l.split("to ", 1)[1].split(" instead")[0])

# The console output too writes to the stderr the program had at start.
os.unlink(mine)
r = Run(in_file, env={"OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "console"},
        expect_file=False)
equal(open(mine).read(), "program\n", "console: nothing written into the program's file")
said = open(err).read()
check("weft: span process" in said, f"console: the spans reached the original stderr: {said!r}")

# A stderr that is a pipe is let go of with the program's close: its reader
# gets end-of-file as natively, and weft's messages go nowhere (never into
# the program's file).
os.unlink(mine)
r = Run([P, "stderr", mine], env={"WEFT_OUTPUT": "/proc/nonexistent/out.jsonl"}, expect_file=False)
equal(open(mine).read(), "program\n", "pipe: weft wrote nothing into the program's file")
equal(r.stderr, "", "pipe: nothing written after the program let go of it")
for how in ["close", "close_range", "closefrom"]:
    t0 = time.monotonic()
    p = subprocess.Popen([P, "close-stdio", how], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env={**os.environ, "LD_PRELOAD": LIB, "WEFT_OUTPUT": os.path.join(d, "o-%p.jsonl")})
    got = p.stdout.read()
    took = time.monotonic() - t0
    p.wait()
    equal(got, b"closing\n", f"close-stdio {how}: what the program wrote")
    check(took < 1.5, f"close-stdio {how}: end-of-file when the program let go ({took:.1f} s)")

# Exactly the native count and numbers under a hard limit too (soft = hard:
# no number above the limit to keep anything at).
sh = ["sh", "-c", f"ulimit -n 40 && exec {P} fill 40"]
native = Run(sh, preload=False, expect_file=False)
r = Run(sh, expect_file=False)
equal(kv(r.stdout), kv(native.stdout), "the same count and numbers under a hard ulimit -n 40")
sh = ["sh", "-c", "ulimit -n 4 && exec cat /etc/hostname"]
native = Run(sh, preload=False, expect_file=False)
r = Run(sh, expect_file=False)
equal((r.rc, r.stdout), (native.rc, native.stdout), "cat under ulimit -n 4: as natively")

# A daemon that redirects its standard streams with dup2 lets go of the
# caller's pipes at once, as natively: weft's copy of stderr follows the
# redirection instead of holding the pipe open for the daemon's lifetime.
t0 = time.monotonic()
r = Run([P, "daemon"], expect_file=False)
took = time.monotonic() - t0
check(took < 2.0, f"daemon: the caller got end-of-file at once ({took:.1f} s)")

# main calls pthread_exit, then a thread makes a file its stderr (dup2, as a
# daemon's log) and calls exit(0): weft's report follows stderr there, though
# the main thread weft borrowed the program's descriptors through is gone.
# (Before Linux 6.9, with a table of its own, nothing can be borrowed once
# main has gone: the report goes to the stderr weft had, as the README says.)
d = tempfile.mkdtemp(prefix="weft-mainexit-")
log = os.path.join(d, "log.txt")
r = Run([P, "main-exit-redirect", log], env={"WEFT_REPORT": "stderr"})
equal(r.rc, 0, "main-exit-redirect: program fine")
text = open(log).read()
if BORROW_AFTER_MAIN:
    check(text.startswith("program\n") and "weft report: pid" in text,
          f"main-exit-redirect: the report reached the new stderr: {text[:200]!r}")
    equal(r.stderr, "", "main-exit-redirect: nothing on the stderr the program let go of")
else:
    equal(text, "program\n", "main-exit-redirect: the program's log holds its own line")
    check("weft report: pid" in r.stderr,
          f"main-exit-redirect: the report on the stderr weft had: {r.stderr[:200]!r}")

# A chroot before the first export: the file is opened through the directory
# descriptor taken at start.
d = tempfile.mkdtemp(prefix="weft-chroot-")
jail = tempfile.mkdtemp(prefix="weft-jail-")
r = Run([P, "chroot", jail], env={"WEFT_OUTPUT": os.path.join(d, "out-%p.jsonl")},
        expect_file=False)
if r.rc == 77:
    print("chroot not possible here: skipped", r.stderr)
else:
    equal(r.stdout, "chrooted\n", "the program chrooted")
    files = os.listdir(d)
    equal(len(files), 1, f"the output written outside the chroot: {files} {r.stderr!r}")
    check("weft:" not in r.stderr, f"chroot: nothing to say: {r.stderr!r}")
done()
