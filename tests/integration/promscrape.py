"""A program under weft with the prometheus output, and a plain HTTP client.

Shared by test-prometheus.py, test-promserver.py and the scrape benchmark
(tests/bench/prom-scrape.py): starts tests/programs/promplay on a free port,
scrapes it with raw sockets, and parses the text exposition format.
"""
import os
import re
import socket
import subprocess
import time

from weftrun import LIB, program

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "WEFT_"))}
    e.pop("TRACEPARENT", None)
    e.update(extra)
    return e


class Promplay:
    """promplay N [C [S]] under weft, serving on a free port until stop()."""

    def __init__(self, n=3, channels=0, port=None, env=None, preload=True, outdir=None,
                 sites=0):
        self.port = port or free_port()
        e = {"OTEL_METRICS_EXPORTER": "prometheus",
             "OTEL_EXPORTER_PROMETHEUS_PORT": str(self.port),
             "WEFT_OUTPUT": os.path.join(outdir or "/tmp", "weft-prom-%p.jsonl")}
        if preload:
            e["LD_PRELOAD"] = LIB
        e.update(env or {})
        self.p = subprocess.Popen([program("promplay"), str(n), str(channels), str(sites)],
                                  env=clean_env(e), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.ready = self.p.stdout.readline().strip() == "ready"

    def work(self, k):
        """k units of work; returns the program's count after them."""
        last = None
        for _ in range(k):
            self.p.stdin.write("\n")
            self.p.stdin.flush()
            last = self.p.stdout.readline().strip()
        return int(last) if last else None

    def stop(self, timeout=30):
        out, err = self.p.communicate("", timeout=timeout)
        return self.p.returncode, out, err


def request(port, data, timeout=5.0, host="127.0.0.1"):
    """Sends data, reads to end of file: (status, headers dict, body bytes, seconds)."""
    t0 = time.monotonic()
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            chunks.append(b)
    raw = b"".join(chunks)
    took = time.monotonic() - t0
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body, took


def get(port, path="/metrics", method="GET"):
    return request(port, f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())


def wait_endpoint(port, seconds=10.0):
    """Waits until the endpoint answers (the exporter thread opens it)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            status, _, _, _ = get(port)
            if status:
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def parse(text):
    """{name: [(labels dict, value float)]}, and the TYPE of each family."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError(f"not a sample line: {line!r}")
        labels = dict(LABEL.findall(m.group(2) or ""))
        samples.setdefault(m.group(1), []).append((labels, float(m.group(3))))
    return samples, types


def value(samples, name, **want):
    """The value of the one sample of name whose labels include want; None if none."""
    found = [v for labels, v in samples.get(name, [])
             if all(labels.get(k) == w for k, w in want.items())]
    return found[0] if len(found) == 1 else None
