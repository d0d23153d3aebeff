"""Cancellation through a hook, with libgcc_s.so.1 not a dependency of libweft.so.

tests/programs/cancelhook.c cancels two threads blocked in pthread_cond_wait.
libweft.so defines the personality routine and _Unwind_Resume that its cleanup
handlers need, hidden, forwarding to libgcc_s's (agent/unwind_link.c):

  - a C program does not have libgcc_s.so.1 at start, natively or under weft,
    enabled or not (libweft.so does not need it, and its stack capture uses a
    private copy of libgcc's unwinder);
  - nothing loads it before the first cancellation, so the forwarders resolve
    during the unwind: the program's cleanup handlers run, and so do weft's
    (each cancelled wait is a span ended with ECANCELED), with stacks on and
    off, and with weft disabled.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import Run, program, check, equal, done  # noqa: E402

ECANCELED = 125
PROG = program("cancelhook")

native = Run([PROG], preload=False, expect_file=False)
equal(native.rc, 0, "natively: exit status")
equal(native.stdout, "libgcc_s_at_start 0\ncleaned 2\n", "natively: stdout")

for name, env in (("stacks off", {"WEFT_STACKS": "off"}), ("stacks on", {})):
    r = Run([PROG], env=dict(env, WEFT_SPAN_MIN_WAIT="0"))
    equal(r.rc, 0, f"{name}: exit status (cancelled, mutex released by the cleanup handler)")
    equal(r.stdout, native.stdout, f"{name}: stdout as native (libgcc_s not loaded at start)")
    out = r.only()
    got = [s["attrs"].get("weft.wait.result") for s in out.spans if s["name"] == "wait cond"]
    equal(got, [ECANCELED, ECANCELED], f"{name}: both cancelled waits ended by weft's cleanup")

off = Run([PROG], env={"OTEL_SDK_DISABLED": "true"}, expect_file=False)
equal(off.rc, 0, "disabled: exit status")
equal(off.stdout, native.stdout, "disabled: stdout as native (libgcc_s not loaded at start)")
done()
