#!/usr/bin/env bash
# Real programs natively and under weft: sysbench mutex, sysbench threads,
# stress-ng --mutex 2 --sem 2 --futex 2 for a fixed op count, its mutex
# stressor alone (stress_ng_mutex), and pigz -p 2 on a 200 MB file (its output must be byte-identical). Each workload runs
# ROUNDS times natively and under weft, interleaved (the order alternates
# every round), and prints the median and range of the wall-clock time and
# of the CPU time (user + system: steadier on a shared machine) of each, and
# the throughput ratio (native time / weft time: 1.00 is native, the target
# is >= 0.97). With LTTng-UST's pthread wrapper installed and
# WEFT_BENCH_LTTNG unset or a path, an `lttng` column runs it too
# (WEFT_BENCH_LTTNG=none skips it). WEFT_BENCH_ONLY picks workloads.
#
#   tests/bench/real-programs.sh [build-dir] [rounds]
#
# weft runs with its defaults (file output and report into a scratch
# directory), as a user would; WEFT_BENCH_OUTPUT=none turns its outputs off.
# WEFT_BENCH_CPUS=0 runs everything on CPU 0 (real-programs-lib.sh: bench_pin).
# stress-ng's stressors are compared by their own rates: bogo ops per second
# of real time and per CPU second (user + system: `NAME/cpu-s`), the steadier.
# Packages (sysbench, stress-ng, pigz) are installed with apt-get when run as
# root; otherwise the script names them and exits 77.
set -euo pipefail
# shellcheck source=real-programs-lib.sh
. "$(dirname "$0")/real-programs-lib.sh"
build=${1:-build}
rounds=${2:-5}
lib=$(bench_weft_lib "$build")
bench_need_packages sysbench stress-ng pigz
bench_scratch
bench_pin

configs=(native weft)
lttng=$(dirname "$(ldd "$(command -v pigz)" | awk '/libc.so.6/ {print $3}')")/liblttng-ust-pthread-wrapper.so.1
case ${WEFT_BENCH_LTTNG:-} in
none) lttng= ;;
'') ;;
*) lttng=$WEFT_BENCH_LTTNG ;;
esac
[ -n "$lttng" ] && [ -r "$lttng" ] && configs+=(lttng) || lttng=

preload_of() {
    case $1 in
    native) echo "" ;;
    weft) echo "$lib" ;;
    lttng) echo "$lttng" ;;
    esac
}

# The 200 MB input: base64 of pseudo-random bytes (compresses to about 3/4),
# the same bytes on every run of this script.
make_input() {
    head -c 150000000 < <(yes "weft real-programs pigz input" | openssl enc -aes-128-ctr \
        -pass pass:weft -nosalt -pbkdf2 2>/dev/null) | base64 -w 76 > input
    # Without openssl, a deterministic mix from awk.
    if [ ! -s input ]; then
        awk 'BEGIN {srand(7); for (i = 0; i < 2700000; i++) printf "%d %x %s\n", i, rand() * 2^31, (rand() < 0.5 ? "weft" : "pigz")}' > input
    fi
    ls -l input | awk '{printf "pigz input: %d bytes\n", $5}'
}

# Each workload: a command line; its output goes to $out (pigz: compared).
run_sysbench_mutex() {
    sysbench mutex --threads=2 --mutex-num=1024 --mutex-locks=10000000 --mutex-loops=100 \
        --time=0 run > "$1"
}
run_sysbench_threads() {
    sysbench threads --threads=2 --thread-yields=100 --thread-locks=4 --events=4000 --time=0 \
        run > "$1"
}
# The sem stressor of stress-ng 0.15 does not stop at --sem-ops (its workers
# stay blocked in sem_wait once the count is reached, until --timeout): it
# runs for the timeout, the other two for their op counts, and each
# stressor's own "bogo ops/s (real time)" is compared as well as the times.
run_stress_ng() {
    # In a session of its own: at its end stress-ng signals its whole process
    # group, which would otherwise include this script. Its mutex stressor
    # often fails to start its threads here ("could not create any
    # pthreads", exit 3: in about one native run in three on the development
    # machine): such a run is run again, up to 8 tries, and the repeats are
    # counted and printed.
    local try
    for try in 1 2 3 4 5 6 7 8; do
        setsid -w stress-ng --mutex 2 --mutex-ops 200000 --sem 2 --futex 2 --futex-ops 20000 \
            --metrics-brief --timeout 4 > "$1" 2>&1 && return 0
        echo "$1" >> retries
    done
    return 1
}
# The mutex stressor alone, for its fixed op count (2 workers, 200,000 ops
# each): wall-clock and CPU times as for the other programs, and its rate.
run_stress_ng_mutex() {
    local try
    for try in 1 2 3 4 5 6 7 8; do
        setsid -w stress-ng --mutex 2 --mutex-ops 200000 --metrics-brief --timeout 60 \
            > "$1" 2>&1 && return 0
        echo "$1" >> retries
    done
    return 1
}
run_pigz() {
    pigz -p 2 -c input > "$1"
}
workloads=(sysbench_mutex sysbench_threads stress_ng stress_ng_mutex pigz)
# WEFT_BENCH_ONLY="sysbench_threads pigz" runs only those.
[ -n "${WEFT_BENCH_ONLY:-}" ] && read -r -a workloads <<<"$WEFT_BENCH_ONLY"
declare -A label=(
    [sysbench_mutex]="sysbench mutex --threads=2 --mutex-num=1024 --mutex-locks=10000000 --mutex-loops=100"
    [sysbench_threads]="sysbench threads --threads=2 --thread-yields=100 --thread-locks=4 --events=4000"
    [stress_ng]="stress-ng --mutex 2 --mutex-ops 200000 --sem 2 --futex 2 --futex-ops 20000 --metrics-brief --timeout 4"
    [stress_ng_mutex]="stress-ng --mutex 2 --mutex-ops 200000 --metrics-brief"
    [pigz]="pigz -p 2 -c on 200 MB"
)

# One run of workload $1 under config $2: its wall-clock and CPU seconds
# (user + system, the program's and its children's).
one_run() {
    local w=$1 c=$2 pre TIMEFORMAT='%R %U %S'
    pre=$(preload_of "$c")
    {
        if [ -n "$pre" ]; then
            time LD_PRELOAD=$pre "run_$w" "out.$c" 2>/dev/null
        else
            time "run_$w" "out.$c" 2>/dev/null
        fi
    } 2>&1 | awk '{printf "%.3f %.3f\n", $1, $2 + $3}'
}

# Prints "label median min max" of column $2 of the runs in $1, with the
# throughput ratio against the native median $3 (native time / this time).
summary() {
    local c=$1 col=$2 nmed=${3:-} med min max
    read -r med min max < <(awk -v k="$col" '{print $k}' "times.$c" | median_range)
    if [ -z "$nmed" ]; then
        printf '%.3f' "$med" > "median.$col"
        printf '    %-7s median %8.3f s  range %.3f-%.3f\n' "$c" "$med" "$min" "$max"
    else
        awk -v c="$c" -v m="$med" -v lo="$min" -v hi="$max" -v n="$nmed" -v t="$col" 'BEGIN {
            r = n / m
            printf "    %-7s median %8.3f s  range %.3f-%.3f  throughput %.3f of native%s\n",
                c, m, lo, hi, r, (c == "weft" ? (r >= 0.97 ? "  (target >= 0.97)" : "  (target >= 0.97, MISSED)") : "")}'
    fi
}

[[ " ${workloads[*]} " == *" pigz "* ]] && make_input
status=0
for w in "${workloads[@]}"; do
    for c in "${configs[@]}"; do : > "times.$c"; done
    for ((i = 0; i < rounds; i++)); do
        n=${#configs[@]}
        for ((j = 0; j < n; j++)); do
            c=${configs[$(((i + j) % n))]}
            if ! one_run "$w" "$c" >> "times.$c"; then
                echo "real-programs: $w failed under $c; its output ends:" >&2
                tail -5 "out.$c" >&2
                exit 1
            fi
            if [ "$w" = stress_ng ] || [ "$w" = stress_ng_mutex ]; then
                awk '$4 ~ /^(mutex|sem|futex)$/ && NF == 10 {print $4, $9; print $4 "/cpu-s", $10}' \
                    "out.$c" >> "rates.$c"
            fi
            if [ "$w" = pigz ] && [ "$c" != native ] && [ -e out.native ] &&
                ! cmp -s out.native "out.$c"; then
                echo "real-programs: pigz output under $c differs from native" >&2
                status=1
            fi
        done
    done
    echo "${label[$w]} ($rounds rounds):"
    # stress-ng's times include the runs repeated after its start-up failures:
    # its own per-stressor rates (below) are the figures.
    [ "$w" = stress_ng ] && cols= || cols="1 2"
    for col in $cols; do
        [ $col = 1 ] && echo "  wall-clock:" || echo "  CPU time (user + system):"
        for c in "${configs[@]}"; do
            if [ "$c" = native ]; then
                summary "$c" $col
            else
                summary "$c" $col "$(cat "median.$col")"
            fi
        done
    done
    if [ "$w" = stress_ng ] || [ "$w" = stress_ng_mutex ]; then
        echo "  each stressor's bogo ops/s (real time; /cpu-s: per CPU second), median and range:"
        # shellcheck disable=SC2046 # one word per stressor that ran
        bench_rates_summary $(awk '{print $1}' rates.native | sort -u)
        for c in "${configs[@]}"; do : > "rates.$c"; done
    fi
    if [[ $w == stress_ng* ]] && [ -s retries ]; then
        echo "  runs repeated after stress-ng's own start-up failure: $(sort retries | uniq -c | tr -s ' ' | tr '\n' ';')"
        : > retries
    fi
    if [ "$w" = pigz ] && [ $status = 0 ]; then
        echo "  pigz output byte-identical under ${configs[*]:1} ($(stat -c %s out.native) bytes)"
    fi
done
exit $status
