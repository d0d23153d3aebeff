#!/bin/sh
# The OTLP round trip: weft's encoder (encode-sample) against the OpenTelemetry
# JS decoder (check-sample.js). Usage: run-roundtrip.sh ENCODE_SAMPLE
set -u

here=$(cd "$(dirname "$0")" && pwd)
sample=${1:?usage: run-roundtrip.sh ENCODE_SAMPLE}

# The error paths need no node: they run (and may fail) even when the rest skips.
"$sample" --errors || exit 1
sh "$here/../setup.sh" || exit $?

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

"$sample" "$tmp/traces.bin" "$tmp/metrics.bin" || exit 1
node "$here/check-sample.js" "$tmp/traces.bin" "$tmp/metrics.bin" "$sample"
