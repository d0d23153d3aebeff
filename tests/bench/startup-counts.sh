#!/usr/bin/env bash
# What one process start costs, in counts that do not depend on the
# machine's load: instructions (callgrind, user space, the whole process:
# loading, constructors, main, exit), page faults (perf, or the process's
# own ru_minflt when perf cannot count) and system calls (strace). A trivial
# program (bench-startup --child: main returns 0) natively, under weft with
# OTEL_SDK_DISABLED=true (libweft.so loaded, no work) and under weft with
# the default file output; then the same for a forked child (forkfaults:
# a parent with two threads forks children that exit at once), counting the
# child alone. Beside them the floor: a preload that only writes, as the
# process ends, the file weft writes for it (libbench-floor-preload.so).
#
# Why counts: on the development VM a page fault costs 13-16 us and a
# system call about 1 us (a trivial process's 51 faults are most of its
# 2.5 ms), so wall-clock start-up times swing with the load while these do
# not. bench-startup and bench-fork give the times.
#
#   tests/bench/startup-counts.sh [build-dir]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
lib=$build/hooks/libweft.so
floor=$build/tests/bench/libbench-floor-preload.so
prog=$build/tests/bench/bench-startup
for tool in valgrind strace; do
    command -v $tool >/dev/null || { echo "startup-counts: $tool is not installed" >&2; exit 77; }
done
[ -x "$prog" ] || { echo "startup-counts: build $prog first" >&2; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
unset OTEL_TRACES_EXPORTER OTEL_METRICS_EXPORTER OTEL_EXPORTER_OTLP_ENDPOINT WEFT_OUTPUT
export WEFT_OUTPUT="$tmp/out-%p.jsonl"

mode_env() {
    case $1 in
    native) echo "WEFT_NONE=1" ;;
    disabled) echo "LD_PRELOAD=$lib OTEL_SDK_DISABLED=true" ;;
    weft) echo "LD_PRELOAD=$lib" ;;
    floor) echo "LD_PRELOAD=$floor" ;;
    esac
}

instructions() {
    env $(mode_env "$1") valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" \
        "$prog" --child 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p' | tail -1
}

faults() {
    if perf stat -e page-faults true >/dev/null 2>&1; then
        env $(mode_env "$1") perf stat -x, -e page-faults "$prog" --child 2>&1 >/dev/null |
            awk -F, '/page-faults/ { print $1 }'
    else
        echo "?"
    fi
}

syscalls() {
    env $(mode_env "$1") strace -f -c -o "$tmp/st" "$prog" --child >/dev/null 2>&1
    awk '$NF == "total" { print $(NF-2) }' "$tmp/st"
}

modes=(native disabled weft)
[ -r "$floor" ] && modes+=(floor)
printf '%-34s' "process start+exit"
printf ' %12s' "${modes[@]}"
echo
for what in instructions faults syscalls; do
    printf '%-34s' "  $what"
    for mode in "${modes[@]}"; do
        printf ' %12s' "$($what $mode)"
    done
    echo
done

# A forked child of a process with no other thread: its page faults from fork
# to the end of exit (the parent's RUSAGE_CHILDREN), median of 21.
forkfaults=$build/tests/programs/forkfaults
if [ -x "$forkfaults" ]; then
    printf '%-34s' "forked child, fork to end: faults"
    for mode in "${modes[@]}"; do
        printf ' %12s' "$(env $(mode_env $mode) "$forkfaults" 21 exit)"
    done
    echo
fi
