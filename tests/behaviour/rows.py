#!/usr/bin/env python3
"""A row without a hook, or a hook without a row, fails the build.

The exported names of libweft.so come from the rows of agent/real_list.h (the
version script is preprocessed from them) and every hook names its row through
WEFT_REAL_OR_FAIL. This test builds the two mistakes and requires each to fail,
next to a control that differs only by the mistake and must succeed:

  1. a row without a hook: the hooks archive linked with a version script that
     has one more row fails (--no-undefined-version), and links without it;
  2. a hook without a row: a hook using WEFT_REAL_OR_FAIL does not compile
     without its row, and compiles with it.

(A hook marked WEFT_EXPORT that names no row at all is caught by the symbols
test, which compares the hooks' exported definitions with the rows.)

    rows.py SOURCE_ROOT HOOKS_ARCHIVE CC [CC ARGS...]
"""
import os
import subprocess
import sys
import tempfile

checks = failures = 0


def check(cond, what, detail=""):
    global checks, failures
    checks += 1
    if not cond:
        failures += 1
        print(f"FAIL: {what}\n{detail}")


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def main():
    root, archive, cc = sys.argv[1], sys.argv[2], sys.argv[3:]
    extra_row = "-DWEFT_EXTRA_ROWS(X)=X(weft_probe_hook, RET, NULL, NULL)"
    with tempfile.TemporaryDirectory() as tmp:
        def map_from(defs, name):
            out = os.path.join(tmp, name)
            r = run(cc + ["-E", "-P", "-x", "c", "-I", root] + defs +
                    [os.path.join(root, "hooks", "libweft.map.in"), "-o", out])
            check(r.returncode == 0, f"preprocessing {name}", r.stderr)
            return out

        def link(mapfile):
            return run(cc + ["-shared", "-o", os.path.join(tmp, "probe.so"),
                             "-Wl,--whole-archive", archive, "-Wl,--no-whole-archive",
                             "-Wl,--version-script=" + mapfile, "-Wl,--no-undefined-version"])

        r = link(map_from([], "good.map"))
        check(r.returncode == 0, "control: the hooks link with the rows' version script", r.stderr)
        r = link(map_from([extra_row], "extra.map"))
        check(r.returncode != 0, "a row without a hook fails the link")
        check("weft_probe_hook" in r.stderr, "the link error names the row", r.stderr)

        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            # Declared first, as libc's headers declare what the rows name.
            f.write("int weft_probe_hook(void);\n"
                    '#include "hooks/hook.h"\n'
                    "WEFT_EXPORT int weft_probe_hook(void)\n"
                    "{\n\tWEFT_REAL_OR_FAIL(weft_probe_hook);\n\treturn real();\n}\n")
        base = cc + ["-c", "-D_GNU_SOURCE", "-I", root, "-o", os.path.join(tmp, "probe.o"), src]
        r = run(base + [extra_row])
        check(r.returncode == 0, "control: a hook with its row compiles", r.stderr)
        r = run(base)
        check(r.returncode != 0, "a hook without a row does not compile")
        check("weft_probe_hook" in r.stderr, "the compile error names the hook", r.stderr)
    print(f"{checks - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
