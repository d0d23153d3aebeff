/*
 * The JSON reader (exporter/json_read.h): a recursive descent over one text,
 * at most WEFT_JSON_READ_MAX_DEPTH containers deep, into a node array reused
 * from one text to the next. Nodes are referred to by index while parsing,
 * since the array may move when it grows.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/json_read.h"

struct parse {
	struct weft_json_reader *r;
	char *start, *p, *end;
	unsigned depth;
};

void weft_json_read_init(struct weft_json_reader *r)
{
	memset(r, 0, sizeof(*r));
}

void weft_json_read_free(struct weft_json_reader *r)
{
	free(r->nodes);
	memset(r, 0, sizeof(*r));
}

static int fail(struct parse *x, const char *why)
{
	if (!x->r->error) {
		x->r->error = why;
		x->r->error_at = (size_t)(x->p - x->start);
	}
	return -EINVAL;
}

/* A new node's index; -ENOMEM when the array cannot grow. */
static int64_t new_node(struct parse *x, uint8_t type)
{
	struct weft_json_reader *r = x->r;
	struct weft_json_node *n;

	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 256;

		if (cap > UINT32_MAX)
			return -ENOMEM;
		n = realloc(r->nodes, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		r->nodes = n;
		r->cap = cap;
	}
	n = &r->nodes[r->n];
	memset(n, 0, sizeof(*n));
	n->type = type;
	return (int64_t)r->n++;
}

static void skip_space(struct parse *x)
{
	while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' || *x->p == '\r'))
		x->p++;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*out = v;
	return 0;
}

static char *put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | cp >> 6);
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xe0 | cp >> 12);
		*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xf0 | cp >> 18);
		*o++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	return o;
}

/* One \u escape (and its low half, for a surrogate pair) at x->p, just after the 'u'. */
static int unicode_escape(struct parse *x, char **out)
{
	unsigned cp, lo;

	if (x->end - x->p < 4 || hex4(x->p, &cp) < 0)
		return fail(x, "a bad \\u escape");
	x->p += 4;
	if (cp >= 0xd800 && cp < 0xdc00) {
		/* A high surrogate: a pair only with a low one right after it. */
		if (x->end - x->p >= 6 && x->p[0] == '\\' && x->p[1] == 'u' &&
		    hex4(x->p + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
			x->p += 6;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		} else {
			cp = 0xfffd;
		}
	} else if (cp >= 0xdc00 && cp < 0xe000) {
		cp = 0xfffd; /* a lone low surrogate */
	}
	*out = put_utf8(*out, cp);
	return 0;
}

const char *weft_json_plain_run(const char *p, const char *end)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;

	while (end - p >= 8) {
		uint64_t w, q, b, c;

		memcpy(&w, p, 8);
		q = w ^ (ones * '"');
		b = w ^ (ones * '\\');
		c = (q - ones) & ~q;
		c |= (b - ones) & ~b;
		c |= (w - ones * 0x20) & ~w;
		if (c & highs)
			break;
		p += 8;
	}
	while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
		p++;
	return p;
}

/* A string at x->p (just after its opening quote), decoded in place; sets *s and *len. */
static int string(struct parse *x, const char **s, uint32_t *len)
{
	char *o = x->p, *from = x->p;

	*s = o;
	for (;;) {
		/* The plain run up to the next quote, backslash or control byte, at once. */
		char *q = x->p + (weft_json_plain_run(x->p, x->end) - x->p);

		if (o != x->p)
			memmove(o, x->p, (size_t)(q - x->p));
		o += q - x->p;
		x->p = q;
		if (q == x->end)
			return fail(x, "a string cut short");
		if (*q == '"')
			break;
		if (*q != '\\')
			return fail(x, "a control character in a string");
		if (x->end - q < 2)
			return fail(x, "a string cut short");
		x->p = q + 2;
		switch (q[1]) {
		case '"':
		case '\\':
		case '/':
			*o++ = q[1];
			break;
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'u':
			if (unicode_escape(x, &o) < 0)
				return -EINVAL;
			break;
		default:
			x->p = q;
			return fail(x, "an unknown escape");
		}
	}
	if ((size_t)(o - from) > UINT32_MAX)
		return fail(x, "a string too long");
	*len = (uint32_t)(o - from);
	*o = '\0'; /* at or before the closing quote, which has been read */
	x->p++;
	return 0;
}

static bool digit(const struct parse *x)
{
	return x->p < x->end && *x->p >= '0' && *x->p <= '9';
}

/* A number's text as the JSON grammar has it: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int number(struct parse *x, int64_t node)
{
	char *from = x->p;

	if (x->p < x->end && *x->p == '-')
		x->p++;
	if (!digit(x))
		return fail(x, "a bad number");
	if (*x->p == '0')
		x->p++;
	else
		while (digit(x))
			x->p++;
	if (x->p < x->end && *x->p == '.') {
		x->p++;
		if (!digit(x))
			return fail(x, "a bad number");
		while (digit(x))
			x->p++;
	}
	if (x->p < x->end && (*x->p == 'e' || *x->p == 'E')) {
		x->p++;
		if (x->p < x->end && (*x->p == '+' || *x->p == '-'))
			x->p++;
		if (!digit(x))
			return fail(x, "a bad number");
		while (digit(x))
			x->p++;
	}
	x->r->nodes[node].s = from;
	x->r->nodes[node].len = (uint32_t)(x->p - from);
	return 0;
}

static int literal(struct parse *x, const char *word, size_t n)
{
	size_t have = (size_t)(x->end - x->p);

	if (have < n && memcmp(x->p, word, have) == 0)
		return fail(x, "a text cut short");
	if (have < n || memcmp(x->p, word, n) != 0)
		return fail(x, "not JSON");
	x->p += n;
	return 0;
}

static int64_t value(struct parse *x);

/* The members of an array or object, at x->p just after its bracket. */
static int container(struct parse *x, int64_t node, bool object)
{
	const char close = object ? '}' : ']';
	int64_t last = -1;

	if (++x->depth > WEFT_JSON_READ_MAX_DEPTH)
		return fail(x, "nesting too deep");
	skip_space(x);
	if (x->p < x->end && *x->p == close) {
		x->p++;
		x->depth--;
		return 0;
	}
	for (;;) {
		const char *key = NULL;
		uint32_t klen;
		int64_t m;
		int err;

		skip_space(x);
		if (object) {
			if (x->p == x->end)
				return fail(x, "a text cut short");
			if (*x->p != '"')
				return fail(x, "an object key that is not a string");
			x->p++;
			if ((err = string(x, &key, &klen)) < 0)
				return err;
			skip_space(x);
			if (x->p == x->end || *x->p != ':')
				return fail(x, x->p == x->end ? "a text cut short"
							      : "no ':' after a key");
			x->p++;
		}
		m = value(x);
		if (m < 0)
			return (int)m;
		x->r->nodes[m].key = key;
		if (last < 0)
			x->r->nodes[node].first = (uint32_t)m;
		else
			x->r->nodes[last].next = (uint32_t)m;
		last = m;
		x->r->nodes[node].count++;
		skip_space(x);
		if (x->p == x->end)
			return fail(x, "a text cut short");
		if (*x->p == ',') {
			x->p++;
			continue;
		}
		if (*x->p != close)
			return fail(x, object ? "no ',' or '}' after a member" : "no ',' or ']'");
		x->p++;
		x->depth--;
		return 0;
	}
}

/* One value at x->p: its node's index, or a negative errno. */
static int64_t value(struct parse *x)
{
	int64_t node;
	int err = 0;

	skip_space(x);
	if (x->p == x->end)
		return fail(x, "a text cut short");
	switch (*x->p) {
	case '{':
	case '[':
		node = new_node(x, *x->p == '{' ? WEFT_JSON_OBJECT : WEFT_JSON_ARRAY);
		if (node < 0)
			return node;
		x->p++;
		err = container(x, node, x->r->nodes[node].type == WEFT_JSON_OBJECT);
		break;
	case '"':
		node = new_node(x, WEFT_JSON_STRING);
		if (node < 0)
			return node;
		x->p++;
		err = string(x, &x->r->nodes[node].s, &x->r->nodes[node].len);
		break;
	case 't':
		node = new_node(x, WEFT_JSON_TRUE);
		err = node < 0 ? (int)node : literal(x, "true", 4);
		break;
	case 'f':
		node = new_node(x, WEFT_JSON_FALSE);
		err = node < 0 ? (int)node : literal(x, "false", 5);
		break;
	case 'n':
		node = new_node(x, WEFT_JSON_NULL);
		err = node < 0 ? (int)node : literal(x, "null", 4);
		break;
	default:
		node = new_node(x, WEFT_JSON_NUMBER);
		err = node < 0 ? (int)node : number(x, node);
		break;
	}
	return err < 0 ? err : node;
}

int weft_json_read_parse(struct weft_json_reader *r, char *text, size_t len)
{
	struct parse x = { .r = r, .start = text, .p = text, .end = text + len };
	int64_t root;

	r->n = 0;
	r->error = NULL;
	r->error_at = 0;
	root = value(&x);
	if (root < 0) {
		r->n = 0;
		return (int)root;
	}
	skip_space(&x);
	if (x.p != x.end) {
		r->n = 0;
		return fail(&x, "more after the value");
	}
	return 0;
}

const struct weft_json_node *weft_json_read_get(const struct weft_json_reader *r,
						const struct weft_json_node *o, const char *key)
{
	if (!o || o->type != WEFT_JSON_OBJECT)
		return NULL;
	for (const struct weft_json_node *m = weft_json_read_first(r, o); m;
	     m = weft_json_read_next(r, m))
		if (strcmp(m->key, key) == 0)
			return m;
	return NULL;
}

const char *weft_json_read_str(const struct weft_json_reader *r, const struct weft_json_node *o,
			       const char *key, const char *dflt)
{
	const struct weft_json_node *v = weft_json_read_get(r, o, key);

	return v && v->type == WEFT_JSON_STRING ? v->s : dflt;
}

/* The decimal digits of a number or string node, an optional '-' first. */
static int integer(const struct weft_json_node *v, bool *neg, uint64_t *out)
{
	const char *s, *e;
	uint64_t n = 0;

	if (!v || (v->type != WEFT_JSON_NUMBER && v->type != WEFT_JSON_STRING) || !v->len)
		return -EINVAL;
	s = v->s;
	e = s + v->len;
	*neg = *s == '-';
	if (*neg)
		s++;
	if (s == e)
		return -EINVAL;
	for (; s < e; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (d > 9 || n > (UINT64_MAX - d) / 10)
			return -EINVAL;
		n = n * 10 + d;
	}
	*out = n;
	return 0;
}

int weft_json_read_u64(const struct weft_json_node *v, uint64_t *out)
{
	bool neg;
	uint64_t n;

	if (integer(v, &neg, &n) < 0 || (neg && n))
		return -EINVAL;
	*out = n;
	return 0;
}

int weft_json_read_i64(const struct weft_json_node *v, int64_t *out)
{
	bool neg;
	uint64_t n;

	if (integer(v, &neg, &n) < 0 || n > (uint64_t)INT64_MAX + (neg ? 1 : 0))
		return -EINVAL;
	*out = neg ? (int64_t)(0 - n) : (int64_t)n;
	return 0;
}

int weft_json_read_double(const struct weft_json_node *v, double *out)
{
	char buf[64], *end;

	if (!v || (v->type != WEFT_JSON_NUMBER && v->type != WEFT_JSON_STRING) || !v->len ||
	    v->len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, v->s, v->len);
	buf[v->len] = '\0';
	if (strcmp(buf, "NaN") == 0) {
		*out = NAN;
		return 0;
	}
	if (strcmp(buf, "Infinity") == 0 || strcmp(buf, "-Infinity") == 0) {
		*out = buf[0] == '-' ? -INFINITY : INFINITY;
		return 0;
	}
	/* C locale: the helper never calls setlocale, so '.' is the decimal point. */
	*out = strtod(buf, &end);
	return *end == '\0' ? 0 : -EINVAL;
}
