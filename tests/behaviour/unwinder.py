"""weft never puts another unwinder in front of libgcc's: the unwinder tests.

libweft.so used to depend on libunwind.so.8, whose unversioned _Unwind_*
functions then answered for libgcc's in the whole program. These checks fail
when that happens again:

    unwinder.py guard    LIBWEFT CXX_GUARD_MAIN LIBCXXGUARD
        a C program dlopen()s a C++ library whose thread holds a
        std::lock_guard when it calls pthread_exit and when it is cancelled:
        the mutex must be released (native, weft and disabled runs alike);
    unwinder.py throw    LIBWEFT CXX_THROW
        a C++ program linked with -static-libgcc throws through frames with
        destructors and catches, on the main thread and on a second one;
    unwinder.py valgrind LIBWEFT CANCEL_UNWIND VALGRIND
        memcheck reports no error in a forced unwind (pthread_cancel) under
        weft;
    unwinder.py linkage  LIBWEFT READELF NM
        libweft.so needs no libunwind and defines no _Unwind_* symbol.

Uses behaviour.py's native / weft / disabled comparison.
"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import behaviour  # noqa: E402
from behaviour import Run, check, compare, done, skip  # noqa: E402


def cmd_guard(lib, main, libso):
    compare(lib, "cxx-guard", [main, libso], want_rc=0, timeout=30)


def cmd_throw(lib, prog):
    compare(lib, "cxx-throw", [prog], want_rc=0, timeout=30)


def cmd_valgrind(lib, prog, valgrind):
    if not valgrind or not shutil.which(valgrind):
        skip("valgrind not found")
    argv = [valgrind, "-q", "--error-exitcode=99", prog]
    native = Run(lib, argv, "native", timeout=300)
    check(native.rc == 0, f"valgrind: natively, exit status {native.rc}", native.stderr[-3000:])
    weft = Run(lib, argv, "weft", timeout=300)
    check(weft.rc == 0, f"valgrind: memcheck found errors in a forced unwind under weft "
          f"(exit status {weft.rc})", weft.stderr[-6000:])
    check(weft.stdout == native.stdout, "valgrind: stdout under weft differs from native",
          behaviour.diff(native.stdout, weft.stdout, "native", "weft"))
    native.cleanup()
    weft.cleanup()


def cmd_linkage(lib, readelf, nm):
    if not readelf or not nm:
        skip("binutils not found")
    dyn = subprocess.run([readelf, "-dW", lib], capture_output=True, text=True,
                         check=True).stdout
    needed = [line.split("[")[-1].rstrip("]") for line in dyn.splitlines() if "(NEEDED)" in line]
    check(not any("unwind" in n for n in needed),
          f"libweft.so needs no libunwind (NEEDED: {needed})")
    out = subprocess.run([nm, "-D", "--defined-only", lib], capture_output=True, text=True,
                         check=True).stdout
    unwind = [line.split()[-1] for line in out.splitlines() if "_Unwind_" in line]
    check(not unwind, f"libweft.so defines no _Unwind_* symbol: {unwind}")
    check(len(out.splitlines()) > 0, "nm -D --defined-only listed libweft.so's exports")


def main():
    cmd, args = behaviour.command_line(__doc__)
    lib = args[0]
    if cmd == "guard":
        cmd_guard(lib, args[1], args[2])
    elif cmd == "throw":
        cmd_throw(lib, args[1])
    elif cmd == "valgrind":
        cmd_valgrind(lib, args[1], args[2] if len(args) > 2 else "")
    elif cmd == "linkage":
        cmd_linkage(lib, args[1], args[2])
    else:
        print(f"unknown command {cmd}")
        sys.exit(2)
    done()


if __name__ == "__main__":
    main()
