/*
 * `weft timeline FILE... [-o OUT]`: weft's files as one Trace Event Format
 * file, which Perfetto UI, chrome://tracing and speedscope open.
 *
 * What comes out (`{"traceEvents":[...]}`, timestamps in microseconds from
 * the earliest process start, to the nanosecond):
 *   - a process track per pid, named `<service.name> (<pid>)`, and a thread
 *     track per thread, named `<thread.name> (<tid>)` (metadata events "M");
 *   - every span once, as a complete event "X" on its thread's track
 *     (thread.id; the process span on the main thread's) with its attributes,
 *     and its span.id and parent.span.id, as args; a span that cannot nest
 *     on its track (connect and accept, which live until close, across tasks;
 *     anything whose interval overlaps another's without containing it, or
 *     that arrives after its parent and overlaps a slice inside it) as an
 *     async slice "b"/"e" instead, cat = what it is, id = its span id;
 *   - span events (weft.deadlock, ...) but weft.report as instant events "i";
 *   - every span link whose producer is in the files as a flow "s" → "f"
 *     (bound to the enclosing slices), drawn forward in time: from the
 *     moment of the hand-off on the producer's span to the consumer's;
 *   - counter tracks "C" for process.thread.count, weft.thread.waiting,
 *     weft.channel.queue.depth and weft.pool.busy, one series per attribute
 *     set, from the metric points.
 *
 * One pass writes the events as it reads (after a quick look at the metrics
 * lines for time 0). What stays in memory: a 40-byte index entry a span (id,
 * pid, tid, start, end) and its hash slot, each track's slices as 16-byte
 * intervals (to decide nesting as spans arrive), the links whose producer
 * comes later (16 bytes each, drawn at the end), and the names. A line cut
 * short ends its file's conversion, with one warning.
 */
#ifndef WEFT_EXPORTER_TIMELINE_H
#define WEFT_EXPORTER_TIMELINE_H

/* argv: the files, and -o OUT ("-": standard output). An exit status. */
int weft_timeline_main(int argc, char **argv);

#endif
