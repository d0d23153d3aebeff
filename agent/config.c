/*
 * Configuration from the environment: the table of options and its loader.
 *
 * Every variable weft reads is one row of `rows` below: its name, how to
 * parse it, where the value goes in struct weft_config, its default written
 * the way a user would write it and, for durations, the range it must fall
 * in. Loading walks the table once: each row's default is parsed into place,
 * then the variable, if it is set and not blank (the OpenTelemetry
 * specification treats an empty value as unset). A value that does not parse
 * leaves the default and produces exactly one line:
 *
 *	weft: VAR=value: reason; using default
 *
 * A few values are accepted with an adjustment (a duration out of its range
 * clamped to the nearer bound, a ring size rounded up to a power of two, a
 * list with an unknown name dropped, a batch larger than its queue); they
 * also produce one line, whose `using` part shows what was kept. The value is
 * shown escaped and cut (weft_log_escape); a secret one (headers) only by its
 * length. One variable never produces more than one line.
 *
 * The parsers are in config_parse.c, the rendering of values back to text in
 * config_render.c. This code runs before main, in any thread, in a forked
 * child: it never allocates, takes no lock and never writes the environment.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/config_private.h"
#include "agent/log.h"

_Static_assert(WEFT_CONFIG_HOT_END <= 4096, "the configuration's first part fits a page");

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
	{ "prometheus", WEFT_OUT_PROMETHEUS },
	{ NULL, 0 },
};

static const struct keyword hook_families[] = {
	{ "all", WEFT_HOOK_ALL },     { "thread", WEFT_HOOK_THREAD },
	{ "mutex", WEFT_HOOK_MUTEX }, { "rwlock", WEFT_HOOK_RWLOCK },
	{ "cond", WEFT_HOOK_COND },   { "sem", WEFT_HOOK_SEM },
	{ "fd", WEFT_HOOK_FD },       { "socket", WEFT_HOOK_SOCKET },
	{ "poll", WEFT_HOOK_POLL },   { "process", WEFT_HOOK_PROCESS },
	{ "sleep", WEFT_HOOK_SLEEP }, { NULL, 0 },
};

#define FIELD(f)                                                                                   \
	.off = offsetof(struct weft_config, f), .size = sizeof(((struct weft_config *)0)->f)

/* clang-format off */
#define BOOL(v, f, d) { .name = v, .kind = K_BOOL, FIELD(f), .def = d }
#define STR(v, f) { .name = v, .kind = K_STR, FIELD(f), .def = "" }
#define PAIRS(v, f) { .name = v, .kind = K_PAIRS, FIELD(f), .def = "" }
#define SECRET(v, f) { .name = v, .kind = K_STR, FIELD(f), .def = "", .secret = true }
#define PATH(v, f, d) { .name = v, .kind = K_STR, FIELD(f), .def = d }
#define HOST(v, f, d) { .name = v, .kind = K_HOST, FIELD(f), .def = d }
#define REPORT(v, f, d) { .name = v, .kind = K_REPORT, FIELD(f), .def = d }
#define DURATION(v, f, d, lo, hi) \
	{ .name = v, .kind = K_DURATION, FIELD(f), .def = d, .min = lo, .max = hi }
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
/* clang-format on */

#define MS   NSEC_PER_MSEC
#define HOUR NSEC_PER_HOUR

/*
 * The table. Order matters in one place: the exporter rows have a computed
 * default (otlp when an endpoint was configured, else file), so they come
 * after the three endpoint rows.
 *
 * Every duration has a range. Below it, a period or a timeout makes the
 * exporter spin; above it, a deadline computed from it would overflow. An
 * hour is longer than any useful export period or request; metrics are not
 * worth collecting more than a hundred times a second.
 */
static const struct row rows[] = {
	BOOL("OTEL_SDK_DISABLED", sdk_disabled, "false"),
	STR("OTEL_SERVICE_NAME", service_name),
	PAIRS("OTEL_RESOURCE_ATTRIBUTES", resource_attrs),
	STR("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
	STR("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces_endpoint),
	STR("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", metrics_endpoint),
	LIST("OTEL_TRACES_EXPORTER", traces_out, NULL, exporters, "exporter"),
	LIST("OTEL_METRICS_EXPORTER", metrics_out, NULL, exporters, "exporter"),
	SECRET("OTEL_EXPORTER_OTLP_HEADERS", headers),
	SECRET("OTEL_EXPORTER_OTLP_TRACES_HEADERS", traces_headers),
	SECRET("OTEL_EXPORTER_OTLP_METRICS_HEADERS", metrics_headers),
	STR("OTEL_EXPORTER_OTLP_CERTIFICATE", certificate),
	DURATION("OTEL_EXPORTER_OTLP_TIMEOUT", otlp_timeout_ns, "10s", 1 * MS, 1 * HOUR),
	ENUM("OTEL_EXPORTER_OTLP_COMPRESSION", gzip, "none", compressions),
	PROTOCOL("OTEL_EXPORTER_OTLP_PROTOCOL"),
	PROTOCOL("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"),
	PROTOCOL("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"),
	ENUM("OTEL_TRACES_SAMPLER", sampler, "parentbased_always_on", samplers),
	RATIO("OTEL_TRACES_SAMPLER_ARG", sampler_ratio, "1.0"),
	DURATION("OTEL_BSP_SCHEDULE_DELAY", bsp_schedule_delay_ns, "5s", 1 * MS, 1 * HOUR),
	UINT("OTEL_BSP_MAX_QUEUE_SIZE", bsp_max_queue, "2048", 1, 1u << 20),
	UINT("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", bsp_max_batch, "512", 1, 1u << 20),
	DURATION("OTEL_BSP_EXPORT_TIMEOUT", bsp_export_timeout_ns, "30s", 1 * MS, 1 * HOUR),
	DURATION("OTEL_METRIC_EXPORT_INTERVAL", metric_interval_ns, "60s", 10 * MS, 1 * HOUR),
	DURATION("OTEL_METRIC_EXPORT_TIMEOUT", metric_timeout_ns, "30s", 1 * MS, 1 * HOUR),
	UINT("OTEL_SPAN_LINK_COUNT_LIMIT", span_link_limit, "128", 0, 1u << 16),
	UINT("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", span_attr_limit, "128", 0, 1u << 16),
	STR("TRACEPARENT", traceparent),
	HOST("OTEL_EXPORTER_PROMETHEUS_HOST", prometheus_host, "localhost"),
	UINT("OTEL_EXPORTER_PROMETHEUS_PORT", prometheus_port, "9464", 1, 65535),
	PATH("WEFT_OUTPUT", output_path, "weft-%n-%p.jsonl"),
	REPORT("WEFT_REPORT", report, "off"),
	DURATION("WEFT_EXIT_TIMEOUT", exit_timeout_ns, "1s", 1 * MS, 1 * HOUR),
	SIZE("WEFT_OUTPUT_MAX_SIZE", output_max_size, "100MB", 0, UINT64_MAX),
	DURATION("WEFT_SPAN_MIN_WAIT", span_min_wait_ns, "1ms", 0, 1 * HOUR),
	DURATION("WEFT_STUCK_AFTER", stuck_after_ns, "10s", 1 * MS, 24 * HOUR),
	BOOL("WEFT_LOCK_ORDER", lock_order, "false"),
	ENUM("WEFT_TASK_PARENT", task_parent, "link", task_parents),
	STACKS("WEFT_STACKS", stack_depth, "on"),
	UINT("WEFT_HOLD_SAMPLE", hold_sample, "256", 0, 1u << 20),
	RING("WEFT_RING_SIZE", ring_size, "1024"),
	UINT("WEFT_CARDINALITY_LIMIT", cardinality_limit, "500", 2, 1u << 20),
	BOOL("WEFT_CAPTURE_ARGS", capture_args, "false"),
	ENUM("WEFT_LOG_LEVEL", log_level, "warn", log_levels),
	LIST("WEFT_HOOKS", hooks, "all", hook_families, "hook family"),
};

/* Loading. */

/* A reason may quote one escaped item. */
#define WHY_SIZE (WEFT_LOG_ESCAPED_SIZE + 128)

struct loader {
	struct weft_config *cfg;
	void (*warn)(const char *line);
};

static void emit(const struct loader *l, const struct row *r, const char *raw, const char *why)
{
	char value[WEFT_LOG_ESCAPED_SIZE], using[WEFT_LOG_ESCAPED_SIZE], line[1000];
	size_t n = strlen(raw);

	if (r->secret)
		snprintf(value, sizeof(value), "<%zu bytes, not shown>", n);
	else
		weft_config_show((struct slice){ raw, n }, value, sizeof(value));
	weft_config_render(r, (const char *)l->cfg + r->off, using, sizeof(using));
	snprintf(line, sizeof(line), "weft: %s=%s: %s; using %s", r->name, value, why, using);
	if (l->warn)
		l->warn(line);
	else
		weft_log(WEFT_LOG_WARN, "%s", line + 6);
}

static bool is_endpoint(const struct row *r)
{
	return r->kind == K_STR && (r->off == offsetof(struct weft_config, endpoint) ||
				    r->off == offsetof(struct weft_config, traces_endpoint) ||
				    r->off == offsetof(struct weft_config, metrics_endpoint));
}

/*
 * Only the exporter lists have no fixed default: otlp when an endpoint was
 * set, else file. Whether one was is the loader's note, not a read of the
 * three fields, whose pages a process without endpoints never touches.
 */
static void apply_default(bool endpoint_set, const struct row *r, void *field)
{
	const char *def = r->def;
	char why[WHY_SIZE];

	if (!def)
		def = endpoint_set ? "otlp" : "file";
	weft_config_parse_row(r, field, def, why, sizeof(why));
}

static const struct row *find_row(size_t off)
{
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		if (rows[i].size && rows[i].off == off)
			return &rows[i];
	return NULL;
}

/* Whether a row's default leaves its field all zero (an empty string, or no field). */
static bool default_is_zero(const struct row *r)
{
	switch (r->kind) {
	case K_STR:
	case K_PAIRS:
		return r->def && !r->def[0];
	case K_REPORT:
		return r->def && strcmp(r->def, "off") == 0;
	case K_PROTOCOL:
		return true;
	default:
		return false;
	}
}

/*
 * The variables weft reads, found in one pass over the environment rather
 * than with one getenv (a walk of the whole environment) per row: an entry is
 * kept only if its name starts like one of the rows' (OTEL_, WEFT_,
 * TRACEPARENT), and a row then looks among those few. When more are set than
 * fit, getenv answers instead. The first entry of a name wins, as getenv's.
 */
#define ENV_KEPT 64

struct env_view {
	const char *kept[ENV_KEPT];
	size_t n;
	bool overflow;
};

/* Whether s begins with prefix: inline, as it runs for every row and entry. */
static inline bool starts_with(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return false;
	return true;
}

static bool env_relevant(const char *e)
{
	switch (e[0]) {
	case 'O':
		return starts_with(e + 1, "TEL_");
	case 'W':
		return starts_with(e + 1, "EFT_");
	case 'T':
		return starts_with(e + 1, "RACEPARENT=");
	default:
		return false;
	}
}

static void env_view_init(struct env_view *v)
{
	v->n = 0;
	v->overflow = false;
	for (char **e = environ; e && *e; e++) {
		if (!env_relevant(*e))
			continue;
		if (v->n == ENV_KEPT) {
			v->overflow = true;
			return;
		}
		v->kept[v->n++] = *e;
	}
}

static const char *env_view_get(const struct env_view *v, const char *name)
{
	/* A name the pass did not keep (none today) is looked up the usual way. */
	if (v->overflow || (!env_relevant(name) && strcmp(name, "TRACEPARENT") != 0))
		return getenv(name);
	for (size_t i = 0; i < v->n; i++) {
		const char *k = v->kept[i], *n = name;

		while (*n && *k == *n) {
			k++;
			n++;
		}
		if (!*n && *k == '=')
			return k + 1;
	}
	return NULL;
}

typedef const char *(*getter)(const void *ctx, const char *name);

static void load(struct weft_config *cfg, getter get, const void *ctx,
		 void (*warn)(const char *line), bool zeroed)
{
	const struct loader l = { cfg, warn };
	const struct row *batch = find_row(offsetof(struct weft_config, bsp_max_batch));
	const struct row *traces = find_row(offsetof(struct weft_config, traces_out));
	const char *batch_raw = NULL, *traces_raw = NULL;
	char why[WHY_SIZE];
	bool endpoint_set = false, traces_warned = false;

	if (!zeroed)
		memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct row *r = &rows[i];
		void *field = (char *)cfg + r->off;
		const char *raw;
		int err;

		if (!zeroed) {
			apply_default(endpoint_set, r, field);
		} else if (r->size && r->size <= sizeof(uint64_t)) {
			/* A number: stored only if not zero, which the field is already. */
			uint64_t v = 0;

			apply_default(endpoint_set, r, &v);
			if (v)
				memcpy(field, &v, r->size);
		} else if (!default_is_zero(r)) {
			apply_default(endpoint_set, r, field);
		}
		raw = get(ctx, r->name);
		if (!raw || !weft_config_trim(raw, strlen(raw)).n)
			continue;
		err = weft_config_parse_row(r, field, raw, why, sizeof(why));
		if (is_endpoint(r) && *(const char *)field)
			endpoint_set = true;
		if (err)
			emit(&l, r, raw, why);
		if (err == 0 && r == batch)
			batch_raw = raw;
		if (err >= 0 && r == traces) {
			traces_raw = raw;
			traces_warned = err != 0;
		}
	}

	/*
	 * Prometheus is a metrics exporter only (the specification lists it for
	 * OTEL_METRICS_EXPORTER alone): named for traces, it is dropped, with the
	 * one line this variable may get (unless its parse already gave one).
	 */
	if (cfg->traces_out & WEFT_OUT_PROMETHEUS) {
		cfg->traces_out &= ~(unsigned)WEFT_OUT_PROMETHEUS;
		if (traces_raw && !traces_warned) {
			snprintf(why, sizeof(why), "prometheus exports metrics only");
			emit(&l, traces, traces_raw, why);
		}
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

struct from_ctx {
	const char *(*get)(const char *name);
};

static const char *from_get(const void *ctx, const char *name)
{
	return ((const struct from_ctx *)ctx)->get(name);
}

void weft_config_load_from(struct weft_config *cfg, const char *(*get)(const char *name),
			   void (*warn)(const char *line))
{
	const struct from_ctx ctx = { get };

	load(cfg, from_get, &ctx, warn, false);
}

static const char *env_get(const void *ctx, const char *name)
{
	return env_view_get(ctx, name);
}

void weft_config_load(struct weft_config *cfg)
{
	struct env_view v;

	env_view_init(&v);
	load(cfg, env_get, &v, NULL, false);
}

void weft_config_load_zeroed(struct weft_config *cfg)
{
	struct env_view v;

	env_view_init(&v);
	load(cfg, env_get, &v, NULL, true);
}
