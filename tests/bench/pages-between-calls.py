#!/usr/bin/env python3
"""Pages touched between two system calls, natively and under weft.

On a kernel that isolates its page tables (PTI) on a CPU without PCIDs,
every system call flushes the TLB, so each distinct page a thread touches
between two calls costs a page walk (agent/hot.h). This counts them:
valgrind's lackey traces every instruction fetch, load and store of a
ping-pong's worker (bench-pipe or bench-sync, `--worker pingpong`; valgrind
runs one thread at a time, so no pinning is needed);
the trace is cut at every `syscall` instruction of libc and libweft.so
(but clock_gettime's: valgrind has no vDSO, so that call is a system call
only under valgrind), and the distinct 4 KiB pages of each interval are
counted by the mapping they belong to. The first intervals (start-up) are
skipped.

Caveats: under valgrind the thread's clock base is older than its 5 ms at
every wait, so the refill's pages (clock_gettime, the vDSO data) are in
about half the intervals, which they are not natively; and weft runs with
WEFT_STACKS=off, as in callgrind-io.sh, or every blocked wait would take a
stack. Both are the same for the libraries compared. The trace does not
say which thread ran, so every thread's intervals count: under weft, the
exporter thread's too (it wakes a few times in a run of 2 x 3000 calls).

    tests/bench/pages-between-calls.py [build-dir] [pipe|sync] [OTHER-LIB]
"""
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROUND_TRIPS = 3000
SKIP = 4000  # intervals of start-up


def syscall_sites(maps):
    """Addresses of the syscall instructions of libc and libweft (clock_gettime's aside)."""
    bases = {}
    for start, _end, name, _perm in maps:
        if name.startswith('/') and name not in bases:
            bases[name] = start
    sites = set()
    for name, base in bases.items():
        if 'libc.so' not in name and 'libweft' not in name:
            continue
        out = subprocess.run(['objdump', '-d', '--no-show-raw-insn', name],
                             capture_output=True, text=True, check=True).stdout
        func = ''
        for line in out.splitlines():
            m = re.match(r'^[0-9a-f]+ <(.*)>:', line)
            if m:
                func = m.group(1)
                continue
            m = re.match(r'^\s*([0-9a-f]+):\s+syscall', line)
            if m and 'clock_gettime' not in func:
                sites.add(base + int(m.group(1), 16))
    return sites


def read_maps(pid):
    maps = []
    with open(f'/proc/{pid}/maps') as f:
        for line in f:
            p = line.split()
            start, end = (int(x, 16) for x in p[0].split('-'))
            maps.append((start, end, p[5] if len(p) > 5 else '[anon]', p[1]))
    return maps


def classify(maps, page):
    a = page << 12
    for start, end, name, perm in maps:
        if start <= a < end:
            base = os.path.basename(name)
            if name.startswith('/'):
                return base + (' code' if 'x' in perm else ' data')
            return base
    return '[other]'


def run(build, workload, lib, tmp):
    worker = os.path.join(build, 'tests/bench',
                          'bench-pipe' if workload == 'pipe' else 'bench-sync')
    trace = os.path.join(tmp, 'trace')
    env = dict(os.environ, OTEL_TRACES_EXPORTER='none', OTEL_METRICS_EXPORTER='none',
               WEFT_STACKS='off')
    env.pop('LD_PRELOAD', None)
    if lib:
        env['LD_PRELOAD'] = os.path.abspath(lib)
    proc = subprocess.Popen(['valgrind', '--tool=lackey', '--trace-mem=yes',
                             '--log-file=' + trace, worker, '--worker', 'pingpong',
                             str(ROUND_TRIPS)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # The mappings as late in the run as they can be read (valgrind is the
    # worker's own process; the libraries stay mapped to the end).
    maps = None
    while proc.poll() is None:
        if os.path.exists(trace) and os.path.getsize(trace) > 4 << 20:
            try:
                m = read_maps(proc.pid)
            except OSError:
                break
            # A process on its way out reads as no mappings at all.
            if any('libc.so' in name for _, _, name, _ in m):
                maps = m
        time.sleep(0.1)
    if proc.wait() != 0 or maps is None:
        sys.exit(f'pages-between-calls: the worker failed or ended too soon ({lib or "native"})')
    sites = syscall_sites(maps)
    per_class = collections.Counter()
    cache = {}
    intervals = 0
    pages = set()
    with open(trace) as f:
        for line in f:
            kind = line[:2].strip()
            if kind not in ('I', 'L', 'S', 'M'):
                continue
            a = int(line[3:].split(',')[0], 16)
            if kind == 'I' and a in sites:
                intervals += 1
                if intervals > SKIP:
                    for p in pages:
                        c = cache.get(p)
                        if c is None:
                            c = cache[p] = classify(maps, p)
                        per_class[c] += 1
                pages = set()
                continue
            pages.add(a >> 12)
    n = intervals - SKIP
    if n <= 0:
        sys.exit(f"pages-between-calls: {intervals} system calls traced ({lib or 'native'})")
    return n, {c: v / n for c, v in per_class.items()}


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else 'build'
    workload = sys.argv[2] if len(sys.argv) > 2 else 'pipe'
    other = sys.argv[3] if len(sys.argv) > 3 else None
    if not shutil.which('valgrind'):
        print('pages-between-calls: valgrind is not installed', file=sys.stderr)
        sys.exit(77)
    columns = [('native', None), ('weft', os.path.join(build, 'hooks/libweft.so'))]
    if other:
        columns.append(('other', other))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, lib in columns:
            results.append((name,) + run(build, workload, lib, tmp))
    classes = sorted({c for _, _, r in results for c in r},
                     key=lambda c: -max(r.get(c, 0) for _, _, r in results))
    print(f'{workload} ping-pong: distinct pages between two system calls '
          f'({ROUND_TRIPS} round trips under valgrind --tool=lackey)')
    print('%-34s' % 'mapping' + ''.join('%10s' % name for name, _, _ in results))
    print('%-34s' % 'all' + ''.join('%10.2f' % sum(r.values()) for _, _, r in results))
    for c in classes:
        if max(r.get(c, 0) for _, _, r in results) >= 0.05:
            print('%-34s' % c + ''.join('%10.2f' % r.get(c, 0) for _, _, r in results))
    print('%-34s' % 'intervals' + ''.join('%10d' % n for _, n, _ in results))


if __name__ == '__main__':
    main()
