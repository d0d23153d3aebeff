/*
 * The exporter thread: turns the registry and the rings into spans and metrics.
 *
 * Single-threaded by construction. Each cycle:
 *   1. takes threads registered since the last cycle (they are "seen": the
 *      created and live counts change, names waiting for them are applied);
 *   2. for each thread: reads whether it has exited (acquire) *before*
 *      draining its ring, so that every event it recorded is drained; drains
 *      the ring, interpreting events (names, waits);
 *   3. ends the span of each thread found exited in step 2 and frees its
 *      state — the only place a state is freed.
 * Spans are exported every OTEL_BSP_SCHEDULE_DELAY or when a full batch is
 * queued; metrics every OTEL_METRIC_EXPORT_INTERVAL; both at shutdown.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/alloc.h"
#include "agent/clock.h"
#include "agent/log.h"
#include "exporter/exporter.h"
#include "exporter/metrics.h"
#include "exporter/outputs.h"
#include "exporter/report.h"
#include "exporter/resource.h"
#include "exporter/sampler.h"
#include "exporter/sink.h"
#include "exporter/spans.h"
#include "exporter/symbols.h"

enum { PENDING_NAMES = 64 };

/*
 * What the exporter remembers of a thread by its pthread_t after its state is
 * freed, for the join that reaped it (drained possibly a cycle later).
 */
struct tinfo {
	pthread_t key;
	bool used;
	pid_t tid;
	struct weft_trace_id trace;
	uint64_t span;
	uint64_t start_ns;
	/* The previous thread that had this pthread_t, for a join drained late. */
	pid_t prev_tid;
	struct weft_trace_id prev_trace;
	uint64_t prev_span, prev_start_ns;
};

struct pending_name {
	pthread_t key;
	char name[24];
};

static struct {
	struct weft_outputs out;
	struct weft_thread *threads; /* every live (and not yet freed) state */
	struct tinfo *map;
	size_t map_cap, map_n;
	struct pending_name pending[PENDING_NAMES];
	size_t n_pending;
	int64_t live, peak;
	uint64_t next_spans_ns, next_metrics_ns;
	struct weft_instrument *thread_count, *created, *waiting, *wait_duration, *dropped,
		*spans_exported, *export_failures;
	struct weft_report report;
	struct weft_rng rng;
	bool setup_done, shut_down;
	bool facts_done;
} ex;

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
static _Atomic uint32_t wake_word;
static _Atomic uint32_t done_word;

/* weft.wait.duration buckets, in seconds: 1 µs to 10 s by decades. */
static const double wait_bounds[] = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10};

/* Wait kinds whose hooks exist: each gets a weft.thread.waiting point. */
static const enum weft_wait_kind implemented_kinds[] = {WEFT_WAIT_JOIN};

static const char *const reason_ring_full[] = {"ring_full"};
static const char *const reason_queue_full[] = {"queue_full"};
static const char *const reason_export_failed[] = {"export_failed"};
static const char *const signal_traces[] = {"traces"};
static const char *const signal_metrics[] = {"metrics"};

static long futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *timeout)
{
	return syscall(SYS_futex, addr, op, val, timeout, NULL, 0);
}

void weft_exporter_wake(void)
{
	weft_fetch_add_relaxed(&wake_word, 1);
	futex(&wake_word, FUTEX_WAKE_PRIVATE, 1, NULL);
}

/* --- The pthread_t map ------------------------------------------------- */

static size_t map_slot(pthread_t key, size_t cap)
{
	return (size_t)(((uint64_t)key * 0x9e3779b97f4a7c15ull) >> 24) & (cap - 1);
}

static struct tinfo *map_find(pthread_t key)
{
	if (!ex.map_cap)
		return NULL;
	for (size_t j = map_slot(key, ex.map_cap); ex.map[j].used; j = (j + 1) & (ex.map_cap - 1))
		if (ex.map[j].key == key)
			return &ex.map[j];
	return NULL;
}

static struct tinfo *map_insert(pthread_t key)
{
	struct tinfo *e = map_find(key);
	size_t j;

	if (e)
		return e;
	if ((ex.map_n + 1) * 2 > ex.map_cap) {
		size_t cap = ex.map_cap ? ex.map_cap * 2 : 64;
		struct tinfo *m = weft_zalloc(cap * sizeof(*m));

		if (!m)
			return NULL;
		for (size_t i = 0; i < ex.map_cap; i++) {
			if (!ex.map[i].used)
				continue;
			for (j = map_slot(ex.map[i].key, cap); m[j].used; j = (j + 1) & (cap - 1))
				;
			m[j] = ex.map[i];
		}
		weft_free(ex.map);
		ex.map = m;
		ex.map_cap = cap;
	}
	for (j = map_slot(key, ex.map_cap); ex.map[j].used; j = (j + 1) & (ex.map_cap - 1))
		;
	ex.map[j].used = true;
	ex.map[j].key = key;
	ex.map_n++;
	return &ex.map[j];
}

/* --- Threads ------------------------------------------------------------ */

static const char *pool_name(const struct weft_thread *t)
{
	const char *sym = weft_symbols_name(t->start_routine);

	return sym ? sym : "thread";
}

static void thread_seen(struct weft_thread *t)
{
	struct tinfo *e;
	const char *pool;

	t->seen = true;
	ex.live++;
	if (ex.live > ex.peak)
		ex.peak = ex.live;
	if (t->origin != WEFT_THREAD_MAIN) {
		pool = pool_name(t);
		weft_metrics_add(ex.created, &pool, 1);
		weft_report_thread_created(&ex.report, pool);
	}
	e = map_insert(t->self);
	if (e) {
		if (e->span) {
			e->prev_tid = e->tid;
			e->prev_trace = e->trace;
			e->prev_span = e->span;
			e->prev_start_ns = e->start_ns;
		}
		e->tid = t->tid;
		e->trace = t->trace;
		e->span = t->span;
		e->start_ns = t->start_ns;
	}
	/* A name set before the thread registered itself. */
	for (size_t i = 0; i < ex.n_pending; i++) {
		if (ex.pending[i].key != t->self)
			continue;
		memcpy(t->name, ex.pending[i].name, sizeof(t->name));
		t->named = true;
		ex.pending[i] = ex.pending[--ex.n_pending];
		i--;
	}
}

static void take_new_threads(void)
{
	struct weft_thread *list = weft_registry_take(), *rev = NULL;

	/* The registry is a stack; reverse it to handle threads in start order. */
	while (list) {
		struct weft_thread *next = list->next;
		list->next = rev;
		rev = list;
		list = next;
	}
	while (rev) {
		struct weft_thread *next = rev->next;
		thread_seen(rev);
		rev->next = ex.threads;
		ex.threads = rev;
		rev = next;
	}
}

static void hex_object(char *buf, size_t len, uint64_t v)
{
	snprintf(buf, len, "0x%llx", (unsigned long long)v);
}

static void count_drop(const char *const *reason, int64_t n)
{
	if (n > 0)
		weft_metrics_add(ex.dropped, reason, n);
}

static void finish_thread_span(struct weft_thread *t, uint64_t end_ns, bool running_at_exit)
{
	struct weft_qspan *q;
	const char *sym = weft_symbols_name(t->start_routine);
	const char *label = t->named ? t->name : sym ? sym : "thread";

	q = weft_spans_reserve(false);
	if (!q) {
		count_drop(reason_queue_full, 1);
		return;
	}
	q->s.trace_id = t->trace;
	weft_span_id_from_u64(t->span, &q->s.span_id);
	weft_span_id_from_u64(t->parent_span, &q->s.parent_span_id);
	q->s.flags = weft_process.flags & 1;
	snprintf(q->name, sizeof(q->name), "thread %s", label);
	q->s.start_unix_nano = weft_clock_to_unix(t->start_ns);
	q->s.end_unix_nano = weft_clock_to_unix(end_ns);
	weft_qspan_attr_int(q, "thread.id", t->tid);
	if (t->named) {
		memcpy(q->thread_name, t->name, sizeof(q->thread_name));
		weft_qspan_attr_str(q, "thread.name", q->thread_name);
	}
	if (sym)
		weft_qspan_attr_str(q, "code.function.name", sym);
	if (running_at_exit)
		weft_qspan_attr_bool(q, "weft.thread.running_at_exit", true);
	if (t->detached)
		weft_qspan_attr_bool(q, "weft.thread.detached", true);
}

/* --- Events ------------------------------------------------------------- */

/*
 * The thread that had pthread_t `key` at time `when`. glibc hands a pthread_t
 * to a new thread as soon as the old one is joined, so one value can name
 * several states in the list: the right one is the earliest that had not yet
 * ended at `when`. (Its start may be later than `when`: a creator may name a
 * thread before the thread itself has run.)
 */
static struct weft_thread *thread_at(pthread_t key, uint64_t when)
{
	struct weft_thread *best = NULL;

	for (struct weft_thread *c = ex.threads; c; c = c->next) {
		if (c->self != key || c->origin == WEFT_THREAD_MAIN)
			continue;
		if (c->exit_seen && weft_load_relaxed(&c->end_ns) < when)
			continue;
		if (!best || c->start_ns < best->start_ns)
			best = c;
	}
	return best;
}

static void on_name(struct weft_thread *t, const struct weft_event *ev)
{
	struct weft_thread *target;

	/* A thread naming itself (the common case) needs no search. */
	target = (pthread_t)ev->object == t->self ? t : thread_at((pthread_t)ev->object, ev->t0);
	if (target) {
		memcpy(target->name, ev->u.name, sizeof(target->name));
		target->named = true;
		return;
	}
	/* Not registered yet: its creator named it before it ran. */
	if (ex.n_pending < PENDING_NAMES) {
		ex.pending[ex.n_pending].key = (pthread_t)ev->object;
		memcpy(ex.pending[ex.n_pending].name, ev->u.name, sizeof(ev->u.name));
		ex.n_pending++;
	}
}

static void on_detach(struct weft_thread *t, const struct weft_event *ev)
{
	struct weft_thread *target =
		(pthread_t)ev->object == t->self ? t : thread_at((pthread_t)ev->object, ev->t0);

	if (target)
		target->detached = true;
}

/* The thread a join waited for: the one holding that pthread_t at the time. */
static bool join_target(const struct weft_event *ev, pid_t *tid, struct weft_trace_id *trace,
			uint64_t *span)
{
	struct tinfo *e = map_find((pthread_t)ev->object);

	if (!e)
		return false;
	if (e->span && e->start_ns <= ev->t1) {
		*tid = e->tid;
		*trace = e->trace;
		*span = e->span;
		return true;
	}
	if (e->prev_span && e->prev_start_ns <= ev->t1) {
		*tid = e->prev_tid;
		*trace = e->prev_trace;
		*span = e->prev_span;
		return true;
	}
	return false;
}

static void on_wait(struct weft_thread *t, const struct weft_event *ev)
{
	const char *kind = weft_wait_kind_name((enum weft_wait_kind)ev->kind);
	const char *fn = weft_symbols_name((uintptr_t)ev->pc);
	const char *vals[2] = {kind, fn ? fn : "unknown"};
	uint64_t dur = ev->t1 - ev->t0;
	struct weft_qspan *q;
	pid_t target_tid;
	struct weft_trace_id target_trace;
	uint64_t target_span;

	weft_metrics_record(ex.wait_duration, vals, (double)dur / 1e9);
	weft_report_wait(&ex.report, kind, vals[1], t->tid, dur);
	if (dur < weft_cfg.span_min_wait_ns)
		return;
	q = weft_spans_reserve(false);
	if (!q) {
		count_drop(reason_queue_full, 1);
		return;
	}
	for (int i = 0; i < 8; i++) {
		q->s.trace_id.b[i] = (uint8_t)(ev->u.w.a >> (56 - 8 * i));
		q->s.trace_id.b[8 + i] = (uint8_t)(ev->u.w.b >> (56 - 8 * i));
	}
	weft_span_id_from_u64(weft_ids_span(&ex.rng), &q->s.span_id);
	weft_span_id_from_u64(ev->u.w.span, &q->s.parent_span_id);
	q->s.flags = weft_process.flags & 1;
	snprintf(q->name, sizeof(q->name), "wait %s", kind);
	q->s.start_unix_nano = weft_clock_to_unix(ev->t0);
	q->s.end_unix_nano = weft_clock_to_unix(ev->t1);
	weft_qspan_attr_int(q, "thread.id", t->tid);
	if (t->named) {
		memcpy(q->thread_name, t->name, sizeof(q->thread_name));
		weft_qspan_attr_str(q, "thread.name", q->thread_name);
	}
	weft_qspan_attr_str(q, "weft.wait.kind", kind);
	if (fn)
		weft_qspan_attr_str(q, "code.function.name", fn);
	hex_object(q->object, sizeof(q->object), ev->object);
	weft_qspan_attr_str(q, "weft.object", q->object);
	if (ev->result != 0)
		weft_qspan_attr_int(q, "weft.wait.result", ev->result);
	if (ev->kind == WEFT_WAIT_JOIN && weft_cfg.span_link_limit > 0 &&
	    join_target(ev, &target_tid, &target_trace, &target_span)) {
		/* The joined thread's span: what this wait was waiting for. */
		weft_qspan_attr_int(q, "weft.target.thread.id", target_tid);
		q->link.trace_id = target_trace;
		weft_span_id_from_u64(target_span, &q->link.span_id);
		q->link_attrs[0].key = "weft.link.kind";
		q->link_attrs[0].type = WEFT_VALUE_STRING;
		q->link_attrs[0].v.s = "join";
		q->link.attrs = q->link_attrs;
		q->link.n_attrs = 1;
		q->s.links = &q->link;
		q->s.n_links = 1;
	}
}

static void on_event(const struct weft_event *ev, void *arg)
{
	struct weft_thread *t = arg;

	switch (ev->type) {
	case WEFT_EV_NAME:
		on_name(t, ev);
		break;
	case WEFT_EV_WAIT:
		on_wait(t, ev);
		break;
	case WEFT_EV_DETACH:
		on_detach(t, ev);
		break;
	default:
		break;
	}
}

/* --- The cycle ------------------------------------------------------------ */

static void export_spans(void);
static void process_facts(void);

static void drain_thread(struct weft_thread *t)
{
	uint64_t dropped;

	weft_ring_drain(&t->ring, on_event, t);
	dropped = weft_ring_dropped(&t->ring);
	/* The ring's counter only grows; count what is new since last time. */
	count_drop(reason_ring_full, (int64_t)(dropped - t->ring_dropped_seen));
	t->ring_dropped_seen = dropped;
	if (weft_spans_queued() >= weft_spans_batch_size())
		export_spans();
}

static void cycle(void)
{
	struct weft_thread **pp, *t;

	take_new_threads();
	/*
	 * Two passes. First, for each thread, whether it has exited (acquire,
	 * pairing with its release) *before* draining its ring, so every event it
	 * recorded is drained now. Only then are exited threads ended and freed:
	 * events drained from other rings in the first pass may name them.
	 */
	for (t = ex.threads; t; t = t->next) {
		t->exit_seen = weft_load_acquire(&t->exited) != 0;
		drain_thread(t);
	}
	for (pp = &ex.threads; (t = *pp);) {
		if (!t->exit_seen) {
			pp = &t->next;
			continue;
		}
		*pp = t->next;
		ex.live--;
		if (t->origin != WEFT_THREAD_MAIN)
			finish_thread_span(t, weft_load_relaxed(&t->end_ns), false);
		weft_fetch_add_relaxed(&weft_registry_pending_exits, (uint32_t)-1);
		weft_registry_free(t);
	}
}

/* --- Export ------------------------------------------------------------- */

static void export_spans(void)
{
	size_t failed_batches, failed_spans, n;

	n = weft_spans_export(ex.out.traces, ex.out.n_traces, weft_resource_get(),
			      &failed_batches, &failed_spans);
	weft_metrics_add(ex.spans_exported, NULL, (int64_t)n);
	weft_metrics_add(ex.export_failures, signal_traces, (int64_t)failed_batches);
	count_drop(reason_export_failed, (int64_t)failed_spans);
}

static void collect_gauges(void)
{
	int64_t waiting[WEFT_WAIT_KIND_COUNT] = {0};

	for (struct weft_thread *t = ex.threads; t; t = t->next) {
		int k = weft_load_relaxed(&t->wait_kind);
		if (!t->exit_seen && k > 0 && k < WEFT_WAIT_KIND_COUNT)
			waiting[k]++;
	}
	for (size_t i = 0; i < sizeof(implemented_kinds) / sizeof(implemented_kinds[0]); i++) {
		const char *kind = weft_wait_kind_name(implemented_kinds[i]);
		weft_metrics_set(ex.waiting, &kind, waiting[implemented_kinds[i]]);
	}
	weft_metrics_set(ex.thread_count, NULL, ex.live);
}

static void export_metrics(void)
{
	const struct weft_metric *metrics;
	uint64_t now = weft_clock_to_unix(weft_clock_now());
	size_t n;
	bool ok = false;

	collect_gauges();
	n = weft_metrics_collect(&metrics, weft_clock_to_unix(weft_process.start_ns), now);
	for (size_t k = 0; k < ex.out.n_metrics; k++)
		if (ex.out.metrics[k]->export_metrics(ex.out.metrics[k], weft_resource_get(),
						       metrics, n) == 0)
			ok = true;
	if (!ok && ex.out.n_metrics)
		weft_metrics_add(ex.export_failures, signal_metrics, 1);
}

/* --- Setup -------------------------------------------------------------- */

static void setup(void)
{
	static const char *const pool_key[] = {"weft.pool.name"};
	static const char *const kind_key[] = {"weft.wait.kind"};
	static const char *const wait_keys[] = {"weft.wait.kind", "code.function.name"};
	static const char *const reason_key[] = {"weft.drop.reason"};
	static const char *const signal_key[] = {"weft.signal"};

	if (ex.setup_done)
		return;
	ex.setup_done = true;
	weft_sampler_setup();
	weft_ids_seed(&ex.rng, (uint64_t)gettid());
	weft_spans_init(weft_cfg.bsp_max_queue, weft_cfg.bsp_max_batch);
	weft_metrics_set_limit(weft_cfg.cardinality_limit);
	ex.thread_count = weft_metrics_sum("process.thread.count", "Live threads.", "{thread}",
					   false, 0, NULL);
	ex.created = weft_metrics_sum("weft.thread.created", "Threads started.", "{thread}", true,
				      1, pool_key);
	ex.waiting = weft_metrics_gauge("weft.thread.waiting", "Threads blocked right now.",
					"{thread}", 1, kind_key);
	ex.wait_duration = weft_metrics_histogram("weft.wait.duration",
						  "Time blocked in calls that blocked.", "s", 2,
						  wait_keys, wait_bounds,
						  sizeof(wait_bounds) / sizeof(wait_bounds[0]));
	ex.dropped = weft_metrics_sum("weft.agent.events.dropped",
				      "Telemetry weft recorded but could not deliver.", "{event}",
				      true, 1, reason_key);
	ex.spans_exported = weft_metrics_sum("weft.agent.spans.exported",
					     "Spans handed to an output.", "{span}", true, 0, NULL);
	ex.export_failures = weft_metrics_sum("weft.agent.export.failures",
					      "Export requests that failed.", "{request}", true, 1,
					      signal_key);
	/* Series that exist from the start, so that a zero is reported as zero. */
	weft_metrics_add(ex.dropped, reason_ring_full, 0);
	weft_metrics_add(ex.dropped, reason_queue_full, 0);
	weft_metrics_add(ex.dropped, reason_export_failed, 0);
	weft_metrics_add(ex.spans_exported, NULL, 0);
	weft_metrics_add(ex.export_failures, signal_traces, 0);
	weft_metrics_add(ex.export_failures, signal_metrics, 0);
	weft_outputs_open(&ex.out);
	snprintf(ex.report.output, sizeof(ex.report.output), "%s", ex.out.file_path);
	ex.report.start_ns = weft_process.start_ns;
	ex.next_spans_ns = weft_clock_now() + weft_cfg.bsp_schedule_delay_ns;
	ex.next_metrics_ns = weft_clock_now() + weft_cfg.metric_interval_ns;
}

/* --- Shutdown ----------------------------------------------------------- */

static void finish_process_span(uint64_t end_ns)
{
	struct weft_qspan *q = weft_spans_reserve(true);
	int code = weft_load_relaxed(&weft_process.exit_code);

	if (!q) {
		count_drop(reason_queue_full, 1);
		return;
	}
	q->s.trace_id = weft_process.trace;
	weft_span_id_from_u64(weft_process.span, &q->s.span_id);
	weft_span_id_from_u64(weft_process.parent_span, &q->s.parent_span_id);
	q->s.flags = weft_process.flags & 1;
	snprintf(q->name, sizeof(q->name), "process");
	q->s.start_unix_nano = weft_clock_to_unix(weft_process.start_ns);
	q->s.end_unix_nano = weft_clock_to_unix(end_ns);
	weft_qspan_attr_int(q, "process.pid", weft_process.pid);
	weft_qspan_attr_int(q, "process.exit.code", code);
	if (code != 0) {
		q->s.status = WEFT_STATUS_ERROR;
		snprintf(q->object, sizeof(q->object), "exit code %d", code);
		q->s.status_message = q->object;
	}
}

static void final_export(void)
{
	uint64_t end = weft_clock_now();

	process_facts();
	setup();
	if (ex.shut_down)
		return;
	ex.shut_down = true;
	cycle();
	/* Threads still running at exit: their spans end with the process. */
	for (struct weft_thread *t = ex.threads; t; t = t->next)
		if (t->origin != WEFT_THREAD_MAIN)
			finish_thread_span(t, end, true);
	finish_process_span(end);
	export_spans();
	export_metrics();
	ex.report.end_ns = end;
	ex.report.peak_threads = ex.peak;
	ex.report.dropped = weft_metrics_value(ex.dropped, reason_ring_full) +
			    weft_metrics_value(ex.dropped, reason_queue_full) +
			    weft_metrics_value(ex.dropped, reason_export_failed);
	ex.report.spans_exported = weft_metrics_value(ex.spans_exported, NULL);
	if (weft_cfg.report[0])
		weft_report_write(&ex.report, weft_cfg.report);
	weft_outputs_shutdown(&ex.out);
}

/* --- The thread --------------------------------------------------------- */

static void *exporter_main(void *arg)
{
	prctl(PR_SET_NAME, "weft-exporter", 0, 0, 0);
	/*
	 * Behind the program's threads when they compete for a core (Linux nice
	 * values are per thread): telemetry work should use idle time first.
	 * Nice 10 still gets about a tenth of a contended core, so a saturated
	 * program's rings are still drained; what cannot keep up is dropped and
	 * counted, never waited for.
	 */
	setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
	setup();
	while (weft_load_acquire(&exporter_state) == EXPORTER_RUNNING) {
		uint32_t seen = weft_load_relaxed(&wake_word);
		uint64_t now = weft_clock_now();
		uint64_t deadline = ex.next_spans_ns < ex.next_metrics_ns ? ex.next_spans_ns
									   : ex.next_metrics_ns;

		if (now < deadline) {
			struct timespec ts = {.tv_sec = (time_t)((deadline - now) / 1000000000u),
					      .tv_nsec = (long)((deadline - now) % 1000000000u)};
			futex(&wake_word, FUTEX_WAIT_PRIVATE, seen, &ts);
		}
		if (weft_load_acquire(&exporter_state) != EXPORTER_RUNNING)
			break;
		if (weft_load_acquire(&weft_registry_live) == 0 &&
		    weft_load_acquire(&weft_process.main_exited)) {
			int expected = EXPORTER_RUNNING;

			/* Last access to the exporter state from this thread on this path. */
			if (weft_cas_acq_rel(&exporter_state, &expected, EXPORTER_LEAVING))
				return NULL;
			break;
		}
		cycle();
		now = weft_clock_now();
		if (now >= ex.next_spans_ns) {
			export_spans();
			ex.next_spans_ns = now + weft_cfg.bsp_schedule_delay_ns;
		}
		if (now >= ex.next_metrics_ns) {
			export_metrics();
			ex.next_metrics_ns = now + weft_cfg.metric_interval_ns;
		}
	}
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
void weft_exporter_ensure_started(void)
{
	pthread_t th;
	pthread_attr_t attr;
	sigset_t all, old;
	int expected = EXPORTER_NONE, rc;

	if (weft_load_acquire(&exporter_state) != EXPORTER_NONE ||
	    !weft_cas_acq_rel(&exporter_state, &expected, EXPORTER_RUNNING))
		return;
	process_facts();
	weft_store_relaxed(&done_word, 0);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 1u << 20);
	/* Created with every signal blocked: the program's handlers never run here. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&th, &attr, exporter_main, NULL); /* guard set: an agent thread */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc == 0)
		return;
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

void weft_exporter_shutdown(void)
{
	uint64_t deadline;
	int expected = EXPORTER_RUNNING;

	/* Outputs shorten their retries from here on (exporter/otlp_http.c). */
	weft_store_release(&weft_process.exiting, 1);

	if (!weft_cas_acq_rel(&exporter_state, &expected, EXPORTER_STOPPING)) {
		/*
		 * No exporter thread: never started (claim NONE, so none starts now)
		 * or it stepped aside (LEAVING). Export here.
		 */
		if (expected == EXPORTER_NONE &&
		    !weft_cas_acq_rel(&exporter_state, &expected, EXPORTER_STOPPING)) {
			weft_exporter_shutdown(); /* a start won the race: wait for it */
			return;
		}
		if (expected != EXPORTER_STOPPING)
			final_export();
		return;
	}
	weft_exporter_wake();
	deadline = weft_clock_now() + weft_cfg.bsp_export_timeout_ns;
	while (!weft_load_acquire(&done_word)) {
		uint64_t now = weft_clock_now();
		struct timespec ts;

		if (now >= deadline) {
			weft_warn("export did not finish within OTEL_BSP_EXPORT_TIMEOUT; "
				  "exiting without it");
			break;
		}
		ts.tv_sec = (time_t)((deadline - now) / 1000000000u);
		ts.tv_nsec = (long)((deadline - now) % 1000000000u);
		futex(&done_word, FUTEX_WAIT_PRIVATE, 0, &ts);
	}
}

void weft_exporter_after_fork_child(void)
{
	/*
	 * Everything the parent's exporter held is the parent's: its queued spans
	 * will be exported by the parent, its sinks' descriptors are inherited
	 * copies. Start from nothing (leaking rather than freeing what the parent's
	 * exporter may have been changing at the moment of fork).
	 */
	memset(&ex, 0, sizeof(ex));
	weft_metrics_reset();
	weft_spans_reset();
	weft_symbols_reset();
	weft_store_relaxed(&wake_word, 0);
	/* A new thread in the child starts its exporter; until then, none. */
	weft_store_relaxed(&exporter_state, EXPORTER_NONE);
}
