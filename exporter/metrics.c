#include <stdlib.h>
#include <string.h>

#include "agent/alloc.h"
#include "agent/hashmap.h"
#include "exporter/metrics.h"

enum { MAX_INSTRUMENTS = 64 };

struct series {
	const char *vals[WEFT_METRICS_MAX_KEYS]; /* owned copies */
	struct weft_attr attrs[WEFT_METRICS_MAX_KEYS];
	size_t n_attrs;
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
	unsigned int_keys; /* keys whose values are integers (weft_metrics_int_keys) */
	const double *bounds;
	size_t n_bounds;
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

static struct weft_instrument *instruments[MAX_INSTRUMENTS];
static size_t n_instruments;
static uint32_t cardinality_limit = 500;

/* Collection output, rebuilt on every collect. */
static struct weft_metric *out_metrics;
static struct weft_point *out_points;
static size_t out_points_cap;

static const struct weft_attr overflow_attr = { .key = "otel.metric.overflow",
						.type = WEFT_VALUE_BOOL,
						.v.b = true };

void weft_metrics_set_limit(uint32_t limit)
{
	cardinality_limit = limit < 2 ? 2 : limit;
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

	if (n_instruments == MAX_INSTRUMENTS || n_keys > WEFT_METRICS_MAX_KEYS)
		return NULL;
	inst = weft_zalloc(sizeof(*inst));
	if (!inst)
		return NULL;
	inst->name = name;
	inst->desc = desc;
	inst->unit = unit;
	inst->type = type;
	inst->n_keys = n_keys;
	for (size_t i = 0; i < n_keys; i++)
		inst->keys[i] = keys[i];
	inst->limit = cardinality_limit;
	weft_hashmap_init(&inst->series, sizeof(struct series *), series_eq);
	instruments[n_instruments++] = inst;
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

struct weft_instrument *weft_metrics_gauge(const char *name, const char *desc, const char *unit,
					   size_t n_keys, const char *const *keys)
{
	return instrument_new(name, desc, unit, WEFT_METRIC_GAUGE, n_keys, keys);
}

struct weft_instrument *weft_metrics_histogram(const char *name, const char *desc, const char *unit,
					       size_t n_keys, const char *const *keys,
					       const double *bounds, size_t n_bounds)
{
	struct weft_instrument *inst =
		instrument_new(name, desc, unit, WEFT_METRIC_HISTOGRAM, n_keys, keys);

	if (inst) {
		inst->bounds = bounds;
		inst->n_bounds = n_bounds;
	}
	return inst;
}

static struct series *series_alloc(const struct weft_instrument *inst)
{
	struct series *s = weft_zalloc(sizeof(*s));

	if (!s)
		return NULL;
	if (inst->type == WEFT_METRIC_HISTOGRAM) {
		s->buckets = weft_zalloc((inst->n_bounds + 1) * sizeof(uint64_t));
		if (!s->buckets) {
			weft_free(s);
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
		weft_free(s->buckets);
		weft_free(s);
		return NULL;
	}
	s->n_attrs = 0;
	for (size_t i = 0; i < inst->n_keys; i++) {
		struct weft_attr *a = &s->attrs[s->n_attrs];

		s->vals[i] = weft_strdup(vals[i]);
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
	struct series *s = inst ? series_get(inst, vals) : NULL;

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
	/* Bucket i holds (bounds[i-1], bounds[i]], as OTLP's explicit buckets say. */
	while (b < inst->n_bounds && value > inst->bounds[b])
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
	for (size_t i = 0; i < s->n_attrs && !s->overflow; i++)
		if (s->vals[i] && *s->vals[i])
			weft_free((void *)s->vals[i]);
	weft_free(s->buckets);
	weft_free(s);
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
	size_t total = 0, n_metrics = 0, k = 0;

	for (size_t i = 0; i < n_forgotten; i++)
		series_free(forgotten[i]);
	n_forgotten = 0;

	for (size_t i = 0; i < n_instruments; i++)
		total += weft_hashmap_count(&instruments[i]->series) +
			 (instruments[i]->overflow ? 1 : 0);
	if (!out_metrics)
		out_metrics = weft_zalloc(MAX_INSTRUMENTS * sizeof(*out_metrics));
	if (total > out_points_cap) {
		struct weft_point *p = weft_realloc(out_points, total * sizeof(*p));
		if (!p) {
			*out = NULL;
			return 0;
		}
		out_points = p;
		out_points_cap = total;
	}
	if (!out_metrics) {
		*out = NULL;
		return 0;
	}
	for (size_t i = 0; i < n_instruments; i++) {
		struct weft_instrument *inst = instruments[i];
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
	n_instruments = 0;
	out_metrics = NULL;
	out_points = NULL;
	out_points_cap = 0;
}
