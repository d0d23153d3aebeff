/*
 * The timeline's JSON writer (exporter/timeline_out.h). Errors are sticky:
 * the first failure sets `fail`, later writes do nothing, weft_timeline_out_close reports it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/json_read.h"
#include "exporter/timeline_out.h"

#define OUT_FLUSH_AT (512u << 10)

int weft_timeline_out_open(struct weft_timeline_out *o, const char *path)
{
	memset(o, 0, sizeof(*o));
	o->path = path;
	o->f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
	if (!o->f) {
		int err = errno;

		fprintf(stderr, "weft timeline: cannot write %s: %s\n", path, strerror(err));
		return -err;
	}
	return 0;
}

static void flush(struct weft_timeline_out *o)
{
	if (!o->fail && o->len && fwrite(o->buf, 1, o->len, o->f) != o->len)
		o->fail = true;
	o->len = 0;
}

int weft_timeline_out_flush_if_full(struct weft_timeline_out *o)
{
	if (o->len >= OUT_FLUSH_AT)
		flush(o);
	return o->fail ? -EIO : 0;
}

int weft_timeline_out_close(struct weft_timeline_out *o)
{
	int err;

	flush(o);
	err = o->f == stdout ? fflush(o->f) : fclose(o->f);
	if (err)
		o->fail = true;
	free(o->buf);
	o->buf = NULL;
	if (o->fail) {
		fprintf(stderr, "weft timeline: writing %s failed\n", o->path);
		return -EIO;
	}
	return 0;
}

/* Room for `n` more bytes. */
static char *room(struct weft_timeline_out *o, size_t n)
{
	if (o->fail)
		return NULL;
	if (o->cap - o->len < n) {
		size_t cap = o->cap ? o->cap : OUT_FLUSH_AT * 2;
		char *b;

		while (cap - o->len < n)
			cap *= 2;
		b = realloc(o->buf, cap);
		if (!b) {
			o->fail = true;
			return NULL;
		}
		o->buf = b;
		o->cap = cap;
	}
	return o->buf + o->len;
}

void weft_timeline_out_raw(struct weft_timeline_out *o, const char *s, size_t n)
{
	char *p = room(o, n);

	if (p) {
		memcpy(p, s, n);
		o->len += n;
	}
}

void weft_timeline_out_event(struct weft_timeline_out *o)
{
	if (o->any)
		weft_timeline_out_lit(o, ",\n");
	else
		weft_timeline_out_lit(o, "\n");
	o->any = true;
}

void weft_timeline_out_u64(struct weft_timeline_out *o, uint64_t v)
{
	char tmp[24], *e = tmp + sizeof(tmp), *p = e;

	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	weft_timeline_out_raw(o, p, (size_t)(e - p));
}

void weft_timeline_out_ts(struct weft_timeline_out *o, uint64_t ns)
{
	char frac[4] = { '.', (char)('0' + ns / 100 % 10), (char)('0' + ns / 10 % 10),
			 (char)('0' + ns % 10) };

	weft_timeline_out_u64(o, ns / 1000);
	weft_timeline_out_raw(o, frac, sizeof(frac));
}

void weft_timeline_out_hex_id(struct weft_timeline_out *o, uint64_t id)
{
	static const char digits[] = "0123456789abcdef";
	char s[18];

	s[0] = s[17] = '"';
	for (int i = 0; i < 16; i++)
		s[16 - i] = digits[id >> (4 * i) & 15];
	weft_timeline_out_raw(o, s, sizeof(s));
}

/* The contents of a string, escaped (", \ and control characters). */
static void escaped(struct weft_timeline_out *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *end = s + strlen(s);

	for (;;) {
		const char *run = s;

		s = weft_json_plain_run(s, end);
		weft_timeline_out_raw(o, run, (size_t)(s - run));
		if (s == end)
			return;
		switch (*s) {
		case '"':
			weft_timeline_out_lit(o, "\\\"");
			break;
		case '\\':
			weft_timeline_out_lit(o, "\\\\");
			break;
		case '\n':
			weft_timeline_out_lit(o, "\\n");
			break;
		case '\t':
			weft_timeline_out_lit(o, "\\t");
			break;
		default: {
			char u[6] = {
				'\\', 'u', '0', '0', hex[(unsigned char)*s >> 4], hex[*s & 15]
			};

			weft_timeline_out_raw(o, u, sizeof(u));
		}
		}
		s++;
	}
}

void weft_timeline_out_string(struct weft_timeline_out *o, const char *s)
{
	weft_timeline_out_lit(o, "\"");
	escaped(o, s);
	weft_timeline_out_lit(o, "\"");
}

void weft_timeline_out_string2(struct weft_timeline_out *o, const char *a, const char *b)
{
	weft_timeline_out_lit(o, "\"");
	escaped(o, a);
	escaped(o, b);
	weft_timeline_out_lit(o, "\"");
}

/* Whether a node's text is a JSON number as it is (not NaN, Infinity, hex). */
static bool plain_number(const struct weft_json_node *v)
{
	size_t i = 0;
	double d;

	if (!v || !v->len)
		return false;
	/* The usual case, an integer: digits after an optional '-', no leading zero. */
	if (v->s[0] == '-')
		i++;
	if (i < v->len && v->s[i] >= '1' && v->s[i] <= '9') {
		while (++i < v->len && v->s[i] >= '0' && v->s[i] <= '9')
			;
		if (i == v->len)
			return true;
	}
	if (v->len != strspn(v->s, "-+0123456789.eE"))
		return false;
	return weft_json_read_double(v, &d) == 0 && d == d && d - d == 0;
}

/* An AnyValue as a plain JSON value: string, number, boolean or array. */
static void any_value(struct weft_timeline_out *o, const struct weft_json_reader *j,
		      const struct weft_json_node *v)
{
	const struct weft_json_node *x = weft_json_read_first(j, v);

	if (!x || v->type != WEFT_JSON_OBJECT) {
		weft_timeline_out_lit(o, "null");
		return;
	}
	if (strcmp(x->key, "stringValue") == 0 && x->type == WEFT_JSON_STRING) {
		weft_timeline_out_string(o, x->s);
	} else if (strcmp(x->key, "boolValue") == 0) {
		if (x->type == WEFT_JSON_TRUE)
			weft_timeline_out_lit(o, "true");
		else
			weft_timeline_out_lit(o, "false");
	} else if ((strcmp(x->key, "intValue") == 0 || strcmp(x->key, "doubleValue") == 0) &&
		   plain_number(x)) {
		weft_timeline_out_raw(o, x->s, x->len);
	} else if (strcmp(x->key, "arrayValue") == 0) {
		bool first = true;

		weft_timeline_out_lit(o, "[");
		for (const struct weft_json_node *e =
			     weft_json_read_first(j, weft_json_read_get(j, x, "values"));
		     e; e = weft_json_read_next(j, e)) {
			if (!first)
				weft_timeline_out_lit(o, ",");
			first = false;
			any_value(o, j, e);
		}
		weft_timeline_out_lit(o, "]");
	} else if (x->type == WEFT_JSON_STRING) {
		weft_timeline_out_string(o, x->s); /* NaN, Infinity: as the string they are */
	} else {
		weft_timeline_out_lit(o, "null");
	}
}

void weft_timeline_out_attrs(struct weft_timeline_out *o, const struct weft_json_reader *j,
			     const struct weft_json_node *attrs)
{
	bool first = true;

	for (const struct weft_json_node *kv = weft_json_read_first(j, attrs); kv;
	     kv = weft_json_read_next(j, kv)) {
		const char *key = weft_json_read_str(j, kv, "key", NULL);

		if (!key)
			continue;
		if (!first)
			weft_timeline_out_lit(o, ",");
		first = false;
		weft_timeline_out_string(o, key);
		weft_timeline_out_lit(o, ":");
		any_value(o, j, weft_json_read_get(j, kv, "value"));
	}
}

void weft_timeline_out_series(struct weft_timeline_out *o, const struct weft_json_reader *j,
			      const struct weft_json_node *point)
{
	const struct weft_json_node *attrs = weft_json_read_get(j, point, "attributes");
	const struct weft_json_node *v = weft_json_read_get(j, point, "asInt");
	bool first = true;

	weft_timeline_out_lit(o, "\"");
	for (const struct weft_json_node *kv = weft_json_read_first(j, attrs); kv;
	     kv = weft_json_read_next(j, kv)) {
		const char *s = weft_json_read_str(j, weft_json_read_get(j, kv, "value"),
						   "stringValue", NULL);

		if (!first)
			weft_timeline_out_lit(o, ",");
		first = false;
		escaped(o, s ? s : "?");
	}
	if (first)
		weft_timeline_out_lit(o, "value");
	weft_timeline_out_lit(o, "\":");
	if (!v)
		v = weft_json_read_get(j, point, "asDouble");
	if (plain_number(v))
		weft_timeline_out_raw(o, v->s, v->len);
	else
		weft_timeline_out_lit(o, "0");
}
