#!/bin/sh
# Installs the OTLP test receiver's npm dependencies (package-lock.json) into
# tests/otlp/node_modules when they are missing (tests/npm-setup.sh: 77 when
# node or npm is missing, 1 when the install fails).
here=$(cd "$(dirname "$0")" && pwd)
exec sh "$here/../npm-setup.sh" "$here" "the OTLP tests" \
    node_modules/@opentelemetry/otlp-transformer/build/src/generated/root.js
