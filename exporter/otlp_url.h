/*
 * Where each signal goes, as the OpenTelemetry protocol exporter
 * specification says: OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT used exactly as
 * given, else OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318)
 * with its trailing slashes removed and `/v1/<signal>` appended. Also the
 * URL as messages show it (without a user:password@ part), the check that a
 * URL is an http(s) URL libcurl accepts, and the small locale-free string
 * helpers the otlp_* files share.
 */
#ifndef WEFT_EXPORTER_OTLP_URL_H
#define WEFT_EXPORTER_OTLP_URL_H

#include <stdbool.h>
#include <stddef.h>

struct weft_curl;

#define WEFT_OTLP_DEFAULT_ENDPOINT "http://localhost:4318"

/* ASCII case-insensitive: s[0..n) starts with prefix; a equals b. */
bool weft_otlp_prefix_nocase(const char *s, size_t n, const char *prefix);
bool weft_otlp_eq_nocase(const char *a, const char *b);

/* Copies s[0..n) into dst (always terminated) without surrounding blanks or CR LF. */
void weft_otlp_copy_trimmed(char *dst, size_t dstlen, const char *s, size_t n);

/*
 * The signal's URL into out: `own` as given when set, else `base` (or the
 * default endpoint) joined to `path` ("v1/traces") with exactly one slash.
 * *from_own says which variable it came from, for messages.
 */
void weft_otlp_url_signal(const char *base, const char *own, const char *path, char *out,
			  size_t outlen, bool *from_own);

/* Whether two URLs have the same scheme, host and port (case-insensitively). */
bool weft_otlp_url_same_origin(const char *a, const char *b);

/* The URL for messages: any user:password@ removed. */
void weft_otlp_url_shown(const char *url, char *out, size_t outlen);

/*
 * Whether url is an http(s) URL with a host that libcurl c accepts (c may be
 * NULL: the syntax only); why not, in why.
 */
bool weft_otlp_url_valid(const struct weft_curl *c, const char *url, char *why, size_t wlen);

#endif
