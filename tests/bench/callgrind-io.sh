#!/usr/bin/env bash
# Instructions per write+read pair, natively, under weft and under the
# forward-only read/write interposer (libbench-null-preload-io.so), counted
# by callgrind: the noise-free complement to bench-pipe's timings, for its
# three workloads:
#
#   throughput  one 1-byte write into a pipe and the read that takes it out
#               (two threads: the writer's loop and the reader's; valgrind
#               runs one thread at a time, so the reads seldom find the pipe
#               empty: this is the cost of reads and writes that do not block);
#   file        one 4 KiB write and one 4 KiB read on a regular file in
#               /dev/shm (and an lseek every 64 pairs);
#   pingpong    one round trip, two pairs, in which every read blocks until
#               the other thread writes: the cost of reads that block.
#
# Only the workload's own functions are counted (--toggle-collect on the
# loops and everything they call: libc, the preloaded hooks), so start-up,
# exit and weft's exporter thread are not; and the worker runs N and then 2N
# pairs, the difference over N being one pair, so that the per-batch set-up
# (pipes, threads, the scratch file) cancels out. User-space instructions
# only: the system calls' kernel work is the same in every column.
#
# weft runs with WEFT_STACKS=off: the stack of a wait that blocks is kept at
# most once a millisecond per thread, and under valgrind, which runs the
# program some 50 times slower, every blocking read would spend that budget,
# so pingpong's count would be the unwinder's, not the hooks'. (bench-pipe's
# timings include the stacks at their real rate.) WEFT_BENCH_STACKS=on counts
# them anyway.
#
#   tests/bench/callgrind-io.sh [build-dir] [N]
set -euo pipefail
build=${1:-build}
n=${2:-50000}
bench=$build/tests/bench/bench-pipe
null=$build/tests/bench/libbench-null-preload-io.so
command -v valgrind >/dev/null || { echo "callgrind-io: valgrind is not installed" >&2; exit 77; }
[ -x "$bench" ] || { echo "callgrind-io: build $bench first" >&2; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OTEL_TRACES_EXPORTER=none OTEL_METRICS_EXPORTER=none WEFT_STACKS=${WEFT_BENCH_STACKS:-off}

# The functions whose inclusive cost is counted, per workload.
declare -A collect=(
    [throughput]="--toggle-collect=produce --toggle-collect=consume"
    [file]="--toggle-collect=file_pass"
    [pingpong]="--toggle-collect=echo --toggle-collect=serve"
)
declare -A per=(
    [throughput]="write+read pair"
    [file]="write+read pair"
    [pingpong]="round trip (2 writes, 2 blocking reads)"
)

# Instructions of one worker run of workload $2, $3 pairs, with LD_PRELOAD=$1
# ('' natively).
count() {
    local out=$tmp/cg.$RANDOM f
    # shellcheck disable=SC2086 # the toggles are separate words
    valgrind --tool=callgrind --trace-children=yes ${collect[$2]} \
        --callgrind-out-file="$out.%p" \
        env ${1:+LD_PRELOAD=$1} "$bench" --worker "$2" "$3" >/dev/null 2>"$tmp/log" || {
        echo "callgrind-io: $2 failed under ${1:-native}:" >&2
        tail -5 "$tmp/log" >&2
        exit 1
    }
    # The worker is the last process (env execs it).
    # shellcheck disable=SC2012 # callgrind's own file names
    f=$(ls -t "$out".* | head -1)
    awk '/^summary:|^totals:/ {print $2; exit}' "$f"
}

report() {
    local w=$1 label=$2 pre=$3 a b
    a=$(count "$pre" "$w" "$n")
    b=$(count "$pre" "$w" $((2 * n)))
    awk -v w="$w" -v l="$label" -v a="$a" -v b="$b" -v n="$n" -v p="${per[$w]}" \
        'BEGIN {printf "%-10s %-7s %8.1f instructions per %s\n", w, l, (b - a) / n, p}'
}

for w in throughput file pingpong; do
    report $w native ''
    report $w weft "$(realpath "$build/hooks/libweft.so")"
    [ -r "$null" ] && report $w null "$(realpath "$null")"
done
exit 0
