"""A real Prometheus (Debian's `prometheus` package) scrapes a program under
weft every second; its HTTP API then returns process_thread_count and the wait
histogram with their labels. `promtool check metrics` on a scrape finds only
the lint that the OpenTelemetry names force (README lists it). Skipped (77)
without the package."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import check, equal, done  # noqa: E402
from promscrape import Promplay, free_port, get, wait_endpoint  # noqa: E402

PROMETHEUS, PROMTOOL = shutil.which("prometheus"), shutil.which("promtool")
if not PROMETHEUS or not PROMTOOL:
    print("SKIP: needs Debian's prometheus package (apt-get install prometheus), "
          "which has prometheus and promtool")
    sys.exit(77)

# The findings weft's names cause, and only those: an UpDownCounter named
# process.thread.count by the semantic conventions is a gauge ending in _count.
EXPECTED_LINT = {'process_thread_count non-histogram and non-summary metrics should not have '
                 '"_count" suffix'}

N = 3
pp = Promplay(n=N)
check(pp.ready, "promplay ready")
check(wait_endpoint(pp.port), "endpoint answers")

# promtool on a scrape.
body = get(pp.port)[2]
lint = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True,
                      timeout=60)
findings = {l.strip() for l in (lint.stdout + lint.stderr).decode().splitlines() if l.strip()}
equal(findings, EXPECTED_LINT, "promtool check metrics: the expected lint only")

# Prometheus, scraping every second, with storage in a temporary directory.
d = tempfile.mkdtemp(prefix="weft-prometheus-")
api = free_port()
with open(os.path.join(d, "prometheus.yml"), "w") as f:
    f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: weft
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs:
      - targets: ['127.0.0.1:{pp.port}']
""")
prom = subprocess.Popen([PROMETHEUS, f"--config.file={d}/prometheus.yml",
                         f"--storage.tsdb.path={d}/data", f"--web.listen-address=127.0.0.1:{api}",
                         "--log.level=warn"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def query(q):
    url = f"http://127.0.0.1:{api}/api/v1/query?" + urllib.parse.urlencode({"query": q})
    with urllib.request.urlopen(url, timeout=5) as r:
        reply = json.load(r)
    return reply["data"]["result"] if reply.get("status") == "success" else None


def wait_result(q, seconds=30):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            res = query(q)
            if res:
                return res
        except OSError:
            pass
        time.sleep(0.25)
    return []


t0 = time.monotonic()
try:
    res = wait_result("process_thread_count")
    check(len(res) == 1, f"process_thread_count in Prometheus: {res}")
    if res:
        labels, v = res[0]["metric"], res[0]["value"][1]
        equal(v, str(N + 1), "process_thread_count value")
        equal(labels.get("job"), "weft", "job from the scrape config")
        equal(labels.get("instance"), f"127.0.0.1:{pp.port}", "instance from the scrape config")
        equal(labels.get("otel_scope_name"), "weft", "otel_scope_name label")
    sel = '{weft_wait_kind="mutex",code_function_name="blocker"}'
    res = wait_result("weft_wait_duration_seconds_count" + sel)
    check(len(res) == 1 and res[0]["value"][1] == str(N), f"wait histogram count: {res}")
    res = wait_result("weft_wait_duration_seconds_bucket" + sel[:-1] + ',le="+Inf"}')
    check(len(res) == 1 and res[0]["value"][1] == str(N), f"wait histogram +Inf bucket: {res}")
    res = wait_result("sum(weft_wait_duration_seconds_bucket" + sel + ")")
    check(len(res) == 1, "wait histogram buckets")
    res = wait_result(f'histogram_quantile(0.5, weft_wait_duration_seconds_bucket{sel[:-1]}}})')
    check(len(res) == 1, f"histogram_quantile over the buckets: {res}")
    res = wait_result("target_info")
    check(len(res) == 1 and res[0]["metric"].get("service_name") == "promplay",
          f"target_info with service_name: {res}")
    res = wait_result("up")
    check(len(res) == 1 and res[0]["value"][1] == "1", f"target up: {res}")
finally:
    prom.terminate()
    try:
        _, err = prom.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        prom.kill()
        _, err = prom.communicate()
    shutil.rmtree(d, ignore_errors=True)
print(f"Prometheus answered within {time.monotonic() - t0:.1f} s")

rc, out, err = pp.stop()
equal(rc, 0, "promplay exit")
equal(err, "", "nothing from weft on stderr")
done()
