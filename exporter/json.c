/*
 * The JSON writer behind the file and console outputs (see json.h).
 *
 * Everything is appended to one growable buffer that the caller reuses from
 * one export to the next, so a steady state allocates nothing.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/alloc.h"
#include "agent/format.h"
#include "exporter/json.h"

/* "00" to "ff": a byte's two hex digits at once. */
const char weft_json_hex_pairs[513] =
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
	"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
	"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
	"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
	"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
	"c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
	"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

void weft_json_init(struct weft_json *j)
{
	memset(j, 0, sizeof(*j));
}

void weft_json_reset(struct weft_json *j)
{
	j->len = 0;
	j->err = 0;
	j->depth = 0;
	j->more = 0;
	j->after_key = false;
}

void weft_json_free(struct weft_json *j)
{
	weft_free(j->buf);
	weft_json_init(j);
}

static void json_fail(struct weft_json *j, int err)
{
	if (!j->err)
		j->err = err;
}

/* json_reserve's growing half: out of line, so that the check stays in it. */
static __attribute__((noinline)) bool json_grow(struct weft_json *j, size_t extra)
{
	size_t need = j->len + extra, cap;
	char *p;

	if (j->err)
		return false;
	if (need < j->len) {
		json_fail(j, -EOVERFLOW);
		return false;
	}
	if (need <= j->cap)
		return true;
	/*
	 * 16 KiB to start: a short process's whole export (its metrics are about
	 * 10 KiB) without a reallocation, whose copy would touch the old block's
	 * pages as well as the new one's.
	 */
	cap = j->cap ? j->cap : 16384;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	p = weft_realloc(j->buf, cap);
	if (!p) {
		json_fail(j, -ENOMEM);
		return false;
	}
	j->buf = p;
	j->cap = cap;
	return true;
}

/*
 * Makes room for `extra` more bytes; false (with the error set) when it
 * cannot. Inline: every value and key asks, and nearly all fit.
 */
static inline bool json_reserve(struct weft_json *j, size_t extra)
{
	if (__builtin_expect(!j->err && extra <= j->cap - j->len, 1))
		return true;
	return json_grow(j, extra);
}

static void json_put(struct weft_json *j, const char *s, size_t n)
{
	if (!json_reserve(j, n))
		return;
	memcpy(j->buf + j->len, s, n);
	j->len += n;
}

/*
 * Starts a value or key: makes room for the comma before it and `extra` more
 * bytes, writes the comma if one is due, and returns where the value goes
 * (NULL after an error). The caller writes at most `extra` bytes there and
 * sets j->len past them. One reserve for the whole value.
 */
static char *json_value_at(struct weft_json *j, size_t extra)
{
	uint64_t bit = UINT64_C(1) << j->depth;
	char *o;

	if (extra > SIZE_MAX - 1 || !json_reserve(j, extra + 1))
		return NULL;
	o = j->buf + j->len;
#ifdef __SANITIZE_ADDRESS__
	j->room_end = o + extra + 1;
#endif
	if (j->after_key) {
		j->after_key = false;
	} else if (j->depth) {
		if (j->more & bit)
			*o++ = ',';
		j->more |= bit;
	}
	return o;
}

/* Whether `escaped` bytes escaped (six each at most) and `fixed` more can be counted. */
static bool room_counts(struct weft_json *j, size_t escaped, size_t fixed)
{
	if (fixed > SIZE_MAX - 16 || escaped > (SIZE_MAX - 16 - fixed) / 6) {
		json_fail(j, -EOVERFLOW);
		return false;
	}
	return true;
}

char *weft_json_room_grow(struct weft_json *j, size_t escaped, size_t fixed)
{
	/* At least a byte: a writer that has no buffer yet gets one, not NULL. */
	if (!room_counts(j, escaped, fixed) || !json_reserve(j, 6 * escaped + fixed + 1))
		return NULL;
#ifdef __SANITIZE_ADDRESS__
	j->room_end = j->buf + j->len + 6 * escaped + fixed;
#endif
	return j->buf + j->len;
}

char *weft_json_member_room(struct weft_json *j, size_t escaped, size_t fixed)
{
	return room_counts(j, escaped, fixed) ? json_value_at(j, 6 * escaped + fixed) : NULL;
}

static void json_open(struct weft_json *j, char c)
{
	char *o;

	if (j->depth >= WEFT_JSON_MAX_DEPTH) {
		json_fail(j, -EINVAL);
		return;
	}
	o = json_value_at(j, 1);
	if (!o)
		return;
	*o++ = c;
	j->len = (size_t)(o - j->buf);
	j->depth++;
	j->more &= ~(UINT64_C(1) << j->depth);
}

static void json_close(struct weft_json *j, char c)
{
	if (j->depth == 0 || j->after_key) {
		json_fail(j, -EINVAL);
		return;
	}
	if (!json_reserve(j, 1))
		return;
	j->buf[j->len++] = c;
	j->depth--;
}

void weft_json_begin_object(struct weft_json *j)
{
	json_open(j, '{');
}

void weft_json_end_object(struct weft_json *j)
{
	json_close(j, '}');
}

void weft_json_begin_array(struct weft_json *j)
{
	json_open(j, '[');
}

void weft_json_end_array(struct weft_json *j)
{
	json_close(j, ']');
}

/*
 * Classifies the non-ASCII sequence at p (n > 0 bytes available). Returns how
 * many bytes to consume: a whole well-formed sequence (*valid set), or the
 * maximal ill-formed prefix, at least one byte, which becomes one U+FFFD (the
 * Unicode "maximal subpart" practice). Well-formed means Unicode's table 3-7:
 * no overlong forms, no surrogates, nothing above U+10FFFF.
 */
static size_t utf8_sequence(const uint8_t *p, size_t n, bool *valid)
{
	uint8_t c = p[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	*valid = false;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 1;
	}
	if (n < 2 || p[1] < lo || p[1] > hi)
		return 1;
	for (i = 2; i < need; i++)
		if (i >= n || (p[i] & 0xc0) != 0x80)
			return i;
	*valid = true;
	return need;
}

/* Bytes copied as they are: printable ASCII but for the quote and the backslash. */
#define PLAIN16(c)                                                                                 \
	PLAIN1(c), PLAIN1(c + 1), PLAIN1(c + 2), PLAIN1(c + 3), PLAIN1(c + 4), PLAIN1(c + 5),      \
		PLAIN1(c + 6), PLAIN1(c + 7), PLAIN1(c + 8), PLAIN1(c + 9), PLAIN1(c + 10),        \
		PLAIN1(c + 11), PLAIN1(c + 12), PLAIN1(c + 13), PLAIN1(c + 14), PLAIN1(c + 15)
#define PLAIN1(c) ((c) >= 0x20 && (c) < 0x7f && (c) != '"' && (c) != '\\')
static const bool plain[256] = { PLAIN16(0x00), PLAIN16(0x10), PLAIN16(0x20), PLAIN16(0x30),
				 PLAIN16(0x40), PLAIN16(0x50), PLAIN16(0x60), PLAIN16(0x70) };
#undef PLAIN1
#undef PLAIN16

/*
 * Whether any of the eight bytes in w is not plain: a control (below 0x20),
 * the quote, the backslash, DEL or not ASCII. Exact (each test finds a byte
 * only if there is one), eight bytes in a few operations.
 */
static inline uint64_t word_not_plain(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\'), del = w ^ (ones * 0x7f);

	return (w & highs) | ((w - ones * 0x20) & ~w & highs) | ((quote - ones) & ~quote & highs) |
	       ((backslash - ones) & ~backslash & highs) | ((del - ones) & ~del & highs);
}

/*
 * Plain runs go eight bytes at a time, each word stored as it was read (the
 * room is six bytes an input byte), and a plain string's last few bytes as
 * its last word; the rest a byte at a time: short strings (names, attribute
 * keys) are most of what is written, so no call to memcpy.
 */
char *weft_json_put_escaped(char *o, const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s, *end = p + n;

	while (p < end) {
		uint64_t w;
		uint8_t c;
		size_t len;
		bool valid;

		if (end - p >= 8) {
			memcpy(&w, p, sizeof(w));
			if (!word_not_plain(w)) {
				memcpy(o, &w, sizeof(w));
				o += 8;
				p += 8;
				continue;
			}
		} else if (n >= 8) {
			/*
			 * Fewer than eight left: the string's last eight bytes, if all
			 * are plain, the ones before p among them were copied as they
			 * are to the places just before o, and are stored there again.
			 */
			memcpy(&w, end - 8, sizeof(w));
			if (!word_not_plain(w)) {
				memcpy(o + (end - p) - 8, &w, sizeof(w));
				return o + (end - p);
			}
		}
		c = *p;
		if (plain[c]) {
			*o++ = (char)c;
			p++;
		} else if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = (char)c;
			p++;
		} else if (c < 0x80) {
			/* C0 controls and DEL. */
			memcpy(o, "\\u00", 4);
			memcpy(o + 4, weft_json_hex_pairs + 2 * c, 2);
			o += 6;
			p++;
		} else {
			len = utf8_sequence(p, (size_t)(end - p), &valid);
			if (valid)
				memcpy(o, p, len);
			else
				memcpy(o, "\\ufffd", 6);
			o += valid ? len : 6;
			p += len;
		}
	}
	return o;
}

void weft_json_append_escaped(struct weft_json *j, const char *s, size_t n)
{
	char *o = weft_json_room(j, n, 0);

	if (o)
		weft_json_done(j, weft_json_put_escaped(o, s, n));
}

void weft_json_string_n(struct weft_json *j, const char *s, size_t n)
{
	char *o;

	if (!s)
		n = 0;
	if (!(o = weft_json_member_room(j, n, 2)))
		return;
	*o++ = '"';
	if (n)
		o = weft_json_put_escaped(o, s, n);
	*o++ = '"';
	weft_json_done(j, o);
}

void weft_json_string(struct weft_json *j, const char *s)
{
	weft_json_string_n(j, s, s ? strlen(s) : 0);
}

void weft_json_key(struct weft_json *j, const char *key)
{
	weft_json_string(j, key);
	if (!json_reserve(j, 1))
		return;
	j->buf[j->len++] = ':';
	j->after_key = true;
}

void weft_json_raw_key(struct weft_json *j, const char *key, size_t n)
{
	weft_json_raw(j, key, n);
	j->after_key = !j->err;
}

void weft_json_raw(struct weft_json *j, const char *s, size_t n)
{
	char *o = json_value_at(j, n);

	if (!o)
		return;
	memcpy(o, s, n);
	j->len = (size_t)(o + n - j->buf);
}

void weft_json_bool(struct weft_json *j, bool v)
{
	if (v)
		weft_json_raw(j, "true", 4);
	else
		weft_json_raw(j, "false", 5);
}

/* "00" to "99": two digits per division. */
static const char digit_pairs[] = "00010203040506070809101112131415161718192021222324"
				  "25262728293031323334353637383940414243444546474849"
				  "50515253545556575859606162636465666768697071727374"
				  "75767778798081828384858687888990919293949596979899";

/* The number of decimal digits of v. */
static unsigned digits_u32(uint32_t v)
{
	return v < 10          ? 1
	       : v < 100       ? 2
	       : v < 1000      ? 3
	       : v < 10000     ? 4
	       : v < 100000    ? 5
	       : v < 1000000   ? 6
	       : v < 10000000  ? 7
	       : v < 100000000 ? 8
			       : 9 + (v >= 1000000000);
}

/* v in decimal at o: 32-bit divisions, two digits each. */
static char *put_u32(char *o, uint32_t v)
{
	char *end = o + digits_u32(v), *p = end;

	while (v >= 100) {
		p -= 2;
		memcpy(p, digit_pairs + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10)
		memcpy(p - 2, digit_pairs + 2 * v, 2);
	else
		p[-1] = (char)('0' + v);
	return end;
}

/* The eight digits of v (below 10^8), its leading zeros written. */
static char *put_8_digits(char *o, uint32_t v)
{
	uint32_t hi = v / 10000, lo = v % 10000;

	memcpy(o, digit_pairs + 2 * (hi / 100), 2);
	memcpy(o + 2, digit_pairs + 2 * (hi % 100), 2);
	memcpy(o + 4, digit_pairs + 2 * (lo / 100), 2);
	memcpy(o + 6, digit_pairs + 2 * (lo % 100), 2);
	return o + 8;
}

/*
 * In pieces of eight digits below the top one, so that a nanosecond
 * timestamp (19 digits) takes two 64-bit divisions and the rest is 32-bit.
 */
char *weft_json_put_u64(char *o, uint64_t v)
{
	const uint64_t e8 = 100000000, e16 = e8 * e8;

	if (v <= UINT32_MAX)
		return put_u32(o, (uint32_t)v);
	if (v < e16)
		return put_8_digits(put_u32(o, (uint32_t)(v / e8)), (uint32_t)(v % e8));
	o = put_u32(o, (uint32_t)(v / e16));
	v %= e16;
	return put_8_digits(put_8_digits(o, (uint32_t)(v / e8)), (uint32_t)(v % e8));
}

size_t weft_json_format_u64(char out[WEFT_JSON_U64_MAX], uint64_t v)
{
	char *end = weft_json_put_u64(out, v);

	*end = '\0';
	return (size_t)(end - out);
}

static void json_int(struct weft_json *j, uint64_t mag, bool neg, bool quoted)
{
	/* At most 20 digits, a sign and two quotes. */
	char *o = json_value_at(j, 23);

	if (!o)
		return;
	if (quoted)
		*o++ = '"';
	if (neg)
		*o++ = '-';
	o = weft_json_put_u64(o, mag);
	if (quoted)
		*o++ = '"';
	weft_json_done(j, o);
}

void weft_json_u64(struct weft_json *j, uint64_t v)
{
	json_int(j, v, false, false);
}

void weft_json_u64_string(struct weft_json *j, uint64_t v)
{
	json_int(j, v, false, true);
}

void weft_json_i64_string(struct weft_json *j, int64_t v)
{
	/* The magnitude computed in unsigned arithmetic, so INT64_MIN works. */
	uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	json_int(j, mag, v < 0, true);
}

/*
 * k / 10^9 below 10^-4 (k below 10^5) as "%.15g" writes it: k's digits
 * without its trailing zeros, a point after the first, and the exponent of
 * two digits at least (3.5761e-05).
 */
static size_t format_small(char *out, uint64_t k)
{
	char d[24];
	size_t n, o = 0;
	int exp = -9;

	while (k % 10 == 0) {
		k /= 10;
		exp++;
	}
	n = (size_t)(weft_json_put_u64(d, k) - d);
	exp += (int)n - 1;
	out[o++] = d[0];
	if (n > 1) {
		out[o++] = '.';
		memcpy(out + o, d + 1, n - 1);
		o += n - 1;
	}
	out[o++] = 'e';
	out[o++] = '-';
	out[o++] = (char)('0' + -exp / 10);
	out[o++] = (char)('0' + -exp % 10);
	out[o] = '\0';
	return o;
}

/*
 * The common case without printf: a value of at most nine decimal places
 * (seconds from nanoseconds, most of what weft writes) below 1e6, or zero,
 * written as its digits. They are the digits "%.15g" gives (the value is the
 * double nearest k / 10^9, which rounds to k's digits at 15 significant
 * places) in the notation it uses in that range, so the text is the same as
 * the general path's. 0 when the value is not such.
 */
static size_t format_decimal(char out[WEFT_JSON_DOUBLE_MAX], double v)
{
	double a = fabs(v);
	uint64_t k, whole, frac;
	char digits[24];
	size_t o = 0, n = 0;

	if (v == 0) {
		if (signbit(v))
			out[o++] = '-';
		out[o++] = '0';
		out[o] = '\0';
		return o;
	}
	if (!(a >= 1e-9 && a < 1e6))
		return 0;
	k = (uint64_t)(a * 1e9 + 0.5); /* a is below 1e6: k fits, rounded to nearest */
	if ((double)k / 1e9 != a)
		return 0;
	if (v < 0)
		out[o++] = '-';
	if (a < 1e-4)
		return o + format_small(out + o, k);
	whole = k / 1000000000u;
	frac = k % 1000000000u;
	do
		digits[n++] = (char)('0' + whole % 10);
	while ((whole /= 10) != 0);
	while (n)
		out[o++] = digits[--n];
	if (frac) {
		int last = 8;

		out[o++] = '.';
		for (int i = 8; i >= 0; i--, frac /= 10)
			digits[i] = (char)('0' + frac % 10);
		while (digits[last] == '0')
			last--;
		memcpy(out + o, digits, (size_t)last + 1);
		o += (size_t)last + 1;
	}
	out[o] = '\0';
	return o;
}

size_t weft_json_format_double(char out[WEFT_JSON_DOUBLE_MAX], double v)
{
	char tmp[64];
	size_t o = 0;
	bool in_point = false;

	if ((o = format_decimal(out, v)) != 0)
		return o;
	if (isnan(v) || isinf(v)) {
		const char *s = isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";

		o = strlen(s);
		memcpy(out, s, o + 1);
		return o;
	}
	/* The fewest significant digits that read back exactly; 17 always do. */
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (prec == 17 || strtod(tmp, NULL) == v)
			break;
	}
	/*
	 * printf and strtod follow LC_NUMERIC, which the program may have set:
	 * whatever the locale's decimal point is (one byte or several), it is the
	 * only run of bytes that is not a digit, sign or exponent mark.
	 */
	for (const char *p = tmp; *p && o < WEFT_JSON_DOUBLE_MAX - 1; p++) {
		char c = *p;

		if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e' || c == 'E') {
			out[o++] = c;
			in_point = false;
		} else if (!in_point) {
			out[o++] = '.';
			in_point = true;
		}
	}
	out[o] = '\0';
	return o;
}

char *weft_json_put_double(char *o, double v)
{
	char buf[WEFT_JSON_DOUBLE_MAX];
	size_t n = weft_json_format_double(buf, v);
	bool quoted = !isfinite(v);

	if (quoted)
		*o++ = '"';
	memcpy(o, buf, n);
	o += n;
	if (quoted)
		*o++ = '"';
	return o;
}

void weft_json_double(struct weft_json *j, double v)
{
	char *o = json_value_at(j, WEFT_JSON_DOUBLE_MAX + 1);

	if (o)
		weft_json_done(j, weft_json_put_double(o, v));
}

void weft_json_hex(struct weft_json *j, const uint8_t *bytes, size_t n)
{
	char *o;

	if (n > SIZE_MAX / 2 - 2) {
		json_fail(j, -EOVERFLOW);
		return;
	}
	o = json_value_at(j, 2 * n + 2);
	if (!o)
		return;
	*o++ = '"';
	o = weft_json_put_hex(o, bytes, n);
	*o++ = '"';
	weft_json_done(j, o);
}

void weft_json_append(struct weft_json *j, const char *s, size_t n)
{
	json_put(j, s, n);
}

void weft_json_appendf(struct weft_json *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!json_reserve(j, 128))
		return;
	va_start(ap, fmt);
	n = weft_vformat(j->buf + j->len, j->cap - j->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		json_fail(j, -EINVAL);
		return;
	}
	if ((size_t)n >= j->cap - j->len) {
		/* It did not fit: grow to the size reported and redo it. */
		if (!json_reserve(j, (size_t)n + 1))
			return;
		va_start(ap, fmt);
		weft_vformat(j->buf + j->len, j->cap - j->len, fmt, ap);
		va_end(ap);
	}
	j->len += (size_t)n;
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int weft_json_write_fd(const struct weft_json *j, int fd, int timeout_ms)
{
	int64_t deadline = -1;
	size_t off = 0;

	/* A buffer whose building failed is never written: it may be half a line. */
	if (j->err)
		return j->err;
	while (off < j->len) {
		ssize_t w = write(fd, j->buf + off, j->len - off);
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int64_t left;

		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w == 0)
			return -EIO;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		/* A full pipe or terminal set non-blocking: wait, but not forever. */
		if (deadline < 0)
			deadline = monotonic_ms() + timeout_ms;
		left = deadline - monotonic_ms();
		if (left <= 0)
			return -EAGAIN;
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}
