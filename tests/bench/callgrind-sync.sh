#!/usr/bin/env bash
# Instructions per uncontended mutex lock+unlock pair, natively and under weft
# (and LTTng-UST's pthread wrapper when installed), counted by callgrind: a
# noise-free complement to bench-sync's timings. The worker runs N and 2N
# pairs; the difference of the two totals over N is the cost of one pair
# (start-up, exit and the exporter thread's fixed work cancel out).
#
#   tests/bench/callgrind-sync.sh [build-dir] [N]
set -euo pipefail
build=${1:-build}
n=${2:-100000}
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
        env ${1:+LD_PRELOAD=$1} "$bench" --worker uncontended "$2" >/dev/null 2>"$tmp/log"
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
        'BEGIN {printf "%-7s %.1f instructions per lock+unlock pair\n", l, (b - a) / n}'
}

report native ''
report weft "$(realpath "$build/hooks/libweft.so")"
[ -r "$lttng" ] && report lttng "$lttng"
exit 0
