/*
 * The timeline (exporter/timeline.h): the span index and the nesting
 * decision (first pass), then the events, streamed (second pass). The Trace
 * Event Format is Chrome's ("Trace Event Format", Google Docs), as Perfetto,
 * catapult and speedscope read it.
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

struct thread_ix {
	uint32_t pid, tid;
	char *name;
	bool named_by_thread_span; /* the name of its `thread` span: its last */
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

	if (weft_otlp_attr_int(j, s->attrs, "thread.id", &tid) == 0 && tid > 0 && tid <= UINT32_MAX)
		return (uint32_t)tid;
	return (uint32_t)res->pid;
}

/* --- First pass: the index ----------------------------------------------- */

static void note_time(struct timeline *t, struct proc_ix *p, uint64_t ns)
{
	if (ns && ns < t->base)
		t->base = ns;
	if (p && ns && ns < p->start)
		p->start = ns;
}

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

static void index_span(void *arg, const struct weft_otlp_resource *res,
		       const struct weft_otlp_span *s)
{
	struct timeline *t = arg;
	const struct weft_json_reader *j = weft_otlp_read_json(t->reader);
	struct thread_ix *th;
	struct proc_ix *p;
	struct span_ix *x;
	const char *name;
	uint32_t *slot;

	if (t->err || !s->span_id)
		return;
	if (note_process(t, res, &p) < 0 || map_grow(&t->span_map, span_key, t) < 0 ||
	    reserve(&t->spans, &t->cap_spans, t->n_spans, sizeof(*t->spans)) < 0) {
		t->err = -ENOMEM;
		return;
	}
	note_time(t, p, s->start_ns);
	slot = map_slot(&t->span_map, s->span_id, span_key, t);
	if (*slot) {
		t->duplicates++; /* the same span twice (a file given twice): once is enough */
		return;
	}
	x = &t->spans[t->n_spans];
	*x = (struct span_ix){ .id = s->span_id,
			       .start = s->start_ns,
			       .end = s->end_ns,
			       .pid = (uint32_t)res->pid,
			       .tid = tid_of(j, res, s),
			       .rank = (uint8_t)rank_of(s) };
	if (x->rank == RANK_CONNECTION)
		x->flags |= F_ASYNC;
	*slot = (uint32_t)++t->n_spans;
	t->span_map.n++;
	th = thread_of(t, x->pid, x->tid);
	name = weft_otlp_attr_str(j, s->attrs, "thread.name");
	if (!th) {
		t->err = -ENOMEM;
		return;
	}
	if (name && (!th->name || (x->rank == RANK_THREAD && !th->named_by_thread_span))) {
		free(th->name);
		th->name = strdup(name);
		th->named_by_thread_span = x->rank == RANK_THREAD;
	}
}

static void index_metric(void *arg, const struct weft_otlp_resource *res, const char *name,
			 const struct weft_json_node *points)
{
	struct timeline *t = arg;
	const struct weft_json_reader *j = weft_otlp_read_json(t->reader);
	struct proc_ix *p;

	if (t->err)
		return;
	if (note_process(t, res, &p) < 0) {
		t->err = -ENOMEM;
		return;
	}
	/* A cumulative sum's start is the process's start. */
	for (const struct weft_json_node *pt = weft_json_read_first(j, points); pt;
	     pt = weft_json_read_next(j, pt)) {
		uint64_t start = 0;

		weft_json_read_u64(weft_json_read_get(j, pt, "startTimeUnixNano"), &start);
		note_time(t, p, start);
	}
}

static const struct span_ix *sort_spans;

static int by_track_then_time(const void *a, const void *b)
{
	const struct span_ix *x = &sort_spans[*(const uint32_t *)a];
	const struct span_ix *y = &sort_spans[*(const uint32_t *)b];

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end > y->end ? -1 : 1; /* the longer, the outer */
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/*
 * Which spans nest on their thread's track: by track and start, the longer
 * first, a stack of the slices open; a span that starts inside the top one
 * and ends after it cannot be drawn there, and goes to an async track.
 */
static int decide_nesting(struct timeline *t)
{
	uint32_t *order = malloc((t->n_spans ? t->n_spans : 1) * sizeof(*order));
	uint32_t *stack = malloc((t->n_spans ? t->n_spans : 1) * sizeof(*stack));
	size_t n = 0, depth = 0;

	if (!order || !stack) {
		free(order);
		free(stack);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->n_spans; i++)
		if (!(t->spans[i].flags & F_ASYNC))
			order[n++] = (uint32_t)i;
	sort_spans = t->spans;
	qsort(order, n, sizeof(*order), by_track_then_time);
	for (size_t i = 0; i < n; i++) {
		struct span_ix *x = &t->spans[order[i]];

		while (depth) {
			const struct span_ix *top = &t->spans[stack[depth - 1]];

			if (top->pid == x->pid && top->tid == x->tid && top->end > x->start)
				break;
			depth--;
		}
		if (depth && x->end > t->spans[stack[depth - 1]].end) {
			x->flags |= F_ASYNC;
			continue;
		}
		stack[depth++] = order[i];
	}
	free(order);
	free(stack);
	return 0;
}

/* --- Second pass: the events ---------------------------------------------- */

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
static void write_links(struct timeline *t, const struct span_ix *c,
			const struct weft_json_node *links)
{
	const struct weft_json_reader *j = weft_otlp_read_json(t->reader);
	struct weft_timeline_out *o = &t->out;

	for (const struct weft_json_node *l = weft_json_read_first(j, links); l;
	     l = weft_json_read_next(j, l)) {
		const char *hex = weft_json_read_str(j, l, "spanId", "");
		const char *kind = weft_otlp_attr_str(j, weft_json_read_get(j, l, "attributes"),
						      "weft.link.kind");
		const struct span_ix *p = find_span(t, weft_otlp_span_id(hex));
		uint64_t to, from;

		if (!p) {
			t->unresolved++;
			continue;
		}
		to = inside(c->rank == RANK_WAIT ? c->end : c->start, c->start, c->end);
		from = inside(to, p->start, p->end);
		if (from >
		    to) /* the producer's span began later: as early as the consumer allows */
			to = inside(from, c->start, c->end);
		t->flows++;
		for (int end = 0; end < 2; end++) {
			const struct span_ix *x = end ? c : p;

			write_common(t, end ? "f" : "s", "link", kind ? kind : "link", x->pid,
				     x->tid, end ? to : from);
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

static void emit_span(void *arg, const struct weft_otlp_resource *res,
		      const struct weft_otlp_span *s)
{
	struct timeline *t = arg;
	struct weft_timeline_out *o = &t->out;
	struct span_ix *x = find_span(t, s->span_id);

	if (!x || (x->flags & F_EMITTED) || x->pid != (uint32_t)res->pid)
		return;
	x->flags |= F_EMITTED;
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

	if (!counted(name))
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

/*
 * Reads every file with visitor `v`, each up to its first line that is not a
 * complete request (which the first pass reports).
 */
static int pass(struct timeline *t, char **files, int n, const struct weft_otlp_visitor *v,
		bool first)
{
	for (int f = 0; f < n && !t->err; f++) {
		struct weft_otlp_reader r;
		int rc = weft_otlp_read_open(&r, files[f]);

		if (rc < 0) {
			fprintf(stderr, "weft timeline: %s: %s\n", files[f], strerror(-rc));
			return rc;
		}
		t->reader = &r;
		while (!t->err && (rc = weft_otlp_read_next(&r, v, t)) > 0)
			if (!first && weft_timeline_out_flush_if_full(&t->out) < 0)
				t->err = -EIO;
		if (rc == -EINVAL && first) {
			fprintf(stderr,
				"weft timeline: %s: line %llu is cut short or not OTLP JSON (%s): "
				"the "
				"program was probably killed while writing it; converted the lines "
				"before it\n",
				files[f], (unsigned long long)r.line, r.why ? r.why : "?");
		} else if (rc < 0 && rc != -EINVAL) {
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
	for (size_t i = 0; i < t->n_threads; i++)
		free(t->threads[i].name);
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
	static const struct weft_otlp_visitor index = { .span = index_span,
							.metric = index_metric };
	static const struct weft_otlp_visitor emit = { .span = emit_span, .metric = emit_metric };
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
	rc = pass(&t, files, n, &index, true);
	if (!rc)
		rc = decide_nesting(&t);
	if (!rc)
		rc = weft_timeline_out_open(&t.out, out);
	if (!rc) {
		if (t.base == UINT64_MAX)
			t.base = 0;
		weft_timeline_out_lit(&t.out, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[");
		rc = write_metadata(&t);
	}
	if (!rc)
		rc = pass(&t, files, n, &emit, false);
	if (!rc) {
		weft_timeline_out_lit(&t.out, "\n]}\n");
		rc = weft_timeline_out_close(&t.out);
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
