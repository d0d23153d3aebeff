#!/usr/bin/env bash
# The timeline conversion's speed and peak memory (tests/bench/README.md):
# writes a synthetic weft file of N spans (gen-weft-file.py) in a temporary
# directory, converts it ROUNDS times with weft-read under /usr/bin/time -v,
# and prints each round's wall time, spans a second and peak RSS.
#
#     tests/bench/bench-timeline.sh build/exporter/weft-read [N [ROUNDS]]
#
# A million spans take about 740 MB of input and 630 MB of output on disk.
set -euo pipefail
read=$1
n=${2:-1000000}
rounds=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap 'rm -rf -- "$dir"' EXIT
python3 "$here/gen-weft-file.py" "$n" "$dir/in.jsonl"
spans=$(grep -o '"spanId"' "$dir/in.jsonl" | wc -l)
links=$(grep -o '"weft.link.kind"' "$dir/in.jsonl" | wc -l)
spans=$((spans - links))
for ((i = 1; i <= rounds; i++)); do
    /usr/bin/time -v "$read" timeline "$dir/in.jsonl" -o "$dir/out.json" 2>"$dir/time.txt" ||
        { cat "$dir/time.txt" >&2; exit 1; }
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$dir/time.txt")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$dir/time.txt")
    user=$(sed -n 's/.*User time (seconds): //p' "$dir/time.txt")
    sys=$(sed -n 's/.*System time (seconds): //p' "$dir/time.txt")
    secs=$(awk -v w="$wall" 'BEGIN { n = split(w, p, ":"); s = 0;
        for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }')
    awk -v i="$i" -v s="$secs" -v n="$spans" -v r="$rss" -v u="$user" -v y="$sys" 'BEGIN {
        printf "round %d: %d spans in %.2f s (user %.2f, sys %.2f): %.0f spans/s, peak RSS %.1f MB\n",
            i, n, s, u, y, n / s, r / 1024 }'
done
