"""`weft timeline`: weft's files as a Trace Event Format file.

Runs the bundled example (worker-pool, what scripts/quickstart runs) and the
pipeline of pipes (tests/programs/pipeline) under weft, converts both files
into one timeline with the launcher, and checks it exactly against the files:

  every span once, as an X event (or a b/e pair on an async track, only
  where it cannot nest) on the track of its thread.id (the process span on
  the main thread's), with its name, times (microseconds from the earliest
  process start, to the nanosecond), attributes and ids as args; the X
  events of a track nest (no two overlap without one containing the other),
  a child within its parent where both are on one track; one flow (s + f,
  one id) per span link whose producer is in the files, from the producer's
  span to the consumer's, forward in time; counter events carrying exactly
  the points of process.thread.count, weft.thread.waiting,
  weft.channel.queue.depth and weft.pool.busy; process and thread names.

Then reads the timeline with independent readers installed from npm
(tests/timeline/package.json): @tracerbench/trace-model builds its own model
(names, slices per thread, nesting) and speedscope's importer opens it in
headless Chromium, whose screenshot is kept in the build directory
(meson-logs/timeline-speedscope.png, beside the timeline, timeline.json). Finally a copy of a file cut in the
middle of its last line converts what came before it, with one warning.
"""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weftrun import BUILD, SOURCE, Run, attrs, check, done, equal, program  # noqa: E402

WEFT = os.path.join(SOURCE, "scripts", "weft")
READ = os.path.abspath(os.path.join(BUILD, "exporter", "weft-read"))
NPM_DIR = os.path.abspath(os.path.join(SOURCE, "tests", "timeline"))
COUNTERS = ("process.thread.count", "weft.thread.waiting", "weft.channel.queue.depth",
            "weft.pool.busy")
# A queue and rings that hold the run: nothing dropped, every link's producer exported.
ENV = {"OTEL_METRIC_EXPORT_INTERVAL": "100", "OTEL_BSP_MAX_QUEUE_SIZE": "16384",
       "WEFT_RING_SIZE": "16384"}


def timeline(files, out):
    env = dict(os.environ, WEFT_READ=READ)
    p = subprocess.run([WEFT, "timeline", *files, "-o", out], env=env, capture_output=True,
                       text=True, timeout=120)
    trace = None
    if os.path.exists(out):
        with open(out) as f:
            trace = json.load(f)
    return p.returncode, p.stderr, trace


def read_file(path, upto=None):
    """(pid, service, span) and (pid, metric name, points) of a file's first `upto` lines."""
    spans, metrics = [], []
    with open(path) as f:
        lines = f.read().split("\n")
    for line in lines[:upto]:
        if not line:
            continue
        d = json.loads(line)
        for rs in d.get("resourceSpans", []):
            res = attrs(rs["resource"].get("attributes"))
            for ss in rs.get("scopeSpans", []):
                for s in ss.get("spans", []):
                    s["attrs"] = attrs(s.get("attributes"))
                    spans.append((res["process.pid"], res["service.name"], s))
        for rm in d.get("resourceMetrics", []):
            res = attrs(rm["resource"].get("attributes"))
            for sm in rm.get("scopeMetrics", []):
                for m in sm.get("metrics", []):
                    data = m.get("sum") or m.get("gauge")
                    if data:
                        metrics.append((res["process.pid"], m["name"], data["dataPoints"]))
    return spans, metrics


def ns(us):
    """A timestamp in microseconds with three decimals, back in nanoseconds."""
    return round(us * 1000)


def check_events(what, trace, spans, metrics):
    events = trace.get("traceEvents", []) if trace else []
    by_ph = {}
    for e in events:
        by_ph.setdefault(e["ph"], []).append(e)
    processes = [s for _, _, s in spans if s["name"] == "process"]
    base = min(int(s["startTimeUnixNano"]) for s in processes) if processes else 0
    # The earliest process start: metric points' start times are the processes' starts.
    starts = {int(p["startTimeUnixNano"]) for _, _, pts in metrics for p in pts
              if "startTimeUnixNano" in p}
    equal(min(starts | {base}), base, f"{what}: time 0 is the earliest process start")

    # --- Every span once, on its thread's track. ---
    info = {}
    for pid, service, s in spans:
        tid = s["attrs"].get("thread.id", pid)
        info[s["spanId"]] = dict(span=s, pid=pid, tid=tid, start=int(s["startTimeUnixNano"]) - base,
                                 end=int(s["endTimeUnixNano"]) - base)
    equal(len(info), len(spans), f"{what}: span ids are unique in the files")
    placed = {}
    for e in by_ph.get("X", []) + by_ph.get("b", []):
        sid = e.get("args", {}).get("span.id")
        placed.setdefault(sid, []).append(e)
    equal(sorted(placed), sorted(info), f"{what}: the spans placed are the files' spans")
    equal([sid for sid, es in placed.items() if len(es) != 1], [], f"{what}: each span once")
    ends = {e["id"]: e for e in by_ph.get("e", [])}
    bad = []
    for sid, es in placed.items():
        e, i = es[0], info.get(sid)
        if not i:
            continue
        s = i["span"]
        want_args = dict(s["attrs"], **{"span.id": sid})
        if s.get("parentSpanId"):
            want_args["parent.span.id"] = s["parentSpanId"]
        got = (e["name"], e["pid"], e["tid"], ns(e["ts"]), e["args"])
        if e["ph"] == "X":
            dur = ns(e["dur"])
        else:
            end = ends.get(e["id"])
            dur = ns(end["ts"]) - ns(e["ts"]) if end and end["tid"] == e["tid"] else None
        if got != (s["name"], i["pid"], i["tid"], i["start"], want_args) or \
                dur != i["end"] - i["start"]:
            bad.append((got, dur, s))
    equal(bad[:3], [], f"{what}: each span's name, track, times and args")
    equal(len(ends), len(by_ph.get("b", [])), f"{what}: an async end per async begin")

    # --- Nesting on each thread track; async only what cannot nest. ---
    tracks = {}
    for e in by_ph.get("X", []):
        i = info.get(e["args"].get("span.id"))
        if i:
            tracks.setdefault((i["pid"], i["tid"]), []).append(i)
    overlaps = []
    for key, items in tracks.items():
        items.sort(key=lambda i: (i["start"], -i["end"]))
        stack = []
        for i in items:
            while stack and stack[-1]["end"] <= i["start"]:
                stack.pop()
            if stack and i["end"] > stack[-1]["end"]:
                overlaps.append((key, i["span"]["name"], stack[-1]["span"]["name"]))
            stack.append(i)
    equal(overlaps, [], f"{what}: the slices of each thread track nest")
    outside = [i["span"]["name"] for i in info.values()
               if placed.get(i["span"]["spanId"], [{}])[0].get("ph") == "X"
               and (p := info.get(i["span"].get("parentSpanId")))
               and placed[p["span"]["spanId"]][0]["ph"] == "X"
               and (p["pid"], p["tid"]) == (i["pid"], i["tid"])
               and not p["start"] <= i["start"] <= i["end"] <= p["end"]]
    equal(outside, [], f"{what}: a child lies within its parent on the same track")
    for e in by_ph.get("b", []):
        i = info[e["args"]["span.id"]]
        if i["span"]["name"] in ("connect", "accept"):
            continue
        clash = [o for o in tracks.get((i["pid"], i["tid"]), [])
                 if o["start"] < i["start"] < o["end"] < i["end"]
                 or i["start"] < o["start"] < i["end"] < o["end"]]
        check(clash, f"{what}: {i['span']['name']} is async only because it cannot nest")

    # --- A flow per link whose producer is in the files. ---
    want = sorted((l["spanId"], s["spanId"]) for _, _, s in spans for l in s.get("links", [])
                  if l["spanId"] in info)
    check(len(want) > 10, f"{what}: links to draw: {len(want)}")
    flows = {}
    for e in by_ph.get("s", []) + by_ph.get("f", []):
        flows.setdefault(e["id"], {})[e["ph"]] = e
    got = sorted((f["s"]["args"]["from"], f["s"]["args"]["to"]) for f in flows.values()
                 if set(f) == {"s", "f"})
    equal(len(by_ph.get("s", [])), len(flows), f"{what}: one start per flow id")
    equal(got, want, f"{what}: one flow (s + f) per link, producer to consumer")
    wrong = []
    for f in flows.values():
        if set(f) != {"s", "f"}:
            wrong.append(f)
            continue
        p, c = info[f["s"]["args"]["from"]], info[f["s"]["args"]["to"]]
        a, b = ns(f["s"]["ts"]), ns(f["f"]["ts"])
        if (f["s"]["pid"], f["s"]["tid"]) != (p["pid"], p["tid"]) or \
                (f["f"]["pid"], f["f"]["tid"]) != (c["pid"], c["tid"]) or \
                not p["start"] <= a <= p["end"] or not c["start"] <= b <= c["end"] or \
                f["f"].get("bp") != "e" or (a > b and p["start"] <= c["end"]):
            wrong.append((f, p["start"], p["end"], c["start"], c["end"]))
    equal(wrong[:2], [], f"{what}: flows bound inside both spans, drawn forward in time")

    # --- Counters: exactly the metric points. ---
    def label(p):
        a = attrs(p.get("attributes"))
        return ",".join(str(v) for v in a.values()) or "value"

    want_c = sorted((pid, name, int(p["timeUnixNano"]) - base, label(p),
                     int(p.get("asInt", p.get("asDouble", 0))))
                    for pid, name, pts in metrics if name in COUNTERS for p in pts)
    got_c = sorted((e["pid"], e["name"], ns(e["ts"]), k, v) for e in by_ph.get("C", [])
                   for k, v in e["args"].items())
    equal(got_c, want_c, f"{what}: counter events are the metric points")

    # --- Names. ---
    names = {}
    for pid, service, s in spans:
        i = info[s["spanId"]]
        n = s["attrs"].get("thread.name")
        if n and (s["name"].startswith("thread ") or (i["pid"], i["tid"]) not in names):
            names[(i["pid"], i["tid"])] = n
    services = {pid: service for pid, service, _ in spans}
    want_t = sorted((i["pid"], i["tid"], f"{names.get((i['pid'], i['tid'])) or services[i['pid']]}"
                     f" ({i['tid']})") for i in info.values())
    got_t = sorted((e["pid"], e["tid"], e["args"]["name"]) for e in by_ph.get("M", [])
                   if e["name"] == "thread_name")
    equal(got_t, sorted(set(want_t)), f"{what}: thread tracks named '<thread name> (<tid>)'")
    got_p = sorted((e["pid"], e["args"]["name"]) for e in by_ph.get("M", [])
                   if e["name"] == "process_name")
    equal(got_p, sorted((pid, f"{svc} ({pid})") for pid, svc in services.items()),
          f"{what}: process tracks named '<service> (<pid>)'")
    return tracks


def check_model(trace_path, trace, tracks):
    """@tracerbench/trace-model's own reading: names, slices per thread, nesting."""
    p = subprocess.run(["node", os.path.join(NPM_DIR, "check-model.js"), trace_path],
                       capture_output=True, text=True, timeout=120)
    if not equal(p.returncode, 0, f"trace-model read the timeline: {p.stderr[-2000:]}"):
        return
    model = json.loads(p.stdout)
    m_threads = {(pr["pid"], t["tid"]): t for pr in model["processes"] for t in pr["threads"]}
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in trace["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name"}
    equal({k: t["name"] for k, t in m_threads.items() if k in tracks},
          {k: names[k] for k in tracks}, "trace-model: the thread names")
    equal({k: len(t["slices"]) for k, t in m_threads.items() if t["slices"]},
          {k: len(v) for k, v in tracks.items()}, "trace-model: the slices of each thread")
    # Its nesting (by time, in floating-point microseconds) puts every slice
    # under its parent span when the parent is on the same track; ends equal
    # to the nanosecond may differ in the last bit of a double.
    spans = {i["span"]["spanId"]: i for v in tracks.values() for i in v}
    wrong = []
    for (pid, tid), t in m_threads.items():
        slices = {s["span"]: s for s in t["slices"]}
        for s in t["slices"]:
            i = spans.get(s["span"])
            parent = i and spans.get(i["span"].get("parentSpanId"))
            if not parent or (parent["pid"], parent["tid"]) != (pid, tid):
                continue
            ps = slices.get(parent["span"]["spanId"])
            if s.get("parent") != parent["span"]["spanId"] and not (
                    ps and abs(ps["end"] - s["end"]) < 1e-6):
                wrong.append((i["span"]["name"], s, ps))
    equal(wrong[:3], [], "trace-model: each slice nested under its parent span")


def check_speedscope(trace_path, tracks):
    """speedscope's importer in headless Chromium: one profile per thread; a screenshot."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None and os.geteuid() == 0:
        # As root, as scripts/deps.sh would (WEFT_TEST_PACKAGES).
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
                       env=env, capture_output=True)
        chromium = shutil.which("chromium")
    if not check(chromium is not None,
                 "chromium is installed (as root: apt-get install chromium)"):
        return
    page = os.path.join(NPM_DIR, "node_modules", "speedscope", "dist", "release", "index.html")
    d = tempfile.mkdtemp(prefix="weft-speedscope-")
    loader = os.path.join(d, "profile.js")
    with open(trace_path, "rb") as f, open(loader, "w") as out:
        out.write("speedscope.loadFileFromBase64(%s, %s)" % (
            json.dumps("timeline.json"), json.dumps(base64.b64encode(f.read()).decode())))
    url = f"file://{page}#localProfilePath={loader}"
    base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + d,
            "--allow-file-access-from-files", "--virtual-time-budget=5000",
            "--window-size=1400,900"]
    p = subprocess.run(base + ["--dump-dom", url], capture_output=True, text=True, timeout=120)
    dom = p.stdout
    check("<title>timeline.json - speedscope</title>" in dom,
          f"speedscope imported the timeline (its title names it): {dom[:300]!r}")
    equal(re.findall(r"\(1/(\d+)\)", dom)[:1], [str(len(tracks))],
          "speedscope: a profile per thread with slices")
    shown = set(int(t) for t in re.findall(r"tid (\d+)", dom))
    equal(sorted(shown), sorted(tid for _, tid in tracks), "speedscope: every thread is listed")
    shot = os.path.join(os.path.abspath(BUILD), "meson-logs", "timeline-speedscope.png")
    os.makedirs(os.path.dirname(shot), exist_ok=True)
    if os.path.exists(shot):
        os.unlink(shot)
    subprocess.run(base + ["--screenshot=" + shot, url], capture_output=True, timeout=120)
    check(os.path.exists(shot) and os.path.getsize(shot) > 5000, f"a screenshot in {shot}")
    print(f"speedscope screenshot: {shot}")


def check_truncated(path, spans_all):
    """A copy cut in the middle of its last line: what came before, one warning."""
    with open(path) as f:
        text = f.read()
    lines = text.rstrip("\n").split("\n")
    d = tempfile.mkdtemp(prefix="weft-cut-")
    cut = os.path.join(d, "cut.jsonl")
    with open(cut, "w") as f:
        f.write(text[:len(text) - 1 - len(lines[-1]) // 2])
    out = os.path.join(d, "cut.json")
    rc, err, trace = timeline([cut], out)
    equal(rc, 0, f"cut file: converted: {err}")
    warnings = [l for l in err.splitlines() if "cut short" in l]
    equal(len(warnings), 1, f"cut file: one warning: {err!r}")
    check(warnings and f"line {len(lines)} is cut short" in warnings[0],
          f"cut file: the warning names line {len(lines)}: {warnings}")
    spans, metrics = read_file(path, len(lines) - 1)
    check(0 < len(spans) < len(spans_all) or len(metrics) > 0,
          "cut file: something before the cut line")
    placed = sorted(e["args"]["span.id"] for e in (trace or {}).get("traceEvents", [])
                    if e["ph"] in ("X", "b"))
    equal(placed, sorted(s["spanId"] for _, _, s in spans),
          "cut file: exactly the spans of the lines before it")


if subprocess.run([os.path.join(NPM_DIR, "setup.sh")]).returncode not in (0, 77):
    check(False, "tests/timeline/setup.sh installed the npm packages")
npm_ok = os.path.exists(os.path.join(NPM_DIR, "node_modules", "speedscope"))

example = Run([program("worker-pool")], env=ENV)
equal(example.rc, 0, "worker-pool ran")
pipeline = Run([program("pipeline")], env=ENV)
equal(pipeline.rc, 0, "pipeline ran")
files = example.files + pipeline.files
equal(len(files), 2, "one file per program")

work = tempfile.mkdtemp(prefix="weft-timeline-")
spans, metrics = [], []
for f in files:
    s, m = read_file(f)
    spans += s
    metrics += m
out = os.path.join(work, "timeline.json")
rc, err, trace = timeline(files, out)
if os.path.exists(out):  # kept beside the screenshot, to open in Perfetto UI
    os.makedirs(os.path.join(os.path.abspath(BUILD), "meson-logs"), exist_ok=True)
    shutil.copy(out, os.path.join(os.path.abspath(BUILD), "meson-logs", "timeline.json"))
equal(rc, 0, f"weft timeline: exit status ({err})")
equal([l for l in err.splitlines() if not l.startswith("weft timeline: wrote ")], [],
      "weft timeline: no warning")
names = {e["name"] for e in (trace or {}).get("traceEvents", []) if e["ph"] == "C"}
equal(names, set(COUNTERS), "the four counters are present")
tracks = check_events("example + pipeline", trace, spans, metrics)
for name, run in (("example", example), ("pipeline", pipeline)):
    s, m = read_file(run.files[0])
    rc, err, t = timeline(run.files, os.path.join(work, name + ".json"))
    equal(rc, 0, f"{name}: weft timeline alone")
    check_events(name, t, s, m)
if npm_ok:
    check_model(out, trace, tracks)
    check_speedscope(out, tracks)
check_truncated(pipeline.files[0], read_file(pipeline.files[0])[0])
done()
