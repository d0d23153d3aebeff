/*
 * The interpreters, fed synthetic events.
 *
 * Thread states are built and published the way the agent builds them, their
 * rings filled with hand-made events, and the exporter's own cycle drains
 * them through the interpreter table. The spans queued and the metric points
 * are then read back exactly: names, parents, traces, attributes, links,
 * counts. No output is configured (the spans are taken from the queue by a
 * capturing sink).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/clock.h"
#include "agent/registry.h"
#include "agent/task.h"
#include "exporter/exporter.h"
#include "exporter/interp.h"
#include "exporter/metrics.h"
#include "exporter/resource.h"
#include "exporter/spans.h"
#include "exporter/stacks.h"
#include "exporter/symbols.h"
#include "tests/unit/harness.h"

#define MS 1000000ull

/* --- Capturing the spans ------------------------------------------------ */

enum { MAX_CAPTURED = 64 };

static struct captured {
	char name[128];
	struct weft_trace_id trace;
	uint64_t span, parent;
	uint64_t start, end;
	char attrs[512]; /* "key=value;" for every attribute, in order */
	size_t n_links;
	uint64_t link_span;
	char link_kind[16];
} cap[MAX_CAPTURED];
static size_t n_cap;

static void attr_text(char *buf, size_t len, const struct weft_attr *a)
{
	size_t n = strlen(buf);

	switch (a->type) {
	case WEFT_VALUE_STRING:
		snprintf(buf + n, len - n, "%s=%s;", a->key, a->v.s);
		break;
	case WEFT_VALUE_INT:
		snprintf(buf + n, len - n, "%s=%lld;", a->key, (long long)a->v.i);
		break;
	case WEFT_VALUE_BOOL:
		snprintf(buf + n, len - n, "%s=%s;", a->key, a->v.b ? "true" : "false");
		break;
	default:
		snprintf(buf + n, len - n, "%s=?;", a->key);
		break;
	}
}

static int capture(struct weft_sink *sink, const struct weft_resource *res,
		   const struct weft_span *spans, size_t n)
{
	for (size_t i = 0; i < n && n_cap < MAX_CAPTURED; i++) {
		struct captured *c = &cap[n_cap++];
		const struct weft_span *s = &spans[i];

		memset(c, 0, sizeof(*c));
		snprintf(c->name, sizeof(c->name), "%s", s->name);
		c->trace = s->trace_id;
		c->span = weft_span_id_to_u64(&s->span_id);
		c->parent = weft_span_id_to_u64(&s->parent_span_id);
		c->start = s->start_unix_nano;
		c->end = s->end_unix_nano;
		for (size_t k = 0; k < s->n_attrs; k++)
			attr_text(c->attrs, sizeof(c->attrs), &s->attrs[k]);
		c->n_links = s->n_links;
		if (s->n_links) {
			c->link_span = weft_span_id_to_u64(&s->links[0].span_id);
			if (s->links[0].n_attrs)
				snprintf(c->link_kind, sizeof(c->link_kind), "%s",
					 s->links[0].attrs[0].v.s);
		}
	}
	return 0;
}

static struct weft_sink capture_sink = { .name = "capture", .export_spans = capture };

static void take_spans(void)
{
	struct weft_sink *sinks[] = { &capture_sink };
	size_t failed_batches, failed_spans;
	static const struct weft_attr none[1];
	static const struct weft_resource res = { none, 0, "weft", "test" };

	n_cap = 0;
	weft_spans_export(sinks, 1, &res, &failed_batches, &failed_spans);
}

static const struct captured *span_named(const char *name)
{
	for (size_t i = 0; i < n_cap; i++)
		if (strcmp(cap[i].name, name) == 0)
			return &cap[i];
	return NULL;
}

static size_t spans_named(const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < n_cap; i++)
		n += strcmp(cap[i].name, name) == 0;
	return n;
}

/* --- Reading metric points ---------------------------------------------- */

/* The point of `metric` whose attributes are exactly key=val (or none); NULL if absent. */
static const struct weft_point *point(const char *metric, const char *key, const char *val)
{
	const struct weft_metric *m;
	size_t n = weft_metrics_collect(&m, 1, 2);

	for (size_t i = 0; i < n; i++) {
		if (strcmp(m[i].name, metric) != 0)
			continue;
		for (size_t j = 0; j < m[i].n_points; j++) {
			const struct weft_point *p = &m[i].points[j];

			if (!key && p->n_attrs == 0)
				return p;
			for (size_t k = 0; key && k < p->n_attrs; k++)
				if (strcmp(p->attrs[k].key, key) == 0 &&
				    p->attrs[k].type == WEFT_VALUE_STRING &&
				    strcmp(p->attrs[k].v.s, val) == 0)
					return p;
		}
	}
	return NULL;
}

/* The histogram point of `metric` with attribute key = val holds n values. */
#define expect_count(metric, key, val, n)                                                          \
	do {                                                                                       \
		const struct weft_point *p_ = point(metric, key, val);                             \
		assert_true(p_ != NULL);                                                           \
		expect_int(p_->count, n);                                                          \
	} while (0)

static int64_t int_value(const char *metric, const char *key, const char *val)
{
	const struct weft_point *p = point(metric, key, val);

	return p ? p->as_int : -1;
}

/* --- Building threads the way the agent does ---------------------------- */

/* Start routines, named so that the symbol cache can find them. */
void *interp_worker(void *arg);
void *interp_worker(void *arg)
{
	return arg;
}

void *interp_stage(void *arg);
void *interp_stage(void *arg)
{
	return arg;
}

void interp_caller(void);
void interp_caller(void)
{
}

static struct weft_rng rng;

static struct weft_thread *make_thread(enum weft_thread_origin origin, pid_t tid, pthread_t self,
				       const struct weft_thread *creator, uint64_t start_ns)
{
	struct weft_thread *t = weft_registry_alloc(64);

	assert_true(t != NULL);
	assert_int(weft_registry_ring(t), 0);
	t->origin = origin;
	t->tid = tid;
	t->self = self;
	t->start_ns = start_ns;
	if (creator) {
		t->trace = creator->cur_trace;
		t->parent_span = creator->cur_span;
		t->span = weft_ids_span(&rng);
	} else {
		t->trace = weft_process.trace;
		t->span = weft_process.span;
	}
	t->cur_trace = t->trace;
	t->cur_span = t->span;
	t->start_routine = origin == WEFT_THREAD_MAIN ? 0 : (uintptr_t)interp_worker;
	weft_registry_push(t);
	return t;
}

static void about(struct weft_thread *t, enum weft_event_type type, pthread_t target,
		  const char *name, uint64_t when)
{
	struct weft_event ev = { .h = { .type = (uint8_t)type, .t0 = when } };

	ev.u.about.object = (uint64_t)target;
	if (name)
		snprintf(ev.u.about.name, sizeof(ev.u.about.name), "%s", name);
	assert_true(weft_record(t, &ev));
}

static void wait_event(struct weft_thread *t, enum weft_wait_kind kind, uint64_t object,
		       uint64_t t0, uint64_t t1, int result)
{
	struct weft_event ev = {
		.h = { .type = WEFT_EV_WAIT, .kind = (uint8_t)kind, .t0 = t0, .result = result }
	};

	ev.u.wait.t1 = t1;
	ev.u.wait.object = object;
	ev.u.wait.pc = (uint64_t)(uintptr_t)interp_caller;
	assert_true(weft_record(t, &ev));
}

static void end_thread(struct weft_thread *t, uint64_t end_ns)
{
	weft_store_relaxed(&t->end_ns, end_ns);
	weft_fetch_add_relaxed(&weft_registry_pending_exits, 1);
	weft_store_release(&t->exited, 1);
}

/* A test's thread ends and its spans are collected and set aside, for the next test. */
static void retire_thread(struct weft_thread *t, uint64_t end_ns)
{
	end_thread(t, end_ns);
	weft_exporter_cycle();
	take_spans();
}

/* --- Tests -------------------------------------------------------------- */

static const char *no_env(const char *name)
{
	return NULL;
}

static void setup(void)
{
	weft_config_load_from(&weft_cfg, no_env, NULL);
	weft_cfg.traces_out = 0;
	weft_cfg.metrics_out = 0;
	weft_cfg.span_min_wait_ns = 1 * MS;
	weft_ids_init_process();
	weft_ids_seed(&rng, 1);
	weft_ids_trace(&rng, &weft_process.trace);
	weft_process.span = weft_ids_span(&rng);
	weft_process.flags = 1;
	weft_clock_init();
	weft_symbols_init();
	weft_exporter_setup();
	/*
	 * The exporter opened no output; spans are wanted all the same: the
	 * tests take them from the queue themselves (take_spans).
	 */
	weft_cfg.traces_out = WEFT_OUT_FILE;
}

/*
 * Threads: a worker named by its creator before it registered (a pending
 * name), another naming itself twice and detached; both end. Spans, parents,
 * names, attributes and the thread counters come out exactly.
 */
static void test_threads(struct weft_thread *main_t)
{
	uint64_t t0 = weft_clock_now();
	struct weft_thread *a, *b;
	const struct captured *sa, *sb;

	/* The creator names thread 0x1000 before it has registered. */
	about(main_t, WEFT_EV_NAME, (pthread_t)0x1000, "early-name", t0);
	weft_exporter_cycle();
	a = make_thread(WEFT_THREAD_CREATED, 101, (pthread_t)0x1000, main_t, t0 + 1);
	b = make_thread(WEFT_THREAD_CREATED, 102, (pthread_t)0x2000, main_t, t0 + 2);
	about(b, WEFT_EV_NAME, (pthread_t)0x2000, "first", t0 + 3);
	about(b, WEFT_EV_NAME, (pthread_t)0x2000, "second", t0 + 4);
	about(main_t, WEFT_EV_DETACH, (pthread_t)0x2000, NULL, t0 + 5);
	weft_exporter_cycle();
	/* Counted by pool at each collection, under the pool's name then (exporter/tasks.c). */
	weft_interp_collect();
	expect_int(int_value("weft.thread.created", "weft.pool.name", "interp_worker"), 2);
	expect_int(int_value("process.thread.count", NULL, NULL), 3);
	end_thread(a, t0 + 10 * MS);
	end_thread(b, t0 + 11 * MS);
	weft_exporter_cycle();
	weft_interp_collect();
	expect_int(int_value("process.thread.count", NULL, NULL), 1);
	take_spans();
	expect_int(n_cap, 2);
	sa = span_named("thread early-name");
	sb = span_named("thread second");
	assert_true(sa && sb);
	expect_true(sa->parent == main_t->span);
	expect_true(sb->parent == main_t->span);
	expect_true(memcmp(&sa->trace, &weft_process.trace, sizeof(sa->trace)) == 0);
	/* Then where its time went (doubles, shown as ?: test-threadtime checks them). */
	expect_str(sa->attrs,
		   "thread.id=101;thread.name=early-name;code.function.name=interp_worker;"
		   "weft.thread.time.running=?;weft.thread.time.runnable=?;"
		   "weft.thread.time.blocked=?;");
	expect_str(sb->attrs, "thread.id=102;thread.name=second;code.function.name=interp_worker;"
			      "weft.thread.detached=true;weft.thread.time.running=?;"
			      "weft.thread.time.runnable=?;weft.thread.time.blocked=?;");
	expect_int(sb->end - sb->start, 11 * MS - 2);
}

/*
 * Waits: a short join (a histogram point, no span), a long join (a span under
 * the current span, linked to the joined thread), then a CTX record makes a
 * task span current and the next wait belongs to it.
 */
static void test_waits(struct weft_thread *main_t)
{
	uint64_t t0 = weft_clock_now();
	struct weft_thread *w =
		make_thread(WEFT_THREAD_CREATED, 201, (pthread_t)0x3000, main_t, t0);
	struct weft_trace_id task_trace;
	uint64_t task_span = weft_ids_span(&rng);
	const struct captured *s;

	uint64_t w_span = w->span; /* w is freed once its end is collected */

	weft_exporter_cycle();
	end_thread(w, t0 + 5 * MS);
	wait_event(main_t, WEFT_WAIT_JOIN, 0x3000, t0, t0 + 100000, 0); /* 0.1 ms */
	wait_event(main_t, WEFT_WAIT_JOIN, 0x3000, t0, t0 + 6 * MS, 0);
	weft_ids_trace(&rng, &task_trace);
	weft_thread_set_span(main_t, &task_trace, task_span);
	wait_event(main_t, WEFT_WAIT_MUTEX, 0xabc, t0 + 7 * MS, t0 + 9 * MS, 22);
	weft_exporter_cycle();
	take_spans();
	expect_int(n_cap, 3); /* the worker's thread span and two waits */
	expect_int(spans_named("wait join"), 1);
	s = span_named("wait join");
	assert_true(s != NULL);
	expect_true(s->parent == main_t->span);
	expect_true(memcmp(&s->trace, &weft_process.trace, sizeof(s->trace)) == 0);
	expect_int(s->end - s->start, 6 * MS);
	expect_str(s->attrs, "thread.id=1;weft.wait.kind=join;code.function.name=interp_caller;"
			     "weft.object=0x3000;weft.target.thread.id=201;");
	expect_int(s->n_links, 1);
	expect_true(s->link_span == w_span);
	expect_str(s->link_kind, "join");
	s = span_named("wait mutex");
	assert_true(s != NULL);
	expect_true(s->parent == task_span);
	expect_true(memcmp(&s->trace, &task_trace, sizeof(s->trace)) == 0);
	expect_str(s->attrs, "thread.id=1;weft.wait.kind=mutex;code.function.name=interp_caller;"
			     "weft.object=0xabc;weft.wait.result=22;");
	expect_count("weft.wait.duration", "weft.wait.kind", "join", 2);
	expect_count("weft.wait.duration", "weft.wait.kind", "mutex", 1);
}

/* A CTX record that did not fit is sent again before the next event. */
static void test_ctx_resent(struct weft_thread *main_t)
{
	uint64_t t0 = weft_clock_now();
	struct weft_trace_id trace;
	uint64_t span = weft_ids_span(&rng);
	const struct captured *s;

	/* Fill the ring (64 slots) so that the CTX record is dropped. */
	for (int i = 0; i < 64; i++)
		about(main_t, WEFT_EV_DETACH, (pthread_t)0x9999, NULL, t0);
	weft_ids_trace(&rng, &trace);
	weft_thread_set_span(main_t, &trace, span);
	expect_true(main_t->ctx_stale);
	weft_exporter_cycle(); /* drains; the dropped CTX is counted */
	wait_event(main_t, WEFT_WAIT_SLEEP, 0, t0, t0 + 3 * MS, 0);
	expect_true(!main_t->ctx_stale);
	weft_exporter_cycle();
	take_spans();
	s = span_named("wait sleep");
	assert_true(s != NULL);
	expect_true(s->parent == span);
	expect_true(memcmp(&s->trace, &trace, sizeof(trace)) == 0);
	expect_int(int_value("weft.agent.events.dropped", "weft.drop.reason", "ring_full"), 1);
}

/* The waiting gauge counts threads blocked at collection, by kind. */
static void test_waiting_gauge(struct weft_thread *main_t)
{
	struct weft_thread *w =
		make_thread(WEFT_THREAD_CREATED, 301, (pthread_t)0x4000, main_t, weft_clock_now());

	weft_exporter_cycle();
	weft_store_relaxed(&w->wait_kind, WEFT_WAIT_JOIN);
	weft_interp_collect();
	expect_int(int_value("weft.thread.waiting", "weft.wait.kind", "join"), 1);
	weft_store_relaxed(&w->wait_kind, WEFT_WAIT_NONE);
	weft_interp_collect();
	expect_int(int_value("weft.thread.waiting", "weft.wait.kind", "join"), 0);
	retire_thread(w, weft_clock_now());
}

/*
 * Locks: acquisitions from the thread's own counters (as deltas, at each
 * collection), contentions from lock waits, hold times from HOLD events
 * attributed to the unlocking function; a wait with a holder carries its id
 * and a `holder` link to the holder's current span; a cond wait with a
 * producer span carries a `cond.signal` link to it.
 */
static void test_locks(struct weft_thread *main_t)
{
	uint64_t t0 = weft_clock_now();
	struct weft_thread *h =
		make_thread(WEFT_THREAD_CREATED, 401, (pthread_t)0x5000, main_t, t0);
	struct weft_event ev = { .h = { .type = WEFT_EV_HOLD, .t0 = t0 } };
	const struct weft_point *p;
	const struct captured *s;

	weft_exporter_cycle();
	weft_store_relaxed(&h->acquired[WEFT_WAIT_MUTEX], 7);
	weft_store_relaxed(&h->acquired[WEFT_WAIT_SPIN], 2);
	weft_interp_collect();
	expect_int(int_value("weft.lock.acquisitions", "weft.wait.kind", "mutex"), 7);
	expect_int(int_value("weft.lock.acquisitions", "weft.wait.kind", "spin"), 2);
	expect_int(int_value("weft.lock.acquisitions", "weft.wait.kind", "rwlock.read"), 0);
	weft_store_relaxed(&h->acquired[WEFT_WAIT_MUTEX], 10);
	weft_interp_collect();
	expect_int(int_value("weft.lock.acquisitions", "weft.wait.kind", "mutex"), 10);

	/* A sampled hold of 2 ms, released in interp_caller. */
	ev.u.wait.t1 = t0 + 2 * MS;
	ev.u.wait.object = 0x77;
	ev.u.wait.pc = (uint64_t)(uintptr_t)interp_caller;
	assert_true(weft_record(main_t, &ev));
	/* A contended mutex wait held by h, and a cond wait woken by h's signal. */
	{
		struct weft_event w = {
			.h = { .type = WEFT_EV_WAIT, .kind = WEFT_WAIT_MUTEX, .t0 = t0 }
		};
		struct weft_event c = {
			.h = { .type = WEFT_EV_WAIT, .kind = WEFT_WAIT_COND, .t0 = t0 }
		};

		w.u.wait.t1 = t0 + 4 * MS;
		w.u.wait.object = 0x77;
		w.u.wait.pc = (uint64_t)(uintptr_t)interp_caller;
		w.u.wait.holder_tid = 401;
		assert_true(weft_record(main_t, &w));
		c.u.wait.t1 = t0 + 5 * MS;
		c.u.wait.object = 0x88;
		c.u.wait.pc = (uint64_t)(uintptr_t)interp_caller;
		c.u.wait.links[0] = h->span;
		assert_true(weft_record(main_t, &c));
	}
	weft_exporter_cycle();
	p = point("weft.lock.hold.duration", "code.function.name", "interp_caller");
	assert_true(p != NULL);
	expect_int(p->count, 1);
	expect_true(p->sum > 0.0019 && p->sum < 0.0021);
	p = point("weft.lock.contentions", "weft.wait.kind", "mutex");
	assert_true(p != NULL);
	expect_int(p->as_int, 2); /* this one and test_waits' mutex wait */
	take_spans();
	s = span_named("wait mutex");
	assert_true(s != NULL);
	expect_str(s->attrs, "thread.id=1;weft.wait.kind=mutex;code.function.name=interp_caller;"
			     "weft.object=0x77;weft.holder.thread.id=401;");
	expect_int(s->n_links, 1);
	expect_true(s->link_span == h->span);
	expect_str(s->link_kind, "holder");
	s = span_named("wait cond");
	assert_true(s != NULL);
	expect_int(s->n_links, 1);
	expect_true(s->link_span == h->span);
	expect_str(s->link_kind, "cond.signal");
	retire_thread(h, weft_clock_now());
}

/*
 * Stacks: STACK records put a stack together by id (pieces of five); a wait
 * that names it carries code.stacktrace, innermost frame first; an
 * incomplete stack gives none.
 */
static void test_stacks(struct weft_thread *main_t)
{
	uint64_t t0 = weft_clock_now();
	struct weft_event st = { .h = { .type = WEFT_EV_STACK, .t0 = t0 } };
	struct weft_event w = { .h = { .type = WEFT_EV_WAIT, .kind = WEFT_WAIT_SEM, .t0 = t0 } };
	const struct captured *s;

	/*
	 * Seven frames, in two records: two in libc (frames in this program are
	 * left out, as libweft.so's are in a preloaded process), then five
	 * addresses no module holds.
	 */
	st.u.stack.id = 0x1234;
	st.u.stack.total = 7;
	st.u.stack.first = 0;
	st.u.stack.pcs[0] = (uint64_t)(uintptr_t)rand + 1;
	st.u.stack.pcs[1] = (uint64_t)(uintptr_t)abort + 1;
	for (int k = 2; k < 5; k++)
		st.u.stack.pcs[k] = 0x1000 + (uint64_t)k;
	assert_true(weft_record(main_t, &st));
	st.u.stack.first = 5;
	st.u.stack.pcs[0] = 0x2001;
	st.u.stack.pcs[1] = 0x2002;
	assert_true(weft_record(main_t, &st));
	/* Another stack that never completes. */
	st.u.stack.id = 0x5678;
	st.u.stack.first = 0;
	assert_true(weft_record(main_t, &st));
	w.u.wait.t1 = t0 + 3 * MS;
	w.u.wait.stack = 0x1234;
	assert_true(weft_record(main_t, &w));
	weft_exporter_cycle();
	expect_str(weft_stacks_text(0x1234), "rand\nabort\n0x1001\n0x1002\n0x1003\n0x2000\n0x2001");
	expect_true(weft_stacks_text(0x5678) == NULL);
	expect_true(weft_stacks_text(0x9999) == NULL);
	take_spans();
	s = span_named("wait sem");
	assert_true(s != NULL);
	expect_true(strstr(s->attrs, "code.stacktrace=rand\nabort\n0x1001\n") != NULL);
}

/*
 * A pool takes its name from its threads' names, also from a name given after
 * one of its threads already ran a task (the exporter keeps each thread's
 * pool): interp_stage's first task is `task interp_stage`, the one that ends
 * after the thread is named stage-1 is `task stage`.
 */
static void test_pool_renamed(struct weft_thread *main_t)
{
	static const uint64_t producers[WEFT_EVENT_LINKS] = { 0 };
	uint64_t t0 = weft_clock_now();
	struct weft_thread *w =
		make_thread(WEFT_THREAD_CREATED, 701, (pthread_t)0x7000, main_t, t0);

	w->start_routine = (uintptr_t)interp_stage;
	weft_exporter_cycle();
	take_spans();
	assert_true(weft_task_begin(w, WEFT_WAIT_COND, 0x70, 0, t0 + 1 * MS, producers, 0));
	assert_true(weft_task_begin(w, WEFT_WAIT_COND, 0x70, 0, t0 + 2 * MS, producers, 0));
	weft_exporter_cycle();
	about(main_t, WEFT_EV_NAME, (pthread_t)0x7000, "stage-1", t0 + 3 * MS);
	weft_exporter_cycle();
	assert_true(weft_task_begin(w, WEFT_WAIT_COND, 0x70, 0, t0 + 4 * MS, producers, 0));
	weft_exporter_cycle();
	take_spans();
	expect_int(spans_named("task interp_stage"), 1);
	expect_int(spans_named("task stage"), 1);
	expect_count("weft.task.duration", "weft.pool.name", "interp_stage", 1);
	expect_count("weft.task.duration", "weft.pool.name", "stage", 1);
	/* No task had a queue time: no empty queue histogram for either name. */
	expect_true(point("weft.task.queue.duration", "weft.pool.name", "interp_stage") == NULL);
	expect_true(point("weft.task.queue.duration", "weft.pool.name", "stage") == NULL);
	retire_thread(w, t0 + 5 * MS);
}

/*
 * No trace output (OTEL_TRACES_EXPORTER=none): a thread's end and a long wait
 * queue no span and count none as dropped, while their metrics are kept.
 */
static void test_no_trace_output(struct weft_thread *main_t)
{
	uint64_t t0 = weft_clock_now();
	struct weft_thread *w =
		make_thread(WEFT_THREAD_CREATED, 601, (pthread_t)0x6000, main_t, t0);
	int64_t dropped = int_value("weft.agent.events.dropped", "weft.drop.reason", "queue_full");
	int64_t created = int_value("weft.thread.created", "weft.pool.name", "interp_worker");
	const struct weft_point *p = point("weft.wait.duration", "weft.wait.kind", "join");
	uint64_t joins = p ? p->count : 0;

	weft_exporter_cycle();
	take_spans();
	weft_cfg.traces_out = 0;
	end_thread(w, t0 + 5 * MS);
	wait_event(main_t, WEFT_WAIT_JOIN, 0x6000, t0, t0 + 6 * MS, 0);
	weft_exporter_cycle();
	weft_interp_collect();
	weft_cfg.traces_out = WEFT_OUT_FILE;
	take_spans();
	expect_int(n_cap, 0);
	expect_int(int_value("weft.agent.events.dropped", "weft.drop.reason", "queue_full"),
		   dropped);
	expect_int(int_value("weft.thread.created", "weft.pool.name", "interp_worker"),
		   created + 1);
	expect_count("weft.wait.duration", "weft.wait.kind", "join", joins + 1);
}

int main(void)
{
	struct weft_thread *main_t;

	setup();
	main_t = make_thread(WEFT_THREAD_MAIN, 1, pthread_self(), NULL, weft_clock_now());
	weft_exporter_cycle();
	test_threads(main_t);
	test_waits(main_t);
	test_ctx_resent(main_t);
	test_waiting_gauge(main_t);
	test_locks(main_t);
	test_stacks(main_t);
	test_pool_renamed(main_t);
	test_no_trace_output(main_t);
	return harness_done();
}
