#!/usr/bin/env bash
# Real programs whose threads talk through pipes, eventfds and sockets,
# natively and under weft (issue 9):
#
#   memcached  `memcached -t 2` (a listener thread hands each new connection
#              to a worker through a pipe; the workers serve their sockets
#              from libevent's epoll loop) under memcaslap (libmemcached-
#              tools' memaslap: Debian 12 ships it as memcaslap, beside the
#              older memcslap), a fixed number of get/set operations from
#              2 client threads over 16 connections; memcached alone is
#              preloaded, the load generator runs natively. Compared:
#              memcaslap's transactions per second (tps) and operations per
#              second of memcached's own CPU time (ops/cpu-s: user + system,
#              read from /proc before it ends; steadier on a shared machine).
#   redis      `redis-server` (one event-loop thread serving its clients'
#              sockets through epoll) under `redis-benchmark -q -t set,get
#              -n 200000` (issue 10's real program); redis-server alone is
#              preloaded. Compared: requests per second of SET and GET, and
#              requests per second of redis-server's own CPU time.
#   stress_ng  `stress-ng --pipe 2 --eventfd 2 --metrics-brief` with a fixed
#              op count per stressor (each stressor is a parent and a child
#              process writing to and reading from a pipe or an eventfd).
#              Compared: each stressor's bogo ops/s by real time (pipe,
#              eventfd) and by its processes' CPU time (pipe/cpu-s,
#              eventfd/cpu-s: user + system).
#
# Each workload runs ROUNDS times natively and under weft, interleaved (the
# order alternates every round); printed: median and range of each rate and
# weft's throughput relative to native (its median over native's: 1.00 is
# native, the target is >= 0.97). WEFT_BENCH_ONLY picks workloads;
# WEFT_BENCH_OTHER=path/to/another/libweft.so runs it too, as `other`.
#
#   tests/bench/real-programs-io.sh [build-dir] [rounds]
#
# weft runs with its defaults (file output into a scratch directory), as a
# user would; WEFT_BENCH_OUTPUT=none turns its outputs off. Packages
# (memcached, libmemcached-tools, redis-server, redis-tools, stress-ng) are
# installed with apt-get when
# run as root; otherwise the script names them and exits 77.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=real-programs-lib.sh
. "$here/real-programs-lib.sh"
build=$(realpath "${1:-build}")
rounds=${2:-5}
lib=$(bench_weft_lib "$build")
bench_need_packages memcached libmemcached-tools redis-server redis-tools stress-ng
bench_scratch
bench_pin
configs=(native weft)
# WEFT_BENCH_OTHER=LIB: a third configuration, another build of weft, in the same rounds.
[ -n "${WEFT_BENCH_OTHER:-}" ] && configs+=(other)

memcached_ops=200000
pipe_ops=600000
eventfd_ops=150000

# A TCP port on 127.0.0.1 that nothing listens on.
free_port() {
    local p
    for p in $(seq 21987 22087); do
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
    done
    return 1
}

# One memcached run with LD_PRELOAD=$1 ('' natively): "tps VALUE" on stdout.
# memcached is started for the run and ended (by its pid) after it.
run_memcached() {
    local pre=$1 port pid tps ticks i
    port=$(free_port)
    LD_PRELOAD=$pre memcached -t 2 -p "$port" -U 0 -l 127.0.0.1 -u root -m 64 \
        > memcached.log 2>&1 &
    pid=$!
    for i in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || { cat memcached.log >&2; return 1; }
        sleep 0.05
    done
    memcaslap -s "127.0.0.1:$port" -T 2 -c 16 -x "$memcached_ops" > memcaslap.out 2>&1 || {
        kill "$pid"
        wait "$pid" || true
        tail -5 memcaslap.out >&2
        return 1
    }
    # memcached's CPU time (user + system, in clock ticks) before it ends.
    ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    kill "$pid"
    wait "$pid" || true
    tps=$(awk '/^Run time:/ {for (i = 1; i < NF; i++) if ($i == "TPS:") print $(i + 1)}' memcaslap.out)
    if [ -z "$tps" ] || [ "$ticks" -le 0 ]; then
        tail -5 memcaslap.out >&2
        return 1
    fi
    echo "tps $tps"
    echo "ops/cpu-s $((memcached_ops * $(getconf CLK_TCK) / ticks))"
}

redis_ops=200000

# One redis-server run with LD_PRELOAD=$1: "set VALUE", "get VALUE" (requests/s
# as redis-benchmark reports them) and "ops/cpu-s VALUE" (both tests' requests
# over redis-server's own CPU time).
run_redis() {
    local pre=$1 port pid ticks i
    port=$(free_port)
    LD_PRELOAD=$pre redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no > redis.log 2>&1 &
    pid=$!
    for i in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || { cat redis.log >&2; return 1; }
        sleep 0.05
    done
    redis-benchmark -p "$port" -q -t set,get -n "$redis_ops" > redis-benchmark.out 2>&1 || {
        kill "$pid"
        wait "$pid" || true
        tail -5 redis-benchmark.out >&2
        return 1
    }
    ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    kill "$pid"
    wait "$pid" || true
    tr '\r' '\n' < redis-benchmark.out |
        awk '/^(SET|GET): [0-9.]+ requests per second/ {print tolower(substr($1, 1, 3)), $2}'
    [ "$ticks" -gt 0 ] && echo "ops/cpu-s $((2 * redis_ops * $(getconf CLK_TCK) / ticks))"
}

# One stress-ng run: "pipe VALUE" and "eventfd VALUE" (bogo ops/s, real time).
# In a session of its own: at its end stress-ng signals its whole process
# group, which would otherwise include this script.
run_stress_ng() {
    local pre=$1
    LD_PRELOAD=$pre setsid -w stress-ng --pipe 2 --pipe-ops "$pipe_ops" --eventfd 2 \
        --eventfd-ops "$eventfd_ops" --metrics-brief --timeout 60 > stress-ng.out 2>&1 || {
        tail -5 stress-ng.out >&2
        return 1
    }
    awk '$4 ~ /^(pipe|eventfd)$/ && NF == 10 {print $4, $9; print $4 "/cpu-s", $10}' stress-ng.out
}

workloads=(memcached redis stress_ng)
[ -n "${WEFT_BENCH_ONLY:-}" ] && read -r -a workloads <<<"$WEFT_BENCH_ONLY"
declare -A label=(
    [memcached]="memcached -t 2 under memcaslap -T 2 -c 16 -x $memcached_ops"
    [redis]="redis-server under redis-benchmark -q -t set,get -n $redis_ops"
    [stress_ng]="stress-ng --pipe 2 --pipe-ops $pipe_ops --eventfd 2 --eventfd-ops $eventfd_ops --metrics-brief"
)
declare -A metrics=([memcached]="tps ops/cpu-s" [redis]="set get ops/cpu-s" [stress_ng]="pipe pipe/cpu-s eventfd eventfd/cpu-s")

for w in "${workloads[@]}"; do
    [ -n "${label[$w]:-}" ] || { echo "real-programs-io: no workload $w" >&2; exit 2; }
    for c in "${configs[@]}"; do : > "rates.$c"; done
    for ((i = 0; i < rounds; i++)); do
        n=${#configs[@]}
        for ((j = 0; j < n; j++)); do
            c=${configs[$(((i + j) % n))]}
            pre=
            [ "$c" = weft ] && pre=$lib
            [ "$c" = other ] && pre=$(realpath "$WEFT_BENCH_OTHER")
            if ! "run_$w" "$pre" >> "rates.$c"; then
                echo "real-programs-io: $w failed under $c" >&2
                exit 1
            fi
        done
    done
    echo "${label[$w]} ($rounds rounds):"
    # shellcheck disable=SC2086 # one word per metric
    bench_rates_summary ${metrics[$w]}
done
