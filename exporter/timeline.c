/*
 * The timeline (exporter/timeline.h). A quick first look at the lines that
 * hold a process span or metrics (the only ones parsed) finds time 0; then
 * one pass writes every event as it is read. What stays in memory is the
 * span index (40 bytes a span, and its hash slot), each thread's outermost
 * slices so far (to decide nesting as spans arrive), the links whose
 * producer has not been read yet (16 bytes each, drawn at the end) and the
 * names. The Trace Event Format is Chrome's ("Trace Event Format", Google
 * Docs), as Perfetto, catapult and speedscope read it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/otlp_read.h"
#include "exporter/timeline.h"
#include "exporter/timeline_out.h"

/* What a span is, in nesting order: for equal intervals, the outer first. */
enum rank { RANK_PROCESS, RANK_THREAD, RANK_TASK, RANK_OTHER, RANK_WAIT, RANK_CONNECTION };
static const char *const rank_names[] = {
	"process", "thread", "task", "span", "wait", "connection"
};

enum { F_ASYNC = 1, F_EMITTED = 2 };

/* One span in the index: 40 bytes, and a 4-byte hash slot or two. */
struct span_ix {
	uint64_t id;
	uint64_t start, end;
	uint32_t pid, tid;
	uint8_t rank, flags;
};

/* A slice's interval; an outermost one is one no other slice on its track contains (so far). */
struct root {
	uint64_t start, end;
};

struct thread_ix {
	uint32_t pid, tid;
	char *name;
	bool named_by_thread_span; /* the name of its `thread` span: its last */
	/* Its outermost slices so far (disjoint), and all its slices: by start. */
	struct root *roots, *slices;
	size_t n_roots, cap_roots, n_slices, cap_slices;
};

/* The kinds a link's arrow is named by (weft.link.kind); anything else is "link". */
static const char *const link_kinds[] = { "link",    "cond.signal", "sem.post", "pipe",
					  "eventfd", "socket",      "holder",   "join" };

/* A link whose producer span had not been read when its consumer was. */
struct pending {
	uint64_t producer;
	uint32_t consumer; /* index in the span index */
	uint32_t kind;     /* in link_kinds */
};

struct proc_ix {
	uint32_t pid;
	char *service;
	uint64_t start; /* the earliest time known of it */
};

/* An open-addressing map from a 64-bit key to an index (slot value: index + 1). */
struct map {
	uint32_t *slots;
	size_t cap; /* a power of two, at least twice the entries */
	size_t n;
};

struct timeline {
	struct span_ix *spans;
	size_t n_spans, cap_spans;
	struct map span_map, thread_map, proc_map;
	struct thread_ix *threads;
	size_t n_threads, cap_threads;
	struct proc_ix *procs;
	size_t n_procs, cap_procs;
	uint64_t base; /* the earliest process start: time 0 */
	struct pending *pending;
	size_t n_pending, cap_pending;
	bool any_span; /* finding time 0 in a file with no process span nor metrics */
	struct weft_otlp_reader *reader;
	struct weft_timeline_out out;
	uint64_t flows, unresolved, counters, async, duplicates;
	int err;
};

static uint64_t mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	return k;
}

/* The slot of `key` in `m` (its value 0 when absent); keys() gives an entry's key. */
static uint32_t *map_slot(const struct map *m, uint64_t key,
			  uint64_t (*keyof)(const struct timeline *, uint32_t),
			  const struct timeline *t)
{
	size_t i = mix(key) & (m->cap - 1);

	while (m->slots[i] && keyof(t, m->slots[i] - 1) != key)
		i = (i + 1) & (m->cap - 1);
	return &m->slots[i];
}

static int map_grow(struct map *m, uint64_t (*keyof)(const struct timeline *, uint32_t),
		    const struct timeline *t)
{
	struct map bigger = { .cap = m->cap ? 2 * m->cap : 1024, .n = m->n };

	if (m->cap && 2 * (m->n + 1) <= m->cap)
		return 0;
	bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
	if (!bigger.slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i])
			*map_slot(&bigger, keyof(t, m->slots[i] - 1), keyof, t) = m->slots[i];
	free(m->slots);
	*m = bigger;
	return 0;
}

static uint64_t span_key(const struct timeline *t, uint32_t i)
{
	return t->spans[i].id;
}

static uint64_t thread_key(const struct timeline *t, uint32_t i)
{
	return (uint64_t)t->threads[i].pid << 32 | t->threads[i].tid;
}

static uint64_t proc_key(const struct timeline *t, uint32_t i)
{
	return t->procs[i].pid;
}

/* Grows array *a of *cap elements of `size` bytes to hold one more. */
static int reserve(void *a, size_t *cap, size_t n, size_t size)
{
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*(void **)a, (*cap ? 2 * *cap : 64) * size);
	if (!p)
		return -ENOMEM;
	*(void **)a = p;
	*cap = *cap ? 2 * *cap : 64;
	return 0;
}

static struct span_ix *find_span(const struct timeline *t, uint64_t id)
{
	uint32_t *s;

	if (!id || !t->span_map.cap)
		return NULL;
	s = map_slot(&t->span_map, id, span_key, t);
	return *s ? &t->spans[*s - 1] : NULL;
}

static struct thread_ix *thread_of(struct timeline *t, uint32_t pid, uint32_t tid)
{
	uint64_t key = (uint64_t)pid << 32 | tid;
	uint32_t *s;

	if (map_grow(&t->thread_map, thread_key, t) < 0 ||
	    reserve(&t->threads, &t->cap_threads, t->n_threads, sizeof(*t->threads)) < 0)
		return NULL;
	s = map_slot(&t->thread_map, key, thread_key, t);
	if (!*s) {
		t->threads[t->n_threads] = (struct thread_ix){ .pid = pid, .tid = tid };
		*s = (uint32_t)++t->n_threads;
		t->thread_map.n++;
	}
	return &t->threads[*s - 1];
}

static struct proc_ix *proc_of(struct timeline *t, uint32_t pid)
{
	uint32_t *s;

	if (map_grow(&t->proc_map, proc_key, t) < 0 ||
	    reserve(&t->procs, &t->cap_procs, t->n_procs, sizeof(*t->procs)) < 0)
		return NULL;
	s = map_slot(&t->proc_map, pid, proc_key, t);
	if (!*s) {
		t->procs[t->n_procs] = (struct proc_ix){ .pid = pid, .start = UINT64_MAX };
		*s = (uint32_t)++t->n_procs;
		t->proc_map.n++;
	}
	return &t->procs[*s - 1];
}

static enum rank rank_of(const struct weft_otlp_span *s)
{
	if (strcmp(s->name, "process") == 0)
		return RANK_PROCESS;
	if (strncmp(s->name, "thread ", 7) == 0)
		return RANK_THREAD;
	if (strncmp(s->name, "task ", 5) == 0)
		return RANK_TASK;
	if (strncmp(s->name, "wait ", 5) == 0)
		return RANK_WAIT;
	if (strcmp(s->name, "connect") == 0 || strcmp(s->name, "accept") == 0)
		return RANK_CONNECTION;
	return RANK_OTHER;
}

/* The track of a span: its thread.id, else (the process span) the main thread's. */
static uint32_t tid_of(const struct weft_json_reader *j, const struct weft_otlp_resource *res,
		       const struct weft_otlp_span *s)
{
	int64_t tid;

	if (weft_otlp_read_attr_int(j, s->attrs, "thread.id", &tid) == 0 && tid > 0 &&
	    tid <= UINT32_MAX)
		return (uint32_t)tid;
	return (uint32_t)res->pid;
}

/* --- Time 0 ------------------------------------------------------------------ */

static int note_process(struct timeline *t, const struct weft_otlp_resource *res,
			struct proc_ix **out)
{
	struct proc_ix *p = proc_of(t, (uint32_t)res->pid);

	if (!p)
		return -ENOMEM;
	if (!p->service && !(p->service = strdup(res->service)))
		return -ENOMEM;
	*out = p;
	return 0;
}

static void note_start(struct timeline *t, const struct weft_otlp_resource *res, uint64_t ns)
{
	struct proc_ix *p;

	if (note_process(t, res, &p) < 0) {
		t->err = -ENOMEM;
		return;
	}
	if (ns && ns < p->start)
		p->start = ns;
}

/* A process span's start is its process's; with `any_span`, every span's start counts. */
static void start_of_span(void *arg, const struct weft_otlp_resource *res,
			  const struct weft_otlp_span *s)
{
	struct timeline *t = arg;

	if (t->any_span || strcmp(s->name, "process") == 0)
		note_start(t, res, s->start_ns);
}

/* A cumulative sum's start is its process's start. */
static void start_of_metric(void *arg, const struct weft_otlp_resource *res, const char *name,
			    const struct weft_json_node *points)
{
	struct timeline *t = arg;
	const struct weft_json_reader *j = weft_otlp_read_json(t->reader);

	for (const struct weft_json_node *pt = weft_json_read_first(j, points); pt;
	     pt = weft_json_read_next(j, pt)) {
		uint64_t start = 0;

		weft_json_read_u64(weft_json_read_get(j, pt, "startTimeUnixNano"), &start);
		note_start(t, res, start);
	}
}

/*
 * Time 0, the earliest process start: the start of the cumulative sums of
 * each process's metrics, which weft exports from the process's start; only
 * the metrics lines are parsed (a few lines of a large file). A file with
 * none (a program killed before its first metrics export) is read whole,
 * and its process spans, else its earliest span, count.
 */
static int find_time_zero(struct timeline *t, char **files, int n)
{
	static const char *const needles[] = { "{\"resourceMetrics\"", NULL };
	static const struct weft_otlp_visitor v = { .span = start_of_span,
						    .metric = start_of_metric };

	for (int f = 0; f < n && !t->err; f++) {
		struct weft_otlp_reader r;
		size_t known = t->n_procs;
		int rc;

		for (int whole = 0; whole < 2; whole++) {
			rc = weft_otlp_read_open(&r, files[f]);
			if (rc < 0) {
				fprintf(stderr, "weft timeline: %s: %s\n", files[f], strerror(-rc));
				return rc;
			}
			r.only = whole ? NULL : needles;
			t->reader = &r;
			t->any_span = whole;
			while (!t->err && weft_otlp_read_next(&r, &v, t) > 0)
				;
			weft_otlp_read_close(&r);
			t->reader = NULL;
			if (t->n_procs > known || t->err)
				break;
		}
	}
	for (size_t i = 0; i < t->n_procs; i++)
		if (t->procs[i].start < t->base)
			t->base = t->procs[i].start;
	if (t->base == UINT64_MAX)
		t->base = 0;
	return t->err;
}

/* --- Nesting, as spans arrive ----------------------------------------------- */

/* How many slices a span that arrived after its parent is checked against, at most. */
#define LATE_SCAN_MAX 65536

/* The first of n slices (by start) that starts at or after `ns`. */
static size_t first_from(const struct root *a, size_t n, uint64_t ns)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a[mid].start < ns)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Inserts x into a track's slices (by start); 0 or -ENOMEM. */
static int add_slice(struct thread_ix *th, const struct span_ix *x)
{
	size_t i;

	if (reserve(&th->slices, &th->cap_slices, th->n_slices, sizeof(*th->slices)) < 0)
		return -ENOMEM;
	/* Children come before their parent: the place is usually near the end. */
	for (i = th->n_slices; i > 0 && th->slices[i - 1].start > x->start; i--)
		;
	memmove(&th->slices[i + 1], &th->slices[i], (th->n_slices - i) * sizeof(*th->slices));
	th->slices[i] = (struct root){ x->start, x->end };
	th->n_slices++;
	return 0;
}

/*
 * Whether x, inside outermost slice r, nests with the slices already drawn
 * in r: each one it overlaps contains it or lies inside it. Bounded: past
 * LATE_SCAN_MAX slices the answer is no.
 */
static bool nests_inside(const struct thread_ix *th, const struct root *r, const struct span_ix *x)
{
	size_t i = first_from(th->slices, th->n_slices, r->start), seen = 0;

	for (; i < th->n_slices && th->slices[i].start < x->end; i++) {
		const struct root *d = &th->slices[i];

		if (++seen > LATE_SCAN_MAX)
			return false;
		if (d->end <= x->start || d->start >= x->end)
			continue; /* apart */
		if (!(d->start <= x->start && x->end <= d->end) &&
		    !(x->start <= d->start && d->end <= x->end))
			return false;
	}
	return true;
}

/*
 * Whether slice x can be drawn on its thread's track, and if so, its place.
 * Spans mostly arrive in the order they end (a child before its parent), so
 * x usually lies outside every slice so far, containing some of them: it
 * becomes an outermost slice, they its children. It cannot nest when it
 * overlaps an outermost slice without containing it. A span that lies
 * inside one (it arrived after its parent, e.g. a task that ended with its
 * thread) is checked against the slices drawn inside it. 0, or -ENOMEM.
 */
static int place(struct thread_ix *th, const struct span_ix *x, bool *nests)
{
	size_t i = first_from(th->roots, th->n_roots, x->start), j;

	*nests = false;
	if (i < th->n_roots && th->roots[i].start == x->start && th->roots[i].end > x->end)
		i++; /* x starts with that slice, inside it */
	if (i > 0 && th->roots[i - 1].end > x->start) {
		/* Inside outermost slice i - 1, or overlapping it. */
		if (x->end > th->roots[i - 1].end || !nests_inside(th, &th->roots[i - 1], x))
			return 0;
		*nests = true;
		return add_slice(th, x);
	}
	for (j = i; j < th->n_roots && th->roots[j].start < x->end; j++)
		if (th->roots[j].end > x->end)
			return 0;
	if (j == i) {
		/* Nothing absorbed: one more outermost slice, at i. */
		if (reserve(&th->roots, &th->cap_roots, th->n_roots, sizeof(*th->roots)) < 0)
			return -ENOMEM;
		memmove(&th->roots[i + 1], &th->roots[i], (th->n_roots - i) * sizeof(*th->roots));
		th->n_roots++;
	} else if (j > i + 1) {
		memmove(&th->roots[i + 1], &th->roots[j], (th->n_roots - j) * sizeof(*th->roots));
		th->n_roots -= j - i - 1;
	}
	th->roots[i] = (struct root){ x->start, x->end };
	*nests = true;
	return add_slice(th, x);
}

/* --- The events --------------------------------------------------------------- */

/* Arguments: the attributes as JSON values, then the span's ids. */
static void write_args(struct timeline *t, const struct weft_json_node *attrs, uint64_t id,
		       uint64_t parent)
{
	const struct weft_json_reader *j = weft_otlp_read_json(t->reader);
	struct weft_timeline_out *o = &t->out;

	weft_timeline_out_lit(o, ",\"args\":{");
	weft_timeline_out_attrs(o, j, attrs);
	if (id) {
		if (attrs && attrs->count)
			weft_timeline_out_lit(o, ",");
		weft_timeline_out_lit(o, "\"span.id\":");
		weft_timeline_out_hex_id(o, id);
		if (parent) {
			weft_timeline_out_lit(o, ",\"parent.span.id\":");
			weft_timeline_out_hex_id(o, parent);
		}
	}
	weft_timeline_out_lit(o, "}");
}

/* An event's start: `{"ph":..,"cat":..,"name":..,"pid":..,"tid":..,"ts":..`. */
static void write_common(struct timeline *t, const char *ph, const char *cat, const char *name,
			 uint32_t pid, uint32_t tid, uint64_t ns)
{
	struct weft_timeline_out *o = &t->out;

	weft_timeline_out_event(o);
	weft_timeline_out_lit(o, "{\"ph\":\"");
	weft_timeline_out_raw(o, ph, strlen(ph));
	weft_timeline_out_lit(o, "\",\"cat\":\"");
	weft_timeline_out_raw(o, cat, strlen(cat));
	weft_timeline_out_lit(o, "\",\"name\":");
	weft_timeline_out_string(o, name);
	weft_timeline_out_lit(o, ",\"pid\":");
	weft_timeline_out_u64(o, pid);
	weft_timeline_out_lit(o, ",\"tid\":");
	weft_timeline_out_u64(o, tid);
	weft_timeline_out_lit(o, ",\"ts\":");
	weft_timeline_out_ts(o, ns > t->base ? ns - t->base : 0);
}

/* A point strictly inside [start, end] when there is room, else `ns` clamped. */
static uint64_t inside(uint64_t ns, uint64_t start, uint64_t end)
{
	if (end - start >= 2) {
		start++;
		end--;
	}
	return ns < start ? start : ns > end ? end : ns;
}

/*
 * One flow per link: the hand-off's moment is where the consumer was woken
 * — the end of a wait, the start of anything else (a task starts at the
 * wake-up) — on the producer's span, the point of it nearest that moment: a
 * joined thread's end, a signaller's span at the wake-up.
 */
static void write_flow(struct timeline *t, const struct span_ix *p, const struct span_ix *c,
		       const char *kind)
{
	struct weft_timeline_out *o = &t->out;
	uint64_t to, from;

	to = inside(c->rank == RANK_WAIT ? c->end : c->start, c->start, c->end);
	from = inside(to, p->start, p->end);
	if (from > to) /* the producer's span began later: as early as the consumer allows */
		to = inside(from, c->start, c->end);
	t->flows++;
	for (int end = 0; end < 2; end++) {
		const struct span_ix *x = end ? c : p;

		write_common(t, end ? "f" : "s", "link", kind, x->pid, x->tid, end ? to : from);
		if (end)
			weft_timeline_out_lit(o, ",\"bp\":\"e\"");
		weft_timeline_out_lit(o, ",\"id\":");
		weft_timeline_out_u64(o, t->flows);
		weft_timeline_out_lit(o, ",\"args\":{\"from\":");
		weft_timeline_out_hex_id(o, p->id);
		weft_timeline_out_lit(o, ",\"to\":");
		weft_timeline_out_hex_id(o, c->id);
		weft_timeline_out_lit(o, "}}");
	}
}

static uint32_t link_kind(const char *kind)
{
	for (uint32_t k = 1; kind && k < sizeof(link_kinds) / sizeof(link_kinds[0]); k++)
		if (strcmp(kind, link_kinds[k]) == 0)
			return k;
	return 0;
}

/* The links of consumer c: drawn now if their producer has been read, else later. */
static void write_links(struct timeline *t, const struct span_ix *c,
			const struct weft_json_node *links)
{
	const struct weft_json_reader *j = weft_otlp_read_json(t->reader);

	for (const struct weft_json_node *l = weft_json_read_first(j, links); l;
	     l = weft_json_read_next(j, l)) {
		uint64_t id = weft_otlp_read_span_id(weft_json_read_str(j, l, "spanId", ""));
		uint32_t kind = link_kind(weft_otlp_read_attr_str(
			j, weft_json_read_get(j, l, "attributes"), "weft.link.kind"));
		const struct span_ix *p = find_span(t, id);

		if (p) {
			write_flow(t, p, c, link_kinds[kind]);
			continue;
		}
		if (!id) {
			t->unresolved++;
			continue;
		}
		if (reserve(&t->pending, &t->cap_pending, t->n_pending, sizeof(*t->pending)) < 0) {
			t->err = -ENOMEM;
			return;
		}
		t->pending[t->n_pending++] = (struct pending){ .producer = id,
							       .consumer = (uint32_t)(c - t->spans),
							       .kind = kind };
	}
}

/* The links whose producer came after their consumer, now that every span has been read. */
static void write_pending(struct timeline *t)
{
	for (size_t i = 0; i < t->n_pending; i++) {
		const struct pending *q = &t->pending[i];
		const struct span_ix *p = find_span(t, q->producer);

		if (!p)
			t->unresolved++;
		else
			write_flow(t, p, &t->spans[q->consumer], link_kinds[q->kind]);
		if (i % 4096 == 0 && weft_timeline_out_flush_if_full(&t->out) < 0)
			t->err = -EIO;
	}
}

static void write_span_events(struct timeline *t, const struct span_ix *x,
			      const struct weft_json_node *events)
{
	const struct weft_json_reader *j = weft_otlp_read_json(t->reader);

	for (const struct weft_json_node *e = weft_json_read_first(j, events); e;
	     e = weft_json_read_next(j, e)) {
		const char *name = weft_json_read_str(j, e, "name", "event");
		uint64_t ns = 0;

		if (strcmp(name, "weft.report") == 0)
			continue; /* `weft report` prints it */
		weft_json_read_u64(weft_json_read_get(j, e, "timeUnixNano"), &ns);
		write_common(t, "i", "event", name, x->pid, x->tid, ns);
		weft_timeline_out_lit(&t->out, ",\"s\":\"t\"");
		write_args(t, weft_json_read_get(j, e, "attributes"), 0, 0);
		weft_timeline_out_lit(&t->out, "}");
	}
}

/* Indexes span s (NULL: already read, from a file given twice) and names its thread. */
static struct span_ix *index_span(struct timeline *t, const struct weft_otlp_resource *res,
				  const struct weft_otlp_span *s)
{
	const struct weft_json_reader *j = weft_otlp_read_json(t->reader);
	struct thread_ix *th;
	struct proc_ix *p;
	struct span_ix *x;
	const char *name;
	uint32_t *slot;
	bool nests;

	if (note_process(t, res, &p) < 0 || map_grow(&t->span_map, span_key, t) < 0 ||
	    reserve(&t->spans, &t->cap_spans, t->n_spans, sizeof(*t->spans)) < 0)
		goto oom;
	slot = map_slot(&t->span_map, s->span_id, span_key, t);
	if (*slot)
		return NULL;
	x = &t->spans[t->n_spans];
	*x = (struct span_ix){ .id = s->span_id,
			       .start = s->start_ns,
			       .end = s->end_ns,
			       .pid = (uint32_t)res->pid,
			       .tid = tid_of(j, res, s),
			       .rank = (uint8_t)rank_of(s) };
	*slot = (uint32_t)++t->n_spans;
	t->span_map.n++;
	th = thread_of(t, x->pid, x->tid);
	if (!th)
		goto oom;
	name = weft_otlp_read_attr_str(j, s->attrs, "thread.name");
	if (name && (!th->name || (x->rank == RANK_THREAD && !th->named_by_thread_span))) {
		free(th->name);
		th->name = strdup(name);
		th->named_by_thread_span = x->rank == RANK_THREAD;
	}
	if (x->rank == RANK_CONNECTION) {
		x->flags |= F_ASYNC; /* it lives until close, across tasks */
	} else {
		if (place(th, x, &nests) < 0)
			goto oom;
		if (!nests)
			x->flags |= F_ASYNC;
	}
	return x;
oom:
	t->err = -ENOMEM;
	return NULL;
}

static void emit_span(void *arg, const struct weft_otlp_resource *res,
		      const struct weft_otlp_span *s)
{
	struct timeline *t = arg;
	struct weft_timeline_out *o = &t->out;
	struct span_ix *x;

	if (t->err || !s->span_id || !(x = index_span(t, res, s)))
		return;
	if (x->flags & F_ASYNC) {
		t->async++;
		write_common(t, "b", rank_names[x->rank], s->name, x->pid, x->tid, x->start);
		weft_timeline_out_lit(o, ",\"id\":");
		weft_timeline_out_hex_id(o, x->id);
		write_args(t, s->attrs, s->span_id, s->parent_id);
		weft_timeline_out_lit(o, "}");
		write_common(t, "e", rank_names[x->rank], s->name, x->pid, x->tid, x->end);
		weft_timeline_out_lit(o, ",\"id\":");
		weft_timeline_out_hex_id(o, x->id);
		weft_timeline_out_lit(o, "}");
	} else {
		write_common(t, "X", rank_names[x->rank], s->name, x->pid, x->tid, x->start);
		weft_timeline_out_lit(o, ",\"dur\":");
		weft_timeline_out_ts(o, x->end - x->start);
		write_args(t, s->attrs, s->span_id, s->parent_id);
		weft_timeline_out_lit(o, "}");
	}
	write_span_events(t, x, s->events);
	write_links(t, x, s->links);
}

static bool counted(const char *name)
{
	return strcmp(name, "process.thread.count") == 0 ||
	       strcmp(name, "weft.thread.waiting") == 0 ||
	       strcmp(name, "weft.channel.queue.depth") == 0 || strcmp(name, "weft.pool.busy") == 0;
}

/* One counter event per collection: a series per attribute set (its values, joined). */
static void emit_metric(void *arg, const struct weft_otlp_resource *res, const char *name,
			const struct weft_json_node *points)
{
	struct timeline *t = arg;
	const struct weft_json_reader *j = weft_otlp_read_json(t->reader);
	struct weft_timeline_out *o = &t->out;
	uint64_t at = UINT64_MAX;
	struct proc_ix *p;

	if (t->err || note_process(t, res, &p) < 0 || !counted(name))
		return;
	for (const struct weft_json_node *pt = weft_json_read_first(j, points); pt;
	     pt = weft_json_read_next(j, pt)) {
		uint64_t ns = 0;

		weft_json_read_u64(weft_json_read_get(j, pt, "timeUnixNano"), &ns);
		if (ns != at) {
			if (at != UINT64_MAX)
				weft_timeline_out_lit(o, "}}");
			write_common(t, "C", "metric", name, (uint32_t)res->pid, (uint32_t)res->pid,
				     ns);
			weft_timeline_out_lit(o, ",\"args\":{");
			at = ns;
			t->counters++;
		} else {
			weft_timeline_out_lit(o, ",");
		}
		weft_timeline_out_series(o, j, pt);
	}
	if (at != UINT64_MAX)
		weft_timeline_out_lit(o, "}}");
}

/* A thread's name: its thread.name; the main thread's, if it has none, the service's. */
static const char *thread_name(struct timeline *t, const struct thread_ix *th)
{
	uint32_t *s;

	if (th->name)
		return th->name;
	if (th->tid == th->pid && t->proc_map.cap) {
		s = map_slot(&t->proc_map, th->pid, proc_key, t);
		if (*s && t->procs[*s - 1].service && t->procs[*s - 1].service[0])
			return t->procs[*s - 1].service;
	}
	return "thread";
}

static const struct proc_ix *sort_procs;

static int by_start(const void *a, const void *b)
{
	const struct proc_ix *x = &sort_procs[*(const uint32_t *)a];
	const struct proc_ix *y = &sort_procs[*(const uint32_t *)b];

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* Names: processes (ordered by start) and threads. */
static int write_metadata(struct timeline *t)
{
	struct weft_timeline_out *o = &t->out;
	uint32_t *order = malloc((t->n_procs ? t->n_procs : 1) * sizeof(*order));
	char label[64];

	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_procs; i++)
		order[i] = (uint32_t)i;
	sort_procs = t->procs;
	qsort(order, t->n_procs, sizeof(*order), by_start);
	for (size_t i = 0; i < t->n_procs; i++) {
		const struct proc_ix *p = &t->procs[order[i]];

		write_common(t, "M", "__metadata", "process_name", p->pid, 0, t->base);
		snprintf(label, sizeof(label), " (%u)", p->pid);
		weft_timeline_out_lit(o, ",\"args\":{\"name\":");
		weft_timeline_out_string2(o, p->service ? p->service : "", label);
		weft_timeline_out_lit(o, "}}");
		write_common(t, "M", "__metadata", "process_sort_index", p->pid, 0, t->base);
		weft_timeline_out_lit(o, ",\"args\":{\"sort_index\":");
		weft_timeline_out_u64(o, i);
		weft_timeline_out_lit(o, "}}");
	}
	for (size_t i = 0; i < t->n_threads; i++) {
		const struct thread_ix *th = &t->threads[i];

		write_common(t, "M", "__metadata", "thread_name", th->pid, th->tid, t->base);
		snprintf(label, sizeof(label), " (%u)", th->tid);
		weft_timeline_out_lit(o, ",\"args\":{\"name\":");
		weft_timeline_out_string2(o, thread_name(t, th), label);
		weft_timeline_out_lit(o, "}}");
	}
	free(order);
	return 0;
}

/* Writes the events of every file, each up to its first line that is not a complete request. */
static int convert(struct timeline *t, char **files, int n)
{
	static const struct weft_otlp_visitor emit = { .span = emit_span, .metric = emit_metric };

	for (int f = 0; f < n && !t->err; f++) {
		struct weft_otlp_reader r;
		int rc = weft_otlp_read_open(&r, files[f]);

		if (rc < 0) {
			fprintf(stderr, "weft timeline: %s: %s\n", files[f], strerror(-rc));
			return rc;
		}
		t->reader = &r;
		while (!t->err && (rc = weft_otlp_read_next(&r, &emit, t)) > 0)
			if (weft_timeline_out_flush_if_full(&t->out) < 0)
				t->err = -EIO;
		if (rc == -EINVAL) {
			fprintf(stderr,
				"weft timeline: %s: line %llu is cut short or not OTLP JSON (%s): "
				"the "
				"program was probably killed while writing it; converted the lines "
				"before it\n",
				files[f], (unsigned long long)r.line, r.why ? r.why : "?");
		} else if (rc < 0 && !t->err) {
			fprintf(stderr, "weft timeline: %s: %s\n", files[f], strerror(-rc));
			t->err = rc;
		}
		t->reader = NULL;
		weft_otlp_read_close(&r);
	}
	return t->err;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: weft timeline FILE.jsonl... [-o OUT.json]\n"
		   "Writes weft's files as one Trace Event Format file (default trace.json;\n"
		   "-o - for standard output) for Perfetto UI, chrome://tracing or speedscope.\n");
}

static void timeline_free(struct timeline *t)
{
	for (size_t i = 0; i < t->n_threads; i++) {
		free(t->threads[i].name);
		free(t->threads[i].roots);
		free(t->threads[i].slices);
	}
	free(t->pending);
	for (size_t i = 0; i < t->n_procs; i++)
		free(t->procs[i].service);
	free(t->threads);
	free(t->procs);
	free(t->spans);
	free(t->span_map.slots);
	free(t->thread_map.slots);
	free(t->proc_map.slots);
}

int weft_timeline_main(int argc, char **argv)
{
	struct timeline t = { .base = UINT64_MAX };
	const char *out = "trace.json";
	char **files = calloc((size_t)argc + 1, sizeof(*files));
	int n = 0, rc;

	if (!files)
		return 1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			free(files);
			return 0;
		}
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (strncmp(argv[i], "-o", 2) == 0 && argv[i][2])
			out = argv[i] + 2;
		else if (argv[i][0] == '-' && argv[i][1])
			goto bad_usage;
		else
			files[n++] = argv[i];
	}
	if (!n)
		goto bad_usage;
	rc = find_time_zero(&t, files, n);
	if (!rc)
		rc = weft_timeline_out_open(&t.out, out);
	if (!rc) {
		weft_timeline_out_lit(&t.out, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[");
		rc = convert(&t, files, n);
		if (!rc)
			write_pending(&t);
		if (!rc && !t.err)
			rc = write_metadata(&t);
		weft_timeline_out_lit(&t.out, "\n]}\n");
		if (!rc)
			rc = t.err;
		if (weft_timeline_out_close(&t.out) < 0 && !rc)
			rc = -EIO;
	}
	if (!rc)
		fprintf(stderr,
			"weft timeline: wrote %s: %zu processes, %zu threads, %zu spans (%llu on "
			"async tracks), %llu flows, %llu counter events%s\n",
			out, t.n_procs, t.n_threads, t.n_spans, (unsigned long long)t.async,
			(unsigned long long)t.flows, (unsigned long long)t.counters,
			t.unresolved ? "" : "");
	if (!rc && t.unresolved)
		fprintf(stderr,
			"weft timeline: %llu links name a span that is not in these files (no "
			"arrow drawn)\n",
			(unsigned long long)t.unresolved);
	else if (rc == -ENOMEM)
		fprintf(stderr, "weft timeline: out of memory\n");
	timeline_free(&t);
	free(files);
	return rc ? 1 : 0;
bad_usage:
	usage(stderr);
	free(files);
	return 2;
}
