/*
 * Configuration from the environment.
 *
 * Every variable weft reads is one row of `rows` below: its name, how to
 * parse it, where the value goes in struct weft_config, and its default
 * written the way a user would write it. Loading walks the table once: each
 * row's default is parsed into place, then the variable, if it is set and not
 * blank (the OpenTelemetry specification treats an empty value as unset). A
 * value that does not parse leaves the default and produces exactly one line:
 *
 *	weft: VAR=value: reason; using default
 *
 * A few values are accepted with an adjustment (a ring size rounded up to a
 * power of two, a list with an unknown name dropped, a batch larger than its
 * queue); they also produce one line, whose `using` part shows what was kept.
 *
 * This code runs before main, in any thread, in a forked child: it never
 * allocates, takes no lock and ignores the locale (numbers and keywords are
 * parsed by hand, ASCII only). The environment is read through (pointer,
 * length) slices and never written to.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "agent/log.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define NSEC_PER_USEC UINT64_C(1000)
#define NSEC_PER_MSEC UINT64_C(1000000)
#define NSEC_PER_SEC UINT64_C(1000000000)

#define RING_MIN 2u
#define RING_MAX (1u << 20)
#define STACK_DEFAULT_DEPTH 16u
#define STACK_MAX_DEPTH 128u

/* A piece of a string that we may not modify. */
struct slice {
	const char *p;
	size_t n;
};

/* A name accepted by an enumeration or a list, and what it stands for. */
struct keyword {
	const char *name;
	unsigned value;
};

enum kind {
	K_BOOL,     /* bool */
	K_STR,      /* char[], stored verbatim */
	K_REPORT,   /* char[]: off, stderr or a path */
	K_DURATION, /* uint64_t nanoseconds */
	K_SIZE,     /* uint64_t bytes: a number with an optional unit (KB, MiB...) */
	K_UINT,     /* uint32_t within [min, max] */
	K_RING,     /* uint32_t power of two within [min, max], rounded up */
	K_STACKS,   /* uint32_t depth: off, on or a number */
	K_RATIO,    /* double in [0, 1] */
	K_ENUM,     /* one keyword */
	K_LIST,     /* comma list of keywords, or'ed together */
	K_PROTOCOL, /* nothing stored: only http/protobuf is accepted */
};

struct row {
	const char *name;
	enum kind kind;
	size_t off, size;     /* Of the field; size 0 means there is none. */
	const char *def;      /* As the user would write it; NULL: computed. */
	uint64_t min, max;    /* Bounds of K_UINT, K_RING and K_DURATION. */
	const struct keyword *words; /* K_ENUM and K_LIST, ending with a NULL name. */
	const char *what;     /* K_LIST: what one item is called in a warning. */
	bool secret;          /* Never print the value. */
};

static const struct keyword samplers[] = {
	{ "always_on", WEFT_SAMPLER_ALWAYS_ON },
	{ "always_off", WEFT_SAMPLER_ALWAYS_OFF },
	{ "traceidratio", WEFT_SAMPLER_TRACEIDRATIO },
	{ "parentbased_always_on", WEFT_SAMPLER_PARENT_ALWAYS_ON },
	{ "parentbased_always_off", WEFT_SAMPLER_PARENT_ALWAYS_OFF },
	{ "parentbased_traceidratio", WEFT_SAMPLER_PARENT_TRACEIDRATIO },
	{ NULL, 0 },
};

static const struct keyword compressions[] = {
	{ "none", 0 },
	{ "gzip", 1 },
	{ NULL, 0 },
};

static const struct keyword task_parents[] = {
	{ "link", WEFT_TASK_PARENT_LINK },
	{ "child", WEFT_TASK_PARENT_CHILD },
	{ NULL, 0 },
};

static const struct keyword log_levels[] = {
	{ "error", WEFT_LOG_ERROR },
	{ "warn", WEFT_LOG_WARN },
	{ "info", WEFT_LOG_INFO },
	{ "debug", WEFT_LOG_DEBUG },
	{ NULL, 0 },
};

/*
 * In lists, a keyword whose value is exactly the set is preferred when the set
 * is printed back ("none", "all"); otherwise the single-bit keywords are
 * joined with commas.
 */
static const struct keyword exporters[] = {
	{ "none", 0 },
	{ "otlp", WEFT_OUT_OTLP },
	{ "file", WEFT_OUT_FILE },
	{ "console", WEFT_OUT_CONSOLE },
	{ NULL, 0 },
};

static const struct keyword hook_families[] = {
	{ "all", WEFT_HOOK_ALL },
	{ "thread", WEFT_HOOK_THREAD },
	{ "mutex", WEFT_HOOK_MUTEX },
	{ "rwlock", WEFT_HOOK_RWLOCK },
	{ "cond", WEFT_HOOK_COND },
	{ "sem", WEFT_HOOK_SEM },
	{ "fd", WEFT_HOOK_FD },
	{ "socket", WEFT_HOOK_SOCKET },
	{ "poll", WEFT_HOOK_POLL },
	{ "process", WEFT_HOOK_PROCESS },
	{ NULL, 0 },
};

#define FIELD(f) \
	.off = offsetof(struct weft_config, f), .size = sizeof(((struct weft_config *)0)->f)

#define BOOL(v, f, d) { .name = v, .kind = K_BOOL, FIELD(f), .def = d }
#define STR(v, f) { .name = v, .kind = K_STR, FIELD(f), .def = "" }
#define SECRET(v, f) { .name = v, .kind = K_STR, FIELD(f), .def = "", .secret = true }
#define PATH(v, f, d) { .name = v, .kind = K_STR, FIELD(f), .def = d }
#define REPORT(v, f, d) { .name = v, .kind = K_REPORT, FIELD(f), .def = d }
#define DURATION(v, f, d, lo) \
	{ .name = v, .kind = K_DURATION, FIELD(f), .def = d, .min = lo, .max = UINT64_MAX }
#define UINT(v, f, d, lo, hi) \
	{ .name = v, .kind = K_UINT, FIELD(f), .def = d, .min = lo, .max = hi }
#define SIZE(v, f, d, lo, hi) \
	{ .name = v, .kind = K_SIZE, FIELD(f), .def = d, .min = lo, .max = hi }
#define RING(v, f, d) \
	{ .name = v, .kind = K_RING, FIELD(f), .def = d, .min = RING_MIN, .max = RING_MAX }
#define STACKS(v, f, d) { .name = v, .kind = K_STACKS, FIELD(f), .def = d }
#define RATIO(v, f, d) { .name = v, .kind = K_RATIO, FIELD(f), .def = d }
#define ENUM(v, f, d, w) { .name = v, .kind = K_ENUM, FIELD(f), .def = d, .words = w }
#define LIST(v, f, d, w, item) \
	{ .name = v, .kind = K_LIST, FIELD(f), .def = d, .words = w, .what = item }
#define PROTOCOL(v) { .name = v, .kind = K_PROTOCOL, .def = "http/protobuf" }

/*
 * The table. Order matters in one place: the exporter rows have a computed
 * default (otlp when an endpoint was configured, else file), so they come
 * after the three endpoint rows.
 */
static const struct row rows[] = {
	BOOL("OTEL_SDK_DISABLED", sdk_disabled, "false"),
	STR("OTEL_SERVICE_NAME", service_name),
	STR("OTEL_RESOURCE_ATTRIBUTES", resource_attrs),
	STR("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
	STR("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces_endpoint),
	STR("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", metrics_endpoint),
	LIST("OTEL_TRACES_EXPORTER", traces_out, NULL, exporters, "exporter"),
	LIST("OTEL_METRICS_EXPORTER", metrics_out, NULL, exporters, "exporter"),
	SECRET("OTEL_EXPORTER_OTLP_HEADERS", headers),
	SECRET("OTEL_EXPORTER_OTLP_TRACES_HEADERS", traces_headers),
	SECRET("OTEL_EXPORTER_OTLP_METRICS_HEADERS", metrics_headers),
	STR("OTEL_EXPORTER_OTLP_CERTIFICATE", certificate),
	DURATION("OTEL_EXPORTER_OTLP_TIMEOUT", otlp_timeout_ns, "10s", 1),
	ENUM("OTEL_EXPORTER_OTLP_COMPRESSION", gzip, "none", compressions),
	PROTOCOL("OTEL_EXPORTER_OTLP_PROTOCOL"),
	PROTOCOL("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"),
	PROTOCOL("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"),
	ENUM("OTEL_TRACES_SAMPLER", sampler, "parentbased_always_on", samplers),
	RATIO("OTEL_TRACES_SAMPLER_ARG", sampler_ratio, "1.0"),
	DURATION("OTEL_BSP_SCHEDULE_DELAY", bsp_schedule_delay_ns, "5s", 1),
	UINT("OTEL_BSP_MAX_QUEUE_SIZE", bsp_max_queue, "2048", 1, 1u << 20),
	UINT("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", bsp_max_batch, "512", 1, 1u << 20),
	DURATION("OTEL_BSP_EXPORT_TIMEOUT", bsp_export_timeout_ns, "30s", 1),
	DURATION("OTEL_METRIC_EXPORT_INTERVAL", metric_interval_ns, "60s", 1),
	DURATION("OTEL_METRIC_EXPORT_TIMEOUT", metric_timeout_ns, "30s", 1),
	UINT("OTEL_SPAN_LINK_COUNT_LIMIT", span_link_limit, "128", 0, 1u << 16),
	UINT("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", span_attr_limit, "128", 0, 1u << 16),
	STR("TRACEPARENT", traceparent),
	PATH("WEFT_OUTPUT", output_path, "weft-%n-%p.jsonl"),
	REPORT("WEFT_REPORT", report, "off"),
	DURATION("WEFT_EXIT_TIMEOUT", exit_timeout_ns, "1s", 1),
	SIZE("WEFT_OUTPUT_MAX_SIZE", output_max_size, "100MB", 0, UINT64_MAX),
	DURATION("WEFT_SPAN_MIN_WAIT", span_min_wait_ns, "1ms", 0),
	ENUM("WEFT_TASK_PARENT", task_parent, "link", task_parents),
	STACKS("WEFT_STACKS", stack_depth, "on"),
	UINT("WEFT_HOLD_SAMPLE", hold_sample, "64", 0, 1u << 20),
	RING("WEFT_RING_SIZE", ring_size, "1024"),
	UINT("WEFT_CARDINALITY_LIMIT", cardinality_limit, "500", 2, 1u << 20),
	BOOL("WEFT_CAPTURE_ARGS", capture_args, "true"),
	ENUM("WEFT_LOG_LEVEL", log_level, "warn", log_levels),
	LIST("WEFT_HOOKS", hooks, "all", hook_families, "hook family"),
};

/* Strings. */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static struct slice trim(const char *p, size_t n)
{
	while (n && is_space(*p))
		p++, n--;
	while (n && is_space(p[n - 1]))
		n--;
	return (struct slice){ p, n };
}

/* ASCII case-insensitive equality with a NUL-terminated word. */
static bool eq(struct slice s, const char *word)
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
		if (eq(s, words->name))
			return words;
	return NULL;
}

/*
 * Copies s into buf for a warning, at most 64 bytes, with control characters
 * replaced so the warning stays on one line.
 */
static void show(struct slice s, char *buf, size_t len)
{
	size_t max = 64, i;

	for (i = 0; i < s.n && i < max && i + 4 < len; i++)
		buf[i] = (unsigned char)s.p[i] < 0x20 || s.p[i] == 0x7f ? '?' : s.p[i];
	if (i < s.n && i + 4 <= len)
		memcpy(buf + i, "...", 3), i += 3;
	buf[i] = '\0';
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

		if (!is_digit(s.p[i]))
			return -EINVAL;
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static const struct {
	const char *suffix;
	uint64_t ns;
} units[] = {
	/* Smallest first; render() walks it backwards and so prints "us", not "µs". */
	{ "ns", 1 },
	{ "\xc2\xb5s", NSEC_PER_USEC },
	{ "us", NSEC_PER_USEC },
	{ "ms", NSEC_PER_MSEC },
	{ "s", NSEC_PER_SEC },
	{ "m", 60 * NSEC_PER_SEC },
	{ "h", 3600 * NSEC_PER_SEC },
};

/* A whole number and an optional unit; no unit means milliseconds. */
/* Byte units for K_SIZE; decimal and binary, as people write them. */
static const struct {
	const char *suffix;
	uint64_t bytes;
} size_units[] = {
	{ "B", 1 },
	{ "KB", 1000 },
	{ "MB", 1000 * 1000 },
	{ "GB", 1000 * 1000 * 1000 },
	{ "KiB", 1024 },
	{ "MiB", 1024 * 1024 },
	{ "GiB", 1024 * 1024 * 1024 },
};

static int parse_size(struct slice s, uint64_t *out)
{
	size_t digits = 0, i;
	uint64_t v, mul = 1;
	int r;

	s = trim(s.p, s.n);
	while (digits < s.n && is_digit(s.p[digits]))
		digits++;
	r = parse_u64((struct slice){ s.p, digits }, &v);
	if (r < 0)
		return r;
	s = trim(s.p + digits, s.n - digits);
	if (s.n) {
		for (i = 0; i < ARRAY_SIZE(size_units); i++)
			if (eq(s, size_units[i].suffix))
				break;
		if (i == ARRAY_SIZE(size_units))
			return -EINVAL;
		mul = size_units[i].bytes;
	}
	if (v > UINT64_MAX / mul)
		return -ERANGE;
	*out = v * mul;
	return 0;
}

static int parse_duration(struct slice s, uint64_t *out_ns)
{
	size_t digits = 0;
	uint64_t v, mul = NSEC_PER_MSEC;
	int r;

	s = trim(s.p, s.n);
	while (digits < s.n && is_digit(s.p[digits]))
		digits++;
	r = parse_u64((struct slice){ s.p, digits }, &v);
	if (r < 0)
		return r;
	s = trim(s.p + digits, s.n - digits);
	if (s.n) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(units); i++)
			if (eq(s, units[i].suffix))
				break;
		if (i == ARRAY_SIZE(units))
			return -EINVAL;
		mul = units[i].ns;
	}
	if (v > UINT64_MAX / mul)
		return -ERANGE;
	*out_ns = v * mul;
	return 0;
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

	for (; i < s.n && is_digit(s.p[i]); i++, ndigits++) {
		if (mant >= UINT64_C(100000000000000000))
			return -ERANGE;
		mant = mant * 10 + (uint64_t)(s.p[i] - '0');
	}
	if (i < s.n && s.p[i] == '.') {
		for (i++; i < s.n && is_digit(s.p[i]); i++, ndigits++) {
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
		for (start = i; i < s.n && is_digit(s.p[i]); i++)
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

static void store_uint(void *field, size_t size, uint64_t v)
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

static uint64_t load_uint(const void *field, size_t size)
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

	s = trim(s.p, s.n);
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (eq(s, yes[i]) || eq(s, no[i])) {
			*out = eq(s, yes[i]);
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_list(const struct row *r, void *field, struct slice s, char *why, size_t wlen)
{
	unsigned set = 0, valid = 0, unknown = 0;
	char first[48] = "";
	size_t start = 0;

	/* Items are separated by commas; empty items are skipped. */
	while (start <= s.n) {
		const char *comma = memchr(s.p + start, ',', s.n - start);
		size_t stop = comma ? (size_t)(comma - s.p) : s.n;
		struct slice item = trim(s.p + start, stop - start);
		const struct keyword *k = lookup(r->words, item);

		if (k) {
			set |= k->value;
			valid++;
		} else if (item.n) {
			if (!unknown)
				show(item, first, sizeof(first));
			unknown++;
		}
		start = stop + 1;
	}
	if (!valid && !unknown) {
		snprintf(why, wlen, "empty list");
		return -EINVAL;
	}
	if (unknown) {
		int n = snprintf(why, wlen, "unknown %s \"%s\"", r->what, first);

		if (unknown > 1 && n > 0 && (size_t)n < wlen)
			snprintf(why + n, wlen - (size_t)n, " and %u more", unknown - 1);
	}
	if (!valid)
		return -EINVAL;
	store_uint(field, r->size, set);
	return unknown ? 1 : 0;
}

static int parse_enum(const struct row *r, void *field, struct slice s, char *why, size_t wlen)
{
	const struct keyword *k = lookup(r->words, s);
	size_t n;

	if (k) {
		store_uint(field, r->size, k->value);
		return 0;
	}
	n = (size_t)snprintf(why, wlen, "expected one of");
	for (k = r->words; k->name && n < wlen; k++)
		n += (size_t)snprintf(why + n, wlen - n, "%s %s", k == r->words ? "" : ",",
				      k->name);
	return -EINVAL;
}

static int parse_row(const struct row *r, void *field, const char *raw, char *why, size_t wlen)
{
	struct slice all = { raw, strlen(raw) };
	struct slice s = trim(all.p, all.n);
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
		store_uint(field, r->size, b);
		return 0;
	case K_STR:
		return store_str(r, field, all, why, wlen);
	case K_REPORT:
		if (eq(s, "off") || eq(s, "0"))
			all = (struct slice){ "", 0 };
		else if (eq(s, "stderr"))
			all = (struct slice){ "stderr", 6 };
		return store_str(r, field, all, why, wlen);
	case K_DURATION:
		err = parse_duration(s, &v);
		if (err == -ERANGE) {
			snprintf(why, wlen, "too large");
			return -EINVAL;
		}
		if (err < 0) {
			snprintf(why, wlen,
				 "not a duration (like 250us, 5ms, 2s, 1m; no unit is ms)");
			return -EINVAL;
		}
		if (v < r->min) {
			snprintf(why, wlen, "must be greater than zero");
			return -EINVAL;
		}
		store_uint(field, r->size, v);
		return 0;
	case K_SIZE:
		err = parse_size(s, &v);
		if (err == -EINVAL) {
			snprintf(why, wlen, "not a size (like 100MB, 64KiB; no unit is bytes)");
			return -EINVAL;
		}
		if (err < 0 || v < r->min || v > r->max) {
			snprintf(why, wlen, "out of range (%" PRIu64 "..%" PRIu64 " bytes)",
				 r->min, r->max);
			return -EINVAL;
		}
		store_uint(field, r->size, v);
		return 0;
	case K_UINT:
	case K_RING:
		err = parse_u64(s, &v);
		if (err == -EINVAL) {
			snprintf(why, wlen, "not a whole number");
			return -EINVAL;
		}
		if (err < 0 || v < r->min || v > r->max) {
			snprintf(why, wlen, "out of range (%" PRIu64 "..%" PRIu64 ")", r->min,
				 r->max);
			return -EINVAL;
		}
		if (r->kind == K_RING && (v & (v - 1))) {
			/* The bounds are powers of two, so this stays within them. */
			uint64_t p = r->min;

			while (p < v)
				p <<= 1;
			store_uint(field, r->size, p);
			snprintf(why, wlen, "not a power of two, rounded up");
			return 1;
		}
		store_uint(field, r->size, v);
		return 0;
	case K_STACKS:
		if (bool_value(s, &b) == 0) {
			store_uint(field, r->size, b ? STACK_DEFAULT_DEPTH : 0);
			return 0;
		}
		if (parse_u64(s, &v) == 0 && v >= 2 && v <= STACK_MAX_DEPTH) {
			store_uint(field, r->size, v);
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
	case K_PROTOCOL:
		if (eq(s, "http/protobuf"))
			return 0;
		snprintf(why, wlen, "not supported, weft uses http/protobuf");
		return -EINVAL;
	}
	return -EINVAL;
}

/* Writes the field's current value the way a user would write it. */
static void render(const struct row *r, const void *field, char *buf, size_t len)
{
	uint64_t v = r->size && r->kind != K_RATIO && r->kind != K_STR && r->kind != K_REPORT
			     ? load_uint(field, r->size)
			     : 0;
	const struct keyword *k;
	size_t n = 0;
	double d;

	buf[0] = '\0';
	switch (r->kind) {
	case K_BOOL:
		snprintf(buf, len, "%s", v ? "true" : "false");
		break;
	case K_STR:
	case K_REPORT:
		if (r->kind == K_REPORT && !*(const char *)field)
			snprintf(buf, len, "off");
		else if (!*(const char *)field)
			snprintf(buf, len, "\"\"");
		else
			show((struct slice){ field, strlen(field) }, buf, len);
		break;
	case K_DURATION:
		if (v == 0) {
			snprintf(buf, len, "0ms");
			break;
		}
		for (size_t i = ARRAY_SIZE(units); i-- > 0;) {
			if (v % units[i].ns == 0) {
				snprintf(buf, len, "%" PRIu64 "%s", v / units[i].ns,
					 units[i].suffix);
				break;
			}
		}
		break;
	case K_UINT:
	case K_RING:
	case K_STACKS:
	case K_SIZE:
		snprintf(buf, len, "%" PRIu64, v);
		break;
	case K_RATIO:
		memcpy(&d, field, sizeof(d));
		v = (uint64_t)(d * 1e6 + 0.5);
		if (v >= 1000000 || v == 0) {
			snprintf(buf, len, "%s", v ? "1" : "0");
		} else {
			n = (size_t)snprintf(buf, len, "0.%06" PRIu64, v);
			while (n > 2 && n < len && buf[n - 1] == '0')
				buf[--n] = '\0';
		}
		break;
	case K_ENUM:
	case K_LIST:
		for (k = r->words; k->name; k++) {
			if (k->value == v) {
				snprintf(buf, len, "%s", k->name);
				return;
			}
		}
		for (k = r->words; k->name && n < len; k++)
			if (k->value && !(k->value & (k->value - 1)) && (k->value & v))
				n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "",
						      k->name);
		break;
	case K_PROTOCOL:
		snprintf(buf, len, "http/protobuf");
		break;
	}
}

/* Loading. */

struct loader {
	struct weft_config *cfg;
	void (*warn)(const char *line);
};

static void emit(const struct loader *l, const struct row *r, const char *raw, const char *why)
{
	char value[80], using[160], line[640];
	size_t n = strlen(raw);

	if (r->secret)
		snprintf(value, sizeof(value), "<%zu bytes, not shown>", n);
	else
		show((struct slice){ raw, n }, value, sizeof(value));
	render(r, (const char *)l->cfg + r->off, using, sizeof(using));
	snprintf(line, sizeof(line), "weft: %s=%s: %s; using %s", r->name, value, why, using);
	if (l->warn)
		l->warn(line);
	else
		weft_log(WEFT_LOG_WARN, "%s", line + 6);
}

static void apply_default(const struct weft_config *cfg, const struct row *r, void *field)
{
	const char *def = r->def;
	char why[256];

	/* Only the exporter lists have no fixed default. */
	if (!def)
		def = cfg->endpoint[0] || cfg->traces_endpoint[0] || cfg->metrics_endpoint[0]
			      ? "otlp"
			      : "file";
	parse_row(r, field, def, why, sizeof(why));
}

static const struct row *find_row(size_t off)
{
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		if (rows[i].size && rows[i].off == off)
			return &rows[i];
	return NULL;
}

void weft_config_load_from(struct weft_config *cfg, const char *(*get)(const char *name),
			   void (*warn)(const char *line))
{
	const struct loader l = { cfg, warn };
	const struct row *batch = find_row(offsetof(struct weft_config, bsp_max_batch));
	const char *batch_raw = NULL;
	char why[256];

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct row *r = &rows[i];
		void *field = (char *)cfg + r->off;
		const char *raw;
		int err;

		apply_default(cfg, r, field);
		raw = get(r->name);
		if (!raw || !trim(raw, strlen(raw)).n)
			continue;
		err = parse_row(r, field, raw, why, sizeof(why));
		if (err)
			emit(&l, r, raw, why);
		if (err >= 0 && r == batch)
			batch_raw = raw;
	}

	/*
	 * The specification requires a batch no larger than the queue. A default
	 * batch shrinks silently under a small queue; one the user asked for is
	 * reported.
	 */
	if (cfg->bsp_max_batch > cfg->bsp_max_queue) {
		cfg->bsp_max_batch = cfg->bsp_max_queue;
		if (batch_raw) {
			snprintf(why, sizeof(why),
				 "larger than OTEL_BSP_MAX_QUEUE_SIZE (%" PRIu32 ")",
				 cfg->bsp_max_queue);
			emit(&l, batch, batch_raw, why);
		}
	}
	/* The exit budget is part of the export timeout, never more. */
	if (cfg->exit_timeout_ns > cfg->bsp_export_timeout_ns)
		cfg->exit_timeout_ns = cfg->bsp_export_timeout_ns;
}

static const char *env_get(const char *name)
{
	return getenv(name);
}

void weft_config_load(struct weft_config *cfg)
{
	weft_config_load_from(cfg, env_get, NULL);
}

int weft_config_parse_duration(const char *s, uint64_t *out_ns)
{
	return parse_duration((struct slice){ s, strlen(s) }, out_ns) < 0 ? -EINVAL : 0;
}

int weft_config_parse_bool(const char *s, bool *out)
{
	return bool_value((struct slice){ s, strlen(s) }, out);
}

static void put(char *out, size_t outlen, size_t *o, char c)
{
	if (*o + 1 < outlen)
		out[(*o)++] = c;
}

static bool path_safe(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' ||
	       c == '_' || c == '+' || c == '-';
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
			snprintf(num, sizeof(num), "%d", pid);
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
