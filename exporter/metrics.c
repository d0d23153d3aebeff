#include <stdlib.h>
#include <string.h>

#include "agent/alloc.h"
#include "agent/hashmap.h"
#include "agent/large.h"
#include "exporter/metrics.h"

enum { MAX_INSTRUMENTS = 64 };

struct series {
	const char *vals[WEFT_METRICS_MAX_KEYS]; /* owned copies */
	size_t n_vals;
	struct weft_attr attrs[WEFT_METRICS_MAX_KEYS];
	size_t n_attrs; /* an empty integer value has none (weft_metrics_int_keys) */
	bool overflow;
	int64_t value; /* sum and gauge */
	uint64_t count;
	double sum, min, max;
	uint64_t *buckets;
};

struct weft_instrument {
	const char *name, *desc, *unit;
	enum weft_metric_type type;
	bool monotonic;
	size_t n_keys;
	const char *keys[WEFT_METRICS_MAX_KEYS];
	unsigned int_keys;    /* keys whose values are integers (weft_metrics_int_keys) */
	const double *bounds; /* n_bounds, then +inf: a search's end (weft_metrics_histogram) */
	size_t n_bounds;
	/*
	 * A sum kept in integer units (nanoseconds), exported as value / per
	 * (seconds; 0: as is). A division by a power of ten gives the double
	 * nearest the exact decimal, which JSON writes without printf.
	 */
	double per;
	uint32_t limit;
	/*
	 * Entries are struct series pointers, found by the values' hash: the
	 * series themselves never move, as collect's model points into them.
	 */
	struct weft_hashmap series;
	struct series *overflow;
};

/* What a series is looked up by. */
struct series_key {
	const struct weft_instrument *inst;
	const char *const *vals;
};

/* The cardinality limit until weft_metrics_set_limit says otherwise. */
#define DEFAULT_LIMIT 500

/*
 * Instruments, series, their values and the first collection's output come
 * from one static block while it lasts, one after the other, and then from
 * the heap: a short process's metrics touch three or four pages instead of a
 * new allocator slab (a page fault each) per size class, and take no
 * allocator lock. The block is never given back, not even in a forked child
 * (which leaks the parent's instruments, as it leaks heap ones): untouched,
 * its memory is still zero. A forgotten series goes on a free list and is
 * reused; its values, when they are in the block, stay there.
 */
#define POOL_SIZE (16u * 1024)

/*
 * The module's state with the block, on the pages the block begins with
 * (the bss is touched a page at a time: apart, they would cost a fault more).
 */
static struct {
	size_t n_instruments;
	size_t pool_used;
	struct series *free_series; /* linked through vals[0] */
	uint32_t cardinality_limit; /* 0: DEFAULT_LIMIT */
	/* Collection output, rebuilt on every collect: the metrics, then the points. */
	void *out_block;
	size_t out_cap;
	struct weft_instrument *instruments[MAX_INSTRUMENTS];
	_Alignas(16) unsigned char pool[POOL_SIZE];
} mt WEFT_LARGE __attribute__((aligned(4096)));

/* n zeroed bytes, 16-aligned; NULL when out of memory. */
static void *pool_alloc(size_t n)
{
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (n > POOL_SIZE - mt.pool_used)
		return weft_zalloc(n);
	p = mt.pool + mt.pool_used;
	mt.pool_used += n;
	return p;
}

static void pool_free(void *p)
{
	if (p && ((unsigned char *)p < mt.pool || (unsigned char *)p >= mt.pool + POOL_SIZE))
		weft_free(p);
}

static char *pool_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = n > POOL_SIZE - mt.pool_used ? weft_alloc(n) : pool_alloc(n);

	if (p)
		memcpy(p, s, n);
	return p;
}

static const struct weft_attr overflow_attr = { .key = "otel.metric.overflow",
						.type = WEFT_VALUE_BOOL,
						.v.b = true };

void weft_metrics_set_limit(uint32_t limit)
{
	mt.cardinality_limit = limit < 2 ? 2 : limit;
}

static uint64_t hash_vals(const struct weft_instrument *inst, const char *const *vals)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (size_t i = 0; i < inst->n_keys; i++) {
		for (const unsigned char *p = (const unsigned char *)vals[i]; *p; p++)
			h = (h ^ *p) * 0x100000001b3ull;
		h = (h ^ 0xff) * 0x100000001b3ull;
	}
	return h;
}

static bool series_eq(const void *entry, const void *key)
{
	const struct series *s = *(struct series *const *)entry;
	const struct series_key *k = key;

	for (size_t i = 0; i < k->inst->n_keys; i++)
		if (strcmp(s->vals[i], k->vals[i]) != 0)
			return false;
	return true;
}

static struct weft_instrument *instrument_new(const char *name, const char *desc, const char *unit,
					      enum weft_metric_type type, size_t n_keys,
					      const char *const *keys)
{
	struct weft_instrument *inst;

	if (mt.n_instruments == MAX_INSTRUMENTS || n_keys > WEFT_METRICS_MAX_KEYS)
		return NULL;
	inst = pool_alloc(sizeof(*inst));
	if (!inst)
		return NULL;
	inst->name = name;
	inst->desc = desc;
	inst->unit = unit;
	inst->type = type;
	inst->n_keys = n_keys;
	for (size_t i = 0; i < n_keys; i++)
		inst->keys[i] = keys[i];
	inst->limit = mt.cardinality_limit ? mt.cardinality_limit : DEFAULT_LIMIT;
	weft_hashmap_init(&inst->series, sizeof(struct series *), series_eq);
	mt.instruments[mt.n_instruments++] = inst;
	return inst;
}

struct weft_instrument *weft_metrics_sum(const char *name, const char *desc, const char *unit,
					 bool monotonic, size_t n_keys, const char *const *keys)
{
	struct weft_instrument *inst =
		instrument_new(name, desc, unit, WEFT_METRIC_SUM, n_keys, keys);

	if (inst)
		inst->monotonic = monotonic;
	return inst;
}

struct weft_instrument *weft_metrics_sum_ns(const char *name, const char *desc, bool monotonic,
					    size_t n_keys, const char *const *keys)
{
	struct weft_instrument *inst = weft_metrics_sum(name, desc, "s", monotonic, n_keys, keys);

	if (inst)
		inst->per = 1e9;
	return inst;
}

struct weft_instrument *weft_metrics_gauge(const char *name, const char *desc, const char *unit,
					   size_t n_keys, const char *const *keys)
{
	return instrument_new(name, desc, unit, WEFT_METRIC_GAUGE, n_keys, keys);
}

struct weft_instrument *weft_metrics_histogram(const char *name, const char *desc, const char *unit,
					       size_t n_keys, const char *const *keys,
					       const double *bounds, size_t n_bounds)
{
	/*
	 * The bounds are copied with +inf after the last, so that finding a
	 * value's bucket needs no test of the index (weft_metrics_series_record):
	 * every value but NaN stops there, and NaN stops at the first.
	 */
	double *copy = pool_alloc((n_bounds + 1) * sizeof(double));
	struct weft_instrument *inst;

	if (!copy)
		return NULL;
	if (n_bounds)
		memcpy(copy, bounds, n_bounds * sizeof(double));
	copy[n_bounds] = __builtin_inf();
	inst = instrument_new(name, desc, unit, WEFT_METRIC_HISTOGRAM, n_keys, keys);
	if (!inst) {
		pool_free(copy);
		return NULL;
	}
	inst->bounds = copy;
	inst->n_bounds = n_bounds;
	return inst;
}

/* A series' memory back on the free list (its values and buckets are the caller's). */
static void series_put_back(struct series *s)
{
	s->vals[0] = (const char *)mt.free_series;
	mt.free_series = s;
}

static struct series *series_alloc(const struct weft_instrument *inst)
{
	struct series *s = mt.free_series;

	if (s) {
		mt.free_series = (struct series *)s->vals[0];
		memset(s, 0, sizeof(*s));
	} else {
		s = pool_alloc(sizeof(*s));
		if (!s)
			return NULL;
	}
	if (inst->type == WEFT_METRIC_HISTOGRAM) {
		s->buckets = pool_alloc((inst->n_bounds + 1) * sizeof(uint64_t));
		if (!s->buckets) {
			series_put_back(s);
			return NULL;
		}
	}
	return s;
}

static struct series *series_find(struct weft_instrument *inst, uint64_t h, const char *const *vals)
{
	struct series_key key = { inst, vals };
	struct series **e = weft_hashmap_find(&inst->series, h, &key);

	return e ? *e : NULL;
}

static struct series *series_get(struct weft_instrument *inst, const char *const *vals)
{
	uint64_t h = hash_vals(inst, vals);
	struct series_key key = { inst, vals };
	struct series *s = series_find(inst, h, vals);
	void *e;

	if (s)
		return s;
	/* One slot stays for the overflow series, so the total never exceeds the limit. */
	if (weft_hashmap_count(&inst->series) + 1 >= inst->limit) {
		if (!inst->overflow) {
			inst->overflow = series_alloc(inst);
			if (inst->overflow) {
				inst->overflow->overflow = true;
				inst->overflow->attrs[0] = overflow_attr;
				inst->overflow->n_attrs = 1;
			}
		}
		return inst->overflow;
	}
	s = series_alloc(inst);
	if (!s)
		return NULL;
	if (weft_hashmap_put(&inst->series, h, &key, &e) < 0) {
		pool_free(s->buckets);
		series_put_back(s);
		return NULL;
	}
	s->n_attrs = 0;
	s->n_vals = inst->n_keys;
	for (size_t i = 0; i < inst->n_keys; i++) {
		struct weft_attr *a = &s->attrs[s->n_attrs];

		s->vals[i] = pool_strdup(vals[i]);
		if (!s->vals[i])
			s->vals[i] = "";
		a->key = inst->keys[i];
		if (inst->int_keys & (1u << i)) {
			if (!s->vals[i][0])
				continue; /* no value: no attribute */
			a->type = WEFT_VALUE_INT;
			a->v.i = strtoll(s->vals[i], NULL, 10);
		} else {
			a->type = WEFT_VALUE_STRING;
			a->v.s = s->vals[i];
		}
		s->n_attrs++;
	}
	*(struct series **)e = s;
	return s;
}

void weft_metrics_int_keys(struct weft_instrument *inst, unsigned mask)
{
	if (inst)
		inst->int_keys = mask;
}

void weft_metrics_add(struct weft_instrument *inst, const char *const *vals, int64_t delta)
{
	weft_metrics_series_add(weft_metrics_series(inst, vals), delta);
}

void weft_metrics_series_add(struct weft_series *ws, int64_t delta)
{
	struct series *s = (struct series *)ws;

	if (s)
		s->value += delta;
}

void weft_metrics_set(struct weft_instrument *inst, const char *const *vals, int64_t value)
{
	struct series *s = inst ? series_get(inst, vals) : NULL;

	if (s)
		s->value = value;
}

struct weft_series *weft_metrics_series(struct weft_instrument *inst, const char *const *vals)
{
	return inst ? (struct weft_series *)series_get(inst, vals) : NULL;
}

void weft_metrics_series_record(struct weft_instrument *inst, struct weft_series *ws, double value)
{
	struct series *s = (struct series *)ws;
	size_t b = 0;

	if (!s)
		return;
	if (s->count == 0 || value < s->min)
		s->min = value;
	if (s->count == 0 || value > s->max)
		s->max = value;
	s->count++;
	s->sum += value;
	/*
	 * Bucket i holds (bounds[i-1], bounds[i]], as OTLP's explicit buckets
	 * say; the +inf after the last bound ends the search at n_bounds.
	 */
	while (value > inst->bounds[b])
		b++;
	s->buckets[b]++;
}

void weft_metrics_record(struct weft_instrument *inst, const char *const *vals, double value)
{
	weft_metrics_series_record(inst, weft_metrics_series(inst, vals), value);
}

int64_t weft_metrics_value(struct weft_instrument *inst, const char *const *vals)
{
	struct series *s = inst ? series_find(inst, hash_vals(inst, vals), vals) : NULL;

	return s ? s->value : 0;
}

static void fill_point(const struct weft_instrument *inst, const struct series *s,
		       struct weft_point *p, uint64_t start, uint64_t now)
{
	memset(p, 0, sizeof(*p));
	p->attrs = s->attrs;
	p->n_attrs = s->n_attrs;
	p->start_unix_nano = inst->type == WEFT_METRIC_GAUGE ? 0 : start;
	p->time_unix_nano = now;
	p->as_int = s->value;
	if (inst->per != 0) {
		p->is_double = true;
		p->as_double = (double)s->value / inst->per;
	}
	if (inst->type == WEFT_METRIC_HISTOGRAM) {
		p->count = s->count;
		p->sum = s->sum;
		p->min = s->min;
		p->max = s->max;
		p->bounds = inst->bounds;
		p->n_bounds = inst->n_bounds;
		p->bucket_counts = s->buckets;
	}
}

/* Series forgotten since the last collect: the last model may still point into them. */
static struct series **forgotten;
static size_t n_forgotten, cap_forgotten;

static void series_free(struct series *s)
{
	for (size_t i = 0; i < s->n_vals && !s->overflow; i++)
		if (s->vals[i] && *s->vals[i])
			pool_free((void *)s->vals[i]);
	pool_free(s->buckets);
	series_put_back(s);
}

void weft_metrics_forget(struct weft_instrument *inst, const char *const *vals)
{
	uint64_t h;
	struct series_key key = { inst, vals };
	struct series **e;

	if (!inst)
		return;
	h = hash_vals(inst, vals);
	e = weft_hashmap_find(&inst->series, h, &key);
	if (!e)
		return;
	if (n_forgotten == cap_forgotten) {
		size_t cap = cap_forgotten ? cap_forgotten * 2 : 16;
		struct series **p = weft_realloc(forgotten, cap * sizeof(*p));

		if (!p)
			return; /* kept: a stale point is better than a dangling one */
		forgotten = p;
		cap_forgotten = cap;
	}
	forgotten[n_forgotten++] = *e;
	weft_hashmap_remove_entry(&inst->series, e);
}

size_t weft_metrics_collect(const struct weft_metric **out, uint64_t start_unix_nano,
			    uint64_t now_unix_nano)
{
	size_t total = 0, n_metrics = 0, k = 0, need;
	struct weft_metric *out_metrics;
	struct weft_point *out_points;

	for (size_t i = 0; i < n_forgotten; i++)
		series_free(forgotten[i]);
	n_forgotten = 0;

	for (size_t i = 0; i < mt.n_instruments; i++)
		total += weft_hashmap_count(&mt.instruments[i]->series) +
			 (mt.instruments[i]->overflow ? 1 : 0);
	need = mt.n_instruments * sizeof(*out_metrics) + total * sizeof(*out_points);
	if (need > mt.out_cap) {
		/* Rebuilt whole each time: nothing to copy into a larger block. */
		void *p = pool_alloc(need);

		if (!p) {
			*out = NULL;
			return 0;
		}
		pool_free(mt.out_block);
		mt.out_block = p;
		mt.out_cap = need;
	}
	out_metrics = mt.out_block;
	out_points = (struct weft_point *)(out_metrics + mt.n_instruments);
	for (size_t i = 0; i < mt.n_instruments; i++) {
		struct weft_instrument *inst = mt.instruments[i];
		struct weft_metric *m;
		struct series **e;
		size_t first = k, pos = 0;

		if (weft_hashmap_count(&inst->series) == 0 && !inst->overflow)
			continue;
		while ((e = weft_hashmap_next(&inst->series, &pos)))
			fill_point(inst, *e, &out_points[k++], start_unix_nano, now_unix_nano);
		if (inst->overflow)
			fill_point(inst, inst->overflow, &out_points[k++], start_unix_nano,
				   now_unix_nano);
		m = &out_metrics[n_metrics++];
		m->name = inst->name;
		m->description = inst->desc;
		m->unit = inst->unit;
		m->type = inst->type;
		m->monotonic = inst->monotonic;
		m->points = &out_points[first];
		m->n_points = k - first;
	}
	*out = out_metrics;
	return n_metrics;
}

void weft_metrics_reset(void)
{
	forgotten = NULL;
	n_forgotten = cap_forgotten = 0;
	mt.n_instruments = 0;
	mt.out_block = NULL;
	mt.out_cap = 0;
	mt.free_series = NULL;
}
