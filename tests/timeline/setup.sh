#!/bin/sh
# Installs the timeline test's npm packages (package-lock.json: an independent
# Trace Event model builder and speedscope, whose importer reads the timeline
# in a headless browser) into tests/timeline/node_modules when they are
# missing. Exits 77, the test suite's "skipped", when node or npm is not
# installed; 1 when the install fails.
set -u

here=$(cd "$(dirname "$0")" && pwd)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "skipped: the timeline test needs node and npm (apt-get install nodejs npm)" >&2
    exit 77
fi

installed() {
    [ -f "$here/node_modules/@tracerbench/trace-model/dist/index.js" ] &&
        [ -f "$here/node_modules/speedscope/dist/release/index.html" ]
}

installed && exit 0

lock="${TMPDIR:-/tmp}/weft-timeline-setup.$(id -u).lock"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$lock"
    flock 9
    installed && exit 0
fi

cd "$here" || exit 1
log=$(mktemp) || exit 1
if ! npm ci --no-audit --no-fund --loglevel=error >"$log" 2>&1; then
    echo "tests/timeline/setup.sh: npm ci failed:" >&2
    cat "$log" >&2
    rm -f "$log"
    exit 1
fi
rm -f "$log"
installed || { echo "tests/timeline/setup.sh: packages missing after npm ci" >&2; exit 1; }
exit 0
