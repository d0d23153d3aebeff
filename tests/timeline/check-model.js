// Reads a Trace Event Format file with @tracerbench/trace-model, an
// independent model builder (processes, threads, their slices nested by
// time), and prints what it built as JSON for test-timeline.py:
//   {"processes": [{"pid", "name", "threads": [{"tid", "name",
//     "slices": [{"span", "parent", "start", "end"}]}]}], "phases": {ph: n}}
// where "parent" is the span of the slice the model nested it in.
'use strict';
const fs = require('fs');
const { buildModel } = require('@tracerbench/trace-model');

const trace = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const events = Array.isArray(trace) ? trace : trace.traceEvents;
const phases = {};
for (const e of events) phases[e.ph] = (phases[e.ph] || 0) + 1;
const model = buildModel(events);
const span = (e) => (e && e.args ? e.args['span.id'] : undefined);
const out = {
  phases,
  processes: model.processes.map((p) => ({
    pid: p.id,
    name: p.name,
    threads: p.threads.map((t) => ({
      tid: t.id,
      name: t.name,
      slices: t.events
        .filter((e) => e.isComplete())
        .map((e) => ({ span: span(e), parent: span(e.parent), start: e.start, end: e.end })),
    })),
  })),
};
process.stdout.write(JSON.stringify(out));
