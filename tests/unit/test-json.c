/*
 * The JSON writer the file output is built on: structure and commas, string
 * escaping, UTF-8 passed through or replaced, doubles (shortest round trip,
 * non-finite values, any locale), the nesting limit, and growing the buffer.
 */
#include <errno.h>
#include <locale.h>
#include <math.h>

#include "exporter/json.h"
#include "harness.h"

static void check_json(struct weft_json *j, const char *expected)
{
	assert_int(weft_json_error(j), 0);
	char *got = strndup(j->buf ? j->buf : "", j->len);

	expect_str(got, expected);
	free(got);
	weft_json_reset(j);
}

static void test_json_writer(void)
{
	struct weft_json j;
	char d[WEFT_JSON_DOUBLE_MAX];

	weft_json_init(&j);

	/* Structure and commas. */
	weft_json_begin_object(&j);
	weft_json_key(&j, "a");
	weft_json_begin_array(&j);
	weft_json_end_array(&j);
	weft_json_key(&j, "b");
	weft_json_begin_array(&j);
	weft_json_u64(&j, 1);
	weft_json_begin_object(&j);
	weft_json_end_object(&j);
	weft_json_begin_array(&j);
	weft_json_bool(&j, false);
	weft_json_end_array(&j);
	weft_json_string(&j, NULL);
	weft_json_end_array(&j);
	weft_json_key(&j, "c");
	weft_json_u64_string(&j, UINT64_MAX);
	weft_json_key(&j, "d");
	weft_json_i64_string(&j, INT64_MIN);
	weft_json_key(&j, "e");
	weft_json_i64_string(&j, 0);
	weft_json_key(&j, "f");
	weft_json_hex(&j, (const uint8_t *)"\x00\x0f\xf0\xff", 4);
	weft_json_end_object(&j);
	check_json(&j, "{\"a\":[],\"b\":[1,{},[false],\"\"],\"c\":\"18446744073709551615\","
		       "\"d\":\"-9223372036854775808\",\"e\":\"0\",\"f\":\"000ff0ff\"}");

	/* Escaping: quotes, backslash, every control character form, DEL, NUL. */
	weft_json_string_n(&j, "\"\\/\b\f\n\r\t\x1f\x7f\0x", 12);
	check_json(&j, "\"\\\"\\\\/\\u0008\\u000c\\u000a\\u000d\\u0009\\u001f\\u007f\\u0000x\"");

	/* Valid UTF-8 of every length passes through. */
	weft_json_string(&j,
			 "\xc2\xa9 \xe2\x82\xac \xef\xbf\xbf \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
	check_json(&j, "\"\xc2\xa9 \xe2\x82\xac \xef\xbf\xbf \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"");

	/* Invalid UTF-8: one U+FFFD per maximal ill-formed subpart. */
	weft_json_string(&j, "a\x80z");                   /* lone continuation */
	weft_json_string(&j, "\xc0\xaf");                 /* overlong: two bad bytes */
	weft_json_string(&j, "\xe0\x80\xaf");             /* overlong three-byte form */
	weft_json_string(&j, "\xed\xa0\x80");             /* a surrogate */
	weft_json_string(&j, "\xf4\x90\x80\x80");         /* above U+10FFFF */
	weft_json_string(&j, "\xe2\x82");                 /* truncated at the end */
	weft_json_string(&j, "\xe2\x82x");                /* truncated before ASCII */
	weft_json_string(&j, "\xf0\x9f\x98\xe2\x82\xac"); /* truncated before a valid one */
	weft_json_string(&j, "\xfe\xff\xf5");             /* never valid */
	check_json(&j, "\"a\\ufffdz\"\"\\ufffd\\ufffd\"\"\\ufffd\\ufffd\\ufffd\""
		       "\"\\ufffd\\ufffd\\ufffd\"\"\\ufffd\\ufffd\\ufffd\\ufffd\"\"\\ufffd\""
		       "\"\\ufffdx\"\"\\ufffd\xe2\x82\xac\"\"\\ufffd\\ufffd\\ufffd\"");

	/* Doubles: shortest round trip, non-finite as proto3 strings. */
	weft_json_begin_array(&j);
	weft_json_double(&j, 0.1);
	weft_json_double(&j, 1.5);
	weft_json_double(&j, -0.0);
	weft_json_double(&j, 0);
	weft_json_double(&j, 1e300);
	weft_json_double(&j, 1e-5);
	weft_json_double(&j, 5e-324);
	weft_json_double(&j, 1.0 / 3);
	weft_json_double(&j, 123456789012345678.0);
	weft_json_double(&j, NAN);
	weft_json_double(&j, INFINITY);
	weft_json_double(&j, -INFINITY);
	weft_json_end_array(&j);
	check_json(&j, "[0.1,1.5,-0,0,1e+300,1e-05,4.94065645841247e-324,0.3333333333333333,"
		       "1.2345678901234568e+17,\"NaN\",\"Infinity\",\"-Infinity\"]");

	/* A locale with a decimal comma changes nothing. */
	if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
		weft_json_format_double(d, 2.25);
		expect_str(d, "2.25");
		setlocale(LC_NUMERIC, "C");
	} else {
		printf("no decimal-comma locale installed: locale check skipped\n");
	}

	/* Nesting past the limit is an error, and errors are sticky. */
	for (int i = 0; i <= WEFT_JSON_MAX_DEPTH; i++)
		weft_json_begin_array(&j);
	expect_int(weft_json_error(&j), -EINVAL);
	weft_json_u64(&j, 1);
	expect_int(weft_json_error(&j), -EINVAL);
	weft_json_reset(&j);
	expect_int(weft_json_error(&j), 0);

	/* appendf grows the buffer when the text does not fit. */
	weft_json_free(&j);
	weft_json_appendf(&j, "%0300d|%s", 7, "end");
	assert_int(weft_json_error(&j), 0);
	expect_int(j.len, 304);
	expect_true(memcmp(j.buf + 299, "7|end", 5) == 0);
	weft_json_free(&j);
}

/* Keys and fragments given whole, and integers formatted without printf. */
static void test_json_raw(void)
{
	struct weft_json j;
	char u[WEFT_JSON_U64_MAX];

	weft_json_init(&j);

	/* A literal key places its comma like weft_json_key and takes its value after it. */
	weft_json_begin_object(&j);
	weft_json_key_lit(&j, "a");
	weft_json_u64(&j, 1);
	weft_json_key_lit(&j, "startTimeUnixNano");
	weft_json_begin_array(&j);
	weft_json_raw_lit(&j, "{\"k\":\"");
	weft_json_append_escaped(&j, "q\"", 2);
	weft_json_append_lit(&j, "\"}");
	weft_json_raw_lit(&j, "7");
	weft_json_u64_string(&j, 0);
	weft_json_end_array(&j);
	weft_json_raw_key(&j, "\"b\":", 4);
	weft_json_bool(&j, true);
	weft_json_end_object(&j);
	check_json(&j, "{\"a\":1,\"startTimeUnixNano\":[{\"k\":\"q\\\"\"},7,\"0\"],\"b\":true}");

	/* A raw value at the top level: no comma before it. */
	weft_json_raw_lit(&j, "[]");
	check_json(&j, "[]");

	/* Integers: every digit count, both signs, the extremes. */
	expect_int(weft_json_format_u64(u, 0), 1);
	expect_str(u, "0");
	expect_int(weft_json_format_u64(u, 9), 1);
	expect_str(u, "9");
	expect_int(weft_json_format_u64(u, 10), 2);
	expect_str(u, "10");
	expect_int(weft_json_format_u64(u, 100), 3);
	expect_str(u, "100");
	expect_int(weft_json_format_u64(u, 1796041795165499305ull), 19);
	expect_str(u, "1796041795165499305");
	expect_int(weft_json_format_u64(u, UINT64_MAX), 20);
	expect_str(u, "18446744073709551615");
	weft_json_begin_array(&j);
	weft_json_i64_string(&j, -5);
	weft_json_i64_string(&j, INT64_MAX);
	weft_json_u64(&j, 1234567);
	weft_json_double(&j, 0.5);
	weft_json_double(&j, -INFINITY);
	weft_json_end_array(&j);
	check_json(&j, "[\"-5\",\"9223372036854775807\",1234567,0.5,\"-Infinity\"]");

	/* Errors stay sticky through the new writers. */
	weft_json_end_object(&j);
	weft_json_key_lit(&j, "x");
	weft_json_raw_lit(&j, "1");
	expect_int(weft_json_error(&j), -EINVAL);
	expect_int((long long)j.len, 0);
	weft_json_free(&j);
}

/* The general path, as weft_json_format_double has it for any value ("C" locale). */
static void reference(char *out, size_t size, double v)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, size, "%.*g", prec, v);
		if (prec == 17 || strtod(out, NULL) == v)
			return;
	}
}

/*
 * The decimal path (values of at most nine decimal places below 1e6, in
 * exponent notation below 1e-4) writes exactly what the general path would,
 * and reads back exactly; values outside it go the general way.
 */
static void test_double_paths(void)
{
	static const double fixed[] = { 0.0001,
					0.00012,
					0.000999999999,
					0.001,
					0.5,
					1.25,
					3.000000001,
					999999.999999999,
					123456.789,
					0.1 + 0.2,
					1e-4 / 3,
					999999.9999999999,
					1e6,
					2.5e-5,
					-0.000123456,
					7.0,
					-42.5,
					86400.000000001,
					1e-9,
					35761 / 1e9,
					-12 / 1e9,
					99999 / 1e9,
					10000 / 1e9,
					1e-5,
					3.5761000000000005e-05,
					1.5e-9 };
	char want[64], got[WEFT_JSON_DOUBLE_MAX];
	unsigned long long x = 88172645463325252ull;
	int bad = 0;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		reference(want, sizeof(want), fixed[i]);
		weft_json_format_double(got, fixed[i]);
		expect_str(got, want);
	}
	for (int i = 0; i < 200000; i++) {
		double v;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* Nanosecond counts as seconds, over the decimal path's range and past it. */
		v = (double)(x % 2000000000000000ull) / 1e9 * ((x >> 60) & 1 ? -1 : 1);
		if (i % 4 == 3)
			v = (double)(x >> 11) / (double)(1ull << 53) * 1e7; /* any double */
		reference(want, sizeof(want), v);
		weft_json_format_double(got, v);
		if (strcmp(got, want) != 0 || strtod(got, NULL) != v)
			bad++;
	}
	/* Every count of nanoseconds below 10^5 (exponent notation), and its negative. */
	for (int k = 1; k < 100000; k++) {
		for (int sign = 1; sign >= -1; sign -= 2) {
			double v = sign * k / 1e9;

			reference(want, sizeof(want), v);
			weft_json_format_double(got, v);
			if (strcmp(got, want) != 0 || strtod(got, NULL) != v)
				bad++;
		}
	}
	expect_int(bad, 0);
}

/*
 * Every byte value at every place of strings of 1 to 24 bytes: the eight-byte
 * check finds it wherever it sits in a word, in a last word that overlaps
 * what was copied, or in the bytes after the last whole word.
 */
static void test_escape_positions(void)
{
	struct weft_json j;
	int bad = 0;

	weft_json_init(&j);
	for (int n = 1; n <= 24; n++) {
		for (int b = 1; b < 256; b++) {
			for (int at = 0; at < n; at++) {
				char in[24], want[160], *got;
				int w = 0;

				/* Plain bytes that differ, so that one copied to the wrong place
				 * shows. */
				for (int i = 0; i < n; i++)
					in[i] = (char)('a' + i);
				in[at] = (char)b;
				want[w++] = '"';
				for (int i = 0; i < n; i++) {
					unsigned char c = (unsigned char)in[i];

					if (c == '"' || c == '\\')
						w += sprintf(want + w, "\\%c", c);
					else if (c >= 0x80)
						w += sprintf(want + w, "\\ufffd");
					else if (c < 0x20 || c == 0x7f)
						w += sprintf(want + w, "\\u%04x", c);
					else
						want[w++] = (char)c;
				}
				want[w++] = '"';
				want[w] = '\0';
				weft_json_string_n(&j, in, (size_t)n);
				got = strndup(j.buf, j.len);
				bad += strcmp(got, want) != 0;
				free(got);
				weft_json_reset(&j);
			}
		}
	}
	expect_int(bad, 0);
	weft_json_free(&j);
}

/* Every byte value at every place of ids of 1 to 24 bytes, as printf's %02x writes it. */
static void test_hex(void)
{
	int bad = 0;

	for (int n = 1; n <= 24; n++) {
		for (int b = 0; b < 256; b++) {
			for (int at = 0; at < n; at++) {
				uint8_t in[24];
				char want[49], got[49];

				for (int i = 0; i < n; i++)
					in[i] = (uint8_t)(i == at ? b : 0x5a + 7 * i);
				for (int i = 0; i < n; i++)
					sprintf(want + 2 * i, "%02x", in[i]);
				got[2 * n] = '\0';
				bad += weft_json_put_hex(got, in, (size_t)n) != got + 2 * n ||
				       strcmp(got, want) != 0;
			}
		}
	}
	expect_int(bad, 0);
}

/*
 * Writing at a cursor: a member's comma, a writer without a buffer asked for
 * no room, a sticky error, and sizes that cannot be counted.
 */
static void test_cursor(void)
{
	struct weft_json j;
	char *o;

	weft_json_init(&j);
	o = weft_json_room(&j, 0, 0);
	expect_true(o != NULL);
	weft_json_done(&j, o);
	weft_json_begin_array(&j);
	for (int i = 0; i < 3; i++) {
		o = weft_json_member_room(&j, 2, 4);
		expect_true(o != NULL);
		*o++ = '"';
		o = weft_json_put_escaped(o, i ? "\"a" : "b\n", 2);
		*o++ = '"';
		weft_json_done(&j, o);
	}
	weft_json_end_array(&j);
	check_json(&j, "[\"b\\u000a\",\"\\\"a\",\"\\\"a\"]");
	expect_true(weft_json_room(&j, SIZE_MAX / 4, 0) == NULL);
	expect_int(weft_json_error(&j), -EOVERFLOW);
	expect_true(weft_json_room(&j, 0, 1) == NULL);
	expect_true(weft_json_member_room(&j, 0, 1) == NULL);
	weft_json_reset(&j);
	expect_true(weft_json_room(&j, 0, SIZE_MAX - 8) == NULL);
	expect_int(weft_json_error(&j), -EOVERFLOW);
	weft_json_free(&j);
}

int main(void)
{
	test_cursor();
	test_escape_positions();
	test_hex();
	test_double_paths();
	test_json_writer();
	test_json_raw();
	return harness_done();
}
