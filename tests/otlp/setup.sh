#!/bin/sh
# Installs the OTLP test receiver's npm dependencies (package-lock.json) into
# tests/otlp/node_modules when they are missing. Exits 77, the test suite's
# "skipped", when node or npm is not installed; 1 when the install fails.
set -u

here=$(cd "$(dirname "$0")" && pwd)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "skipped: the OTLP tests need node and npm (apt-get install nodejs npm)" >&2
    exit 77
fi

installed() {
    [ -f "$here/node_modules/@opentelemetry/otlp-transformer/build/src/generated/root.js" ]
}

installed && exit 0

# Tests run in parallel: one installs, the others wait for it.
lock="${TMPDIR:-/tmp}/weft-otlp-setup.$(id -u).lock"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$lock"
    flock 9
    installed && exit 0
fi

cd "$here" || exit 1
if [ -f package-lock.json ]; then
    set -- ci
else
    set -- install
fi
log=$(mktemp) || exit 1
if ! npm "$@" --no-audit --no-fund --loglevel=error >"$log" 2>&1; then
    echo "tests/otlp/setup.sh: npm $1 failed:" >&2
    cat "$log" >&2
    rm -f "$log"
    exit 1
fi
rm -f "$log"
installed || { echo "tests/otlp/setup.sh: root.js missing after npm $1" >&2; exit 1; }
exit 0
