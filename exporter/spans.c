#include <string.h>

#include "agent/agent.h"
#include "agent/alloc.h"
#include "agent/large.h"
#include "exporter/sampler.h"
#include "exporter/spans.h"

/*
 * The queue: its first slots are static, the rest one allocation of the whole
 * bound, made when a span first needs it. A process that queues only its
 * process span (most short ones) allocates nothing and touches one page: the
 * large allocation and the jemalloc metadata it needs cost page faults at exit.
 */
#define FIRST_SLOTS 2
static struct weft_qspan first_slots[FIRST_SLOTS] WEFT_LARGE;
static struct weft_qspan *more_slots;
static struct weft_span first_batch[FIRST_SLOTS];
/* Where spans of a trace that is not sampled are assembled, then forgotten. */
static struct weft_qspan unsampled;
static bool process_unsampled;
static size_t queue_len, max_queue, max_batch;
static uint64_t exports; /* times the queue was emptied: a queued span pointer's epoch */
static struct weft_span *batch;

void weft_spans_init(size_t queue_size, size_t batch_size)
{
	max_queue = queue_size ? queue_size : 1;
	max_batch = batch_size ? batch_size : 1;
	if (max_batch > max_queue)
		max_batch = max_queue;
}

void weft_spans_set_sampled(bool sampled)
{
	process_unsampled = !sampled;
}

/* Slot i of the queue (max_queue + 1 >= FIRST_SLOTS: the bound is at least 1, plus one). */
static struct weft_qspan *slot(size_t i)
{
	return i < FIRST_SLOTS ? &first_slots[i] : &more_slots[i - FIRST_SLOTS];
}

struct weft_qspan *weft_spans_reserve(bool reserved)
{
	struct weft_qspan *q;

	if (process_unsampled) {
		/*
		 * Not sampled (OTEL_TRACES_SAMPLER): the caller fills a scratch
		 * slot that is never queued, so the span takes no room in the
		 * queue and is neither exported nor counted as dropped.
		 */
		q = &unsampled;
		goto init;
	}
	if (queue_len >= max_queue + (reserved ? 1 : 0))
		return NULL;
	if (queue_len >= FIRST_SLOTS && !more_slots) {
		/*
		 * The whole bound at once: a queued span's model points into its own
		 * slot, so the array never moves. Untouched pages cost no memory.
		 */
		more_slots = weft_alloc((max_queue + 1 - FIRST_SLOTS) * sizeof(*more_slots));
		if (!more_slots)
			return NULL;
	}
	q = slot(queue_len++);
init:
	/*
	 * The header and every text empty; the arrays are written before they
	 * are counted (n_attrs, n_links) or pointed at, and they are most of
	 * the slot's 1.5 KiB.
	 */
	memset(&q->s, 0, sizeof(q->s));
	q->name[0] = q->thread_name[0] = q->object[0] = q->addr[0][0] = q->addr[1][0] = '\0';
	q->s.attrs = q->attrs;
	q->s.name = q->name;
	q->s.kind = WEFT_SPAN_KIND_INTERNAL;
	q->s.flags = 1;
	return q;
}

static struct weft_attr *next_attr(struct weft_qspan *q, const char *key)
{
	if (q->s.n_attrs >= WEFT_QSPAN_ATTRS || q->s.n_attrs >= weft_cfg.span_attr_limit) {
		q->s.dropped_attrs++;
		return NULL;
	}
	q->attrs[q->s.n_attrs].key = key;
	return &q->attrs[q->s.n_attrs++];
}

void weft_qspan_attr_str(struct weft_qspan *q, const char *key, const char *value)
{
	struct weft_attr *a = next_attr(q, key);

	if (a) {
		a->type = WEFT_VALUE_STRING;
		a->v.s = value;
	}
}

void weft_qspan_attr_int(struct weft_qspan *q, const char *key, int64_t value)
{
	struct weft_attr *a = next_attr(q, key);

	if (a) {
		a->type = WEFT_VALUE_INT;
		a->v.i = value;
	}
}

void weft_qspan_attr_bool(struct weft_qspan *q, const char *key, bool value)
{
	struct weft_attr *a = next_attr(q, key);

	if (a) {
		a->type = WEFT_VALUE_BOOL;
		a->v.b = value;
	}
}

void weft_qspan_attr_double(struct weft_qspan *q, const char *key, double value)
{
	struct weft_attr *a = next_attr(q, key);

	if (a) {
		a->type = WEFT_VALUE_DOUBLE;
		a->v.d = value;
	}
}

void weft_qspan_link(struct weft_qspan *q, const struct weft_trace_id *trace, uint64_t span,
		     const char *kind)
{
	size_t i = q->s.n_links;
	struct weft_span_link *l;

	if (i >= WEFT_QSPAN_LINKS || i >= weft_cfg.span_link_limit) {
		q->s.dropped_links++;
		return;
	}
	l = &q->links[i];
	l->trace_id = *trace;
	weft_span_id_from_u64(span, &l->span_id);
	q->link_attrs[i].key = "weft.link.kind";
	q->link_attrs[i].type = WEFT_VALUE_STRING;
	q->link_attrs[i].v.s = kind;
	l->attrs = &q->link_attrs[i];
	l->n_attrs = 1;
	q->s.links = q->links;
	q->s.n_links = i + 1;
}

size_t weft_spans_queued(void)
{
	return queue_len;
}

size_t weft_spans_batch_size(void)
{
	return max_batch;
}

/* A pointer into slot `from`, made to point at the same place in slot `to`. */
#define REBASE(p, from, to)                                                                        \
	do {                                                                                       \
		const char *p_ = (const char *)(p);                                                \
		if (p_ >= (const char *)(from) && p_ < (const char *)((from) + 1))                 \
			(p) = (__typeof__(p))(void *)((char *)(to) + (p_ - (const char *)(from))); \
	} while (0)

/* Moves a queued span to another slot: its pointers into its own slot follow it. */
static void move_slot(struct weft_qspan *to, const struct weft_qspan *from)
{
	memcpy(to, from, sizeof(*to));
	REBASE(to->s.name, from, to);
	REBASE(to->s.attrs, from, to);
	REBASE(to->s.links, from, to);
	REBASE(to->s.status_message, from, to);
	for (size_t i = 0; i < to->s.n_attrs && i < WEFT_QSPAN_ATTRS; i++)
		if (to->attrs[i].type == WEFT_VALUE_STRING)
			REBASE(to->attrs[i].v.s, from, to);
	for (size_t i = 0; i < to->s.n_links && i < WEFT_QSPAN_LINKS; i++) {
		REBASE(to->links[i].attrs, from, to);
		REBASE(to->link_attrs[i].v.s, from, to);
	}
}

size_t weft_spans_export(struct weft_sink *const *sinks, size_t n_sinks,
			 const struct weft_resource *res, size_t *failed_batches,
			 size_t *failed_spans)
{
	/*
	 * What is queued now: while a request waits to be retried, the exporter
	 * goes on draining the rings (otlp_retry.h), and spans queued meanwhile
	 * stay for the next export.
	 */
	size_t delivered = 0, next = 0, end = queue_len;
	struct weft_span *b;

	*failed_batches = *failed_spans = 0;
	if (!end)
		return 0;
	if (end <= FIRST_SLOTS)
		b = first_batch;
	else
		b = batch ? batch : (batch = weft_alloc((max_queue + 1) * sizeof(*batch)));
	while (next < end) {
		size_t n = 0;
		bool ok = false;

		/* Spans of a trace that is not sampled are skipped, not counted. */
		for (; next < end && n < max_batch; next++) {
			if (!(slot(next)->s.flags & WEFT_TRACE_FLAG_SAMPLED))
				continue;
			if (b)
				b[n] = slot(next)->s;
			n++;
		}
		if (!n)
			break;
		for (size_t k = 0; b && k < n_sinks; k++)
			if (sinks[k]->export_spans(sinks[k], res, b, n) == 0)
				ok = true;
		if (ok || !n_sinks) {
			delivered += n;
		} else {
			(*failed_batches)++;
			*failed_spans += n;
		}
	}
	for (size_t i = end; i < queue_len; i++)
		move_slot(slot(i - end), slot(i));
	queue_len -= end;
	exports++;
	return delivered;
}

uint64_t weft_spans_exports(void)
{
	return exports;
}

void weft_spans_reset(void)
{
	/*
	 * The parent's heap slots are leaked, not reused; the static ones are
	 * reused, so the epoch moves on: no pointer to a queued span from before
	 * the fork is taken as current.
	 */
	more_slots = NULL;
	queue_len = 0;
	batch = NULL;
	exports++;
}
