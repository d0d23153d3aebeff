"""Channels under a signal storm (issue 9, item 6): handlers that write to a
self-pipe, an eventfd and a small blocking pipe while the threads they
interrupt are inside read and write hooks, half-way through recording.

tests/stress/stress-chansignal.c counts every transfer it makes, in threads
and in handlers, and prints the counts per channel. Under weft:

  counts  weft.channel.io and weft.channel.messages per channel and direction
          equal the program's own counts exactly (a handler's write that weft
          lost, or counted twice, shows here), with no event dropped.
  waits   every `wait pipe.read` / `wait pipe.write` span is well-formed: a
          start no later than its end, within the process span, its kind
          attribute its name's, `weft.object` fd:N of one of that channel's
          descriptors, `weft.channel.name` one of the program's channels; and
          there are waits of both kinds (reads blocked, writes blocked, some of
          them in handlers), or the storm proved nothing.
  native  the program behaves as natively: it checks its own payloads, its
          EINTR handling (SIGUSR2 has no SA_RESTART) and that every byte
          written was read, and says `done`; natively too.

WEFT_STRESS_SECONDS (default 1) sets the storm's length.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import BUILD, Run, check, equal, done  # noqa: E402

PROGRAM = os.path.abspath(os.path.join(BUILD, "tests", "stress", "stress-chansignal"))
SECONDS = os.environ.get("WEFT_STRESS_SECONDS", "1")
# No rotation: a slow machine's longer storm writes more than the default 100 MB.
ENV = {"WEFT_SPAN_MIN_WAIT": "0", "WEFT_RING_SIZE": "65536", "WEFT_OUTPUT_MAX_SIZE": "0",
       "OTEL_BSP_MAX_QUEUE_SIZE": "1000000", "OTEL_METRIC_EXPORT_INTERVAL": "200",
       "WEFT_STRESS_SECONDS": SECONDS}
WAIT_KINDS = ("pipe.read", "pipe.write")


def parse(stdout, what):
    """{name: (fds, tx bytes, tx calls, rx bytes, rx calls)} and the other printed numbers."""
    chans, nums = {}, {}
    for line in stdout.splitlines():
        f = line.split()
        if len(f) == 8 and f[0] == "chan":
            chans[f[1]] = ({int(f[2]), int(f[3])}, *[int(x) for x in f[4:]])
        elif len(f) == 2 and f[0] in ("eintr", "signals", "rounds"):
            nums[f[0]] = int(f[1])
    check(stdout.rstrip().endswith("done"), f"{what}: ran to the end: {stdout[-400:]!r}")
    check(len(chans) == 7, f"{what}: seven channels printed, got {sorted(chans)}")
    check(nums.get("eintr", 0) > 0, f"{what}: some calls saw EINTR")
    return chans, nums


def native():
    e = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "WEFT_"))}
    e["WEFT_STRESS_SECONDS"] = SECONDS
    p = subprocess.run([PROGRAM], env=e, capture_output=True, text=True, timeout=120)
    equal(p.returncode, 0, f"native: exit status ({p.stderr[-300:]!r})")
    parse(p.stdout, "native")


def under_weft():
    r = Run([PROGRAM], env=ENV)
    equal(r.rc, 0, f"weft: exit status ({r.stderr[-300:]!r})")
    chans, nums = parse(r.stdout, "weft")
    print(f"weft: {nums.get('signals')} handler runs, {nums.get('eintr')} EINTR, "
          f"{nums.get('rounds')} rounds", flush=True)
    out = r.only()
    for reason in ("ring_full", "queue_full", "export_failed", "rotated"):
        equal(out.value("weft.agent.events.dropped", weft_drop_reason=reason), 0,
              f"no event dropped ({reason})")

    for name, (fds, tx_bytes, tx_calls, rx_bytes, rx_calls) in sorted(chans.items()):
        for metric, direction, want in (("weft.channel.io", "transmit", tx_bytes),
                                        ("weft.channel.messages", "transmit", tx_calls),
                                        ("weft.channel.io", "receive", rx_bytes),
                                        ("weft.channel.messages", "receive", rx_calls)):
            equal(out.value(metric, weft_channel_name=name, network_io_direction=direction),
                  want, f"{metric} {name} {direction}")

    process = out.span("process")
    p0, p1 = int(process.get("startTimeUnixNano", 0)), int(process.get("endTimeUnixNano", 0))
    waits = [s for s in out.spans if s["name"].startswith("wait ")]
    bad, seen = [], {k: 0 for k in WAIT_KINDS}
    for s in waits:
        kind = s["name"][len("wait "):]
        if kind in ("join", "sleep"):
            continue  # main joining its threads; the storm's pauses
        a = s["attrs"]
        t0, t1 = int(s.get("startTimeUnixNano", 0)), int(s.get("endTimeUnixNano", 0))
        name = a.get("weft.channel.name")
        ok = (kind in WAIT_KINDS and a.get("weft.wait.kind") == kind and
              name in chans and a.get("weft.object") in {f"fd:{n}" for n in chans[name][0]} and
              p0 <= t0 <= t1 <= p1)
        if ok:
            seen[kind] += 1
        elif len(bad) < 5:
            bad.append((s["name"], t0, t1, a))
    check(not bad, f"every wait span well-formed; first bad ones: {bad}")
    for kind in WAIT_KINDS:
        check(seen[kind] > 0, f"some `wait {kind}` spans ({seen[kind]})")
    print(f"weft: {seen['pipe.read']} wait pipe.read, {seen['pipe.write']} wait pipe.write",
          flush=True)


native()
under_weft()
done()
