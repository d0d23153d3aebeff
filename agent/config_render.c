/*
 * Configuration values back to text: what a warning says is being used,
 * written the way a user would write it, and the expansion of output path
 * patterns. Never allocates; every result is cut to its buffer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "agent/config_private.h"
#include "agent/format.h"

/* The largest unit that divides ns exactly: 90 s is "90s", 1.5 ms is "1500us". */
void weft_config_render_duration(uint64_t ns, char *buf, size_t len)
{
	if (ns == 0) {
		weft_format(buf, len, "0ms");
		return;
	}
	for (size_t i = weft_config_n_units; i-- > 0;) {
		if (ns % weft_config_units[i].ns == 0) {
			weft_format(buf, len, "%" PRIu64 "%s", ns / weft_config_units[i].ns,
				    weft_config_units[i].suffix);
			return;
		}
	}
}

static void render_words(const struct row *r, uint64_t v, char *buf, size_t len)
{
	const struct keyword *k;
	size_t n = 0;

	/*
	 * A keyword whose value is exactly the set is preferred ("none", "all");
	 * otherwise the single-bit keywords are joined with commas.
	 */
	for (k = r->words; k->name; k++) {
		if (k->value == v) {
			weft_format(buf, len, "%s", k->name);
			return;
		}
	}
	for (k = r->words; k->name && n < len; k++)
		if (k->value && !(k->value & (k->value - 1)) && (k->value & v))
			n += (size_t)weft_format(buf + n, len - n, "%s%s", n ? "," : "", k->name);
}

static void render_ratio(double d, char *buf, size_t len)
{
	uint64_t v = (uint64_t)(d * 1e6 + 0.5);
	size_t n;

	if (v >= 1000000 || v == 0) {
		weft_format(buf, len, "%s", v ? "1" : "0");
		return;
	}
	n = (size_t)weft_format(buf, len, "0.%06" PRIu64, v);
	while (n > 2 && n < len && buf[n - 1] == '0')
		buf[--n] = '\0';
}

void weft_config_render(const struct row *r, const void *field, char *buf, size_t len)
{
	bool text =
		r->kind == K_STR || r->kind == K_PAIRS || r->kind == K_REPORT || r->kind == K_HOST;
	uint64_t v =
		r->size && r->kind != K_RATIO && !text ? weft_config_load_uint(field, r->size) : 0;
	double d;

	buf[0] = '\0';
	switch (r->kind) {
	case K_BOOL:
		weft_format(buf, len, "%s", v ? "true" : "false");
		break;
	case K_STR:
	case K_PAIRS:
	case K_REPORT:
	case K_HOST:
		if (r->kind == K_REPORT && !*(const char *)field)
			weft_format(buf, len, "off");
		else if (!*(const char *)field)
			weft_format(buf, len, "\"\"");
		else if (r->secret)
			weft_format(buf, len, "<%zu bytes, not shown>", strlen(field));
		else
			weft_config_show((struct slice){ field, strlen(field) }, buf, len);
		break;
	case K_DURATION:
		weft_config_render_duration(v, buf, len);
		break;
	case K_UINT:
	case K_RING:
	case K_STACKS:
	case K_SIZE:
		weft_format(buf, len, "%" PRIu64, v);
		break;
	case K_RATIO:
		memcpy(&d, field, sizeof(d));
		render_ratio(d, buf, len);
		break;
	case K_ENUM:
	case K_LIST:
		render_words(r, v, buf, len);
		break;
	case K_PROTOCOL:
		weft_format(buf, len, "http/protobuf");
		break;
	}
}

/* Output path patterns. */

static void put(char *out, size_t outlen, size_t *o, char c)
{
	if (*o + 1 < outlen)
		out[(*o)++] = c;
}

static bool path_safe(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || weft_config_is_digit(c) ||
	       c == '.' || c == '_' || c == '+' || c == '-';
}

void weft_config_expand_path(const char *pattern, const char *service, int pid, char *out,
			     size_t outlen)
{
	char num[16];
	size_t o = 0;

	if (!outlen)
		return;
	if (!service || !*service)
		service = "unknown_service";
	for (const char *p = pattern; *p; p++) {
		if (*p != '%' || !p[1] || !strchr("pn%", p[1])) {
			put(out, outlen, &o, *p);
			continue;
		}
		p++;
		if (*p == '%') {
			put(out, outlen, &o, '%');
		} else if (*p == 'p') {
			weft_format(num, sizeof(num), "%d", pid);
			for (const char *q = num; *q; q++)
				put(out, outlen, &o, *q);
		} else {
			/* A name made only of dots would be "." or "..": a path step. */
			bool dots = strspn(service, ".") == strlen(service);

			for (const char *q = service; *q; q++)
				put(out, outlen, &o, path_safe(*q) && !dots ? *q : '_');
		}
	}
	out[o] = '\0';
}
