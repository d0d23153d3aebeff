/*
 * Configuration, what each kind of row accepts: booleans, durations and
 * their ranges, sizes, whole numbers, ring sizes, lists, enumerations, the
 * sampler ratio, stack depths, strings, and output path patterns. The loader
 * and its messages are tested in test-config.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/test-config.h"

static void test_bool(void)
{
	static const struct {
		const char *s;
		bool v;
	} good[] = {
		{ "true", true }, { "TRUE", true },   { "1", true },      { "yes", true },
		{ "On", true },   { " yes\t", true }, { "false", false }, { "False", false },
		{ "0", false },   { "no", false },    { "OFF", false },
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
	load1(&c, "WEFT_CAPTURE_ARGS", "1");
	expect_true(c.capture_args);
	load1(&c, "WEFT_CAPTURE_ARGS", "yes");
	expect_true(c.capture_args);
	expect_int(nwarn, 0);
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
		"",
		" ",
		"-5",
		"+5",
		"5x",
		"ms",
		"1.5s",
		"5 5",
		"5ms5",
		"0x10",
		"18446744073709551616ns",
		"18446744074s",
		"18446744073709551615",
		"307445734562m",
		"1d",
		"5 m s",
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

/* Loads one duration, with the cap that the export timeout puts on the exit budget lifted. */
static void load_duration(struct weft_config *c, const char *name, const char *value)
{
	env_reset();
	env_set(name, value);
	if (strcmp(name, "OTEL_BSP_EXPORT_TIMEOUT") != 0)
		env_set("OTEL_BSP_EXPORT_TIMEOUT", "1h");
	load(c);
}

/*
 * Every duration has its range. A value outside it, however far (a number too
 * large for 64 bits included), is clamped to the nearer bound with one line;
 * the bounds themselves are accepted silently.
 */
static void test_duration_bounds(void)
{
	static const struct {
		const char *name;
		size_t off;
		uint64_t min, max;
		const char *range;
	} rows[] = {
		{ "OTEL_EXPORTER_OTLP_TIMEOUT", offsetof(struct weft_config, otlp_timeout_ns), MS,
		  HOUR, "1ms..1h" },
		{ "OTEL_BSP_SCHEDULE_DELAY", offsetof(struct weft_config, bsp_schedule_delay_ns),
		  MS, HOUR, "1ms..1h" },
		{ "OTEL_BSP_EXPORT_TIMEOUT", offsetof(struct weft_config, bsp_export_timeout_ns),
		  MS, HOUR, "1ms..1h" },
		{ "OTEL_METRIC_EXPORT_INTERVAL", offsetof(struct weft_config, metric_interval_ns),
		  10 * MS, HOUR, "10ms..1h" },
		{ "OTEL_METRIC_EXPORT_TIMEOUT", offsetof(struct weft_config, metric_timeout_ns), MS,
		  HOUR, "1ms..1h" },
		{ "WEFT_EXIT_TIMEOUT", offsetof(struct weft_config, exit_timeout_ns), MS, HOUR,
		  "1ms..1h" },
		{ "WEFT_SPAN_MIN_WAIT", offsetof(struct weft_config, span_min_wait_ns), 0, HOUR,
		  "0ms..1h" },
	};
	static const char *const above[] = {
		"3601s",
		"61m",
		"3600000000001ns",
		"18446744073709551615ns",
		"18446744073709551615",
		"99999999999999999999999h",
	};
	struct weft_config c;
	char value[64], want[256];
	uint64_t v;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *name = rows[i].name;
		uint64_t *field = (uint64_t *)((char *)&c + rows[i].off);

		snprintf(value, sizeof(value), "%lluns", (unsigned long long)rows[i].min);
		load_duration(&c, name, value);
		expect_int(*field, rows[i].min);
		expect_int(nwarn, 0);
		load_duration(&c, name, "1h");
		expect_int(*field, rows[i].max);
		expect_int(nwarn, 0);

		for (size_t k = 0; k < sizeof(above) / sizeof(above[0]); k++) {
			load_duration(&c, name, above[k]);
			expect_int(*field, rows[i].max);
			expect_int(nwarn, 1);
			snprintf(want, sizeof(want), "weft: %s=%s: out of range (%s); using 1h",
				 name, above[k], rows[i].range);
			expect_str(warnings[0], want);
		}
		if (rows[i].min == 0)
			continue;
		load_duration(&c, name, "0");
		expect_int(*field, rows[i].min);
		expect_int(nwarn, 1);
		snprintf(value, sizeof(value), "%lluns", (unsigned long long)rows[i].min - 1);
		load_duration(&c, name, value);
		expect_int(*field, rows[i].min);
		expect_int(nwarn, 1);
		snprintf(want, sizeof(want), "weft: %s=%s: out of range (%s); using %s", name,
			 value, rows[i].range, rows[i].min == MS ? "1ms" : "10ms");
		expect_str(warnings[0], want);
	}

	/* The parser alone still refuses what does not fit in 64 bits. */
	expect_int(weft_config_parse_duration("18446744073709551616ns", &v), -EINVAL);
	expect_int(weft_config_parse_duration("18446744073709551615", &v), -EINVAL);
}

/* WEFT_OUTPUT_MAX_SIZE: bytes, with decimal and binary units, 0 = no limit. */
static void test_size(void)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
		{ "0", 0 },
		{ "1", 1 },
		{ "100", 100 },
		{ "100B", 100 },
		{ "1KB", 1000 },
		{ "1KiB", 1024 },
		{ "5MB", 5000000 },
		{ "100MB", 100000000 },
		{ "2MiB", 2 * 1048576 },
		{ "3GB", UINT64_C(3000000000) },
		{ "4GiB", UINT64_C(4) << 30 },
		{ " 64 KiB ", 65536 },
		{ "10kb", 10000 },
		{ "10mib", 10 * 1048576 },
		{ "18446744073709551615", UINT64_MAX },
		{ "18446744073709551615B", UINT64_MAX },
		{ "17179869183GiB", (UINT64_C(17179869183)) << 30 },
		{ "18446744073709551KB", UINT64_C(18446744073709551000) },
	};
	static const char *const junk[] = {
		"",
		" ",
		"MB",
		"-1",
		"+1",
		"1.5MB",
		"1TB",
		"1 K",
		"0x10",
		"1e3",
		"5 5",
		"1MBB",
		/* Too large for 64 bits, before or after the unit. */
		"18446744073709551616",
		"18446744073709552KB",
		"17179869184GiB",
		"99999999999999999999999MB",
	};
	struct weft_config c;
	uint64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 12345;
		if (weft_config_parse_size(good[i].s, &v) != 0)
			fprintf(stderr, "size \"%s\" rejected\n", good[i].s);
		expect_int(v, good[i].v);
	}
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		v = 12345;
		if (weft_config_parse_size(junk[i], &v) != -EINVAL)
			fprintf(stderr, "size \"%s\" accepted\n", junk[i]);
		expect_int(v, 12345);
	}

	load1(&c, "WEFT_OUTPUT_MAX_SIZE", "64KiB");
	expect_int(c.output_max_size, 65536);
	expect_int(nwarn, 0);
	load1(&c, "WEFT_OUTPUT_MAX_SIZE", "0");
	expect_int(c.output_max_size, 0);
	expect_int(nwarn, 0);
	/* Rendered back in bytes, which the parser reads as the same size. */
	load1(&c, "WEFT_OUTPUT_MAX_SIZE", "17179869184GiB");
	expect_int(c.output_max_size, 100000000);
	expect_str(warnings[0], "weft: WEFT_OUTPUT_MAX_SIZE=17179869184GiB: out of range "
				"(0..18446744073709551615 bytes); using 100000000");
	load1(&c, "WEFT_OUTPUT_MAX_SIZE", "1.5MB");
	expect_int(c.output_max_size, 100000000);
	expect_str(warnings[0], "weft: WEFT_OUTPUT_MAX_SIZE=1.5MB: not a size (like 100MB, 64KiB; "
				"no unit is bytes); using 100000000");
	expect_int(weft_config_parse_size("100000000", &v), 0);
	expect_int(v, 100000000);
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
		{ "2", 2, 0 },
		{ "1024", 1024, 0 },
		{ "1048576", 1048576, 0 },
		{ "3", 4, 1 },
		{ "1000", 1024, 1 },
		{ "1025", 2048, 1 },
		{ "1048575", 1048576, 1 },
		{ "1048577", 1024, 1 },
		{ "1", 1024, 1 },
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
	load1(&c, "WEFT_HOOKS", " Thread , RWLOCK,sem,fd,socket,poll,process, Sleep ");
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
		{ "0", 0.0 },
		{ "1", 1.0 },
		{ "0.25", 0.25 },
		{ ".5", 0.5 },
		{ "0.1", 0.1 },
		{ "1.000", 1.0 },
		{ "1e-3", 0.001 },
		{ "5E-1", 0.5 },
		{ "0.0001", 1e-4 },
		{ " 0.75 ", 0.75 },
		{ "1e0", 1.0 },
		{ "0e5", 0.0 },
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
		{ "0", 0 },     { "off", 0 }, { "no", 0 },  { "1", 16 },    { "on", 16 },
		{ "true", 16 }, { "2", 2 },   { "32", 32 }, { "128", 128 }, { " 64 ", 64 },
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
	test_bool();
	test_duration();
	test_duration_bounds();
	test_size();
	test_integers();
	test_ring();
	test_exporter_list();
	test_hooks();
	test_sampler();
	test_enums();
	test_stacks();
	test_strings();
	test_expand_path();
	return harness_done();
}
