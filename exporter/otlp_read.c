/*
 * Reading OTLP JSON Lines back (exporter/otlp_read.h): the line buffer, and
 * the walk through ExportTraceServiceRequest and ExportMetricsServiceRequest
 * in the proto3 JSON mapping (resourceSpans → scopeSpans → spans;
 * resourceMetrics → scopeMetrics → metrics → sum/gauge → dataPoints).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exporter/otlp_read.h"

#define READ_CHUNK (1u << 20)

int weft_otlp_read_open(struct weft_otlp_reader *r, const char *path)
{
	memset(r, 0, sizeof(*r));
	r->path = path;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return -errno;
	weft_json_read_init(&r->json);
	return 0;
}

void weft_otlp_read_close(struct weft_otlp_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	weft_json_read_free(&r->json);
	r->fd = -1;
	r->buf = NULL;
}

/* More bytes after the unread ones: 1 some came, 0 end of file, or -errno. */
static int fill(struct weft_otlp_reader *r)
{
	ssize_t n;

	if (r->start) {
		memmove(r->buf, r->buf + r->start, r->len);
		r->start = 0;
	}
	if (r->cap - r->len < READ_CHUNK) {
		size_t cap = r->cap ? 2 * r->cap : 2 * READ_CHUNK;
		char *b;

		while (cap - r->len < READ_CHUNK)
			cap *= 2;
		b = realloc(r->buf, cap + 1);
		if (!b)
			return -ENOMEM;
		r->buf = b;
		r->cap = cap;
	}
	do
		n = read(r->fd, r->buf + r->len, r->cap - r->len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	r->len += (size_t)n;
	return n > 0;
}

/* The next line (without its newline), or NULL at the end; *err on a read error. */
static char *next_line(struct weft_otlp_reader *r, size_t *n, int *err)
{
	size_t scanned = 0;

	*err = 0;
	for (;;) {
		char *from = r->buf ? r->buf + r->start : NULL;
		char *nl = r->len > scanned ? memchr(from + scanned, '\n', r->len - scanned) : NULL;
		int got;

		if (nl) {
			*n = (size_t)(nl - from);
			r->start += *n + 1;
			r->len -= *n + 1;
			return from;
		}
		scanned = r->len;
		if (r->eof || (got = fill(r)) == 0) {
			/* The last line, with no newline: handed over as it is. */
			r->eof = true;
			if (!r->len)
				return NULL;
			from = r->buf + r->start;
			*n = r->len;
			r->start += r->len;
			r->len = 0;
			return from;
		}
		if (got < 0) {
			*err = got;
			return NULL;
		}
	}
}

uint64_t weft_otlp_read_span_id(const char *hex)
{
	/* Each hex digit's value, 16 for anything else (the NUL included). */
	static const uint8_t value[256] = {
		['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
		['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
		['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12,
		['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
	}; /* stored plus one, so that 0 means no digit */
	uint64_t v = 0;

	for (int i = 0; i < 16; i++) {
		unsigned d = value[(unsigned char)hex[i]];

		if (!d)
			return 0;
		v = v << 4 | (d - 1);
	}
	return hex[16] == '\0' ? v : 0;
}

const struct weft_json_node *weft_otlp_read_attr(const struct weft_json_reader *j,
						 const struct weft_json_node *attrs,
						 const char *key)
{
	if (!attrs || attrs->type != WEFT_JSON_ARRAY)
		return NULL;
	for (const struct weft_json_node *kv = weft_json_read_first(j, attrs); kv;
	     kv = weft_json_read_next(j, kv)) {
		const char *k = weft_json_read_str(j, kv, "key", NULL);

		if (k && strcmp(k, key) == 0)
			return weft_json_read_get(j, kv, "value");
	}
	return NULL;
}

const char *weft_otlp_read_attr_str(const struct weft_json_reader *j,
				    const struct weft_json_node *attrs, const char *key)
{
	return weft_json_read_str(j, weft_otlp_read_attr(j, attrs, key), "stringValue", NULL);
}

int weft_otlp_read_attr_int(const struct weft_json_reader *j, const struct weft_json_node *attrs,
			    const char *key, int64_t *out)
{
	const struct weft_json_node *v = weft_otlp_read_attr(j, attrs, key);

	if (weft_json_read_i64(weft_json_read_get(j, v, "intValue"), out) < 0)
		return -ENOENT;
	return 0;
}

static void resource_of(const struct weft_json_reader *j, const struct weft_json_node *rs,
			struct weft_otlp_resource *res)
{
	const struct weft_json_node *attrs =
		weft_json_read_get(j, weft_json_read_get(j, rs, "resource"), "attributes");

	res->pid = 0;
	weft_otlp_read_attr_int(j, attrs, "process.pid", &res->pid);
	res->service = weft_otlp_read_attr_str(j, attrs, "service.name");
	if (!res->service)
		res->service = "";
	res->instance = weft_otlp_read_attr_str(j, attrs, "service.instance.id");
	if (!res->instance)
		res->instance = "";
}

static void visit_span(const struct weft_json_reader *j, const struct weft_json_node *sp,
		       const struct weft_otlp_resource *res, const struct weft_otlp_visitor *v,
		       void *arg)
{
	struct weft_otlp_span s = { 0 };
	int64_t kind = 0;

	/* One pass over the members: spans are most of what is read. */
	for (const struct weft_json_node *m = weft_json_read_first(j, sp); m;
	     m = weft_json_read_next(j, m)) {
		switch (m->key[0]) {
		case 's':
			if (strcmp(m->key, "spanId") == 0 && m->type == WEFT_JSON_STRING)
				s.span_id = weft_otlp_read_span_id(m->s);
			else if (strcmp(m->key, "startTimeUnixNano") == 0)
				weft_json_read_u64(m, &s.start_ns);
			break;
		case 'p':
			if (strcmp(m->key, "parentSpanId") == 0 && m->type == WEFT_JSON_STRING)
				s.parent_id = weft_otlp_read_span_id(m->s);
			break;
		case 'n':
			if (strcmp(m->key, "name") == 0 && m->type == WEFT_JSON_STRING)
				s.name = m->s;
			break;
		case 'k':
			if (strcmp(m->key, "kind") == 0)
				weft_json_read_i64(m, &kind);
			break;
		case 'e':
			if (strcmp(m->key, "endTimeUnixNano") == 0)
				weft_json_read_u64(m, &s.end_ns);
			else if (strcmp(m->key, "events") == 0 && m->type == WEFT_JSON_ARRAY)
				s.events = m;
			break;
		case 'a':
			if (strcmp(m->key, "attributes") == 0 && m->type == WEFT_JSON_ARRAY)
				s.attrs = m;
			break;
		case 'l':
			if (strcmp(m->key, "links") == 0 && m->type == WEFT_JSON_ARRAY)
				s.links = m;
			break;
		}
	}
	s.kind = (int)kind;
	if (!s.name)
		s.name = "";
	if (s.end_ns < s.start_ns)
		s.end_ns = s.start_ns;
	v->span(arg, res, &s);
}

/* Loops `it` over array `key` of every element of array `outer`. */
#define FOR_EACH_IN(j, outer, key, it)                                                             \
	for (const struct weft_json_node *it##_o = weft_json_read_first(j, outer); it##_o;         \
	     it##_o = weft_json_read_next(j, it##_o))                                              \
		for (const struct weft_json_node *it =                                             \
			     weft_json_read_first(j, weft_json_read_get(j, it##_o, key));          \
		     it; it = weft_json_read_next(j, it))

static void visit_metric(const struct weft_json_reader *j, const struct weft_json_node *m,
			 const struct weft_otlp_resource *res, const struct weft_otlp_visitor *v,
			 void *arg)
{
	const char *name = weft_json_read_str(j, m, "name", NULL);
	const struct weft_json_node *data = weft_json_read_get(j, m, "sum");
	const struct weft_json_node *points;

	if (!data)
		data = weft_json_read_get(j, m, "gauge");
	points = weft_json_read_get(j, data, "dataPoints");
	if (name && points && points->type == WEFT_JSON_ARRAY)
		v->metric(arg, res, name, points);
}

/* Whether a line is to be parsed: it begins with one of r->only, when that is set. */
static bool wanted(const struct weft_otlp_reader *r, const char *line, size_t n)
{
	if (!r->only)
		return true;
	for (const char *const *s = r->only; *s; s++)
		if (n >= strlen(*s) && memcmp(line, *s, strlen(*s)) == 0)
			return true;
	return false;
}

int weft_otlp_read_next(struct weft_otlp_reader *r, const struct weft_otlp_visitor *v, void *arg)
{
	const struct weft_json_reader *j = &r->json;
	const struct weft_json_node *root, *rss, *rms;
	struct weft_otlp_resource res;
	char *line;
	size_t n;
	int err;

	do {
		line = next_line(r, &n, &err);
		if (!line)
			return err;
		r->line++;
	} while (n == 0 || (n == 1 && line[0] == '\r') || !wanted(r, line, n));
	r->why = NULL;
	err = weft_json_read_parse(&r->json, line, n);
	if (err == -ENOMEM)
		return err;
	if (err < 0) {
		r->why = r->json.error;
		return -EINVAL;
	}
	root = weft_json_read_root(j);
	rss = weft_json_read_get(j, root, "resourceSpans");
	rms = weft_json_read_get(j, root, "resourceMetrics");
	if (root->type != WEFT_JSON_OBJECT || (!rss && !rms)) {
		r->why = "not an OTLP request";
		return -EINVAL;
	}
	for (const struct weft_json_node *rs = weft_json_read_first(j, rss); rs && v->span;
	     rs = weft_json_read_next(j, rs)) {
		resource_of(j, rs, &res);
		FOR_EACH_IN(j, weft_json_read_get(j, rs, "scopeSpans"), "spans", sp)
		visit_span(j, sp, &res, v, arg);
	}
	for (const struct weft_json_node *rm = weft_json_read_first(j, rms); rm && v->metric;
	     rm = weft_json_read_next(j, rm)) {
		resource_of(j, rm, &res);
		FOR_EACH_IN(j, weft_json_read_get(j, rm, "scopeMetrics"), "metrics", m)
		visit_metric(j, m, &res, v, arg);
	}
	return 1;
}
