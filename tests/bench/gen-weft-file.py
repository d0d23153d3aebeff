#!/usr/bin/env python3
"""Writes a synthetic weft file (OTLP JSON Lines) of N spans, for the timeline
benchmark (tests/bench/README.md, "Timeline conversion").

    tests/bench/gen-weft-file.py 1000000 /tmp/big.jsonl [THREADS]

The shape of a real run of a worker pool, as weft writes it: one process; a
dispatcher thread whose tasks hand work to THREADS workers (default 32); each
worker runs tasks back to back, each linked (cond.signal) to the dispatcher
task that produced it, with one or two waits inside (a mutex wait with a
holder link to another worker's task, a pipe read); thread spans, the main
thread's joins (join links) and the process span at the end. Spans are
written in the order they end, 512 to a line as the batch span processor
exports them, with weft's attributes (thread.id, thread.name, weft.wait.kind,
code.function.name, weft.object, a three-frame code.stacktrace); a metrics
line every 20 batches carries the four counters the timeline draws. The
ids and times are deterministic (a fixed seed).
"""
import heapq
import random
import sys

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
PATH = sys.argv[2] if len(sys.argv) > 2 else "big.jsonl"
THREADS = int(sys.argv[3]) if len(sys.argv) > 3 else 32
PID = 4242
T0 = 1796000000000000000
BATCH = 512

rng = random.Random(12)
RESOURCE = ('{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"bench"}},'
            '{"key":"process.pid","value":{"intValue":"%d"}}]}' % PID)
SCOPE = '{"scope":{"name":"weft","version":"0.1.0"}'
TRACE = "%032x" % rng.getrandbits(128)


def sid():
    return "%016x" % rng.getrandbits(64)


def attr_s(k, v):
    return '{"key":"%s","value":{"stringValue":"%s"}}' % (k, v)


def attr_i(k, v):
    return '{"key":"%s","value":{"intValue":"%d"}}' % (k, v)


def span(s, name, kind, start, end, attrs, parent=None, links=()):
    out = ['{"traceId":"%s","spanId":"%s"' % (TRACE, s)]
    if parent:
        out.append(',"parentSpanId":"%s"' % parent)
    out.append(',"flags":1,"name":"%s","kind":%d,"startTimeUnixNano":"%d","endTimeUnixNano":"%d"'
               % (name, kind, T0 + start, T0 + end))
    out.append(',"attributes":[' + ",".join(attrs) + "]")
    if links:
        out.append(',"links":[' + ",".join(
            '{"traceId":"%s","spanId":"%s","attributes":[%s]}' % (TRACE, l, attr_s("weft.link.kind", k))
            for l, k in links) + "]")
    out.append("}")
    return "".join(out)


def thread_attrs(tid, name):
    return [attr_i("thread.id", tid), attr_s("thread.name", name)]


def wait_attrs(tid, name, kind, fn, obj):
    return thread_attrs(tid, name) + [
        attr_s("weft.wait.kind", kind), attr_s("code.function.name", fn), attr_s("weft.object", obj),
        attr_s("code.stacktrace", fn + "\\nlibc.so.6+0x891f4\\nlibc.so.6+0x1098eb")]


def worker(w, tasks, dispatch, current):
    """A worker's spans as (end, text), in end order; `current` maps workers to their task."""
    tid = PID + 10 + w
    name = "worker-%d" % w
    thread = sid()
    t = 1000 + w * 50
    first = t
    for k in range(tasks):
        task, start = sid(), t
        dur = rng.randint(20000, 80000)
        current[w] = task
        producer = dispatch[k % len(dispatch)]
        a = start + rng.randint(1000, dur // 3)
        b = a + rng.randint(500, dur // 3)
        other = current.get((w + 1) % THREADS, producer)
        yield b, span(sid(), "wait mutex", 1, a, b,
                      wait_attrs(tid, name, "mutex", "worker", "0x55d68f0680c0") +
                      [attr_i("weft.holder.thread.id", tid + 1)], task, [(other, "holder")])
        if rng.random() < 0.5:
            c = b + rng.randint(100, (start + dur - b) // 2)
            d = c + rng.randint(100, (start + dur - c) // 2)
            yield d, span(sid(), "wait pipe.read", 1, c, d,
                          wait_attrs(tid, name, "pipe.read", "read_stage", "fd:%d" % (5 + w)), task,
                          [(producer, "pipe")])
        yield start + dur, span(task, "task worker", 5, start, start + dur,
                                thread_attrs(tid, name) + [attr_s("weft.pool.name", "worker"),
                                                           attr_s("weft.wait.kind", "cond")],
                                None, [(producer, "cond.signal")])
        t = start + dur + rng.randint(2000, 10000)
    yield t, span(thread, "thread " + name, 1, first, t,
                  thread_attrs(tid, name) + [attr_s("code.function.name", "worker")], "0" * 15 + "1")


def main():
    # Spans per worker: a task, a mutex wait and half the time a pipe wait: 2.5.
    tasks = max(1, int((N - 2 * THREADS - 2) / (2.5 * THREADS)))
    dispatch = [sid() for _ in range(64)]
    current = {}
    streams = [worker(w, tasks, dispatch, current) for w in range(THREADS)]
    written = 0
    batch = []
    last_end = 0
    lines = 0
    with open(PATH, "w") as f:
        def flush():
            nonlocal batch, lines
            if not batch:
                return
            f.write('{"resourceSpans":[' + RESOURCE + ',"scopeSpans":[' + SCOPE + ',"spans":[' +
                    ",".join(batch) + "]}]}]}\n")
            batch = []
            lines += 1
            if lines % 20 == 0:
                now = T0 + last_end
                busy = ",".join('{"attributes":[%s],"timeUnixNano":"%d","asInt":"%d"}' % (
                    attr_s("weft.pool.name", p), now, rng.randint(0, THREADS)) for p in ("worker", "main"))
                waiting = ",".join('{"attributes":[%s],"timeUnixNano":"%d","asInt":"%d"}' % (
                    attr_s("weft.wait.kind", k), now, rng.randint(0, 4)) for k in ("mutex", "cond", "pipe.read"))
                depth = '{"attributes":[%s],"timeUnixNano":"%d","asInt":"%d"}' % (
                    attr_s("weft.channel.name", "pipe:read_stage#1"), now, rng.randint(0, 4096))
                f.write('{"resourceMetrics":[' + RESOURCE + ',"scopeMetrics":[' + SCOPE + ',"metrics":['
                        '{"name":"process.thread.count","unit":"{thread}","sum":{"dataPoints":[{"startTimeUnixNano":"%d","timeUnixNano":"%d","asInt":"%d"}],"aggregationTemporality":2}},'
                        '{"name":"weft.thread.waiting","unit":"{thread}","gauge":{"dataPoints":[%s]}},'
                        '{"name":"weft.channel.queue.depth","unit":"By","gauge":{"dataPoints":[%s]}},'
                        '{"name":"weft.pool.busy","unit":"{thread}","gauge":{"dataPoints":[%s]}}'
                        ']}]}]}\n' % (T0, now, THREADS + 2, waiting, depth, busy))

        for end, text in heapq.merge(*streams, key=lambda x: x[0]):
            batch.append(text)
            last_end = max(last_end, end)
            written += 1
            if len(batch) == BATCH:
                flush()
        # Dispatcher task spans (the producers), the joins and the process span.
        for i, s in enumerate(dispatch):
            batch.append(span(s, "task dispatcher", 5, 100 + i * 10, 105 + i * 10,
                              thread_attrs(PID + 1, "dispatcher") + [attr_s("weft.pool.name", "dispatcher")]))
            written += 1
        for w in range(THREADS):  # one join after another, on the main thread
            batch.append(span(sid(), "wait join", 1, last_end + w * 1000, last_end + (w + 1) * 1000,
                              wait_attrs(PID, "bench", "join", "main", "0x7f00%04x" % w), "0" * 15 + "1"))
            written += 1
        batch.append(span("0" * 15 + "1", "process", 1, 0, last_end + THREADS * 1000 + 10,
                          [attr_i("process.pid", PID), attr_i("process.exit.code", 0)]))
        written += 1
        flush()
    print(f"{PATH}: {written} spans, {lines} span lines, {THREADS} workers")


main()
