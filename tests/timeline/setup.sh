#!/bin/sh
# Installs the timeline test's npm packages (package-lock.json: an independent
# Trace Event model builder and speedscope, whose importer reads the timeline
# in a headless browser) into tests/timeline/node_modules when they are
# missing (tests/npm-setup.sh: 77 when node or npm is missing, 1 when the
# install fails).
here=$(cd "$(dirname "$0")" && pwd)
exec sh "$here/../npm-setup.sh" "$here" "the timeline test" \
    node_modules/@tracerbench/trace-model/dist/index.js \
    node_modules/speedscope/dist/release/index.html
