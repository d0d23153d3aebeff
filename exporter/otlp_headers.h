/*
 * Request headers of the otlp output: OTEL_EXPORTER_OTLP_HEADERS and the
 * per-signal OTEL_EXPORTER_OTLP_<SIGNAL>_HEADERS, each `key=value,...` with
 * percent-decoded values, as the OpenTelemetry exporter specification says.
 *
 * A signal's list is weft's own headers (Content-Type, Content-Encoding when
 * gzip, an empty Expect), then the common variable's headers except those
 * whose name the signal's variable also sets (case-insensitively), then the
 * signal's. Within one variable a later item replaces an earlier one of the
 * same name.
 *
 * Header names and values are often credentials, so they are never printed.
 * Each variable holding items that cannot be used gets one `weft:` line
 * saying how many of its items were ignored and why (not key=value, not a
 * valid HTTP header name or value, a header weft sets itself, over the limit
 * of WEFT_OTLP_MAX_HEADERS), however many such items it holds.
 */
#ifndef WEFT_EXPORTER_OTLP_HEADERS_H
#define WEFT_EXPORTER_OTLP_HEADERS_H

#include <stdbool.h>
#include <stddef.h>

#include "exporter/curl_dl.h"

#define WEFT_OTLP_MAX_HEADERS 64

/* Why items of a variable were ignored. */
enum weft_otlp_header_problem {
	WEFT_OTLP_HDR_NOT_PAIR, /* not key=value */
	WEFT_OTLP_HDR_INVALID,  /* not a valid HTTP header name or value */
	WEFT_OTLP_HDR_RESERVED, /* a header weft sets itself */
	WEFT_OTLP_HDR_TOO_MANY, /* more than WEFT_OTLP_MAX_HEADERS */
	WEFT_OTLP_HDR_PROBLEMS,
};

/* The usable headers of one variable; key and value point into buf. */
struct weft_otlp_headers {
	const char *key[WEFT_OTLP_MAX_HEADERS];
	const char *value[WEFT_OTLP_MAX_HEADERS];
	size_t n;
	size_t items;                           /* items the variable held */
	size_t ignored[WEFT_OTLP_HDR_PROBLEMS]; /* by reason */
	char *buf;
};

/*
 * Parses raw (the value of variable var) into h, which starts zeroed, and
 * prints at most one `weft:` line about it. Returns 0 or -ENOMEM.
 */
int weft_otlp_headers_parse(const char *raw, const char *var, struct weft_otlp_headers *h);

/* The message about h's ignored items into out ("" when none were). */
void weft_otlp_headers_problems(const struct weft_otlp_headers *h, const char *var, char *out,
				size_t outlen);

void weft_otlp_headers_free(struct weft_otlp_headers *h);

/*
 * A signal's libcurl header list (see the top of this file) into *out.
 * Returns 0 or -ENOMEM (and then *out is whatever was built, to be leaked or
 * freed by the caller).
 */
int weft_otlp_headers_list(const struct weft_curl *c, bool gzip,
			   const struct weft_otlp_headers *common,
			   const struct weft_otlp_headers *own, struct curl_slist **out);

#endif
