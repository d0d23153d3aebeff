# shellcheck shell=bash
# Helpers shared by the real-program benchmarks (real-programs.sh,
# real-programs-io.sh); sourced, not run. Each script runs its workloads
# natively and under weft, interleaved, and compares medians.

# The Debian package list and check that scripts/deps.sh keeps (deps_missing).
# shellcheck source=../../scripts/deps.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/deps.sh"

# bench_weft_lib BUILD: the absolute path of BUILD's libweft.so, or exit 77.
bench_weft_lib() {
    local lib
    lib=$(realpath "$1/hooks/libweft.so" 2>/dev/null || true)
    [ -r "$lib" ] || { echo "$(basename "$0"): build $1/hooks/libweft.so first" >&2; exit 77; }
    echo "$lib"
}

# bench_need_packages PACKAGE...: installs the missing ones with apt-get when
# run as root; otherwise names them and exits 77 (skipped).
bench_need_packages() {
    local missing
    missing=$(deps_missing "$@" | tr '\n' ' ')
    [ -z "${missing// /}" ] && return 0
    if [ "$(id -u)" = 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        # shellcheck disable=SC2086 # one word per package
        apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >&2
    else
        echo "$(basename "$0"): install these Debian packages first: sudo apt-get install -y $missing" >&2
        exit 77
    fi
}

# bench_scratch: makes a scratch directory, enters it and removes it on exit
# (weft's default outputs land there). WEFT_BENCH_OUTPUT=none turns weft's
# outputs off instead.
bench_scratch() {
    bench_scratch_dir=$(mktemp -d /tmp/weft-real-XXXXXX)
    trap 'rm -rf "$bench_scratch_dir"' EXIT
    cd "$bench_scratch_dir" || exit 1
    if [ "${WEFT_BENCH_OUTPUT:-}" = none ]; then
        export OTEL_TRACES_EXPORTER=none OTEL_METRICS_EXPORTER=none
    fi
}

# bench_pin: with WEFT_BENCH_CPUS set (a taskset list, e.g. 0), every
# command of the script runs on those CPUs only (the script's own affinity,
# which its children inherit). On the 2-core VM, a program's threads placed
# on one core or on two change its times by up to 2x from run to run,
# natively as much as under weft; pinned, that placement is the same in
# every run. weft's exporter thread shares the same CPUs: its work is in
# the times.
bench_pin() {
    [ -n "${WEFT_BENCH_CPUS:-}" ] || return 0
    taskset -pc "$WEFT_BENCH_CPUS" $$ > /dev/null
    echo "pinned to CPUs $WEFT_BENCH_CPUS (WEFT_BENCH_CPUS)"
}

# Numbers on stdin, one a line: "median min max".
median_range() {
    sort -n | awk '{v[NR] = $1} END {printf "%.3f %.3f %.3f\n", v[int((NR + 1) / 2)], v[1], v[NR]}'
}

# bench_rates_summary NAME...: for each NAME, the median and range of the
# rates (higher is better) that lines "NAME VALUE" of rates.CONFIG hold, for
# every configuration in ${configs[@]} (the first is native), and each other
# configuration's throughput relative to native (its median over native's:
# the target is >= 0.97).
# shellcheck disable=SC2154 # configs is the calling script's
bench_rates_summary() {
    local s c nmed nmin nmax med min max
    for s in "$@"; do
        read -r nmed nmin nmax < <(awk -v s="$s" '$1 == s {print $2}' "rates.${configs[0]}" | median_range)
        printf '    %-14s %-6s %12.1f (%.1f-%.1f)\n' "$s" "${configs[0]}" "$nmed" "$nmin" "$nmax"
        for c in "${configs[@]:1}"; do
            read -r med min max < <(awk -v s="$s" '$1 == s {print $2}' "rates.$c" | median_range)
            awk -v s="$s" -v c="$c" -v m="$med" -v lo="$min" -v hi="$max" -v n="$nmed" 'BEGIN {
                r = m / n
                printf "    %-14s %-6s %12.1f (%.1f-%.1f)  throughput %.3f of native%s\n", s, c, m, lo, hi, r,
                    (c == "weft" ? (r >= 0.97 ? "  (target >= 0.97)" : "  (target >= 0.97, MISSED)") : "")}'
        done
    done
}
