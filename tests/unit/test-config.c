/*
 * Configuration: defaults, every parser, one warning per malformed value, the
 * exporter default, lists, ring rounding, the batch clamp and path expansion.
 * The environment is a table in this file, read through weft_config_load_from.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config.h"
#include "tests/unit/harness.h"

#define MS UINT64_C(1000000)
#define SEC UINT64_C(1000000000)

/* The fake environment. */
static struct {
	const char *name;
	const char *value;
} env[16];
static int nenv;

static void env_reset(void)
{
	nenv = 0;
}

static void env_set(const char *name, const char *value)
{
	assert_true(nenv < (int)(sizeof(env) / sizeof(env[0])));
	env[nenv].name = name;
	env[nenv].value = value;
	nenv++;
}

static const char *fake_get(const char *name)
{
	for (int i = 0; i < nenv; i++)
		if (strcmp(env[i].name, name) == 0)
			return env[i].value;
	return NULL;
}

/* The captured warnings. */
static char warnings[8][1024];
static int nwarn;

static void capture(const char *line)
{
	if (nwarn < 8)
		snprintf(warnings[nwarn], sizeof(warnings[0]), "%s", line);
	nwarn++;
}

static struct weft_config defaults;

static void load(struct weft_config *cfg)
{
	nwarn = 0;
	memset(warnings, 0, sizeof(warnings));
	weft_config_load_from(cfg, fake_get, capture);
}

/* Loads with exactly one variable set. */
static void load1(struct weft_config *cfg, const char *name, const char *value)
{
	env_reset();
	env_set(name, value);
	load(cfg);
}

static void test_defaults(void)
{
	struct weft_config *c = &defaults;

	env_reset();
	load(c);
	expect_int(nwarn, 0);
	expect_true(!c->sdk_disabled);
	expect_str(c->service_name, "");
	expect_str(c->resource_attrs, "");
	expect_int(c->traces_out, WEFT_OUT_FILE);
	expect_int(c->metrics_out, WEFT_OUT_FILE);
	expect_str(c->endpoint, "");
	expect_str(c->traces_endpoint, "");
	expect_str(c->metrics_endpoint, "");
	expect_str(c->headers, "");
	expect_str(c->traces_headers, "");
	expect_str(c->metrics_headers, "");
	expect_str(c->certificate, "");
	expect_int(c->otlp_timeout_ns, 10 * SEC);
	expect_true(!c->gzip);
	expect_int(c->sampler, WEFT_SAMPLER_PARENT_ALWAYS_ON);
	expect_true(c->sampler_ratio == 1.0);
	expect_int(c->bsp_schedule_delay_ns, 5 * SEC);
	expect_int(c->bsp_max_queue, 2048);
	expect_int(c->bsp_max_batch, 512);
	expect_int(c->bsp_export_timeout_ns, 30 * SEC);
	expect_int(c->metric_interval_ns, 60 * SEC);
	expect_int(c->metric_timeout_ns, 30 * SEC);
	expect_int(c->span_link_limit, 128);
	expect_int(c->span_attr_limit, 128);
	expect_str(c->traceparent, "");
	expect_str(c->output_path, "weft-%n-%p.jsonl");
	expect_str(c->report, "");
	expect_int(c->span_min_wait_ns, 1 * MS);
	expect_int(c->task_parent, WEFT_TASK_PARENT_LINK);
	expect_int(c->stack_depth, 16);
	expect_int(c->hold_sample, 64);
	expect_int(c->ring_size, 1024);
	expect_int(c->cardinality_limit, 500);
	expect_true(c->capture_args);
	expect_int(c->log_level, WEFT_LOG_WARN);
	expect_int(c->hooks, WEFT_HOOK_ALL);
}

/* Empty and blank values are the same as unset, as the OpenTelemetry spec says. */
static void test_blank_is_unset(void)
{
	struct weft_config c;
	static const char *const names[] = { "WEFT_LOG_LEVEL", "OTEL_TRACES_EXPORTER",
					     "WEFT_RING_SIZE", "OTEL_SERVICE_NAME",
					     "OTEL_EXPORTER_OTLP_ENDPOINT", "WEFT_OUTPUT" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		load1(&c, names[i], "");
		expect_int(nwarn, 0);
		expect_true(memcmp(&c, &defaults, sizeof(c)) == 0);
		load1(&c, names[i], " \t ");
		expect_int(nwarn, 0);
		expect_true(memcmp(&c, &defaults, sizeof(c)) == 0);
	}
}

/*
 * Every one of these must leave the whole configuration at its defaults and
 * say so in exactly one well-formed line.
 */
static void test_malformed_keep_defaults(void)
{
	static const struct {
		const char *name, *value;
	} bad[] = {
		{ "OTEL_SDK_DISABLED", "maybe" },
		{ "OTEL_SDK_DISABLED", "2" },
		{ "WEFT_CAPTURE_ARGS", "yesno" },
		{ "OTEL_TRACES_EXPORTER", "logging" },
		{ "OTEL_TRACES_EXPORTER", "jaeger,zipkin" },
		{ "OTEL_METRICS_EXPORTER", "prometheus" },
		{ "OTEL_METRICS_EXPORTER", ",," },
		{ "OTEL_EXPORTER_OTLP_TIMEOUT", "0" },
		{ "OTEL_EXPORTER_OTLP_TIMEOUT", "10 parsecs" },
		{ "OTEL_EXPORTER_OTLP_TIMEOUT", "-5" },
		{ "OTEL_EXPORTER_OTLP_COMPRESSION", "zstd" },
		{ "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc" },
		{ "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json" },
		{ "OTEL_TRACES_SAMPLER", "jaeger_remote" },
		{ "OTEL_TRACES_SAMPLER", "always" },
		{ "OTEL_TRACES_SAMPLER_ARG", "1.5" },
		{ "OTEL_TRACES_SAMPLER_ARG", "-0.1" },
		{ "OTEL_TRACES_SAMPLER_ARG", "half" },
		{ "OTEL_TRACES_SAMPLER_ARG", "0,5" },
		{ "OTEL_TRACES_SAMPLER_ARG", "nan" },
		{ "OTEL_TRACES_SAMPLER_ARG", "inf" },
		{ "OTEL_TRACES_SAMPLER_ARG", "1e999" },
		{ "OTEL_TRACES_SAMPLER_ARG", "." },
		{ "OTEL_TRACES_SAMPLER_ARG", "1e" },
		{ "OTEL_BSP_SCHEDULE_DELAY", "0ms" },
		{ "OTEL_BSP_MAX_QUEUE_SIZE", "0" },
		{ "OTEL_BSP_MAX_QUEUE_SIZE", "-1" },
		{ "OTEL_BSP_MAX_QUEUE_SIZE", "12abc" },
		{ "OTEL_BSP_MAX_QUEUE_SIZE", "99999999999999999999999" },
		{ "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "0" },
		{ "OTEL_BSP_EXPORT_TIMEOUT", "1.5s" },
		{ "OTEL_METRIC_EXPORT_INTERVAL", "18446744073709551615s" },
		{ "OTEL_METRIC_EXPORT_INTERVAL", "18446744073709551616" },
		{ "OTEL_METRIC_EXPORT_TIMEOUT", "+5" },
		{ "OTEL_SPAN_LINK_COUNT_LIMIT", "1e3" },
		{ "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "65537" },
		{ "WEFT_SPAN_MIN_WAIT", "ms" },
		{ "WEFT_SPAN_MIN_WAIT", "5 5" },
		{ "WEFT_TASK_PARENT", "sibling" },
		{ "WEFT_STACKS", "129" },
		{ "WEFT_STACKS", "deep" },
		{ "WEFT_HOLD_SAMPLE", "0x40" },
		{ "WEFT_RING_SIZE", "1" },
		{ "WEFT_RING_SIZE", "0" },
		{ "WEFT_RING_SIZE", "1048577" },
		{ "WEFT_RING_SIZE", "many" },
		{ "WEFT_CARDINALITY_LIMIT", "1" },
		{ "WEFT_CARDINALITY_LIMIT", "0" },
		{ "WEFT_LOG_LEVEL", "verbose" },
		{ "WEFT_LOG_LEVEL", "warning" },
		{ "WEFT_HOOKS", "locks" },
	};
	struct weft_config c;
	char prefix[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		load1(&c, bad[i].name, bad[i].value);
		if (nwarn != 1 || memcmp(&c, &defaults, sizeof(c)) != 0)
			fprintf(stderr, "case %s=%s: %d warnings\n", bad[i].name, bad[i].value,
				nwarn);
		expect_int(nwarn, 1);
		expect_true(memcmp(&c, &defaults, sizeof(c)) == 0);
		snprintf(prefix, sizeof(prefix), "weft: %s=%s: ", bad[i].name, bad[i].value);
		expect_true(strncmp(warnings[0], prefix, strlen(prefix)) == 0);
		expect_true(strstr(warnings[0], "; using ") != NULL);
		expect_true(strchr(warnings[0], '\n') == NULL);
	}
}

/* A few lines checked in full: the reason and the default as a user writes it. */
static void test_warning_text(void)
{
	struct weft_config c;

	load1(&c, "WEFT_SPAN_MIN_WAIT", "5 parsecs");
	expect_str(warnings[0], "weft: WEFT_SPAN_MIN_WAIT=5 parsecs: not a duration (like 250us, "
				"5ms, 2s, 1m; no unit is ms); using 1ms");
	load1(&c, "OTEL_METRIC_EXPORT_INTERVAL", "0");
	expect_str(warnings[0],
		   "weft: OTEL_METRIC_EXPORT_INTERVAL=0: must be greater than zero; using 1m");
	load1(&c, "OTEL_BSP_EXPORT_TIMEOUT", "99999999999999999999");
	expect_str(warnings[0], "weft: OTEL_BSP_EXPORT_TIMEOUT=99999999999999999999: too large; "
				"using 30s");
	load1(&c, "OTEL_SDK_DISABLED", "maybe");
	expect_str(warnings[0], "weft: OTEL_SDK_DISABLED=maybe: not a boolean (true/false, 1/0, "
				"yes/no, on/off); using false");
	load1(&c, "WEFT_CARDINALITY_LIMIT", "1");
	expect_str(warnings[0],
		   "weft: WEFT_CARDINALITY_LIMIT=1: out of range (2..1048576); using 500");
	load1(&c, "WEFT_RING_SIZE", "x");
	expect_str(warnings[0], "weft: WEFT_RING_SIZE=x: not a whole number; using 1024");
	load1(&c, "OTEL_TRACES_SAMPLER_ARG", "2");
	expect_str(warnings[0], "weft: OTEL_TRACES_SAMPLER_ARG=2: out of range (0..1); using 1");
	load1(&c, "WEFT_LOG_LEVEL", "loud");
	expect_str(warnings[0], "weft: WEFT_LOG_LEVEL=loud: expected one of error, warn, info, "
				"debug; using warn");
	load1(&c, "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
	expect_str(warnings[0], "weft: OTEL_EXPORTER_OTLP_PROTOCOL=grpc: not supported, weft uses "
				"http/protobuf; using http/protobuf");
	load1(&c, "WEFT_STACKS", "500");
	expect_str(warnings[0], "weft: WEFT_STACKS=500: expected on, off or a depth from 2 to 128; "
				"using 16");
	load1(&c, "WEFT_HOOKS", "locks");
	expect_str(warnings[0], "weft: WEFT_HOOKS=locks: unknown hook family \"locks\"; using all");

	/* Control characters cannot break the line; long values are cut. */
	load1(&c, "WEFT_LOG_LEVEL", "a\nb\033c");
	expect_int(nwarn, 1);
	expect_true(strncmp(warnings[0], "weft: WEFT_LOG_LEVEL=a?b?c: ", 28) == 0);
	load1(&c, "WEFT_TASK_PARENT",
	      "0123456789012345678901234567890123456789012345678901234567890123456789");
	expect_true(strncmp(warnings[0],
			    "weft: WEFT_TASK_PARENT=0123456789012345678901234567890123456789012345"
			    "678901234567890123...: expected",
			    97) == 0);
}

static void test_bool(void)
{
	static const struct {
		const char *s;
		bool v;
	} good[] = {
		{ "true", true }, { "TRUE", true },  { "1", true },   { "yes", true },
		{ "On", true },   { " yes\t", true }, { "false", false }, { "False", false },
		{ "0", false },   { "no", false },   { "OFF", false },
	};
	static const char *const junk[] = { "", "2", "tru", "truee", "y", "n", "enable", "-1" };
	struct weft_config c;
	bool b;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		b = !good[i].v;
		expect_int(weft_config_parse_bool(good[i].s, &b), 0);
		expect_int(b, good[i].v);
	}
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		b = true;
		expect_int(weft_config_parse_bool(junk[i], &b), -EINVAL);
		expect_true(b);
	}

	load1(&c, "OTEL_SDK_DISABLED", "TRUE");
	expect_true(c.sdk_disabled);
	expect_int(nwarn, 0);
	load1(&c, "OTEL_SDK_DISABLED", "false");
	expect_true(!c.sdk_disabled);
	load1(&c, "WEFT_CAPTURE_ARGS", "off");
	expect_true(!c.capture_args);
	expect_int(nwarn, 0);
	load1(&c, "WEFT_CAPTURE_ARGS", "0");
	expect_true(!c.capture_args);
}

static void test_duration(void)
{
	static const struct {
		const char *s;
		uint64_t ns;
	} good[] = {
		{ "250us", 250000 },
		{ "5ms", 5 * MS },
		{ "2s", 2 * SEC },
		{ "1m", 60 * SEC },
		{ "100ns", 100 },
		{ "42", 42 * MS },
		{ "0", 0 },
		{ " 7 s ", 7 * SEC },
		{ "3h", 3 * 3600 * SEC },
		{ "10MS", 10 * MS },
		{ "12\xc2\xb5s", 12000 },
		{ "18446744073709551615ns", UINT64_MAX },
		{ "18446744073ms", UINT64_C(18446744073) * MS },
	};
	static const char *const junk[] = {
		"", " ", "-5", "+5", "5x", "ms", "1.5s", "5 5", "5ms5", "0x10",
		"18446744073709551616ns", "18446744074s", "18446744073709551615", "307445734562m",
		"1d", "5 m s",
	};
	struct weft_config c;
	uint64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 1;
		if (weft_config_parse_duration(good[i].s, &v) != 0)
			fprintf(stderr, "duration \"%s\" rejected\n", good[i].s);
		expect_int(v, good[i].ns);
	}
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		v = 12345;
		if (weft_config_parse_duration(junk[i], &v) != -EINVAL)
			fprintf(stderr, "duration \"%s\" accepted\n", junk[i]);
		expect_int(v, 12345);
	}

	/* Zero is meaningful for the wait threshold only. */
	load1(&c, "WEFT_SPAN_MIN_WAIT", "0");
	expect_int(nwarn, 0);
	expect_int(c.span_min_wait_ns, 0);
	load1(&c, "WEFT_SPAN_MIN_WAIT", "250us");
	expect_int(c.span_min_wait_ns, 250000);
	load1(&c, "OTEL_EXPORTER_OTLP_TIMEOUT", "2500");
	expect_int(c.otlp_timeout_ns, 2500 * MS);
	load1(&c, "OTEL_BSP_SCHEDULE_DELAY", "100ms");
	expect_int(c.bsp_schedule_delay_ns, 100 * MS);
	load1(&c, "OTEL_BSP_EXPORT_TIMEOUT", "1s");
	expect_int(c.bsp_export_timeout_ns, SEC);
	load1(&c, "OTEL_METRIC_EXPORT_INTERVAL", "15000");
	expect_int(c.metric_interval_ns, 15 * SEC);
	load1(&c, "OTEL_METRIC_EXPORT_TIMEOUT", "1m");
	expect_int(c.metric_timeout_ns, 60 * SEC);
	expect_int(nwarn, 0);
}

static void test_integers(void)
{
	struct weft_config c;

	load1(&c, "OTEL_BSP_MAX_QUEUE_SIZE", " 4096 ");
	expect_int(c.bsp_max_queue, 4096);
	load1(&c, "OTEL_SPAN_LINK_COUNT_LIMIT", "0");
	expect_int(c.span_link_limit, 0);
	load1(&c, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "65536");
	expect_int(c.span_attr_limit, 65536);
	load1(&c, "WEFT_HOLD_SAMPLE", "0");
	expect_int(c.hold_sample, 0);
	load1(&c, "WEFT_HOLD_SAMPLE", "1");
	expect_int(c.hold_sample, 1);
	load1(&c, "WEFT_CARDINALITY_LIMIT", "2");
	expect_int(c.cardinality_limit, 2);
	load1(&c, "WEFT_CARDINALITY_LIMIT", "007");
	expect_int(c.cardinality_limit, 7);
	expect_int(nwarn, 0);
}

static void test_ring(void)
{
	static const struct {
		const char *s;
		uint32_t v;
		int warns;
	} cases[] = {
		{ "2", 2, 0 },           { "1024", 1024, 0 },       { "1048576", 1048576, 0 },
		{ "3", 4, 1 },           { "1000", 1024, 1 },       { "1025", 2048, 1 },
		{ "1048575", 1048576, 1 }, { "1048577", 1024, 1 }, { "1", 1024, 1 },
	};
	struct weft_config c;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load1(&c, "WEFT_RING_SIZE", cases[i].s);
		expect_int(c.ring_size, cases[i].v);
		expect_int(nwarn, cases[i].warns);
	}
	load1(&c, "WEFT_RING_SIZE", "1000");
	expect_str(warnings[0],
		   "weft: WEFT_RING_SIZE=1000: not a power of two, rounded up; using 1024");
}

static void test_batch_clamp(void)
{
	struct weft_config c;

	/* A batch the user asked for, larger than the queue: clamped, reported. */
	load1(&c, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4096");
	expect_int(c.bsp_max_batch, 2048);
	expect_int(nwarn, 1);
	expect_str(warnings[0], "weft: OTEL_BSP_MAX_EXPORT_BATCH_SIZE=4096: larger than "
				"OTEL_BSP_MAX_QUEUE_SIZE (2048); using 2048");

	env_reset();
	env_set("OTEL_BSP_MAX_QUEUE_SIZE", "50");
	env_set("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100");
	load(&c);
	expect_int(c.bsp_max_queue, 50);
	expect_int(c.bsp_max_batch, 50);
	expect_int(nwarn, 1);

	/* The default batch shrinks silently under a small queue. */
	load1(&c, "OTEL_BSP_MAX_QUEUE_SIZE", "100");
	expect_int(c.bsp_max_batch, 100);
	expect_int(nwarn, 0);

	/* Equal is fine. */
	env_reset();
	env_set("OTEL_BSP_MAX_QUEUE_SIZE", "64");
	env_set("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "64");
	load(&c);
	expect_int(c.bsp_max_batch, 64);
	expect_int(nwarn, 0);
}

static void test_exporter_default(void)
{
	static const char *const endpoints[] = { "OTEL_EXPORTER_OTLP_ENDPOINT",
						 "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
						 "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT" };
	struct weft_config c;

	for (size_t i = 0; i < 3; i++) {
		load1(&c, endpoints[i], "http://collector:4318");
		expect_int(nwarn, 0);
		expect_int(c.traces_out, WEFT_OUT_OTLP);
		expect_int(c.metrics_out, WEFT_OUT_OTLP);
		load1(&c, endpoints[i], "");
		expect_int(c.traces_out, WEFT_OUT_FILE);
		expect_int(c.metrics_out, WEFT_OUT_FILE);
	}
	load1(&c, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/v1/traces");
	expect_str(c.traces_endpoint, "http://collector:4318/v1/traces");

	/* An explicit exporter wins over the endpoint rule. */
	env_reset();
	env_set("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
	env_set("OTEL_TRACES_EXPORTER", "file");
	load(&c);
	expect_int(c.traces_out, WEFT_OUT_FILE);
	expect_int(c.metrics_out, WEFT_OUT_OTLP);

	/* A malformed list falls back to the computed default, and says which. */
	env_reset();
	env_set("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
	env_set("OTEL_METRICS_EXPORTER", "prometheus");
	load(&c);
	expect_int(c.metrics_out, WEFT_OUT_OTLP);
	expect_str(warnings[0], "weft: OTEL_METRICS_EXPORTER=prometheus: unknown exporter "
				"\"prometheus\"; using otlp");
}

static void test_exporter_list(void)
{
	static const struct {
		const char *s;
		unsigned out;
		int warns;
	} cases[] = {
		{ "otlp", WEFT_OUT_OTLP, 0 },
		{ "file", WEFT_OUT_FILE, 0 },
		{ "console", WEFT_OUT_CONSOLE, 0 },
		{ "none", 0, 0 },
		{ " NONE ", 0, 0 },
		{ "otlp,console", WEFT_OUT_OTLP | WEFT_OUT_CONSOLE, 0 },
		{ " OTLP , File ", WEFT_OUT_OTLP | WEFT_OUT_FILE, 0 },
		{ "otlp,file,console", WEFT_OUT_OTLP | WEFT_OUT_FILE | WEFT_OUT_CONSOLE, 0 },
		{ "otlp,,otlp,", WEFT_OUT_OTLP, 0 },
		{ "none,console", WEFT_OUT_CONSOLE, 0 },
		{ "otlp,logging", WEFT_OUT_OTLP, 1 },
		{ "none,zipkin", 0, 1 },
		{ "logging", WEFT_OUT_FILE, 1 },
		{ "a,b,c", WEFT_OUT_FILE, 1 },
	};
	struct weft_config c;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load1(&c, "OTEL_TRACES_EXPORTER", cases[i].s);
		expect_int(c.traces_out, cases[i].out);
		expect_int(c.metrics_out, WEFT_OUT_FILE);
		expect_int(nwarn, cases[i].warns);
		load1(&c, "OTEL_METRICS_EXPORTER", cases[i].s);
		expect_int(c.metrics_out, cases[i].out);
		expect_int(c.traces_out, WEFT_OUT_FILE);
	}
	load1(&c, "OTEL_TRACES_EXPORTER", "otlp,logging,console");
	expect_str(warnings[0], "weft: OTEL_TRACES_EXPORTER=otlp,logging,console: unknown "
				"exporter \"logging\"; using otlp,console");
	load1(&c, "OTEL_TRACES_EXPORTER", "a,b,c");
	expect_str(warnings[0], "weft: OTEL_TRACES_EXPORTER=a,b,c: unknown exporter \"a\" and 2 "
				"more; using file");
	load1(&c, "OTEL_TRACES_EXPORTER", "none,zipkin");
	expect_str(warnings[0], "weft: OTEL_TRACES_EXPORTER=none,zipkin: unknown exporter "
				"\"zipkin\"; using none");
}

static void test_hooks(void)
{
	struct weft_config c;

	load1(&c, "WEFT_HOOKS", "mutex,cond");
	expect_int(c.hooks, WEFT_HOOK_MUTEX | WEFT_HOOK_COND);
	expect_int(nwarn, 0);
	load1(&c, "WEFT_HOOKS", " Thread , RWLOCK,sem,fd,socket,poll,process ");
	expect_int(c.hooks, WEFT_HOOK_ALL & ~(WEFT_HOOK_MUTEX | WEFT_HOOK_COND));
	expect_int(nwarn, 0);
	load1(&c, "WEFT_HOOKS", "ALL");
	expect_int(c.hooks, WEFT_HOOK_ALL);
	load1(&c, "WEFT_HOOKS", "mutex,all");
	expect_int(c.hooks, WEFT_HOOK_ALL);
	load1(&c, "WEFT_HOOKS", "thread,futex,fd");
	expect_int(c.hooks, WEFT_HOOK_THREAD | WEFT_HOOK_FD);
	expect_int(nwarn, 1);
	expect_str(warnings[0], "weft: WEFT_HOOKS=thread,futex,fd: unknown hook family \"futex\"; "
				"using thread,fd");
	load1(&c, "WEFT_HOOKS", "none");
	expect_int(c.hooks, WEFT_HOOK_ALL);
	expect_int(nwarn, 1);
}

static void test_sampler(void)
{
	static const struct {
		const char *s;
		enum weft_sampler v;
	} samplers[] = {
		{ "always_on", WEFT_SAMPLER_ALWAYS_ON },
		{ "always_off", WEFT_SAMPLER_ALWAYS_OFF },
		{ "traceidratio", WEFT_SAMPLER_TRACEIDRATIO },
		{ "parentbased_always_on", WEFT_SAMPLER_PARENT_ALWAYS_ON },
		{ "parentbased_always_off", WEFT_SAMPLER_PARENT_ALWAYS_OFF },
		{ "parentbased_traceidratio", WEFT_SAMPLER_PARENT_TRACEIDRATIO },
		{ " PARENTBASED_TRACEIDRATIO\n", WEFT_SAMPLER_PARENT_TRACEIDRATIO },
	};
	static const struct {
		const char *s;
		double v;
	} ratios[] = {
		{ "0", 0.0 },      { "1", 1.0 },    { "0.25", 0.25 }, { ".5", 0.5 },
		{ "0.1", 0.1 },    { "1.000", 1.0 }, { "1e-3", 0.001 }, { "5E-1", 0.5 },
		{ "0.0001", 1e-4 }, { " 0.75 ", 0.75 }, { "1e0", 1.0 }, { "0e5", 0.0 },
		{ "0.333333333333333333333333", 0.333333333333333333333333 },
	};
	struct weft_config c;

	for (size_t i = 0; i < sizeof(samplers) / sizeof(samplers[0]); i++) {
		load1(&c, "OTEL_TRACES_SAMPLER", samplers[i].s);
		expect_int(c.sampler, samplers[i].v);
		expect_int(nwarn, 0);
	}
	for (size_t i = 0; i < sizeof(ratios) / sizeof(ratios[0]); i++) {
		load1(&c, "OTEL_TRACES_SAMPLER_ARG", ratios[i].s);
		if (c.sampler_ratio != ratios[i].v)
			fprintf(stderr, "ratio \"%s\" read as %.17g\n", ratios[i].s,
				c.sampler_ratio);
		expect_true(c.sampler_ratio == ratios[i].v);
		expect_int(nwarn, 0);
	}

	/* The default shown in a warning is written back the way a user writes it. */
	env_reset();
	env_set("OTEL_TRACES_SAMPLER_ARG", "0.25");
	env_set("OTEL_TRACES_SAMPLER", "ratio");
	load(&c);
	expect_int(nwarn, 1);
	expect_int(c.sampler, WEFT_SAMPLER_PARENT_ALWAYS_ON);
	expect_true(c.sampler_ratio == 0.25);
}

static void test_enums(void)
{
	struct weft_config c;

	load1(&c, "OTEL_EXPORTER_OTLP_COMPRESSION", "gzip");
	expect_true(c.gzip);
	load1(&c, "OTEL_EXPORTER_OTLP_COMPRESSION", "GZIP");
	expect_true(c.gzip);
	load1(&c, "OTEL_EXPORTER_OTLP_COMPRESSION", "none");
	expect_true(!c.gzip);
	expect_int(nwarn, 0);

	load1(&c, "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
	expect_int(nwarn, 0);
	load1(&c, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", " HTTP/Protobuf ");
	expect_int(nwarn, 0);

	load1(&c, "WEFT_TASK_PARENT", "child");
	expect_int(c.task_parent, WEFT_TASK_PARENT_CHILD);
	load1(&c, "WEFT_TASK_PARENT", "Link");
	expect_int(c.task_parent, WEFT_TASK_PARENT_LINK);

	load1(&c, "WEFT_LOG_LEVEL", "error");
	expect_int(c.log_level, WEFT_LOG_ERROR);
	load1(&c, "WEFT_LOG_LEVEL", "INFO");
	expect_int(c.log_level, WEFT_LOG_INFO);
	load1(&c, "WEFT_LOG_LEVEL", "debug");
	expect_int(c.log_level, WEFT_LOG_DEBUG);
	expect_int(nwarn, 0);
}

static void test_stacks(void)
{
	static const struct {
		const char *s;
		uint32_t v;
	} cases[] = {
		{ "0", 0 },    { "off", 0 },  { "no", 0 },     { "1", 16 },
		{ "on", 16 },  { "true", 16 }, { "2", 2 },      { "32", 32 },
		{ "128", 128 }, { " 64 ", 64 },
	};
	struct weft_config c;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load1(&c, "WEFT_STACKS", cases[i].s);
		expect_int(c.stack_depth, cases[i].v);
		expect_int(nwarn, 0);
	}
}

static void test_strings(void)
{
	char big[4 * WEFT_CONFIG_STR + 8];
	struct weft_config c;

	load1(&c, "WEFT_REPORT", "off");
	expect_str(c.report, "");
	load1(&c, "WEFT_REPORT", "0");
	expect_str(c.report, "");
	load1(&c, "WEFT_REPORT", "stderr");
	expect_str(c.report, "stderr");
	load1(&c, "WEFT_REPORT", " STDERR");
	expect_str(c.report, "stderr");
	load1(&c, "WEFT_REPORT", "/tmp/weft report.txt");
	expect_str(c.report, "/tmp/weft report.txt");
	load1(&c, "WEFT_OUTPUT", "/var/tmp/%n.%p.jsonl");
	expect_str(c.output_path, "/var/tmp/%n.%p.jsonl");
	expect_int(nwarn, 0);

	/* Raw strings are stored as given: validation happens where they are used. */
	load1(&c, "TRACEPARENT", "00-not-a-valid-traceparent-xx");
	expect_str(c.traceparent, "00-not-a-valid-traceparent-xx");
	load1(&c, "OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod, team = a%20b");
	expect_str(c.resource_attrs, "deployment.environment=prod, team = a%20b");
	load1(&c, "OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret,x=y");
	expect_str(c.headers, "api-key=secret,x=y");
	load1(&c, "OTEL_SERVICE_NAME", "checkout");
	expect_str(c.service_name, "checkout");
	load1(&c, "OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ssl/ca.pem");
	expect_str(c.certificate, "/etc/ssl/ca.pem");
	expect_int(nwarn, 0);

	/* The longest value that fits, then one byte more: refused, never cut. */
	memset(big, 'a', sizeof(big));
	big[WEFT_CONFIG_STR - 1] = '\0';
	load1(&c, "OTEL_SERVICE_NAME", big);
	expect_int(strlen(c.service_name), WEFT_CONFIG_STR - 1);
	expect_int(nwarn, 0);
	big[WEFT_CONFIG_STR - 1] = 'a';
	big[WEFT_CONFIG_STR] = '\0';
	load1(&c, "OTEL_SERVICE_NAME", big);
	expect_str(c.service_name, "");
	expect_int(nwarn, 1);
	expect_true(strstr(warnings[0], ": too long (512 bytes, at most 511); using \"\"") != NULL);
	load1(&c, "WEFT_OUTPUT", big);
	expect_str(c.output_path, "weft-%n-%p.jsonl");
	expect_int(nwarn, 1);
	expect_true(strstr(warnings[0], "; using weft-%n-%p.jsonl") != NULL);
	load1(&c, "WEFT_REPORT", big);
	expect_str(c.report, "");
	expect_true(strstr(warnings[0], "; using off") != NULL);
	load1(&c, "TRACEPARENT", big);
	expect_str(c.traceparent, "");
	expect_int(nwarn, 1);

	/* Headers carry credentials: a warning gives their length, never their text. */
	memset(big, 'k', sizeof(big));
	big[4 * WEFT_CONFIG_STR] = '\0';
	load1(&c, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", big);
	expect_str(c.traces_headers, "");
	expect_int(nwarn, 1);
	expect_str(warnings[0], "weft: OTEL_EXPORTER_OTLP_TRACES_HEADERS=<2048 bytes, not shown>: "
				"too long (2048 bytes, at most 2047); using \"\"");
}

/* Without a callback, the line goes to fd 2 with write(2). */
static void test_stderr(void)
{
	struct weft_config c;
	char buf[512] = "";
	int fds[2], saved;
	ssize_t n;

	assert_int(pipe(fds), 0);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(fds[1], 2) == 2);
	env_reset();
	env_set("WEFT_RING_SIZE", "x");
	env_set("WEFT_LOG_LEVEL", "info");
	weft_config_load_from(&c, fake_get, NULL);
	dup2(saved, 2);
	close(saved);
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	assert_true(n > 0);
	buf[n] = '\0';
	expect_str(buf, "weft: WEFT_RING_SIZE=x: not a whole number; using 1024\n");
	expect_int(c.log_level, WEFT_LOG_INFO);
}

/* weft_config_load reads the real environment. */
static void test_real_env(void)
{
	struct weft_config c;

	setenv("WEFT_RING_SIZE", "4096", 1);
	setenv("WEFT_HOOKS", "mutex", 1);
	weft_config_load(&c);
	expect_int(c.ring_size, 4096);
	expect_int(c.hooks, WEFT_HOOK_MUTEX);
	unsetenv("WEFT_RING_SIZE");
	unsetenv("WEFT_HOOKS");
}

static void test_expand_path(void)
{
	char out[256];

	weft_config_expand_path("weft-%n-%p.jsonl", "checkout", 4242, out, sizeof(out));
	expect_str(out, "weft-checkout-4242.jsonl");
	weft_config_expand_path("/tmp/%n/%n.%p", "api/v2 svc:x*?\"<>|\\", 7, out, sizeof(out));
	expect_str(out, "/tmp/api_v2_svc_x_______/api_v2_svc_x_______.7");
	weft_config_expand_path("a%%p-100%%", "s", 1, out, sizeof(out));
	expect_str(out, "a%p-100%");
	weft_config_expand_path("%x%", "s", 1, out, sizeof(out));
	expect_str(out, "%x%");
	weft_config_expand_path("%n", NULL, 1, out, sizeof(out));
	expect_str(out, "unknown_service");
	weft_config_expand_path("%n", "", 1, out, sizeof(out));
	expect_str(out, "unknown_service");
	weft_config_expand_path("out/%n", "..", 1, out, sizeof(out));
	expect_str(out, "out/__");
	weft_config_expand_path("%n", "my.svc-1_a+b", 1, out, sizeof(out));
	expect_str(out, "my.svc-1_a+b");
	weft_config_expand_path("%n", "caf\xc3\xa9", 1, out, sizeof(out));
	expect_str(out, "caf__");
	weft_config_expand_path("%p", "s", -1, out, sizeof(out));
	expect_str(out, "-1");
	weft_config_expand_path("%p", "s", 2147483647, out, sizeof(out));
	expect_str(out, "2147483647");
	weft_config_expand_path("", "s", 1, out, sizeof(out));
	expect_str(out, "");

	/* Too small: cut, always terminated, nothing written past outlen. */
	memset(out, 'Z', sizeof(out));
	weft_config_expand_path("weft-%n-%p.jsonl", "checkout", 4242, out, 8);
	expect_str(out, "weft-ch");
	expect_int(out[8], 'Z');
	memset(out, 'Z', sizeof(out));
	weft_config_expand_path("%p", "s", 123456, out, 4);
	expect_str(out, "123");
	memset(out, 'Z', sizeof(out));
	weft_config_expand_path("abc", "s", 1, out, 1);
	expect_str(out, "");
	expect_int(out[1], 'Z');
	weft_config_expand_path("abc", "s", 1, out, 0);
	expect_int(out[0], '\0');
}

int main(void)
{
	test_defaults();
	test_blank_is_unset();
	test_malformed_keep_defaults();
	test_warning_text();
	test_bool();
	test_duration();
	test_integers();
	test_ring();
	test_batch_clamp();
	test_exporter_default();
	test_exporter_list();
	test_hooks();
	test_sampler();
	test_enums();
	test_stacks();
	test_strings();
	test_stderr();
	test_real_env();
	test_expand_path();
	return harness_done();
}
