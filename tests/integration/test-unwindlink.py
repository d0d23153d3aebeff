"""Cancellation through a hook, with libgcc_s.so.1 not a dependency of libweft.so.

tests/programs/cancelhook.c cancels two threads blocked in pthread_cond_wait.
libweft.so defines the personality routine and _Unwind_Resume that its cleanup
handlers need, hidden, forwarding to libgcc_s's (agent/unwind_link.c):

  - a C program does not have libgcc_s.so.1 at start, natively or under weft
    (libweft.so does not need it: with OTEL_SDK_DISABLED=true nothing loads it);
  - with WEFT_STACKS=off nothing loads it before the first cancellation, so the
    forwarders resolve during the unwind: the program's cleanup handlers run,
    and so do weft's (each cancelled wait is a span ended with ECANCELED);
  - the same with stacks on (resolved at agent init) and with weft disabled.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import LIB, Run, program, check, equal, done  # noqa: E402

ECANCELED = 125
PROG = program("cancelhook")

needed = subprocess.run(["readelf", "-dW", LIB], capture_output=True, text=True).stdout
check("(NEEDED)" in needed, "readelf -d lists libweft.so's NEEDED entries")
check("libgcc_s" not in needed, "libweft.so does not need libgcc_s.so.1")

native = Run([PROG], preload=False, expect_file=False)
equal(native.rc, 0, "natively: exit status")
equal(native.stdout, "libgcc_s_at_start 0\ncleaned 2\n", "natively: stdout")

for name, env in (("stacks off", {"WEFT_STACKS": "off"}), ("stacks on", {})):
    r = Run([PROG], env=dict(env, WEFT_SPAN_MIN_WAIT="0"))
    equal(r.rc, 0, f"{name}: exit status (cancelled, mutex released by the cleanup handler)")
    want = "libgcc_s_at_start %d\ncleaned 2\n" % (0 if "WEFT_STACKS" in env else 1)
    equal(r.stdout, want, f"{name}: stdout")
    out = r.only()
    got = [s["attrs"].get("weft.wait.result") for s in out.spans if s["name"] == "wait cond"]
    equal(got, [ECANCELED, ECANCELED], f"{name}: both cancelled waits ended by weft's cleanup")

off = Run([PROG], env={"OTEL_SDK_DISABLED": "true"}, expect_file=False)
equal(off.rc, 0, "disabled: exit status")
equal(off.stdout, native.stdout, "disabled: stdout as native (libgcc_s not loaded at start)")
done()
