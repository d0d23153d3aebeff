"""The prometheus output: /metrics served by the exporter thread, with values
current at each scrape; the HTTP edges (404, 405, 400, 431, HEAD); a client
that sends nothing holds the exporter no longer than the deadline; a port in
use, in a second process or a forked child, costs one line and nothing else."""
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import LIB, check, equal, done, program  # noqa: E402
from promscrape import Promplay, clean_env, free_port, get, parse, request, value, \
    wait_endpoint  # noqa: E402

N = 3

# The values: N blockers contended once each on a mutex (from `blocker`),
# then wait on a condvar; main reads its stdin.
pp = Promplay(n=N, channels=2)
check(pp.ready, "promplay ready")
check(wait_endpoint(pp.port), "endpoint answers")
status, headers, body, _ = get(pp.port)
equal(status, 200, "GET /metrics")
equal(headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8", "content type")
equal(int(headers.get("content-length", -1)), len(body), "content length")
equal(headers.get("connection"), "close", "connection closed after each answer")
samples, types = parse(body.decode())
equal(value(samples, "process_thread_count"), N + 1.0, "process_thread_count")
equal(types.get("process_thread_count"), "gauge", "an UpDownCounter is a gauge")
equal(value(samples, "weft_thread_waiting", weft_wait_kind="cond"), float(N),
      "threads waiting on the condvar")
W = "weft_wait_duration_seconds"
equal(types.get(W), "histogram", "wait duration is a histogram")
equal(value(samples, W + "_count", weft_wait_kind="mutex", code_function_name="blocker"),
      float(N), "mutex waits by blocker")
equal(value(samples, W + "_bucket", weft_wait_kind="mutex", code_function_name="blocker",
            le="+Inf"), float(N), "+Inf bucket is the count")
buckets = [(float(l["le"]), v) for l, v in samples.get(W + "_bucket", [])
           if l.get("weft_wait_kind") == "mutex" and l.get("code_function_name") == "blocker"]
check(buckets == sorted(buckets) and len(buckets) >= 2, f"buckets cumulative, le ascending: {buckets}")
scoped = [l for name, fam in samples.items() if name != "target_info" for l, _ in fam]
check(scoped and all(l.get("otel_scope_name") == "weft" and l.get("otel_scope_version")
                      for l in scoped),
      "every point has otel_scope_name=weft and a version")
ti = samples.get("target_info", [])
check(len(ti) == 1 and ti[0][1] == 1.0, "one target_info, value 1")
if ti:
    equal(ti[0][0].get("service_name"), "promplay", "target_info service_name")
    equal(ti[0][0].get("process_pid"), str(pp.p.pid), "target_info process_pid")
    check("job" not in ti[0][0] and "otel_scope_name" not in ti[0][0],
          "target_info: resource attributes only")


def transmitted(samples):
    return sum(v for l, v in samples.get("weft_channel_messages_total", [])
               if l.get("weft_channel_name", "").startswith("pipe:main#")
               and l.get("network_io_direction") == "transmit")


# Current at every scrape, not at the export interval (60 s by default).
equal(transmitted(samples), 2.0, "one message through each of the 2 channels")
equal(pp.work(5), 5, "five units of work")
samples, _ = parse(get(pp.port)[2].decode())
equal(transmitted(samples), 7.0, "the next scrape sees the five messages")

# HEAD, other paths, other methods, not HTTP, too large.
status, headers, body, _ = get(pp.port, method="HEAD")
check(status == 200 and body == b"" and int(headers.get("content-length", 0)) > 1000,
      f"HEAD /metrics: headers only ({status}, {len(body)} bytes)")
equal(get(pp.port, "/metrics?x=1")[0], 200, "a query string is ignored")
equal(get(pp.port, "/")[0], 404, "GET / is 404")
equal(get(pp.port, "/metricsx")[0], 404, "GET /metricsx is 404")
status, headers, _, _ = get(pp.port, method="POST")
equal(status, 405, "POST /metrics is 405")
equal(headers.get("allow"), "GET, HEAD", "405 says what is allowed")
equal(request(pp.port, b"hello\r\n\r\n")[0], 400, "not HTTP is 400")
big = b"GET /metrics HTTP/1.1\r\nX-Pad: " + b"a" * 16384 + b"\r\n\r\n"
equal(request(pp.port, big)[0], 431, "a 16 KiB request is 431")

# A client that connects and sends nothing: closed at the deadline; a second
# client meanwhile is served once the first is let go.
slow = socket.create_connection(("127.0.0.1", pp.port))
time.sleep(0.2)
t0 = time.monotonic()
status, _, _, took = get(pp.port)
equal(status, 200, "second client served while the first sends nothing")
check(took < 3.0, f"second client waited at most about the deadline: {took:.2f} s")
slow.settimeout(3.0)
try:
    closed = slow.recv(100) == b""
except (ConnectionResetError, socket.timeout):
    closed = False
check(closed, "the silent client's connection was closed")
slow.close()
# A client that sends half a request and stalls: same.
slow = socket.create_connection(("127.0.0.1", pp.port))
slow.sendall(b"GET /metr")
time.sleep(0.1)
status, _, _, took = get(pp.port)
check(status == 200 and took < 3.0, f"served past a half request ({status}, {took:.2f} s)")
slow.close()

# The program itself: unaffected.
rc, out, err = pp.stop()
equal(rc, 0, "promplay exit")
equal(out, "done\n", "promplay output")
equal(err, "", "nothing on stderr")

# The program takes the endpoint's descriptors with dup2 (a daemon tidying up):
# its dup2 returns at once, though the exporter sleeps in poll on them; weft
# says once that it no longer serves, and the program runs on.
pp = Promplay(n=1)
check(pp.ready and wait_endpoint(pp.port), "endpoint answers (steal run)")
pp.p.stdin.write("steal\n")
pp.p.stdin.flush()
stolen, max_us = (int(x) for x in pp.p.stdout.readline().split())
# (Where weft's exporter has a descriptor table of its own, agent/fd.h, the
# listener is not in the program's table: only the eventfd can be taken.)
check(stolen >= 1, f"the eventfd (and the listener) taken: {stolen}")
check(max_us < 100000, f"dup2 onto weft's descriptors did not wait for the exporter: {max_us} us")
refused = False
for _ in range(100):
    try:
        get(pp.port)
    except OSError:
        refused = True
        break
    time.sleep(0.1)
check(refused, "no endpoint once its descriptor is the program's")
equal(pp.work(2), 2, "the program works on")
rc, out, err = pp.stop()
equal((rc, out), (0, "done\n"), "steal run: exit and output")
lines = [l for l in err.splitlines() if l.startswith("weft:")]
check(len(lines) == 1 and "took the endpoint's descriptor" in lines[0],
      f"one line says the endpoint is gone: {err!r}")

# A port in use (a second process): one line, no endpoint, same output and exit.
with socket.socket() as busy:
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    native = subprocess.run([program("promplay"), "2"], input="\n\n", capture_output=True,
                            text=True, env=clean_env({}), timeout=60)
    pp = Promplay(n=2, port=port)
    check(pp.ready, "promplay ready with the port in use")
    equal(pp.work(2), 2, "works with the port in use")
    rc, out, err = pp.stop()
    equal(rc, native.returncode, "port in use: same exit")
    equal("1\n2\n" + out, native.stdout.replace("ready\n", ""), "port in use: same output")
    lines = [l for l in err.splitlines() if l.startswith("weft:")]
    equal(len(lines), 1, f"port in use: one weft line: {err!r}")
    check(lines and f"localhost:{port}" in lines[0] and "Address already in use" in lines[0],
          f"the line says where and why: {lines}")

# A forked child (forker: fork from a thread, the child starts two threads):
# parent and child cannot both listen at once; the one that finds the port
# taken says so, once. (When the short child has come and gone before the
# parent's exporter thread first ran, both listened in turn and
# neither has anything to say: at most one line, never two.)
port = free_port()
r = subprocess.run([program("forker")], capture_output=True, text=True, timeout=60,
                   env=clean_env({"LD_PRELOAD": LIB, "OTEL_METRICS_EXPORTER": "prometheus",
                                  "OTEL_EXPORTER_PROMETHEUS_PORT": str(port),
                                  "WEFT_OUTPUT": "/tmp/weft-prom-fork-%p.jsonl"}))
native = subprocess.run([program("forker")], capture_output=True, text=True, timeout=60,
                        env=clean_env({}))
equal(r.returncode, native.returncode, "forker: same exit")
equal(r.stdout, native.stdout, "forker: same output")
lines = [l for l in r.stderr.splitlines() if l.startswith("weft:")]
check(len(lines) <= 1 and all(str(port) in l for l in lines),
      f"forker: at most one line, naming the port, for the process that could not listen: "
      f"{r.stderr!r}")

# prometheus alone for metrics: the traces still go to the file (their default).
outdir = "/tmp/weft-prom-traces-%d" % os.getpid()
os.makedirs(outdir, exist_ok=True)
pp = Promplay(n=1, outdir=outdir)
check(wait_endpoint(pp.port), "endpoint answers (traces run)")
rc, out, err = pp.stop()
files = [os.path.join(outdir, f) for f in os.listdir(outdir)]
check(len(files) == 1, f"one file: {files}")
if len(files) == 1:
    text = open(files[0]).read()
    check('"resourceSpans"' in text and '"resourceMetrics"' not in text,
          "the file has the traces, not the metrics")
    os.unlink(files[0])
os.rmdir(outdir)

done()
