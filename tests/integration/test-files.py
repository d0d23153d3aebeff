"""The file output and the report as files: where they are created, whose they
may be, how large they grow, and what happens when they cannot be written.

Every failure must either deliver or say on stderr what was lost and why, and
never delay the program.
"""
import os
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import Output, Run, check, done, equal, program  # noqa: E402

P = program("fdplay")
T = program("threads")
UID = os.geteuid()


def weft_lines(stderr):
    return [l for l in stderr.splitlines() if l.startswith("weft:")]


# A process that ends with _exit before anything was exported: _exit exports
# first (its process span, its status), so the file it leaves is not empty.
r = Run([P, "quick-exit"], expect_file=False)
equal(r.rc, 0, "quick-exit: program fine")
equal(len(r.files), 1, "quick-exit: one file")
check(all(os.path.getsize(f) > 0 for f in r.files), "no empty file: _exit exported the process")
if r.files:
    procs = [s for s in r.only().spans if s["name"] == "process"]
    equal([s["attrs"].get("process.exit.code") for s in procs], [0],
          "the process span, with _exit's status")
# A process that dies before anything was exported (SIGKILL: no exit path
# runs) leaves no file at all: the file is made when there is something to write.
r = Run(["/bin/sh", "-c", "kill -9 $$"], expect_file=False)
equal(r.rc, -9, "killed by SIGKILL")
equal(os.listdir(r.dir), [], "no empty file from a process that exported nothing")

# A file name too long for the file system (a long service name): shortened,
# the pid kept, the telemetry written where it was asked for.
d = tempfile.mkdtemp(prefix="weft-long-")
r = Run([T, "nested"], env={"OTEL_SERVICE_NAME": "s" * 300,
                            "WEFT_OUTPUT": os.path.join(d, "weft-%n-%p.jsonl")}, expect_file=False)
files = os.listdir(d)
equal(len(files), 1, f"long name: one file in the asked-for directory {files} {r.stderr!r}")
if files:
    out = Output(os.path.join(d, files[0]))
    pid = out.span("process")["attrs"]["process.pid"]
    check(len(files[0]) <= 255, f"name fits: {len(files[0])} bytes")
    check(files[0].endswith(f"-{pid}.jsonl") and files[0].startswith("weft-sss"),
          f"service shortened, pid kept: {files[0]}")
equal(weft_lines(r.stderr), [], "long name: nothing to say")

# A full disk: said once, with what was lost, and the program is not delayed.
r = Run([T, "nested"], env={"WEFT_OUTPUT": "/dev/full"}, expect_file=False)
equal(r.rc, 0, "/dev/full: program fine")
w = weft_lines(r.stderr)
check(1 <= len(w) <= 2, f"/dev/full: said once (and summed up at the end): {w}")
check(any("No space left on device" in l for l in w), "/dev/full: says why")
check(any("spans" in l and "not written" in l for l in w), "/dev/full: says what was lost")

# A FIFO whose reader stalls: the program's exit is delayed by at most
# WEFT_EXIT_TIMEOUT (1 s), and weft says what it lost.
d = tempfile.mkdtemp(prefix="weft-fifo-")
fifo = os.path.join(d, "out.fifo")
os.mkfifo(fifo, 0o600)
rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
stop = threading.Event()


def slow_reader():
    while not stop.wait(1.0):
        try:
            os.read(rfd, 4096)
        except BlockingIOError:
            pass


th = threading.Thread(target=slow_reader, daemon=True)
th.start()
argv = [T, "many", "400", "0", "poll"]
t0 = time.monotonic()
Run(argv, preload=False, expect_file=False)
native = time.monotonic() - t0
t0 = time.monotonic()
r = Run(argv, env={"WEFT_OUTPUT": fifo, "OTEL_BSP_SCHEDULE_DELAY": "20"}, expect_file=False)
took = time.monotonic() - t0
stop.set()
equal(r.rc, 0, "stalled FIFO: program fine")
check(took < native + 1.8, f"stalled FIFO: took {took:.1f} s, natively {native:.1f} s")
print(f"stalled FIFO: {took:.2f} s under weft, {native:.2f} s natively")
w = weft_lines(r.stderr)
check(any("not written" in l for l in w), f"stalled FIFO: says what was lost: {w}")
check(len(w) <= 2, f"stalled FIFO: said once: {w}")
os.close(rfd)

# Rotation: WEFT_OUTPUT_MAX_SIZE bounds each file; a few backups are kept.
d = tempfile.mkdtemp(prefix="weft-rotate-")
r = Run([P, "churn", "3000"], env={"WEFT_OUTPUT": os.path.join(d, "out.jsonl"),
                                   "WEFT_OUTPUT_MAX_SIZE": "40KB",
                                   "OTEL_BSP_SCHEDULE_DELAY": "5",
                                   "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "64"}, expect_file=False)
files = sorted(os.listdir(d))
equal(files, ["out.jsonl", "out.jsonl.1", "out.jsonl.2", "out.jsonl.3"], "current file and 3 backups")
for f in files:
    size = os.path.getsize(os.path.join(d, f))
    check(size <= 40 * 1000 + 40 * 1024, f"{f} bounded: {size} bytes")
    Output(os.path.join(d, f))  # every line parses
newest = Output(os.path.join(d, "out.jsonl"))
check(any(s["name"] == "process" for s in newest.spans), "the newest file has the process span")
equal(weft_lines(r.stderr), [], "rotation: nothing to say")
# Exact accounting: every span exported is in a kept file or counted as rotated away.
kept = sum(len(Output(os.path.join(d, f)).spans) for f in files)
rotated = newest.value("weft.agent.events.dropped", weft_drop_reason="rotated")
check(rotated > 0, f"rotation deleted spans and counted them: {rotated}")
equal(kept + rotated, newest.value("weft.agent.spans.exported"),
      "kept + rotated == spans exported")

# A file of another user at the output path is refused (even by root): the data
# goes to a private directory, never into their file.
if UID == 0:
    d = tempfile.mkdtemp(prefix="weft-other-")
    os.chmod(d, 0o777)
    theirs = os.path.join(d, "out.jsonl")
    with open(theirs, "w") as f:
        f.write("theirs\n")
    os.chown(theirs, 65534, 65534)
    tmpd = tempfile.mkdtemp(prefix="weft-tmpdir-")
    r = Run([T, "nested"], env={"WEFT_OUTPUT": theirs, "TMPDIR": tmpd, "XDG_RUNTIME_DIR": "",
                                "OTEL_SERVICE_NAME": "other"}, expect_file=False)
    equal(open(theirs).read(), "theirs\n", "another user's file untouched")
    w = weft_lines(r.stderr)
    check(len(w) == 1 and "belongs to another user" in w[0], f"says why and where: {w}")
    private = os.path.join(tmpd, f"weft-{UID}")
    check(os.path.isdir(private) and stat.S_IMODE(os.stat(private).st_mode) == 0o700,
          "fallback directory is 0700")
    fb = os.listdir(private) if os.path.isdir(private) else []
    check(len(fb) == 1 and fb[0].startswith("weft-other-"), f"fallback file there: {fb}")
else:
    print("not root: another user's file not tested")

# The fallback directory is private: one that others can write is refused.
d = tempfile.mkdtemp(prefix="weft-link-")
tmpd = tempfile.mkdtemp(prefix="weft-tmpdir-")
os.mkdir(os.path.join(tmpd, f"weft-{UID}"))
os.chmod(os.path.join(tmpd, f"weft-{UID}"), 0o777)
os.symlink("/nonexistent", os.path.join(d, "out.jsonl"))
r = Run([T, "nested"], env={"WEFT_OUTPUT": os.path.join(d, "out.jsonl"), "TMPDIR": tmpd,
                            "XDG_RUNTIME_DIR": ""}, expect_file=False)
equal(os.listdir(os.path.join(tmpd, f"weft-{UID}")), [], "nothing written in a shared directory")
check(any("no private directory" in l for l in weft_lines(r.stderr)), "says so")

# Reports: %p gives one per process; without %p, every process's report is kept.
d = tempfile.mkdtemp(prefix="weft-reports-")
r = Run([program("forker"), "busy", "4"], env={"WEFT_REPORT": os.path.join(d, "report-%p.txt")})
reports = os.listdir(d)
equal(len(reports), 5, f"one report per process: {reports}")
for f in reports:
    check(open(os.path.join(d, f)).read().count("weft report:") == 1, f"{f}: one report")
    equal(stat.S_IMODE(os.stat(os.path.join(d, f)).st_mode), 0o600, "report mode")
one = os.path.join(d, "all.txt")
r = Run([program("forker"), "busy", "4"], env={"WEFT_REPORT": one})
equal(open(one).read().count("weft report:"), 5, "a shared report path keeps all 5 reports")
done()
