/*
 * Endpoints of the otlp output: see otlp_url.h.
 */
#include <stdio.h>
#include <string.h>

#include "exporter/curl_dl.h"
#include "exporter/otlp_url.h"

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

bool weft_otlp_prefix_nocase(const char *s, size_t n, const char *prefix)
{
	size_t i;

	for (i = 0; prefix[i]; i++)
		if (i >= n || ascii_lower(s[i]) != ascii_lower(prefix[i]))
			return false;
	return true;
}

bool weft_otlp_eq_nocase(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (ascii_lower(*a) != ascii_lower(*b))
			return false;
	return *a == *b;
}

void weft_otlp_copy_trimmed(char *dst, size_t dstlen, const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

void weft_otlp_url_signal(const char *base, const char *own, const char *path, char *out,
			  size_t outlen, bool *from_own)
{
	size_t n;

	*from_own = own[0] != '\0';
	if (*from_own) {
		weft_otlp_copy_trimmed(out, outlen, own, strlen(own));
		return;
	}
	if (!base[0])
		base = WEFT_OTLP_DEFAULT_ENDPOINT;
	weft_otlp_copy_trimmed(out, outlen, base, strlen(base));
	n = strlen(out);
	while (n && out[n - 1] == '/')
		n--;
	snprintf(out + n, outlen - n, "/%s", path);
}

bool weft_otlp_url_same_origin(const char *a, const char *b)
{
	const char *ea = strstr(a, "://"), *eb = strstr(b, "://");
	size_t na, nb;

	if (!ea || !eb)
		return false;
	na = (size_t)(ea + 3 - a) + strcspn(ea + 3, "/?#");
	nb = (size_t)(eb + 3 - b) + strcspn(eb + 3, "/?#");
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return false;
	return true;
}

void weft_otlp_url_shown(const char *url, char *out, size_t outlen)
{
	const char *start = strstr(url, "://"), *at, *end;

	if (!start) {
		snprintf(out, outlen, "%s", url);
		return;
	}
	start += 3;
	end = start + strcspn(start, "/?#");
	at = memchr(start, '@', (size_t)(end - start));
	if (!at) {
		snprintf(out, outlen, "%s", url);
		return;
	}
	/* The last '@': a password may contain one only percent-encoded, but be safe. */
	while ((end = memchr(at + 1, '@', (size_t)(end - at - 1))) != NULL)
		at = end;
	snprintf(out, outlen, "%.*s%s", (int)(start - url), url, at + 1);
}

bool weft_otlp_url_valid(const struct weft_curl *c, const char *url, char *why, size_t wlen)
{
	size_t n = strlen(url), scheme;
	const char *host;

	if (weft_otlp_prefix_nocase(url, n, "http://")) {
		scheme = 7;
	} else if (weft_otlp_prefix_nocase(url, n, "https://")) {
		scheme = 8;
		if (c && !c->has_ssl) {
			snprintf(why, wlen, "https, but libcurl %s was built without TLS",
				 c->version);
			return false;
		}
	} else {
		snprintf(why, wlen, "not an http:// or https:// URL");
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)url[i];

		if (ch <= 0x20 || ch == 0x7f) {
			snprintf(why, wlen, "contains a blank or control character");
			return false;
		}
	}
	host = url + scheme;
	if (!*host || *host == '/' || *host == ':' || *host == '?' || *host == '#') {
		snprintf(why, wlen, "no host");
		return false;
	}
	if (c && c->url && c->url_set && c->url_cleanup) {
		CURLU *u = c->url();
		CURLUcode rc = u ? c->url_set(u, CURLUPART_URL, url, 0) : CURLUE_OK;

		if (u)
			c->url_cleanup(u);
		if (rc != CURLUE_OK) {
			snprintf(why, wlen, "not a valid URL (libcurl URL error %d)", (int)rc);
			return false;
		}
	}
	return true;
}
