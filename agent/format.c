/* snprintf for weft's own texts, without libc's printf (agent/format.h). */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "agent/format.h"

enum length { LEN_INT, LEN_CHAR, LEN_SHORT, LEN_LONG, LEN_LLONG, LEN_SIZE, LEN_MAX, LEN_PTRDIFF };

/* One conversion, as parsed: its flags, width, precision, length and letter. */
struct spec {
	bool left, zero;
	bool width_arg, prec_arg; /* '*' */
	int width, prec;          /* prec -1: none */
	enum length len;
	char conv;
};

/* A run of digits at *p: its value (capped), *p moved past it. */
static int number(const char **p)
{
	int v = 0;

	while (**p >= '0' && **p <= '9') {
		if (v < 100000)
			v = v * 10 + (**p - '0');
		(*p)++;
	}
	return v;
}

/* Parses the conversion after a '%' at *p; false when it is not one done here. */
static bool parse(const char **p, struct spec *s)
{
	const char *q = *p;

	*s = (struct spec){ .prec = -1 };
	for (;; q++) {
		if (*q == '-')
			s->left = true;
		else if (*q == '0')
			s->zero = true;
		else if (*q == '+' || *q == ' ' || *q == '#' || *q == '\'')
			return false;
		else
			break;
	}
	if (*q == '*') {
		s->width_arg = true;
		q++;
	} else {
		s->width = number(&q);
		if (*q == '$')
			return false; /* a positional argument */
	}
	if (*q == '.') {
		q++;
		if (*q == '*') {
			s->prec_arg = true;
			q++;
		} else {
			s->prec = number(&q);
		}
	}
	switch (*q) {
	case 'h':
		s->len = q[1] == 'h' ? LEN_CHAR : LEN_SHORT;
		q += q[1] == 'h' ? 2 : 1;
		break;
	case 'l':
		s->len = q[1] == 'l' ? LEN_LLONG : LEN_LONG;
		q += q[1] == 'l' ? 2 : 1;
		break;
	case 'z':
		s->len = LEN_SIZE;
		q++;
		break;
	case 'j':
		s->len = LEN_MAX;
		q++;
		break;
	case 't':
		s->len = LEN_PTRDIFF;
		q++;
		break;
	default:
		break;
	}
	s->conv = *q;
	switch (s->conv) {
	case 'd':
	case 'i':
	case 'u':
	case 'x':
	case 'X':
		/* An integer's precision (a minimum of digits) is printf's alone. */
		if (s->prec_arg || s->prec >= 0)
			return false;
		break;
	case 'c':
		if (s->len != LEN_INT || s->prec_arg || s->prec >= 0)
			return false;
		break;
	case 's':
		if (s->len != LEN_INT)
			return false; /* %ls */
		break;
	default:
		return false;
	}
	*p = q + 1;
	return true;
}

/* Whether every conversion in fmt is one done here. */
static bool supported(const char *fmt)
{
	struct spec s;

	for (const char *p = fmt; (p = strchr(p, '%')) != NULL;) {
		p++;
		if (*p == '%') {
			p++;
			continue;
		}
		if (!parse(&p, &s))
			return false;
	}
	return true;
}

struct sink {
	char *out;
	size_t size, len; /* len: what the whole text takes, written or not */
};

static void put(struct sink *k, const char *s, size_t n)
{
	if (k->len < k->size) {
		size_t room = k->size - 1 - k->len;

		memcpy(k->out + k->len, s, n < room ? n : room);
	}
	k->len += n;
}

static void pad(struct sink *k, char c, size_t n)
{
	char run[16];

	memset(run, c, sizeof(run));
	while (n) {
		size_t m = n < sizeof(run) ? n : sizeof(run);

		put(k, run, m);
		n -= m;
	}
}

/* text (n bytes, after `sign` if any) within the spec's width. */
static void field(struct sink *k, const struct spec *s, const char *sign, const char *text,
		  size_t n)
{
	size_t sn = sign ? 1 : 0, w = s->width > 0 ? (size_t)s->width : 0;
	size_t fill = w > n + sn ? w - n - sn : 0;

	if (!s->left && !(s->zero && s->conv != 's' && s->conv != 'c'))
		pad(k, ' ', fill);
	if (sign)
		put(k, sign, 1);
	if (!s->left && s->zero && s->conv != 's' && s->conv != 'c')
		pad(k, '0', fill);
	put(k, text, n);
	if (s->left)
		pad(k, ' ', fill);
}

static uintmax_t unsigned_arg(enum length len, va_list *ap)
{
	switch (len) {
	case LEN_CHAR:
		return (unsigned char)va_arg(*ap, unsigned);
	case LEN_SHORT:
		return (unsigned short)va_arg(*ap, unsigned);
	case LEN_LONG:
		return va_arg(*ap, unsigned long);
	case LEN_LLONG:
		return va_arg(*ap, unsigned long long);
	case LEN_SIZE:
		return va_arg(*ap, size_t);
	case LEN_MAX:
		return va_arg(*ap, uintmax_t);
	case LEN_PTRDIFF:
		return (uintmax_t)va_arg(*ap, ptrdiff_t);
	default:
		return va_arg(*ap, unsigned);
	}
}

static intmax_t signed_arg(enum length len, va_list *ap)
{
	switch (len) {
	case LEN_CHAR:
		return (signed char)va_arg(*ap, int);
	case LEN_SHORT:
		return (short)va_arg(*ap, int);
	case LEN_LONG:
		return va_arg(*ap, long);
	case LEN_LLONG:
		return va_arg(*ap, long long);
	case LEN_SIZE:
		return va_arg(*ap, ssize_t);
	case LEN_MAX:
		return va_arg(*ap, intmax_t);
	case LEN_PTRDIFF:
		return va_arg(*ap, ptrdiff_t);
	default:
		return va_arg(*ap, int);
	}
}

static void integer(struct sink *k, const struct spec *s, va_list *ap)
{
	const char *digits = s->conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
	unsigned base = s->conv == 'x' || s->conv == 'X' ? 16 : 10;
	char buf[24], *p = buf + sizeof(buf);
	bool negative = false;
	uintmax_t v;

	if (s->conv == 'd' || s->conv == 'i') {
		intmax_t x = signed_arg(s->len, ap);

		negative = x < 0;
		v = negative ? (uintmax_t)0 - (uintmax_t)x : (uintmax_t)x;
	} else {
		v = unsigned_arg(s->len, ap);
	}
	do
		*--p = digits[v % base];
	while ((v /= base) != 0);
	field(k, s, negative ? "-" : NULL, p, (size_t)(buf + sizeof(buf) - p));
}

int weft_vformat(char *out, size_t size, const char *fmt, va_list ap)
{
	struct sink k = { out, size, 0 };
	va_list args;

	if (!supported(fmt))
		return vsnprintf(out, size, fmt, ap);
	va_copy(args, ap);
	for (const char *p = fmt; *p;) {
		const char *lit = p;
		struct spec s;

		p = strchrnul(p, '%');
		put(&k, lit, (size_t)(p - lit));
		if (!*p)
			break;
		p++;
		if (*p == '%') {
			put(&k, "%", 1);
			p++;
			continue;
		}
		parse(&p, &s);
		if (s.width_arg) {
			s.width = va_arg(args, int);
			if (s.width < 0) {
				s.left = true;
				s.width = s.width == INT_MIN ? INT_MAX : -s.width;
			}
		}
		if (s.prec_arg)
			s.prec = va_arg(args, int); /* negative: as if none */
		if (s.conv == 's') {
			const char *str = va_arg(args, const char *);

			if (!str)
				str = s.prec < 0 || s.prec >= 6 ? "(null)" : "";
			field(&k, &s, NULL, str,
			      s.prec < 0 ? strlen(str) : strnlen(str, (size_t)s.prec));
		} else if (s.conv == 'c') {
			char c = (char)va_arg(args, int);

			field(&k, &s, NULL, &c, 1);
		} else {
			integer(&k, &s, &args);
		}
	}
	va_end(args);
	if (size)
		out[k.len < size ? k.len : size - 1] = '\0';
	return (int)k.len;
}

int weft_format(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = weft_vformat(out, size, fmt, ap);
	va_end(ap);
	return n;
}

void weft_copy(char *out, size_t size, const char *s)
{
	size_t n = s ? strnlen(s, size - 1) : 0;

	memcpy(out, s, n);
	out[n] = '\0';
}
