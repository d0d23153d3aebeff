/*
 * Configuration values from text: the parsers behind every row kind.
 *
 * This code runs before main, in any thread, in a forked child: it never
 * allocates, takes no lock and ignores the locale (numbers and keywords are
 * parsed by hand, ASCII only). Values are read through (pointer, length)
 * slices and never written to.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "agent/config_private.h"
#include "agent/log.h"

/* Strings. */

bool weft_config_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool weft_config_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

struct slice weft_config_trim(const char *p, size_t n)
{
	while (n && weft_config_is_space(*p))
		p++, n--;
	while (n && weft_config_is_space(p[n - 1]))
		n--;
	return (struct slice){ p, n };
}

bool weft_config_eq(struct slice s, const char *word)
{
	size_t i;

	for (i = 0; i < s.n; i++)
		if (!word[i] || lower(s.p[i]) != lower(word[i]))
			return false;
	return !word[i];
}

static const struct keyword *lookup(const struct keyword *words, struct slice s)
{
	for (; words->name; words++)
		if (weft_config_eq(s, words->name))
			return words;
	return NULL;
}

void weft_config_show(struct slice s, char *buf, size_t len)
{
	weft_log_escape(s.p, s.n, buf, len);
}

/* Numbers. */

/* Digits only, no sign: -EINVAL for anything else, -ERANGE past UINT64_MAX. */
static int parse_u64(struct slice s, uint64_t *out)
{
	uint64_t v = 0;

	if (!s.n)
		return -EINVAL;
	for (size_t i = 0; i < s.n; i++) {
		unsigned d = (unsigned)(s.p[i] - '0');

		if (!weft_config_is_digit(s.p[i]))
			return -EINVAL;
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

const struct weft_config_unit weft_config_units[] = {
	/* Smallest first; rendering walks it backwards and so prints "us", not "µs". */
	{ "ns", 1 },
	{ "\xc2\xb5s", NSEC_PER_USEC },
	{ "us", NSEC_PER_USEC },
	{ "ms", NSEC_PER_MSEC },
	{ "s", NSEC_PER_SEC },
	{ "m", NSEC_PER_MIN },
	{ "h", NSEC_PER_HOUR },
};
const size_t weft_config_n_units = ARRAY_SIZE(weft_config_units);

/* Byte units for K_SIZE; decimal and binary, as people write them. */
static const struct weft_config_unit size_units[] = {
	{ "B", 1 },
	{ "KB", 1000 },
	{ "MB", 1000 * 1000 },
	{ "GB", 1000 * 1000 * 1000 },
	{ "KiB", 1024 },
	{ "MiB", 1024 * 1024 },
	{ "GiB", 1024 * 1024 * 1024 },
};

/*
 * A whole number and an optional unit from units[], blanks allowed around
 * and between them; no unit means `plain`. -EINVAL if malformed, -ERANGE if
 * well formed but past UINT64_MAX.
 */
static int parse_scaled(struct slice s, const struct weft_config_unit *units, size_t n_units,
			uint64_t plain, uint64_t *out)
{
	size_t digits = 0, i;
	uint64_t v = 0, mul = plain;
	int r;

	s = weft_config_trim(s.p, s.n);
	while (digits < s.n && weft_config_is_digit(s.p[digits]))
		digits++;
	r = parse_u64((struct slice){ s.p, digits }, &v);
	if (r == -EINVAL)
		return r;
	s = weft_config_trim(s.p + digits, s.n - digits);
	if (s.n) {
		for (i = 0; i < n_units; i++)
			if (weft_config_eq(s, units[i].suffix))
				break;
		if (i == n_units)
			return -EINVAL;
		mul = units[i].ns;
	}
	if (r < 0 || v > UINT64_MAX / mul)
		return -ERANGE;
	*out = v * mul;
	return 0;
}

static int parse_duration(struct slice s, uint64_t *out_ns)
{
	return parse_scaled(s, weft_config_units, weft_config_n_units, NSEC_PER_MSEC, out_ns);
}

static int parse_size(struct slice s, uint64_t *out)
{
	return parse_scaled(s, size_units, ARRAY_SIZE(size_units), 1, out);
}

/*
 * A decimal number, optionally with a fraction and an exponent, parsed by hand
 * because strtod follows LC_NUMERIC (a program in a locale with a decimal
 * comma would read "0.5" as 0) and may allocate on long input. Up to 18
 * significant digits are kept, which is more than a double holds.
 */
static int parse_decimal(struct slice s, double *out)
{
	uint64_t mant = 0;
	long scale = 0, e = 0;
	size_t i = 0, ndigits = 0;
	bool neg_e = false;
	double v, p = 1;

	for (; i < s.n && weft_config_is_digit(s.p[i]); i++, ndigits++) {
		if (mant >= UINT64_C(100000000000000000))
			return -ERANGE;
		mant = mant * 10 + (uint64_t)(s.p[i] - '0');
	}
	if (i < s.n && s.p[i] == '.') {
		for (i++; i < s.n && weft_config_is_digit(s.p[i]); i++, ndigits++) {
			if (mant < UINT64_C(100000000000000000)) {
				mant = mant * 10 + (uint64_t)(s.p[i] - '0');
				scale--;
			}
		}
	}
	if (!ndigits)
		return -EINVAL;
	if (i < s.n && (s.p[i] == 'e' || s.p[i] == 'E')) {
		size_t start;

		i++;
		if (i < s.n && (s.p[i] == '+' || s.p[i] == '-'))
			neg_e = s.p[i++] == '-';
		for (start = i; i < s.n && weft_config_is_digit(s.p[i]); i++)
			if (e < 100000)
				e = e * 10 + (s.p[i] - '0');
		if (i == start)
			return -EINVAL;
	}
	if (i != s.n)
		return -EINVAL;
	scale += neg_e ? -e : e;
	if (mant == 0 || scale < -400) {
		*out = 0;
		return 0;
	}
	if (scale > 400)
		return -ERANGE;
	/* With mant below 2^53 and |scale| <= 22 this is one exact-rounded operation. */
	for (long k = scale < 0 ? -scale : scale; k > 0; k--)
		p *= 10;
	v = scale < 0 ? (double)mant / p : (double)mant * p;
	*out = v;
	return 0;
}

/* Field access: every integer-like field is stored by its size. */

void weft_config_store_uint(void *field, size_t size, uint64_t v)
{
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;

	switch (size) {
	case 1:
		memcpy(field, &u8, 1);
		break;
	case 2:
		memcpy(field, &u16, 2);
		break;
	case 4:
		memcpy(field, &u32, 4);
		break;
	case 8:
		memcpy(field, &v, 8);
		break;
	}
}

uint64_t weft_config_load_uint(const void *field, size_t size)
{
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64 = 0;

	switch (size) {
	case 1:
		memcpy(&u8, field, 1);
		return u8;
	case 2:
		memcpy(&u16, field, 2);
		return u16;
	case 4:
		memcpy(&u32, field, 4);
		return u32;
	case 8:
		memcpy(&u64, field, 8);
		break;
	}
	return u64;
}

static int store_str(const struct row *r, void *field, struct slice s, char *why, size_t wlen)
{
	if (s.n >= r->size) {
		snprintf(why, wlen, "too long (%zu bytes, at most %zu)", s.n, r->size - 1);
		return -EINVAL;
	}
	memcpy(field, s.p, s.n);
	((char *)field)[s.n] = '\0';
	return 0;
}

/* Parsers: 0 stored, 1 stored with an adjustment to report, -EINVAL untouched. */

static int bool_value(struct slice s, bool *out)
{
	static const char *const yes[] = { "true", "1", "yes", "on" };
	static const char *const no[] = { "false", "0", "no", "off" };

	s = weft_config_trim(s.p, s.n);
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (weft_config_eq(s, yes[i]) || weft_config_eq(s, no[i])) {
			*out = weft_config_eq(s, yes[i]);
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * The next comma-separated item of s from *pos, trimmed; empty items are
 * skipped. Returns false after the last one.
 */
static bool next_item(struct slice s, size_t *pos, struct slice *item)
{
	while (*pos <= s.n) {
		const char *comma = memchr(s.p + *pos, ',', s.n - *pos);
		size_t stop = comma ? (size_t)(comma - s.p) : s.n;

		*item = weft_config_trim(s.p + *pos, stop - *pos);
		*pos = stop + 1;
		if (item->n)
			return true;
	}
	return false;
}

/* "unknown exporter \"x\"", then " and N more" when there are others. */
static void count_bad(char *why, size_t wlen, const char *what, const char *first, unsigned n)
{
	int len = snprintf(why, wlen, "%s \"%s\"", what, first);

	if (n > 1 && len > 0 && (size_t)len < wlen)
		snprintf(why + len, wlen - (size_t)len, " and %u more", n - 1);
}

static int parse_list(const struct row *r, void *field, struct slice s, char *why, size_t wlen)
{
	unsigned set = 0, valid = 0, unknown = 0;
	char first[WEFT_LOG_ESCAPED_SIZE] = "", what[64];
	struct slice item;
	size_t pos = 0;

	while (next_item(s, &pos, &item)) {
		const struct keyword *k = lookup(r->words, item);

		if (k) {
			set |= k->value;
			valid++;
		} else {
			if (!unknown)
				weft_config_show(item, first, sizeof(first));
			unknown++;
		}
	}
	if (!valid && !unknown) {
		snprintf(why, wlen, "empty list");
		return -EINVAL;
	}
	if (unknown) {
		snprintf(what, sizeof(what), "unknown %s", r->what);
		count_bad(why, wlen, what, first, unknown);
	}
	if (!valid)
		return -EINVAL;
	weft_config_store_uint(field, r->size, set);
	return unknown ? 1 : 0;
}

/* An item the consumer will read as a pair: an `=` with more than blanks before it. */
static bool is_pair(struct slice item)
{
	const char *eq = memchr(item.p, '=', item.n);

	return eq && weft_config_trim(item.p, (size_t)(eq - item.p)).n;
}

/*
 * key=value items (OTEL_RESOURCE_ATTRIBUTES): when every item is one, the
 * value is stored as given; otherwise only those are kept, joined with
 * commas, and the line says how many items were dropped and shows the first.
 * What a valid item means (percent-decoding included) is the consumer's
 * business; here an item is dropped only if it has no `=` or nothing but
 * blanks before it, which is the same rule the consumer applies.
 */

static int parse_pairs(const struct row *r, void *field, struct slice all, char *why, size_t wlen)
{
	char first[WEFT_LOG_ESCAPED_SIZE] = "", *out = field;
	struct slice item;
	size_t pos = 0, o = 0;
	unsigned bad = 0;
	int err;

	err = store_str(r, field, all, why, wlen);
	if (err)
		return err;
	while (next_item(all, &pos, &item)) {
		if (!is_pair(item)) {
			if (!bad)
				weft_config_show(item, first, sizeof(first));
			bad++;
		}
	}
	if (!bad)
		return 0;
	/* The kept items are never longer than the whole, which fitted. */
	for (pos = 0; next_item(all, &pos, &item);) {
		if (is_pair(item)) {
			if (o)
				out[o++] = ',';
			memmove(out + o, out + (item.p - all.p), item.n);
			o += item.n;
		}
	}
	out[o] = '\0';
	snprintf(why, wlen, "dropped %u item%s that %s not key=value (the first: \"%s\")", bad,
		 bad > 1 ? "s" : "", bad > 1 ? "are" : "is", first);
	return 1;
}

static int parse_enum(const struct row *r, void *field, struct slice s, char *why, size_t wlen)
{
	const struct keyword *k = lookup(r->words, s);
	size_t n;

	if (k) {
		weft_config_store_uint(field, r->size, k->value);
		return 0;
	}
	n = (size_t)snprintf(why, wlen, "expected one of");
	for (k = r->words; k->name && n < wlen; k++)
		n += (size_t)snprintf(why + n, wlen - n, "%s %s", k == r->words ? "" : ",",
				      k->name);
	return -EINVAL;
}

/*
 * A duration outside the row's bounds, a number too large for 64 bits
 * included, is clamped to the nearer bound: someone who asked for a huge
 * delay wants a long one, not the default.
 */
static int parse_bounded_duration(const struct row *r, void *field, struct slice s, char *why,
				  size_t wlen)
{
	char lo[32], hi[32];
	uint64_t v = 0;
	int err = parse_duration(s, &v);

	if (err == -EINVAL) {
		snprintf(why, wlen, "not a duration (like 250us, 5ms, 2s, 1m; no unit is ms)");
		return -EINVAL;
	}
	if (err == 0 && v >= r->min && v <= r->max) {
		weft_config_store_uint(field, r->size, v);
		return 0;
	}
	weft_config_store_uint(field, r->size, err == 0 && v < r->min ? r->min : r->max);
	weft_config_render_duration(r->min, lo, sizeof(lo));
	weft_config_render_duration(r->max, hi, sizeof(hi));
	snprintf(why, wlen, "out of range (%s..%s)", lo, hi);
	return 1;
}

static int parse_number(const struct row *r, void *field, struct slice s, char *why, size_t wlen)
{
	uint64_t v = 0;
	int err = parse_u64(s, &v);

	if (err == -EINVAL) {
		snprintf(why, wlen, "not a whole number");
		return -EINVAL;
	}
	if (err < 0 || v < r->min || v > r->max) {
		snprintf(why, wlen, "out of range (%" PRIu64 "..%" PRIu64 ")", r->min, r->max);
		return -EINVAL;
	}
	if (r->kind == K_RING && (v & (v - 1))) {
		/* The bounds are powers of two, so this stays within them. */
		uint64_t p = r->min;

		while (p < v)
			p <<= 1;
		weft_config_store_uint(field, r->size, p);
		snprintf(why, wlen, "not a power of two, rounded up");
		return 1;
	}
	weft_config_store_uint(field, r->size, v);
	return 0;
}

/*
 * A host to listen on (OTEL_EXPORTER_PROMETHEUS_HOST): a name or an IPv4 or
 * IPv6 address, an IPv6 one possibly in brackets, which are removed. Only
 * the characters those can hold are accepted; whether the host resolves is
 * found when the endpoint opens.
 */
static int parse_host(const struct row *r, void *field, struct slice s, char *why, size_t wlen)
{
	if (s.n >= 2 && s.p[0] == '[' && s.p[s.n - 1] == ']')
		s = (struct slice){ s.p + 1, s.n - 2 };
	for (size_t i = 0; i < s.n; i++) {
		char c = s.p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || weft_config_is_digit(c) ||
		      c == '.' || c == '-' || c == ':' || c == '_' || c == '%')) {
			snprintf(why, wlen, "not a host name or address");
			return -EINVAL;
		}
	}
	if (!s.n) {
		snprintf(why, wlen, "not a host name or address");
		return -EINVAL;
	}
	return store_str(r, field, s, why, wlen);
}

int weft_config_parse_row(const struct row *r, void *field, const char *raw, char *why, size_t wlen)
{
	struct slice all = { raw, strlen(raw) };
	struct slice s = weft_config_trim(all.p, all.n);
	uint64_t v;
	double d;
	bool b;
	int err;

	switch (r->kind) {
	case K_BOOL:
		if (bool_value(s, &b) < 0) {
			snprintf(why, wlen, "not a boolean (true/false, 1/0, yes/no, on/off)");
			return -EINVAL;
		}
		weft_config_store_uint(field, r->size, b);
		return 0;
	case K_STR:
		return store_str(r, field, all, why, wlen);
	case K_PAIRS:
		return parse_pairs(r, field, all, why, wlen);
	case K_REPORT:
		if (weft_config_eq(s, "off") || weft_config_eq(s, "0"))
			all = (struct slice){ "", 0 };
		else if (weft_config_eq(s, "stderr"))
			all = (struct slice){ "stderr", 6 };
		return store_str(r, field, all, why, wlen);
	case K_DURATION:
		return parse_bounded_duration(r, field, s, why, wlen);
	case K_SIZE:
		err = parse_size(s, &v);
		if (err == -EINVAL) {
			snprintf(why, wlen, "not a size (like 100MB, 64KiB; no unit is bytes)");
			return -EINVAL;
		}
		if (err < 0 || v < r->min || v > r->max) {
			snprintf(why, wlen, "out of range (%" PRIu64 "..%" PRIu64 " bytes)", r->min,
				 r->max);
			return -EINVAL;
		}
		weft_config_store_uint(field, r->size, v);
		return 0;
	case K_UINT:
	case K_RING:
		return parse_number(r, field, s, why, wlen);
	case K_STACKS:
		if (bool_value(s, &b) == 0) {
			weft_config_store_uint(field, r->size, b ? STACK_DEFAULT_DEPTH : 0);
			return 0;
		}
		if (parse_u64(s, &v) == 0 && v >= 2 && v <= STACK_MAX_DEPTH) {
			weft_config_store_uint(field, r->size, v);
			return 0;
		}
		snprintf(why, wlen, "expected on, off or a depth from 2 to %u", STACK_MAX_DEPTH);
		return -EINVAL;
	case K_RATIO:
		err = parse_decimal(s, &d);
		if (err == -EINVAL) {
			snprintf(why, wlen, "not a number");
			return -EINVAL;
		}
		if (err < 0 || d > 1) {
			snprintf(why, wlen, "out of range (0..1)");
			return -EINVAL;
		}
		memcpy(field, &d, sizeof(d));
		return 0;
	case K_ENUM:
		return parse_enum(r, field, s, why, wlen);
	case K_LIST:
		return parse_list(r, field, s, why, wlen);
	case K_HOST:
		return parse_host(r, field, s, why, wlen);
	case K_PROTOCOL:
		if (weft_config_eq(s, "http/protobuf"))
			return 0;
		snprintf(why, wlen, "not supported, weft uses http/protobuf");
		return -EINVAL;
	}
	return -EINVAL;
}

int weft_config_parse_duration(const char *s, uint64_t *out_ns)
{
	return parse_duration((struct slice){ s, strlen(s) }, out_ns) < 0 ? -EINVAL : 0;
}

int weft_config_parse_size(const char *s, uint64_t *out)
{
	return parse_size((struct slice){ s, strlen(s) }, out) < 0 ? -EINVAL : 0;
}

int weft_config_parse_bool(const char *s, bool *out)
{
	return bool_value((struct slice){ s, strlen(s) }, out);
}
