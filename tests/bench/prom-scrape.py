#!/usr/bin/env python3
"""Prometheus scrape latency with 500 series per metric, and what scrapes cost
the program (tests/bench/README.md).

    tests/bench/prom-scrape.py BUILD_DIR [SCRAPES] [ROUNDS]

Runs tests/programs/promplay 4 500 500 under weft with the prometheus output:
500 pipes (the channel metrics: 500 series each, at the cardinality limit)
and 500 distinct call sites that each blocked once on a mutex (the wait
histogram and the contention counter: 500 series each). Then:

- SCRAPES sequential GET /metrics (connect, request, read to end of file):
  median, p90, p99 and max latency, and the response's size and lines;
- the program's own rate (promplay's `spin`: units of work in one second)
  ROUNDS times each, alternating: unscraped, and scraped back to back by a
  client thread, and the same without weft.
"""
import os
import statistics
import sys
import threading
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
os.environ.setdefault("WEFT_BUILD_DIR", BUILD)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from promscrape import Promplay, get, parse, wait_endpoint  # noqa: E402

SCRAPES = int(sys.argv[2]) if len(sys.argv) > 2 else 200
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def spin(pp):
    pp.p.stdin.write("spin\n")
    pp.p.stdin.flush()
    return int(pp.p.stdout.readline())


pp = Promplay(n=4, channels=500, sites=500)
if not pp.ready or not wait_endpoint(pp.port):
    sys.exit("promplay did not start: " + pp.stop()[2])
status, _, body, _ = get(pp.port)
samples, types = parse(body.decode())
for family in ("weft_wait_duration_seconds_count", "weft_lock_contentions_total",
               "weft_channel_io_bytes_total", "weft_channel_messages_total",
               "weft_channel_queue_depth_bytes"):
    print(f"{family}: {len(samples.get(family, []))} series")
lines = sum(1 for line in body.decode().splitlines() if not line.startswith("#"))
print(f"response: {len(body)} bytes, {lines} samples, {len(types)} families")

took = []
for _ in range(SCRAPES):
    status, _, body, t = get(pp.port)
    if status != 200:
        sys.exit(f"scrape failed: {status}")
    took.append(t * 1000)
print(f"scrape latency over {SCRAPES}: median {statistics.median(took):.2f} ms, "
      f"p90 {pct(took, 90):.2f} ms, p99 {pct(took, 99):.2f} ms, max {max(took):.2f} ms")

stop = threading.Event()
scraped = [0]


def scraper():
    while not stop.is_set():
        get(pp.port)
        scraped[0] += 1


quiet, busy = [], []
for _ in range(ROUNDS):
    quiet.append(spin(pp))
    stop.clear()
    scraped[0] = 0
    th = threading.Thread(target=scraper)
    th.start()
    busy.append(spin(pp))
    stop.set()
    th.join()
rate = scraped[0]
pp.stop()

native = Promplay(n=4, channels=500, sites=500, preload=False)
plain = [spin(native) for _ in range(ROUNDS)]
native.stop()

print(f"program units/s, median of {ROUNDS}: native {statistics.median(plain):.0f}, "
      f"weft unscraped {statistics.median(quiet):.0f}, "
      f"weft scraped back to back ({rate} scrapes in the last second) "
      f"{statistics.median(busy):.0f}")
print(f"  native {plain}\n  unscraped {quiet}\n  scraped {busy}")
