/*
 * The exporter thread: the agent's only consumer of events.
 *
 * It wakes every OTEL_BSP_SCHEDULE_DELAY (or early, when many threads have
 * exited, or at shutdown), drains every ring, assembles spans and metrics and
 * hands them to the outputs. It is single-threaded by construction: nothing
 * in exporter/ takes a lock.
 */
#ifndef WEFT_EXPORTER_EXPORTER_H
#define WEFT_EXPORTER_EXPORTER_H

/* Exited-but-uncollected threads that make an exiting thread wake the exporter. */
#define WEFT_EXPORTER_PENDING_EXITS_WAKE 1024

/*
 * Starts the exporter thread if it has not been started: called when the
 * program gets a second thread. Until then (and if it cannot start), the
 * final export runs on the exiting thread.
 */
void weft_exporter_ensure_started(void);

/* Asks the exporter for an early cycle; async-signal-safe, never blocks. */
void weft_exporter_wake(void);

/*
 * Final drain and export at process exit, waiting at most
 * OTEL_BSP_EXPORT_TIMEOUT. Runs the cycle on the calling thread when there is
 * no exporter thread.
 */
void weft_exporter_shutdown(void);

/* In a forked child: forget the parent's pending data; start again lazily. */
void weft_exporter_after_fork_child(void);

#endif
