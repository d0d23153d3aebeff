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
 *     anything whose interval overlaps another's without containing it) as an
 *     async slice "b"/"e" instead, cat = what it is, id = its span id;
 *   - span events (weft.deadlock, ...) but weft.report as instant events "i";
 *   - every span link whose producer is in the files as a flow "s" → "f"
 *     (bound to the enclosing slices), drawn forward in time: from the
 *     moment of the hand-off on the producer's span to the consumer's;
 *   - counter tracks "C" for process.thread.count, weft.thread.waiting,
 *     weft.channel.queue.depth and weft.pool.busy, one series per attribute
 *     set, from the metric points.
 *
 * Two passes over the files: the first keeps a small index of every span
 * (id, pid, tid, interval: TIMELINE_INDEX_BYTES a span, with its hash slot)
 * and the thread names, and decides which spans nest; the second streams the
 * events out as it reads. A line cut short ends its file's conversion, with
 * one warning.
 */
#ifndef WEFT_EXPORTER_TIMELINE_H
#define WEFT_EXPORTER_TIMELINE_H

/* argv: the files, and -o OUT ("-": standard output). An exit status. */
int weft_timeline_main(int argc, char **argv);

#endif
