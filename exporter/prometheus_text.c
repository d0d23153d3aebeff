/*
 * The metrics in the Prometheus text exposition format, version 0.0.4, named
 * by the OpenTelemetry specification's Prometheus compatibility rules
 * (specification/compatibility/prometheus_and_openmetrics.md):
 *
 * - A metric's name: every character outside [a-zA-Z0-9_:] becomes `_`, runs
 *   of `_` become one, a leading digit gets a `_` before it. Then the unit
 *   as a word (`s` → `seconds`, `By` → `bytes`, `1` → `ratio`, `a/b` →
 *   `a_per_b`; annotations in braces, `{thread}`, dropped; an unknown unit
 *   kept, sanitised) unless the name already holds it as whole words; then,
 *   for a monotonic sum, `_total` unless the name ends with it.
 * - Types: a monotonic sum is a counter, a non-monotonic one (UpDownCounter)
 *   and a gauge are gauges, a histogram is `_bucket{le=...}` (cumulative,
 *   ending with `+Inf`), `_sum` and `_count`. HELP is the description.
 * - Labels: attribute keys with every character outside [a-zA-Z0-9_] as `_`
 *   (runs of `_` as one, a leading digit prefixed with `key_`); keys that
 *   become the same are one label whose values are joined with `;` in the
 *   order of the original keys. Non-string values as the attribute
 *   specification writes them (arrays as JSON). Every point also carries
 *   `otel_scope_name` and `otel_scope_version`.
 * - The resource: one gauge `target_info` with value 1, labelled with the
 *   resource's attributes and nothing else (an SDK's pull exporter, where the
 *   scraping Prometheus adds `job` and `instance` itself).
 * - A second metric that comes out with a name already used is left out
 *   whole, so that no name has two TYPE lines.
 *
 * Label values and HELP text are escaped as the format says (`\\`, `\n`, and
 * `\"` in label values) and bytes that are not UTF-8 become U+FFFD, which
 * Prometheus would otherwise reject with the whole scrape. No timestamps: the
 * values are those of the moment of the scrape.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "agent/large.h"
#include "exporter/json.h"
#include "exporter/prometheus.h"

/* Labels on one sample, resource attributes included; more are left out. */
#define MAX_LABELS 64
#define KEY_MAX    128

struct unit_word {
	const char *ucum, *word;
};

/* UCUM units as Prometheus writes them; the collector's table, the common part. */
static const struct unit_word unit_words[] = {
	{ "d", "days" },         { "h", "hours" },         { "min", "minutes" },
	{ "s", "seconds" },      { "ms", "milliseconds" }, { "us", "microseconds" },
	{ "ns", "nanoseconds" }, { "By", "bytes" },        { "KiBy", "kibibytes" },
	{ "MiBy", "mebibytes" }, { "GiBy", "gibibytes" },  { "TiBy", "tebibytes" },
	{ "KBy", "kilobytes" },  { "MBy", "megabytes" },   { "GBy", "gigabytes" },
	{ "TBy", "terabytes" },  { "m", "meters" },        { "V", "volts" },
	{ "A", "amperes" },      { "J", "joules" },        { "W", "watts" },
	{ "g", "grams" },        { "Cel", "celsius" },     { "Hz", "hertz" },
	{ "%", "percent" },      { "1", "ratio" },
};

/* After `/`: the unit of time in the singular (`By/s` → `bytes_per_second`). */
static const struct unit_word per_words[] = {
	{ "s", "second" }, { "m", "minute" }, { "h", "hour" }, { "d", "day" },
	{ "w", "week" },   { "mo", "month" }, { "y", "year" },
};

static const char *lookup(const struct unit_word *t, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(t[i].ucum) == len && memcmp(t[i].ucum, s, len) == 0)
			return t[i].word;
	return NULL;
}

static bool name_char(char c, bool colon)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || (colon && c == ':');
}

/*
 * Appends s[0..n) to out (at *o, size len) with the characters a name may not
 * hold as `_` and runs of `_` as one, the run counted across the join with
 * what out already holds.
 */
static void put_sanitised(char *out, size_t len, size_t *o, const char *s, size_t n, bool colon)
{
	for (size_t i = 0; i < n && *o + 1 < len; i++) {
		char c = name_char(s[i], colon) ? s[i] : '_';

		if (c == '_' && *o > 0 && out[*o - 1] == '_')
			continue;
		out[(*o)++] = c;
	}
	out[*o] = '\0';
}

/* The unit as a word: "" when the unit is empty or only annotations. */
static void unit_word(const char *unit, char *out, size_t len)
{
	char bare[KEY_MAX];
	size_t b = 0, o = 0;
	const char *slash, *word;
	int depth = 0;

	out[0] = '\0';
	/* The annotations, `{...}`, are comments: dropped. */
	for (const char *p = unit ? unit : ""; *p && b + 1 < sizeof(bare); p++) {
		if (*p == '{')
			depth++;
		else if (*p == '}' && depth > 0)
			depth--;
		else if (!depth && *p != ' ')
			bare[b++] = *p;
	}
	bare[b] = '\0';
	if (!b)
		return;
	slash = memchr(bare, '/', b);
	if (slash != bare) {
		size_t n = slash ? (size_t)(slash - bare) : b;

		word = lookup(unit_words, sizeof(unit_words) / sizeof(unit_words[0]), bare, n);
		put_sanitised(out, len, &o, word ? word : bare, word ? strlen(word) : n, false);
	}
	if (slash && slash[1]) {
		size_t n = b - (size_t)(slash + 1 - bare);

		word = lookup(per_words, sizeof(per_words) / sizeof(per_words[0]), slash + 1, n);
		if (!word)
			word = lookup(unit_words, sizeof(unit_words) / sizeof(unit_words[0]),
				      slash + 1, n);
		put_sanitised(out, len, &o, o ? "_per_" : "per_", o ? 5 : 4, false);
		put_sanitised(out, len, &o, word ? word : slash + 1, word ? strlen(word) : n,
			      false);
	}
	/* A unit that was all punctuation says nothing. */
	if (o == 1 && out[0] == '_')
		out[0] = '\0';
}

/* Whether `word` occurs in `name` as whole `_`-separated words. */
static bool has_words(const char *name, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = strstr(name, word); p; p = strstr(p + 1, word))
		if ((p == name || p[-1] == '_') && (p[n] == '\0' || p[n] == '_'))
			return true;
	return false;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

size_t weft_prometheus_name(const struct weft_metric *m, char *out, size_t len)
{
	char unit[KEY_MAX];
	size_t o = 0;
	const char *name = m->name ? m->name : "";

	if (len < 2)
		return 0;
	out[0] = '\0';
	if (name[0] >= '0' && name[0] <= '9')
		put_sanitised(out, len, &o, "_", 1, true);
	put_sanitised(out, len, &o, name, strlen(name), true);
	unit_word(m->unit, unit, sizeof(unit));
	if (unit[0] && !has_words(out, unit)) {
		put_sanitised(out, len, &o, "_", 1, true);
		put_sanitised(out, len, &o, unit, strlen(unit), true);
	}
	if (m->type == WEFT_METRIC_SUM && m->monotonic && !ends_with(out, "_total"))
		put_sanitised(out, len, &o, "_total", 6, true);
	return o;
}

static void label_key(const char *key, char *out, size_t len)
{
	size_t o = 0;

	out[0] = '\0';
	if (key[0] >= '0' && key[0] <= '9')
		put_sanitised(out, len, &o, "key_", 4, false);
	put_sanitised(out, len, &o, key, strlen(key), false);
}

/*
 * Text with `\` and newline escaped, and `"` too in a label value; bytes that
 * do not form UTF-8 (overlong forms and surrogates included) as U+FFFD.
 */
static void put_escaped(struct weft_json *o, const char *s, size_t n, bool quote)
{
	size_t i = 0, run = 0;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80             ? 1
			     : (c & 0xe0) == 0xc0 ? 2
			     : (c & 0xf0) == 0xe0 ? 3
			     : (c & 0xf8) == 0xf0 ? 4
						  : 0;
		uint32_t cp = len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
		bool ok = len > 0 && i + len <= n;

		for (size_t k = 1; ok && k < len; k++) {
			ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
			cp = (cp << 6) | ((unsigned char)s[i + k] & 0x3f);
		}
		if (ok && len > 1)
			ok = (len == 2 && cp >= 0x80) ||
			     (len == 3 && cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff)) ||
			     (len == 4 && cp >= 0x10000 && cp <= 0x10ffff);
		if (ok && c != '\\' && c != '\n' && !(quote && c == '"')) {
			i += len;
			run += len;
			continue;
		}
		weft_json_append(o, s + i - run, run);
		run = 0;
		if (!ok)
			weft_json_append_lit(o, "\xef\xbf\xbd");
		else if (c == '\n')
			weft_json_append_lit(o, "\\n");
		else if (c == '\\')
			weft_json_append_lit(o, "\\\\");
		else
			weft_json_append_lit(o, "\\\"");
		i += ok ? len : 1;
	}
	weft_json_append(o, s + i - run, run);
}

/* A number as Prometheus reads it: shortest round-trip, `+Inf`, `-Inf`, `NaN`. */
static void put_double(struct weft_json *o, double v)
{
	char buf[WEFT_JSON_DOUBLE_MAX];

	if (isinf(v)) {
		weft_json_append(o, v > 0 ? "+Inf" : "-Inf", 4);
		return;
	}
	weft_json_append(o, buf, weft_json_format_double(buf, v));
}

/* An attribute's value as the attribute specification writes non-strings. */
static void put_value(struct weft_json *o, const struct weft_attr *a)
{
	char buf[WEFT_JSON_DOUBLE_MAX];
	struct weft_json arr;

	switch (a->type) {
	case WEFT_VALUE_STRING:
		put_escaped(o, a->v.s ? a->v.s : "", a->v.s ? strlen(a->v.s) : 0, true);
		break;
	case WEFT_VALUE_INT:
		weft_json_appendf(o, "%" PRId64, a->v.i);
		break;
	case WEFT_VALUE_DOUBLE:
		if (isnan(a->v.d) || isinf(a->v.d))
			put_double(o, a->v.d);
		else
			weft_json_append(o, buf, weft_json_format_double(buf, a->v.d));
		break;
	case WEFT_VALUE_BOOL:
		weft_json_append(o, a->v.b ? "true" : "false", a->v.b ? 4 : 5);
		break;
	case WEFT_VALUE_STRING_ARRAY:
		/* A JSON array, then escaped as any label value. */
		weft_json_init(&arr);
		weft_json_begin_array(&arr);
		for (size_t k = 0; k < a->v.strs.n; k++)
			weft_json_string(&arr, a->v.strs.items[k]);
		weft_json_end_array(&arr);
		if (weft_json_error(&arr) == 0)
			put_escaped(o, arr.buf, arr.len, true);
		else
			o->err = o->err ? o->err : weft_json_error(&arr);
		weft_json_free(&arr);
		break;
	}
}

struct label {
	char key[KEY_MAX];
	const struct weft_attr *attr;
};

/*
 * `key="value",...` of a label set into o (no braces): sorted by label name,
 * then by original key, so that keys that became the same name are one
 * label, their values joined with `;` in the order of the original keys.
 */
static void put_labels(struct weft_json *o, const struct weft_attr *const *attrs, size_t n)
{
	static struct label labels[MAX_LABELS] WEFT_LARGE; /* the exporter thread's only */
	size_t k = 0;

	for (size_t i = 0; i < n && k < MAX_LABELS; i++) {
		struct label l;
		size_t j = k;

		label_key(attrs[i]->key, l.key, sizeof(l.key));
		l.attr = attrs[i];
		while (j > 0) {
			int c = strcmp(labels[j - 1].key, l.key);

			if (c < 0 || (c == 0 && strcmp(labels[j - 1].attr->key, l.attr->key) <= 0))
				break;
			labels[j] = labels[j - 1];
			j--;
		}
		labels[j] = l;
		k++;
	}
	for (size_t i = 0; i < k; i++) {
		bool same = i > 0 && strcmp(labels[i - 1].key, labels[i].key) == 0;

		if (same) {
			weft_json_append_lit(o, ";");
		} else {
			if (i > 0)
				weft_json_append_lit(o, "\",");
			weft_json_append(o, labels[i].key, strlen(labels[i].key));
			weft_json_append_lit(o, "=\"");
		}
		put_value(o, labels[i].attr);
	}
	if (k)
		weft_json_append_lit(o, "\"");
}

/* One sample line: name, suffix, {labels[,extra]} value. */
static void put_sample(struct weft_json *o, const char *name, const char *suffix,
		       const struct weft_json *labels, const char *extra, size_t extra_n)
{
	weft_json_append(o, name, strlen(name));
	weft_json_append(o, suffix, strlen(suffix));
	if (labels->len || extra_n) {
		weft_json_append_lit(o, "{");
		if (labels->len)
			weft_json_append(o, labels->buf, labels->len);
		if (labels->len && extra_n)
			weft_json_append_lit(o, ",");
		if (extra_n)
			weft_json_append(o, extra, extra_n);
		weft_json_append_lit(o, "}");
	}
	weft_json_append_lit(o, " ");
}

static void put_header(struct weft_json *o, const char *name, const char *help, const char *type)
{
	if (help && help[0]) {
		weft_json_appendf(o, "# HELP %s ", name);
		put_escaped(o, help, strlen(help), false);
		weft_json_append_lit(o, "\n");
	}
	weft_json_appendf(o, "# TYPE %s %s\n", name, type);
}

static void put_point(struct weft_json *o, const char *name, const struct weft_metric *m,
		      const struct weft_point *p, const struct weft_resource *res,
		      struct weft_json *labels)
{
	const struct weft_attr *attrs[MAX_LABELS];
	struct weft_attr scope[2] = {
		{ .key = "otel.scope.name", .type = WEFT_VALUE_STRING, .v.s = res->scope_name },
		{ .key = "otel.scope.version",
		  .type = WEFT_VALUE_STRING,
		  .v.s = res->scope_version },
	};
	size_t n = 0;
	uint64_t cum = 0;

	for (size_t i = 0; i < p->n_attrs && n < MAX_LABELS - 2; i++)
		attrs[n++] = &p->attrs[i];
	if (res->scope_name)
		attrs[n++] = &scope[0];
	if (res->scope_version)
		attrs[n++] = &scope[1];
	weft_json_reset(labels);
	put_labels(labels, attrs, n);
	if (m->type != WEFT_METRIC_HISTOGRAM) {
		put_sample(o, name, "", labels, NULL, 0);
		if (p->is_double)
			put_double(o, p->as_double);
		else
			weft_json_appendf(o, "%" PRId64, p->as_int);
		weft_json_append_lit(o, "\n");
		return;
	}
	for (size_t b = 0; b <= p->n_bounds; b++) {
		char le[WEFT_JSON_DOUBLE_MAX + 8] = "le=\"+Inf\"";
		size_t len = 9;

		if (b < p->n_bounds) {
			char num[WEFT_JSON_DOUBLE_MAX];
			size_t k = weft_json_format_double(num, p->bounds[b]);

			len = (size_t)snprintf(le, sizeof(le), "le=\"%.*s\"", (int)k, num);
		}
		cum += p->bucket_counts ? p->bucket_counts[b] : 0;
		put_sample(o, name, "_bucket", labels, le, len);
		/* The last bucket is the count, whatever the buckets add up to. */
		weft_json_appendf(o, "%" PRIu64 "\n", b < p->n_bounds ? cum : p->count);
	}
	put_sample(o, name, "_sum", labels, NULL, 0);
	put_double(o, p->sum);
	weft_json_append_lit(o, "\n");
	put_sample(o, name, "_count", labels, NULL, 0);
	weft_json_appendf(o, "%" PRIu64 "\n", p->count);
}

static void put_target_info(struct weft_json *o, const struct weft_resource *res,
			    struct weft_json *labels)
{
	const struct weft_attr *attrs[MAX_LABELS];
	size_t n = 0;

	if (!res->n_attrs)
		return;
	for (size_t i = 0; i < res->n_attrs && n < MAX_LABELS; i++)
		attrs[n++] = &res->attrs[i];
	weft_json_reset(labels);
	put_labels(labels, attrs, n);
	put_header(o, "target_info", "Target metadata", "gauge");
	put_sample(o, "target_info", "", labels, NULL, 0);
	weft_json_append_lit(o, "1\n");
}

int weft_prometheus_render(struct weft_json *o, const struct weft_resource *res,
			   const struct weft_metric *metrics, size_t n)
{
	static const char *const types[] = {
		[WEFT_METRIC_SUM] = "counter",
		[WEFT_METRIC_GAUGE] = "gauge",
		[WEFT_METRIC_HISTOGRAM] = "histogram",
	};
	char name[WEFT_PROMETHEUS_NAME_MAX], other[WEFT_PROMETHEUS_NAME_MAX];
	struct weft_json labels;

	weft_json_init(&labels);
	put_target_info(o, res, &labels);
	for (size_t i = 0; i < n; i++) {
		const struct weft_metric *m = &metrics[i];
		bool taken = false;

		if (!m->n_points)
			continue;
		weft_prometheus_name(m, name, sizeof(name));
		taken = strcmp(name, "target_info") == 0;
		for (size_t j = 0; j < i && !taken; j++) {
			weft_prometheus_name(&metrics[j], other, sizeof(other));
			taken = metrics[j].n_points && strcmp(name, other) == 0;
		}
		if (taken)
			continue;
		put_header(o, name, m->description,
			   m->type == WEFT_METRIC_SUM && !m->monotonic ? "gauge" : types[m->type]);
		for (size_t k = 0; k < m->n_points; k++)
			put_point(o, name, m, &m->points[k], res, &labels);
	}
	if (weft_json_error(&labels) && !o->err)
		o->err = weft_json_error(&labels);
	weft_json_free(&labels);
	return weft_json_error(o);
}
