#!/usr/bin/env bash
# Instructions per operation of a bench-sync workload (an uncontended mutex
# lock+unlock pair, or a condvar ping-pong's round trip), natively and under
# weft (and LTTng-UST's pthread wrapper when installed), counted by
# callgrind: a noise-free complement to bench-sync's timings. The worker
# runs N and 2N operations; the difference of the two totals over N is the
# cost of one (start-up, exit and the exporter thread's fixed work cancel
# out; its work per event does not: callgrind runs one thread at a time,
# so the exporter's share is counted as it would be on one CPU). OTHER, a
# second libweft.so (an earlier build), gets a row of its own.
#
#   tests/bench/callgrind-sync.sh [build-dir] [N] [uncontended|pingpong] [OTHER.so]
set -euo pipefail
build=${1:-build}
n=${2:-100000}
workload=${3:-uncontended}
other=${4:-}
case $workload in
uncontended) unit="lock+unlock pair" ;;
pingpong) unit="round trip" ;;
*) echo "callgrind-sync: no workload $workload" >&2; exit 2 ;;
esac
bench=$build/tests/bench/bench-sync
command -v valgrind >/dev/null || { echo "callgrind-sync: valgrind is not installed" >&2; exit 77; }
[ -x "$bench" ] || { echo "callgrind-sync: build $bench first" >&2; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OTEL_TRACES_EXPORTER=none OTEL_METRICS_EXPORTER=none
lttng=$(dirname "$(ldd "$bench" | awk '/libc.so.6/ {print $3}')")/liblttng-ust-pthread-wrapper.so.1

# Total instructions of one worker run of $2 pairs with LD_PRELOAD=$1 ('' natively).
count() {
    local out=$tmp/cg.$RANDOM
    valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$out.%p" \
        env ${1:+LD_PRELOAD=$1} "$bench" --worker "$workload" "$2" >/dev/null 2>"$tmp/log"
    # The worker is the last process (env execs it): sum its parts.
    local f
    f=$(ls -t "$out".* | head -1)
    awk '/^summary:|^totals:/ {print $2; exit}' "$f"
}

report() {
    local a b
    a=$(count "$2" "$n")
    b=$(count "$2" $((2 * n)))
    awk -v l="$1" -v a="$a" -v b="$b" -v n="$n" \
        -v u="$unit" 'BEGIN {printf "%-7s %.1f instructions per %s\n", l, (b - a) / n, u}'
}

report native ''
report weft "$(realpath "$build/hooks/libweft.so")"
[ -n "$other" ] && report other "$(realpath "$other")"
[ -r "$lttng" ] && report lttng "$lttng"
exit 0
