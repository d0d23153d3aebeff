/*
 * The JSON reader (exporter/json_read.h): values of every type, strings with
 * every escape (\u sequences, surrogate pairs, lone surrogates as U+FFFD)
 * decoded in place, numbers kept as their text and read as integers from
 * numbers or strings, texts cut short anywhere refused, the nesting limit,
 * and the node array reused from one text to the next.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/json_read.h"
#include "tests/unit/harness.h"

/* Parses a copy of `text` (the reader changes it); the copy is kept until the next call. */
static int parse(struct weft_json_reader *r, const char *text)
{
	static char *copy;

	free(copy);
	copy = strdup(text);
	return weft_json_read_parse(r, copy, strlen(text));
}

static void test_values(void)
{
	struct weft_json_reader r;
	const struct weft_json_node *root, *m;
	uint64_t u;
	int64_t i;
	double d;

	weft_json_read_init(&r);
	assert_int(parse(&r, " {\"a\": [1, -2.5e3, true, false, null, \"x\"], \"b\": {}, "
			     "\"c\": [], \"big\": \"18446744073709551615\", \"n\": -42} "),
		   0);
	root = weft_json_read_root(&r);
	assert_true(root && root->type == WEFT_JSON_OBJECT);
	expect_int(root->count, 5);
	m = weft_json_read_get(&r, root, "a");
	assert_true(m && m->type == WEFT_JSON_ARRAY);
	expect_int(m->count, 6);
	m = weft_json_read_first(&r, m);
	expect_int(m->type, WEFT_JSON_NUMBER);
	expect_int(m->len, 1);
	expect_int(weft_json_read_u64(m, &u), 0);
	expect_int(u, 1);
	m = weft_json_read_next(&r, m);
	expect_int(m->type, WEFT_JSON_NUMBER);
	expect_int(weft_json_read_double(m, &d), 0);
	expect_true(d == -2500.0);
	expect_int(weft_json_read_u64(m, &u), -EINVAL); /* not an integer */
	m = weft_json_read_next(&r, m);
	expect_int(m->type, WEFT_JSON_TRUE);
	m = weft_json_read_next(&r, m);
	expect_int(m->type, WEFT_JSON_FALSE);
	m = weft_json_read_next(&r, m);
	expect_int(m->type, WEFT_JSON_NULL);
	m = weft_json_read_next(&r, m);
	expect_str(m->s, "x");
	expect_true(weft_json_read_next(&r, m) == NULL);
	expect_int(weft_json_read_get(&r, root, "b")->count, 0);
	expect_true(weft_json_read_first(&r, weft_json_read_get(&r, root, "b")) == NULL);
	expect_int(weft_json_read_get(&r, root, "c")->type, WEFT_JSON_ARRAY);
	expect_true(weft_json_read_get(&r, root, "missing") == NULL);
	/* 64-bit integers as proto3 JSON writes them: decimal strings. */
	expect_int(weft_json_read_u64(weft_json_read_get(&r, root, "big"), &u), 0);
	expect_true(u == UINT64_MAX);
	expect_int(weft_json_read_i64(weft_json_read_get(&r, root, "big"), &i), -EINVAL);
	expect_int(weft_json_read_i64(weft_json_read_get(&r, root, "n"), &i), 0);
	expect_int(i, -42);
	expect_int(weft_json_read_u64(weft_json_read_get(&r, root, "n"), &u), -EINVAL);
	expect_str(weft_json_read_str(&r, root, "big", NULL), "18446744073709551615");
	expect_true(weft_json_read_str(&r, root, "n", NULL) == NULL); /* a number, not a string */

	/* Integers out of range, and the extremes. */
	assert_int(
		parse(&r,
		      "[\"18446744073709551616\",\"-9223372036854775808\",\"9223372036854775808\","
		      "\"\",\"1x\",\"NaN\",\"-Infinity\"]"),
		0);
	m = weft_json_read_first(&r, weft_json_read_root(&r));
	expect_int(weft_json_read_u64(m, &u), -EINVAL);
	m = weft_json_read_next(&r, m);
	expect_int(weft_json_read_i64(m, &i), 0);
	expect_true(i == INT64_MIN);
	m = weft_json_read_next(&r, m);
	expect_int(weft_json_read_i64(m, &i), -EINVAL);
	m = weft_json_read_next(&r, m);
	expect_int(weft_json_read_u64(m, &u), -EINVAL);
	m = weft_json_read_next(&r, m);
	expect_int(weft_json_read_u64(m, &u), -EINVAL);
	m = weft_json_read_next(&r, m);
	expect_int(weft_json_read_double(m, &d), 0);
	expect_true(isnan(d));
	m = weft_json_read_next(&r, m);
	expect_int(weft_json_read_double(m, &d), 0);
	expect_true(isinf(d) && d < 0);

	/* A scalar alone is a text too. */
	assert_int(parse(&r, "0"), 0);
	expect_int(weft_json_read_root(&r)->type, WEFT_JSON_NUMBER);
	weft_json_read_free(&r);
}

static void expect_string(struct weft_json_reader *r, const char *json, const char *want,
			  size_t want_len)
{
	int rc = parse(r, json);

	expect_int(rc, 0);
	if (rc)
		return;
	expect_int(weft_json_read_root(r)->type, WEFT_JSON_STRING);
	expect_int(weft_json_read_root(r)->len, want_len);
	expect_true(memcmp(weft_json_read_root(r)->s, want, want_len + 1) == 0);
}

static void test_strings(void)
{
	struct weft_json_reader r;

	weft_json_read_init(&r);
	expect_string(&r, "\"plain\"", "plain", 5);
	expect_string(&r, "\"\"", "", 0);
	expect_string(&r, "\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"", "a\"b\\c/d\be\ff\ng\rh\ti",
		      17);
	/* \u: one, two and three UTF-8 bytes, and NUL inside a string. */
	expect_string(&r, "\"\\u0041\\u00e9\\u20AC\"", "A\xc3\xa9\xe2\x82\xac", 6);
	expect_string(&r, "\"x\\u0000y\"", "x\0y", 3);
	/* A surrogate pair is one code point (U+1F600, four bytes). */
	expect_string(&r, "\"\\ud83d\\ude00!\"", "\xf0\x9f\x98\x80!", 5);
	/* Lone surrogates, high or low, are U+FFFD; what follows is kept. */
	expect_string(&r, "\"\\ud83dx\"", "\xef\xbf\xbdx", 4);
	expect_string(&r, "\"\\ude00\"", "\xef\xbf\xbd", 3);
	expect_string(&r, "\"\\ud83d\\u0041\"",
		      "\xef\xbf\xbd"
		      "A",
		      4);
	/* Bytes that are UTF-8 already pass through. */
	expect_string(&r, "\"caf\xc3\xa9\"", "caf\xc3\xa9", 5);
	/* Keys are decoded the same way. */
	assert_int(parse(&r, "{\"k\\u0065y\":1}"), 0);
	expect_true(weft_json_read_get(&r, weft_json_read_root(&r), "key") != NULL);
	weft_json_read_free(&r);
}

static void expect_refused(struct weft_json_reader *r, const char *json, const char *why)
{
	expect_int(parse(r, json), -EINVAL);
	expect_str(r->error, why);
	expect_true(weft_json_read_root(r) == NULL);
}

static void test_refused(void)
{
	static const char whole[] =
		"{\"a\":[1,{\"b\":\"c\\u00e9\"},true,null,-0.5e-3],\"d\":\"e\"}";
	struct weft_json_reader r;
	char cut[sizeof(whole)];

	weft_json_read_init(&r);
	/* Every prefix of a text is refused: a line cut short is never taken for a request. */
	for (size_t n = 0; n < sizeof(whole) - 1; n++) {
		memcpy(cut, whole, n);
		cut[n] = '\0';
		expect_int(parse(&r, cut), -EINVAL);
	}
	expect_int(parse(&r, whole), 0);
	expect_refused(&r, "{\"a\":1", "a text cut short");
	expect_refused(&r, "\"abc", "a string cut short");
	expect_refused(&r, "\"\\u12", "a bad \\u escape");
	expect_refused(&r, "tru", "a text cut short");
	expect_refused(&r, "trux", "not JSON");
	expect_refused(&r, "\"a\\qb\"", "an unknown escape");
	expect_refused(&r, "\"a\tb\"", "a control character in a string");
	expect_refused(&r, "{1:2}", "an object key that is not a string");
	expect_refused(&r, "{\"a\" 1}", "no ':' after a key");
	expect_refused(&r, "[1 2]", "no ',' or ']'");
	expect_refused(&r, "{\"a\":1 \"b\":2}", "no ',' or '}' after a member");
	expect_refused(&r, "01", "more after the value");
	expect_refused(&r, "1.", "a bad number");
	expect_refused(&r, "-", "a bad number");
	expect_refused(&r, "1e", "a bad number");
	expect_refused(&r, "{} {}", "more after the value");
	expect_refused(&r, "", "a text cut short");
	expect_int(parse(&r, "[1,]"), -EINVAL);
	expect_int(r.error_at, 3);
	weft_json_read_free(&r);
}

static void test_depth(void)
{
	struct weft_json_reader r;
	char deep[2 * (WEFT_JSON_READ_MAX_DEPTH + 1) + 1];
	int n;

	weft_json_read_init(&r);
	/* WEFT_JSON_READ_MAX_DEPTH arrays deep is fine, one more is refused. */
	for (n = WEFT_JSON_READ_MAX_DEPTH; n <= WEFT_JSON_READ_MAX_DEPTH + 1; n++) {
		memset(deep, '[', (size_t)n);
		memset(deep + n, ']', (size_t)n);
		deep[2 * n] = '\0';
		if (n == WEFT_JSON_READ_MAX_DEPTH)
			expect_int(parse(&r, deep), 0);
		else
			expect_refused(&r, deep, "nesting too deep");
	}
	/* A hostile line of a million brackets stops at the limit, not the stack's. */
	{
		char *huge = malloc(1000001);

		memset(huge, '{', 1000000);
		huge[1000000] = '\0';
		expect_int(weft_json_read_parse(&r, huge, 1000000), -EINVAL);
		expect_str(r.error, "an object key that is not a string");
		memset(huge, '[', 1000000);
		expect_int(weft_json_read_parse(&r, huge, 1000000), -EINVAL);
		expect_str(r.error, "nesting too deep");
		free(huge);
	}
	weft_json_read_free(&r);
}

/* Many nodes (the array grows), then a small text reusing it. */
static void test_reuse(void)
{
	struct weft_json_reader r;
	char *big = malloc(100000 * 4 + 3), *p = big;

	weft_json_read_init(&r);
	*p++ = '[';
	for (int i = 0; i < 100000; i++)
		p += sprintf(p, "%s%d", i ? "," : "", i % 10);
	*p++ = ']';
	expect_int(weft_json_read_parse(&r, big, (size_t)(p - big)), 0);
	expect_int(weft_json_read_root(&r)->count, 100000);
	expect_int(r.n, 100001);
	expect_int(parse(&r, "[7]"), 0);
	expect_int(r.n, 2);
	expect_str(weft_json_read_str(&r, weft_json_read_root(&r), "x", "dflt"), "dflt");
	free(big);
	weft_json_read_free(&r);
}

int main(void)
{
	test_values();
	test_strings();
	test_refused();
	test_depth();
	test_reuse();
	return harness_done();
}
