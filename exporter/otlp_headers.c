/*
 * Request headers of the otlp output: see otlp_headers.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/alloc.h"
#include "agent/log.h"
#include "exporter/otlp_headers.h"
#include "exporter/otlp_url.h"
#include "exporter/resource.h"

#define WEFT_OTLP_STR_(x) #x
#define WEFT_OTLP_STR(x)  WEFT_OTLP_STR_(x)

static const char *const reserved[] = { "content-type", "content-encoding", "content-length",
					"transfer-encoding", "expect" };

static bool header_token(const char *s)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if (!*s)
		return false;
	for (; *s; s++) {
		char ch = *s;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || (ch && strchr(extra, ch))))
			return false;
	}
	return true;
}

static bool header_value_ok(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return false;
	return true;
}

static void add_pair(const char *key, const char *value, void *arg)
{
	struct weft_otlp_headers *h = arg;

	if (!header_token(key) || !header_value_ok(value)) {
		h->ignored[WEFT_OTLP_HDR_INVALID]++;
		return;
	}
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		if (weft_otlp_eq_nocase(key, reserved[i])) {
			h->ignored[WEFT_OTLP_HDR_RESERVED]++;
			return;
		}
	}
	/* A later pair with the same name replaces an earlier one. */
	for (size_t i = 0; i < h->n; i++) {
		if (weft_otlp_eq_nocase(h->key[i], key)) {
			h->key[i] = key;
			h->value[i] = value;
			return;
		}
	}
	if (h->n == WEFT_OTLP_MAX_HEADERS) {
		h->ignored[WEFT_OTLP_HDR_TOO_MANY]++;
		return;
	}
	h->key[h->n] = key;
	h->value[h->n] = value;
	h->n++;
}

void weft_otlp_headers_problems(const struct weft_otlp_headers *h, const char *var, char *out,
				size_t outlen)
{
	static const char *const why[WEFT_OTLP_HDR_PROBLEMS] = {
		[WEFT_OTLP_HDR_NOT_PAIR] = "not key=value",
		[WEFT_OTLP_HDR_INVALID] = "not a valid HTTP header name or value",
		[WEFT_OTLP_HDR_RESERVED] = "a header weft sets itself",
		[WEFT_OTLP_HDR_TOO_MANY] =
			"over the limit of " WEFT_OTLP_STR(WEFT_OTLP_MAX_HEADERS) " headers",
	};
	size_t total = 0, o;
	int k = 0;

	out[0] = '\0';
	for (int i = 0; i < WEFT_OTLP_HDR_PROBLEMS; i++)
		total += h->ignored[i];
	if (!total)
		return;
	o = (size_t)snprintf(out, outlen, "%s: ignored %zu of %zu header item%s (", var, total,
			     h->items, h->items == 1 ? "" : "s");
	for (int i = 0; i < WEFT_OTLP_HDR_PROBLEMS && o < outlen; i++) {
		if (!h->ignored[i])
			continue;
		o += (size_t)snprintf(out + o, outlen - o, "%s%zu %s", k++ ? ", " : "",
				      h->ignored[i], why[i]);
	}
	if (o < outlen)
		snprintf(out + o, outlen - o, "); names and values are not shown");
}

/*
 * Items that are not key=value are dropped here, before the shared pair
 * parser sees them (it would print them), then each pair is checked.
 */
int weft_otlp_headers_parse(const char *raw, const char *var, struct weft_otlp_headers *h)
{
	size_t len = strlen(raw) + 2, o = 0;
	char *clean, msg[320];
	int err;

	if (!raw[0])
		return 0;
	clean = weft_alloc(len);
	h->buf = weft_alloc(len);
	if (!clean || !h->buf) {
		weft_free(clean);
		return -ENOMEM;
	}
	for (const char *q = raw; *q;) {
		size_t n = strcspn(q, ",");
		const char *eq = memchr(q, '=', n);
		size_t k = 0;

		while (k < n && (q[k] == ' ' || q[k] == '\t'))
			k++;
		if (n > k)
			h->items++;
		if (eq && q + k != eq) {
			if (o)
				clean[o++] = ',';
			memcpy(clean + o, q, n);
			o += n;
		} else if (n > k) {
			h->ignored[WEFT_OTLP_HDR_NOT_PAIR]++;
		}
		q += n;
		if (*q == ',')
			q++;
	}
	clean[o] = '\0';
	err = weft_resource_parse_pairs(clean, h->buf, len, add_pair, h);
	weft_free(clean);
	weft_otlp_headers_problems(h, var, msg, sizeof(msg));
	if (msg[0])
		weft_warn("%s", msg);
	return err;
}

void weft_otlp_headers_free(struct weft_otlp_headers *h)
{
	weft_free(h->buf);
	h->buf = NULL;
	h->n = 0;
}

static struct curl_slist *append_line(const struct weft_curl *c, struct curl_slist *list,
				      const char *key, const char *value, bool *ok)
{
	size_t n = strlen(key) + strlen(value) + 3;
	char *line = weft_alloc(n);
	struct curl_slist *l;

	if (!line) {
		*ok = false;
		return list;
	}
	/* "Name;" is how libcurl sends a header with an empty value. */
	if (value[0])
		snprintf(line, n, "%s: %s", key, value);
	else
		snprintf(line, n, "%s;", key);
	l = c->slist_append(list, line);
	weft_free(line);
	if (!l) {
		*ok = false;
		return list;
	}
	return l;
}

int weft_otlp_headers_list(const struct weft_curl *c, bool gzip,
			   const struct weft_otlp_headers *common,
			   const struct weft_otlp_headers *own, struct curl_slist **out)
{
	struct curl_slist *l = NULL;
	bool ok = true;

	l = append_line(c, l, "Content-Type", "application/x-protobuf", &ok);
	if (gzip)
		l = append_line(c, l, "Content-Encoding", "gzip", &ok);
	/* No "Expect: 100-continue" round trip before large bodies ("Name:" removes one). */
	if (ok) {
		struct curl_slist *e = c->slist_append(l, "Expect:");

		ok = e != NULL;
		l = e ? e : l;
	}
	for (size_t i = 0; i < common->n; i++) {
		bool overridden = false;

		for (size_t j = 0; j < own->n; j++)
			overridden |= weft_otlp_eq_nocase(common->key[i], own->key[j]);
		if (!overridden)
			l = append_line(c, l, common->key[i], common->value[i], &ok);
	}
	for (size_t j = 0; j < own->n; j++)
		l = append_line(c, l, own->key[j], own->value[j], &ok);
	*out = l;
	return ok ? 0 : -ENOMEM;
}
