/*
 * The exporter thread: turns the registry and the rings into spans and metrics.
 *
 * Single-threaded by construction. Each cycle runs the registry's consumer
 * protocol (weft_registry_cycle: take new threads, drain every ring, free
 * exited threads) with the interpreters (exporter/interp.h) as its visitor.
 * Spans are exported every OTEL_BSP_SCHEDULE_DELAY or when a full batch is
 * queued; metrics every OTEL_METRIC_EXPORT_INTERVAL; both at shutdown. This
 * file is the loop, the process span and the thread's life: start, the final
 * export at exit, and a forked child's fresh start.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/alloc.h"
#include "agent/clock.h"
#include "agent/format.h"
#include "agent/large.h"
#include "agent/fd.h"
#include "agent/log.h"
#include "agent/task.h"
#include "exporter/exporter.h"
#include "exporter/interp.h"
#include "exporter/json.h"
#include "exporter/metrics.h"
#include "exporter/otlp_retry.h"
#include "exporter/outputs.h"
#include "exporter/deadlocks.h"
#include "exporter/findings.h"
#include "exporter/prometheus.h"
#include "exporter/report.h"
#include "exporter/stuck.h"
#include "exporter/threadtime.h"
#include "exporter/resource.h"
#include "exporter/sampler.h"
#include "exporter/sink.h"
#include "exporter/spans.h"
#include "exporter/symbols.h"

static struct {
	struct weft_outputs out;
	struct weft_registry_reader reader;
	uint64_t next_spans_ns, next_metrics_ns, next_walk_ns;
	struct weft_instrument *dropped, *spans_exported, *export_failures;
	struct weft_rng rng;
	uint64_t rotated_seen; /* spans the file output's rotation has deleted, so far */
	bool setup_done, shut_down;
	bool in_cycle;  /* weft_exporter_cycle is running: the registry's reader is busy */
	bool exporting; /* export_spans is running: a full batch waits for it */
	bool facts_done;
	/* Borrowing from a thread other than main (agent/fd.h); or never possible here. */
	bool borrow_moved, borrow_impossible;
	struct weft_report report; /* last: emptied apart after a fork */
} ex WEFT_LARGE;

/*
 * Who does the final export. The exporter thread runs until either the
 * process asks it to stop (exit() → destructor → shutdown: STOPPING, and the
 * exporter thread does the final export and posts done_word), or it finds no
 * application thread left after the main thread's pthread_exit and steps
 * aside (LEAVING) so that glibc's last-thread exit can happen; the final
 * export then runs on whichever thread calls the destructor. One CAS from
 * RUNNING decides, so exactly one of the two paths owns the exporter state.
 */
enum { EXPORTER_NONE, EXPORTER_RUNNING, EXPORTER_STOPPING, EXPORTER_LEAVING };
static _Atomic int exporter_state;
/*
 * The exporter thread, joinable so that the program's last thread can wait
 * for its end (exporter_step_aside); set once started, and claimed by the one
 * thread that joins it.
 */
static pthread_t exporter_thread;
static _Atomic int exporter_joinable;
static _Atomic uint32_t done_word;

static const char *const drop_reasons[WEFT_DROP_REASON_COUNT][1] = {
	[WEFT_DROP_RING_FULL] = { "ring_full" },
	[WEFT_DROP_QUEUE_FULL] = { "queue_full" },
	[WEFT_DROP_EXPORT_FAILED] = { "export_failed" },
	[WEFT_DROP_ROTATED] = { "rotated" },
};
static const char *const signal_traces[] = { "traces" };
static const char *const signal_metrics[] = { "metrics" };

static long futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *timeout)
{
	return syscall(SYS_futex, addr, op, val, timeout, NULL, 0);
}

/* --- What interpreters use ------------------------------------------------ */

void weft_exporter_drop(enum weft_drop_reason reason, int64_t n)
{
	if (n > 0)
		weft_metrics_add(ex.dropped, drop_reasons[reason], n);
}

struct weft_report *weft_exporter_report(void)
{
	return &ex.report;
}

struct weft_thread *weft_exporter_threads(void)
{
	return ex.reader.threads;
}

/* prefix + name, cut to fit: two copies (snprintf costs about 1,000 instructions a span). */
static void span_name(char *out, size_t size, const char *prefix, const char *name)
{
	size_t a = strnlen(prefix, size - 1), b = strnlen(name, size - 1 - a);

	memcpy(out, prefix, a);
	memcpy(out + a, name, b);
	out[a + b] = '\0';
}

struct weft_qspan *weft_exporter_span(const struct weft_trace_id *trace, uint64_t span,
				      uint64_t parent, uint64_t start_ns, uint64_t end_ns,
				      const char *name_prefix, const char *name)
{
	struct weft_qspan *q;

	/*
	 * No trace output (OTEL_TRACES_EXPORTER=none): a span would be built for
	 * nobody. Callers take NULL as they do a full queue's, and nothing is
	 * counted as dropped: there was nowhere to deliver it.
	 */
	if (!weft_cfg.traces_out)
		return NULL;
	q = weft_spans_reserve(false);
	if (!q) {
		weft_exporter_drop(WEFT_DROP_QUEUE_FULL, 1);
		return NULL;
	}
	q->s.trace_id = *trace;
	weft_span_id_from_u64(span ? span : weft_ids_span(&ex.rng), &q->s.span_id);
	weft_span_id_from_u64(parent, &q->s.parent_span_id);
	q->s.flags = weft_process.flags & 1;
	span_name(q->name, sizeof(q->name), name_prefix, name);
	q->s.start_unix_nano = weft_clock_to_unix(start_ns);
	q->s.end_unix_nano = weft_clock_to_unix(end_ns);
	return q;
}

/* --- The cycle ------------------------------------------------------------ */

static void export_spans(void);
static void process_facts(void);

static void visit_taken(struct weft_thread *t, void *arg)
{
	weft_interp_thread_taken(t);
}

static void visit_event(struct weft_thread *t, const struct weft_event *ev, void *arg)
{
	if (ev->h.type == WEFT_EV_WAIT && (ev->h.flags & WEFT_EVF_TASK)) {
		struct weft_event two[2];

		/* A wait and the task it started, in one record (agent/event.h). */
		weft_task_expand(t, ev, two);
		weft_interp_event(t, &two[0]);
		weft_interp_event(t, &two[1]);
		return;
	}
	weft_interp_event(t, ev);
}

/* A full batch is exported at once, rather than left to fill the queue. */
static void export_full_batch(void)
{
	if (!ex.exporting && weft_spans_queued() >= weft_spans_batch_size())
		export_spans();
}

static void visit_drained(struct weft_thread *t, uint64_t new_drops, void *arg)
{
	weft_exporter_drop(WEFT_DROP_RING_FULL, (int64_t)new_drops);
	export_full_batch();
}

static void visit_exited(struct weft_thread *t, void *arg)
{
	weft_interp_thread_ended(t, weft_load_relaxed(&t->end_ns), false);
	export_full_batch();
}

static const struct weft_registry_visitor visitor = {
	.taken = visit_taken,
	.event = visit_event,
	.drained = visit_drained,
	.exited = visit_exited,
};

void weft_exporter_cycle(void)
{
	ex.in_cycle = true;
	weft_registry_cycle(&ex.reader, &visitor, NULL);
	ex.in_cycle = false;
}

/*
 * Between the attempts of a request the collector asked to retry later
 * (exporter/otlp_retry.h): the rings are drained into the queue, unless the
 * request was made from inside a cycle (a full batch exported while
 * draining), whose reader cannot be re-entered. Nothing is exported from
 * inside (no request within a request): a queue that fills meanwhile drops,
 * counted as queue_full.
 */
static void drain_while_retrying(void)
{
	bool exporting = ex.exporting;

	if (ex.in_cycle)
		return;
	ex.exporting = true;
	weft_exporter_cycle();
	ex.exporting = exporting;
}

/* --- Export ------------------------------------------------------------- */

static void export_spans(void)
{
	size_t failed_batches, failed_spans, n;

	ex.exporting = true;
	n = weft_spans_export(ex.out.traces, ex.out.n_traces, weft_resource_get(), &failed_batches,
			      &failed_spans);
	ex.exporting = false;
	weft_metrics_add(ex.spans_exported, NULL, (int64_t)n);
	weft_metrics_add(ex.export_failures, signal_traces, (int64_t)failed_batches);
	weft_exporter_drop(WEFT_DROP_EXPORT_FAILED, (int64_t)failed_spans);
	/* What the file output's rotation deleted since last time. */
	n = weft_outputs_rotated_spans(&ex.out);
	weft_exporter_drop(WEFT_DROP_ROTATED, (int64_t)(n - ex.rotated_seen));
	ex.rotated_seen = n;
}

/* The metrics as they stand: the interpreters have collected just before (their gauges set). */
static void export_metrics(void)
{
	const struct weft_metric *metrics;
	uint64_t now = weft_clock_to_unix(weft_clock_now());
	size_t n;
	bool ok = false;

	n = weft_metrics_collect(&metrics, weft_clock_to_unix(weft_process.start_ns), now);
	for (size_t k = 0; k < ex.out.n_metrics; k++)
		if (ex.out.metrics[k]->export_metrics(ex.out.metrics[k], weft_resource_get(),
						      metrics, n) == 0)
			ok = true;
	if (!ok && ex.out.n_metrics)
		weft_metrics_add(ex.export_failures, signal_metrics, 1);
}

/*
 * What a Prometheus scrape sees: the rings drained and the interpreters'
 * gauges set just now, as before a periodic export (spans a full batch
 * makes meanwhile are exported as at any cycle; the rest wait for theirs).
 */
static size_t scrape_collect(const struct weft_metric **metrics)
{
	weft_exporter_cycle();
	weft_interp_collect();
	return weft_metrics_collect(metrics, weft_clock_to_unix(weft_process.start_ns),
				    weft_clock_to_unix(weft_clock_now()));
}

/* Sleeps until the next deadline or a wake; with the endpoint open, serves a client too. */
static void exporter_sleep(uint32_t seen, uint64_t timeout_ns)
{
	if (!weft_prometheus_active()) {
		weft_consumer_wait(seen, timeout_ns);
		return;
	}
	if (weft_prometheus_wait(seen, timeout_ns))
		weft_prometheus_serve(scrape_collect, weft_resource_get());
}

/* --- Setup -------------------------------------------------------------- */

void weft_exporter_setup(void)
{
	static const char *const reason_key[] = { "weft.drop.reason" };
	static const char *const signal_key[] = { "weft.signal" };

	if (ex.setup_done)
		return;
	ex.setup_done = true;
	weft_sampler_setup();
	weft_ids_seed(&ex.rng, (uint64_t)gettid());
	weft_spans_init(weft_cfg.bsp_max_queue, weft_cfg.bsp_max_batch);
	weft_metrics_set_limit(weft_cfg.cardinality_limit);
	ex.dropped = weft_metrics_sum("weft.agent.events.dropped",
				      "Telemetry weft recorded but could not deliver.", "{event}",
				      true, 1, reason_key);
	ex.spans_exported = weft_metrics_sum("weft.agent.spans.exported",
					     "Spans handed to an output.", "{span}", true, 0, NULL);
	ex.export_failures =
		weft_metrics_sum("weft.agent.export.failures", "Export requests that failed.",
				 "{request}", true, 1, signal_key);
	weft_interp_setup();
	weft_otlp_set_nap_hook(drain_while_retrying);
	/* Series that exist from the start, so that a zero is reported as zero. */
	for (int r = 0; r < WEFT_DROP_REASON_COUNT; r++)
		weft_metrics_add(ex.dropped, drop_reasons[r], 0);
	weft_metrics_add(ex.spans_exported, NULL, 0);
	weft_metrics_add(ex.export_failures, signal_traces, 0);
	weft_metrics_add(ex.export_failures, signal_metrics, 0);
	weft_outputs_open(&ex.out);
	ex.report.start_ns = weft_process.start_ns;
	ex.next_spans_ns = weft_clock_after(weft_clock_now(), weft_cfg.bsp_schedule_delay_ns);
	ex.next_metrics_ns = weft_clock_after(weft_clock_now(), weft_cfg.metric_interval_ns);
	ex.next_walk_ns = weft_clock_after(weft_clock_now(), WEFT_DEADLOCK_WALK_NS);
}

/* --- Shutdown ----------------------------------------------------------- */

/* The process span, queued last; NULL when it could not be. */
static struct weft_qspan *finish_process_span(uint64_t end_ns)
{
	struct weft_qspan *q;
	int code = weft_load_relaxed(&weft_process.exit_code);

	if (!weft_cfg.traces_out)
		return NULL; /* no trace output: weft_exporter_span */
	q = weft_spans_reserve(true);
	if (!q) {
		weft_exporter_drop(WEFT_DROP_QUEUE_FULL, 1);
		return NULL;
	}
	q->s.trace_id = weft_process.trace;
	weft_span_id_from_u64(weft_process.span, &q->s.span_id);
	weft_span_id_from_u64(weft_process.parent_span, &q->s.parent_span_id);
	q->s.flags = weft_process.flags & 1;
	weft_copy(q->name, sizeof(q->name), "process");
	q->s.start_unix_nano = weft_clock_to_unix(weft_process.start_ns);
	q->s.end_unix_nano = weft_clock_to_unix(end_ns);
	weft_qspan_attr_int(q, "process.pid", weft_process.pid);
	if (weft_load_relaxed(&weft_process.term_signal)) {
		/* Dying of a signal (agent/signals.h): no exit code; a fault is a crash. */
		int sig = weft_load_relaxed(&weft_process.term_signal);
		const char *abbrev = sigabbrev_np(sig);

		weft_format(q->object, sizeof(q->object), "SIG%s", abbrev ? abbrev : "?");
		weft_qspan_attr_str(q, "weft.process.signal", q->object);
		q->s.status = WEFT_STATUS_ERROR;
		q->s.status_message = q->object;
		return q;
	}
	if (weft_load_relaxed(&weft_process.execed)) {
		/* The image was replaced (exec): the process goes on, with no exit code yet. */
		weft_qspan_attr_bool(q, "weft.process.exec", true);
		return q;
	}
	weft_qspan_attr_int(q, "process.exit.code", code);
	if (code != 0) {
		q->s.status = WEFT_STATUS_ERROR;
		weft_format(q->object, sizeof(q->object), "exit code %d", code);
		q->s.status_message = q->object;
	}
	return q;
}

/* Everything weft could not deliver so far, all reasons. */
static int64_t dropped_total(void)
{
	int64_t n = 0;

	for (int r = 0; r < WEFT_DROP_REASON_COUNT; r++)
		n += weft_metrics_value(ex.dropped, drop_reasons[r]);
	return n;
}

/*
 * The end-of-run report, formatted (NUL-terminated) into `text` before the
 * final batch is exported: its spans — the process span included — are
 * counted as exported, and what the final export fails to deliver is not yet
 * counted as dropped.
 */
static void format_report(uint64_t end, struct weft_json *text)
{
	ex.report.end_ns = end;
	ex.report.dropped = dropped_total();
	ex.report.spans_exported =
		weft_metrics_value(ex.spans_exported, NULL) + (int64_t)weft_spans_queued();
	/* Where the file goes: the fallback, if the configured path already failed. */
	weft_copy(ex.report.output, sizeof(ex.report.output), weft_outputs_file_path(&ex.out));
	weft_json_reset(text);
	weft_report_format(&ex.report, text);
	weft_json_append(text, "", 1);
}

/*
 * The report travels with the telemetry: one event `weft.report` on the
 * process span, whose attribute `weft.report.text` is the text WEFT_REPORT
 * prints (`weft report FILE` reads it back). Always attached, whether or not
 * WEFT_REPORT is set.
 */
static void attach_report(struct weft_qspan *q, const struct weft_json *text, uint64_t end)
{
	static struct weft_attr attr = { .key = "weft.report.text", .type = WEFT_VALUE_STRING };
	static struct weft_span_event events[1 + 2 * WEFT_REPORT_FINDINGS];
	static struct weft_attr facts[WEFT_REPORT_FINDINGS][6], pairs[WEFT_REPORT_FINDINGS][4];
	static char hex[WEFT_REPORT_FINDINGS][2][24];
	size_t n = 0;

	if (!q)
		return;
	/* Each finding travels too: one weft.finding event, its facts as attributes. */
	for (size_t i = 0; i < ex.report.n_findings; i++) {
		const struct weft_report_finding *f = &ex.report.findings[i];
		struct weft_attr *a = facts[i];
		size_t na = 0;

		weft_attr_str(a, &na, "weft.finding.kind", f->kind);
		weft_attr_str(a, &na, "weft.finding.text", f->text);
		if (f->threads)
			weft_attr_int(a, &na, "weft.finding.threads", f->threads);
		if (f->pool[0])
			weft_attr_str(a, &na, "weft.pool.name", f->pool);
		if (f->wait_kind[0])
			weft_attr_str(a, &na, "weft.wait.kind", f->wait_kind);
		if (f->function[0])
			weft_attr_str(a, &na, "code.function.name", f->function);
		events[n++] = (struct weft_span_event){ .name = "weft.finding",
							.time_unix_nano = weft_clock_to_unix(end),
							.attrs = a,
							.n_attrs = na };
		if (!f->lock_first)
			continue;
		/* A lock-order inversion is also the event TELEMETRY.md names. */
		weft_format(hex[i][0], sizeof(hex[i][0]), "0x%llx",
			    (unsigned long long)f->lock_first);
		weft_format(hex[i][1], sizeof(hex[i][1]), "0x%llx",
			    (unsigned long long)f->lock_second);
		a = pairs[i];
		na = 0;
		weft_attr_str(a, &na, "weft.lock.first", hex[i][0]);
		weft_attr_str(a, &na, "weft.lock.second", hex[i][1]);
		weft_attr_str(a, &na, "weft.site.forward", f->site_forward);
		weft_attr_str(a, &na, "weft.site.reverse", f->site_reverse);
		events[n++] = (struct weft_span_event){ .name = "weft.lock_order_inversion",
							.time_unix_nano = weft_clock_to_unix(end),
							.attrs = a,
							.n_attrs = na };
	}
	if (!weft_json_error(text) && text->len) {
		attr.v.s = text->buf;
		events[n++] = (struct weft_span_event){ .name = "weft.report",
							.time_unix_nano = weft_clock_to_unix(end),
							.attrs = &attr,
							.n_attrs = 1 };
	}
	q->s.events = events;
	q->s.n_events = n;
}

static void final_export(void)
{
	uint64_t end = weft_clock_now();
	struct weft_qspan *q;
	struct weft_json text;

	process_facts();
	weft_exporter_setup();
	if (ex.shut_down)
		return;
	ex.shut_down = true;
	weft_exporter_cycle();
	/* Deadlocks, stuck and leaked threads as the process leaves them. */
	weft_stuck_final(end);
	/* Threads still running at exit: their spans end with the process. */
	weft_threadtime_exit_read(end);
	for (struct weft_thread *t = ex.reader.threads; t; t = t->next)
		weft_interp_thread_ended(t, end, true);
	/*
	 * The interpreters collect once, before the spans: those they make
	 * (connections) go in this last batch, their gauges in the last metrics.
	 */
	weft_interp_collect();
	/* What only the whole run shows: hot locks, saturated pools (every thread has ended). */
	weft_findings_conclude(&ex.report, end - ex.report.start_ns);
	weft_threadtime_conclude(&ex.report);
	q = finish_process_span(end);
	/* Formatted once, before the process span is encoded; used twice. */
	weft_json_init(&text);
	format_report(end, &text);
	attach_report(q, &text, end);
	export_spans();
	export_metrics();
	if (weft_cfg.report[0]) {
		/*
		 * The final export lost something: the event did not reach every
		 * output, and the live report says what was lost (the two texts
		 * differ only then).
		 */
		if (dropped_total() != ex.report.dropped) {
			ex.report.spans_exported = weft_metrics_value(ex.spans_exported, NULL);
			format_report(end, &text);
		}
		if (!weft_json_error(&text) && text.len)
			weft_report_write(text.buf, text.len - 1, weft_cfg.report);
	}
	weft_json_free(&text);
	weft_outputs_shutdown(&ex.out);
}

/* --- The thread --------------------------------------------------------- */

/*
 * Once main has exited, the program's descriptors are borrowed from another
 * of its live threads (agent/fd.h, weft_fd_borrow_from); again when that one
 * has gone. One candidate a turn: a thread ending meanwhile is retried at
 * the next.
 */
static void borrow_from_live_thread(void)
{
	if (ex.borrow_impossible || !weft_load_acquire(&weft_process.main_exited) ||
	    (ex.borrow_moved && !weft_fd_borrow_lost()))
		return;
	for (struct weft_thread *t = ex.reader.threads; t; t = t->next) {
		int r;

		if (weft_load_acquire(&t->exited) || t->tid <= 0 || t->tid == getpid())
			continue;
		r = weft_fd_borrow_from(t->tid);
		ex.borrow_moved = r == 0;
		ex.borrow_impossible = r != 0 && r != -ESRCH;
		return;
	}
}

/* Each turn of the exporter's: borrowing from a live thread, the stderr copy current. */
static void own_table_turn(void)
{
	borrow_from_live_thread();
	weft_fd_own_table_refresh();
}

static void *exporter_main(void *arg)
{
	prctl(PR_SET_NAME, "weft-exporter", 0, 0, 0);
	/*
	 * At the program's own priority, not behind it. This thread's work is
	 * what the program's threads did, and it runs only when there is some:
	 * put last in line for a busy core (nice 10, as it was), it fell behind
	 * a program whose threads kept both cores busy, and what waited for it
	 * cost the program more than the work itself. Under thread churn the
	 * ended threads' states piled up (12-20 MB where 6 MB does at nice 0)
	 * and each new thread's state came from fresh pages, faulted in on the
	 * program's threads (tests/bench/README.md, concurrent thread creation).
	 */
	/*
	 * Before anything opens a file: from here on, what this thread opens is
	 * never in the program's descriptor table (agent/fd.h).
	 */
	/* The output directory, where holding it costs the program nothing. */
	if (weft_fd_take_own_table())
		weft_fd_output_dir_open();
	weft_exporter_setup();
	/* Served only while this thread runs: an exit-time export has no one to serve. */
	if (weft_cfg.metrics_out & WEFT_OUT_PROMETHEUS)
		weft_prometheus_open();
	while (weft_load_acquire(&exporter_state) == EXPORTER_RUNNING) {
		uint32_t seen = weft_load_relaxed(&weft_consumer_word);
		uint64_t now = weft_clock_now();
		uint64_t deadline = ex.next_spans_ns < ex.next_metrics_ns ? ex.next_spans_ns
									  : ex.next_metrics_ns;

		deadline = ex.next_walk_ns < deadline ? ex.next_walk_ns : deadline;

		if (now < deadline)
			exporter_sleep(seen, deadline - now);
		own_table_turn();
		if (weft_load_acquire(&exporter_state) != EXPORTER_RUNNING)
			break;
		if (weft_load_acquire(&weft_registry_live) == 0 &&
		    weft_load_acquire(&weft_process.main_exited)) {
			int expected = EXPORTER_RUNNING;

			weft_prometheus_close();
			/* Last access to the exporter state from this thread on this path. */
			if (weft_cas_acq_rel(&exporter_state, &expected, EXPORTER_LEAVING)) {
				/* Its copies no longer keep a slot (agent/fd.h). */
				weft_fd_own_table_leave();
				return NULL;
			}
			break;
		}
		weft_exporter_cycle();
		now = weft_clock_now();
		if (now >= ex.next_spans_ns) {
			export_spans();
			ex.next_spans_ns = weft_clock_after(now, weft_cfg.bsp_schedule_delay_ns);
		}
		if (now >= ex.next_metrics_ns) {
			weft_interp_collect();
			export_metrics();
			ex.next_metrics_ns = weft_clock_after(now, weft_cfg.metric_interval_ns);
		}
		if (now >= ex.next_walk_ns) {
			weft_stamp_refresh(); /* the stamps' rate, over a longer baseline */
			weft_deadlocks_walk(now);
			weft_threadtime_sample(now);
			ex.next_walk_ns = weft_clock_after(now, WEFT_DEADLOCK_WALK_NS);
		}
	}
	weft_prometheus_close();
	own_table_turn();
	final_export();
	weft_store_release(&done_word, 1);
	futex(&done_word, FUTEX_WAKE_PRIVATE, 1, NULL);
	return NULL;
}

/*
 * Facts about the process that must be read on one of its own threads while
 * the main thread lives: /proc/self/exe and /proc/self/cmdline stop resolving
 * once the thread-group leader has exited. Read once per process, by whoever
 * starts the exporter or, with none started, by the final export.
 */
static void process_facts(void)
{
	if (ex.facts_done)
		return;
	ex.facts_done = true;
	weft_resource_build();
	weft_symbols_init();
}

/*
 * Starts the exporter thread, once, when the program first has a second
 * thread: a single-threaded program stays single-threaded (unshare(2) of a
 * user namespace, for one, refuses multi-threaded callers), and a fork that
 * execs at once costs no thread and leaves no file. Its telemetry is exported
 * at exit, on the exiting thread. The CAS from NONE is the claim; shutdown
 * claims NONE too, so a start never races a final export.
 */
static void exporter_start(void)
{
	pthread_t th;
	pthread_attr_t attr;
	sigset_t all, old;
	int expected = EXPORTER_NONE, rc;

	if (weft_load_acquire(&exporter_state) != EXPORTER_NONE ||
	    !weft_cas_acq_rel(&exporter_state, &expected, EXPORTER_RUNNING))
		return;
	/*
	 * The private allocator initialises now, as it would at the exporter's
	 * first allocation: jemalloc opens two files as it does
	 * (/proc/sys/vm/overcommit_memory and the THP setting, by system call),
	 * and before the program's second thread exists no other thread can
	 * open a file meanwhile and get a different number. (A process that
	 * never has a second thread exports at exit from the boot arena and
	 * never initialises it.)
	 */
	if (!weft_load_acquire(&weft_allocator.ready))
		weft_alloc_first();
	process_facts();
	/* Its wake descriptor is written by the program's threads: made in their table. */
	if (weft_cfg.metrics_out & WEFT_OUT_PROMETHEUS)
		weft_prometheus_prepare();
	weft_store_relaxed(&done_word, 0);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 1u << 20);
	/* Created with every signal blocked: the program's handlers never run here. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&th, &attr, exporter_main, NULL); /* guard set: an agent thread */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc == 0) {
		exporter_thread = th;
		weft_store_release(&exporter_joinable, 1);
		return;
	}
	weft_warn("cannot start the exporter thread (%s); telemetry will be written at exit",
		  strerror(rc));
	expected = EXPORTER_RUNNING;
	if (!weft_cas_acq_rel(&exporter_state, &expected, EXPORTER_NONE)) {
		/* Shutdown began meanwhile and waits for a thread that never came. */
		final_export();
		weft_store_release(&done_word, 1);
		futex(&done_word, FUTEX_WAKE_PRIVATE, 1, NULL);
	}
}

/* Outputs shorten their retries from here on (exporter/otlp_http.c), once. */
static void exit_begins(void)
{
	if (weft_load_acquire(&weft_process.exiting))
		return;
	weft_process.exiting_ns = weft_clock_now();
	weft_store_release(&weft_process.exiting, 1);
}

static void exporter_shutdown(void)
{
	uint64_t deadline;
	int expected = EXPORTER_RUNNING;

	exit_begins();

	if (!weft_cas_acq_rel(&exporter_state, &expected, EXPORTER_STOPPING)) {
		/*
		 * No exporter thread: never started (claim NONE, so none starts now)
		 * or it stepped aside (LEAVING). Export here.
		 */
		if (expected == EXPORTER_NONE &&
		    !weft_cas_acq_rel(&exporter_state, &expected, EXPORTER_STOPPING)) {
			exporter_shutdown(); /* a start won the race: wait for it */
			return;
		}
		if (expected != EXPORTER_STOPPING)
			final_export();
		return;
	}
	weft_consumer_wake();
	/*
	 * The outputs stop delivering at WEFT_EXIT_TIMEOUT after the exit began
	 * (otlp_http.c); what follows — encoding what is left, writing the spool
	 * and the report — gets one more second.
	 */
	deadline = weft_clock_after(weft_clock_now(),
				    weft_clock_after(weft_cfg.exit_timeout_ns, 1000000000u));
	while (!weft_load_acquire(&done_word)) {
		uint64_t now = weft_clock_now();
		struct timespec ts;

		if (now >= deadline) {
			weft_warn("export did not finish within WEFT_EXIT_TIMEOUT (and a second); "
				  "exiting without it");
			break;
		}
		ts.tv_sec = (time_t)((deadline - now) / 1000000000u);
		ts.tv_nsec = (long)((deadline - now) % 1000000000u);
		futex(&done_word, FUTEX_WAIT_PRIVATE, 0, &ts);
	}
}

/* vsnprintf's call, through a va_list as the JSON writer's is. */
static __attribute__((format(printf, 3, 4))) void bind_vsnprintf(char *buf, size_t n,
								 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, n, fmt, ap);
	va_end(ap);
}

/*
 * Before the process's first fork: the C library functions a forked child's
 * export calls are bound here, once, in the parent. libweft.so binds its
 * imports lazily (hooks/meson.build), so a process that had not exported
 * yet left them unbound, and every child bound them again: ten lookups, each
 * reading the loader's symbol tables, whose pages a child has not mapped yet
 * (a page fault each: about 130 us a child on the development VM). Each call
 * here does nothing: a bad descriptor, no room, nothing to find. test-lifecycle
 * checks with LD_DEBUG=bindings that a child binds nothing of libweft.so's.
 */
static void exporter_before_fork(void)
{
	static bool bound;
	volatile size_t none = 0;
	volatile uintptr_t used; /* kept: pure functions whose result is unused are not called */
	char buf[8] = "0";
	struct utsname u;
	struct stat st;
	int saved = errno;

	if (bound)
		return;
	bound = true;
	memset(buf + 1, 0, none);
	used = strnlen(buf, none);
	used = (uintptr_t)strchr(buf + none, 'x');
	used = (uintptr_t)strchrnul(buf + none, 'x'); /* agent/format.c */
	(void)strtod(buf, NULL);
	(void)strtoull(buf, NULL, 10); /* exporter/threadtime.c */
	(void)snprintf(buf, none, "%d", 0);
	bind_vsnprintf(buf, none, "%d", 0);
	(void)getppid();
	(void)uname(&u);
	(void)fstat(-1, &st);
	(void)!write(-1, buf, none);
	weft_fd_bind_calls();
	(void)used;
	errno = saved;
}

static void exporter_after_fork_child(void)
{
	/*
	 * Everything the parent's exporter held is the parent's: its queued spans
	 * will be exported by the parent, its sinks' descriptors are inherited
	 * copies. Start from nothing (leaking rather than freeing what the parent's
	 * exporter may have been changing at the moment of fork).
	 */
	memset(&ex, 0, offsetof(__typeof__(ex), report));
	weft_report_reset(&ex.report);
	weft_metrics_reset();
	weft_spans_reset();
	weft_symbols_reset();
	weft_prometheus_after_fork();
	weft_interp_after_fork();
	weft_store_relaxed(&weft_consumer_word, 0);
	/* A new thread in the child starts its exporter; until then, none. */
	weft_store_relaxed(&exporter_state, EXPORTER_NONE);
	weft_store_relaxed(&exporter_joinable, 0);
}

/*
 * The program's last thread ends (consumer.h): the exporter, woken, sees the
 * same two facts and steps aside (EXPORTER_LEAVING); this thread waits for
 * its end (main's, in a thread-specific data destructor). Only one thread
 * joins (main and the last thread may both see the facts: the other needs no
 * wait, since the joiner ends after both). Not a cancellation point here.
 *
 * The process ends with this thread, so its exit begins now: an export in
 * flight keeps to WEFT_EXIT_TIMEOUT from here, as at exit() (without it, a
 * collector that never answers held the join for every retry, ~30 s). And
 * the join is not made under the guard: a fatal signal meanwhile must still
 * find weft's handler willing to make the final export
 * (weft_agent_signal_exit); the join's own hook records nothing on a thread
 * that has ended.
 */
static void exporter_step_aside(void)
{
	int one = 1, state;
	unsigned guard;
	uintptr_t guard_sp;

	if (!weft_cas_acq_rel(&exporter_joinable, &one, 0)) {
		weft_consumer_wake();
		return;
	}
	exit_begins();
	weft_consumer_wake();
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state);
	guard = weft_guard_depth;
	guard_sp = weft_tls.guard_sp;
	weft_guard_depth = 0;
	pthread_join(exporter_thread, NULL);
	/* Its frame first: a jump that sees the guard up sees where it was raised. */
	weft_tls.guard_sp = guard_sp;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	weft_guard_depth = guard;
	pthread_setcancelstate(state, NULL);
}

static bool exporter_idle(void)
{
	return weft_load_acquire(&exporter_state) == EXPORTER_NONE;
}

/* The agent's consumer (agent/consumer.h): this exporter. */
const struct weft_consumer weft_consumer = {
	.start = exporter_start,
	.shutdown = exporter_shutdown,
	.before_fork = exporter_before_fork,
	.after_fork_child = exporter_after_fork_child,
	.idle = exporter_idle,
	.step_aside = exporter_step_aside,
};
