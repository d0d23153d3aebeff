#!/bin/sh
# Installs a test directory's npm packages (its package.json and
# package-lock.json) into DIR/node_modules when any of the files that show
# them installed is missing; parallel tests wait for the one that installs.
# Exits 77, the test suite's "skipped", when node or npm is not installed;
# 1 when the install fails.
#
#     npm-setup.sh DIR WHAT FILE...
#
# WHAT names the tests in messages ("the OTLP tests"); each FILE is a path
# relative to DIR that the install must leave.
set -u
dir=$(cd "$1" && pwd) || exit 1
what=$2
shift 2

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "skipped: $what need node and npm (apt-get install nodejs npm)" >&2
    exit 77
fi

installed() {
    for f in "$@"; do
        [ -f "$dir/$f" ] || return 1
    done
}

installed "$@" && exit 0

lock="${TMPDIR:-/tmp}/weft-npm-setup.$(id -u).$(basename "$dir").lock"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$lock"
    flock 9
    installed "$@" && exit 0
fi

cd "$dir" || exit 1
if [ -f package-lock.json ]; then
    how=ci
else
    how=install
fi
log=$(mktemp) || exit 1
if ! npm "$how" --no-audit --no-fund --loglevel=error >"$log" 2>&1; then
    echo "tests/$(basename "$dir")/setup.sh: npm $how failed:" >&2
    cat "$log" >&2
    rm -f "$log"
    exit 1
fi
rm -f "$log"
installed "$@" || { echo "tests/$(basename "$dir")/setup.sh: packages missing after npm $how" >&2; exit 1; }
exit 0
