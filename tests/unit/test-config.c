/*
 * Configuration, the loader and its messages: defaults, blank values, one
 * well-formed line per bad variable whatever it holds (escaped, cut, secrets
 * never shown), the rules that span rows (the exporter default, the batch
 * clamp, the exit budget), key=value lists, stderr and the real environment.
 * What each kind of row accepts is in test-config-values.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/test-config.h"

static struct weft_config defaults;

static void test_defaults(void)
{
	struct weft_config *c = &defaults;

	load_defaults(c);
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
	expect_int(c->exit_timeout_ns, 1 * SEC);
	expect_int(c->output_max_size, 100 * 1000 * 1000);
	expect_int(c->span_min_wait_ns, 1 * MS);
	expect_int(c->task_parent, WEFT_TASK_PARENT_LINK);
	expect_int(c->stack_depth, 16);
	expect_int(c->hold_sample, 256);
	expect_int(c->ring_size, 1024);
	expect_int(c->cardinality_limit, 500);
	expect_str(c->prometheus_host, "localhost");
	expect_int(c->prometheus_port, 9464);
	/* Command lines carry secrets: recorded only when asked for. */
	expect_true(!c->capture_args);
	expect_int(c->log_level, WEFT_LOG_WARN);
	expect_int(c->hooks, WEFT_HOOK_ALL);
}

/* Empty and blank values are the same as unset, as the OpenTelemetry spec says. */
static void test_blank_is_unset(void)
{
	struct weft_config c;
	static const char *const names[] = {
		"WEFT_LOG_LEVEL",           "OTEL_TRACES_EXPORTER",        "WEFT_RING_SIZE",
		"OTEL_SERVICE_NAME",        "OTEL_EXPORTER_OTLP_ENDPOINT", "WEFT_OUTPUT",
		"OTEL_RESOURCE_ATTRIBUTES", "WEFT_OUTPUT_MAX_SIZE"
	};

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
		{ "OTEL_METRICS_EXPORTER", "zipkin" },
		{ "OTEL_EXPORTER_PROMETHEUS_PORT", "0" },
		{ "OTEL_EXPORTER_PROMETHEUS_PORT", "65536" },
		{ "OTEL_EXPORTER_PROMETHEUS_PORT", "http" },
		{ "OTEL_EXPORTER_PROMETHEUS_HOST", "local host" },
		{ "OTEL_EXPORTER_PROMETHEUS_HOST", "a/b" },
		{ "OTEL_METRICS_EXPORTER", ",," },
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
		{ "OTEL_BSP_SCHEDULE_DELAY", "soon" },
		{ "OTEL_BSP_MAX_QUEUE_SIZE", "0" },
		{ "OTEL_BSP_MAX_QUEUE_SIZE", "-1" },
		{ "OTEL_BSP_MAX_QUEUE_SIZE", "12abc" },
		{ "OTEL_BSP_MAX_QUEUE_SIZE", "99999999999999999999999" },
		{ "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "0" },
		{ "OTEL_BSP_EXPORT_TIMEOUT", "1.5s" },
		{ "OTEL_METRIC_EXPORT_INTERVAL", "1d" },
		{ "OTEL_METRIC_EXPORT_TIMEOUT", "+5" },
		{ "OTEL_SPAN_LINK_COUNT_LIMIT", "1e3" },
		{ "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "65537" },
		{ "WEFT_EXIT_TIMEOUT", "never" },
		{ "WEFT_OUTPUT_MAX_SIZE", "lots" },
		{ "WEFT_OUTPUT_MAX_SIZE", "-1" },
		{ "WEFT_OUTPUT_MAX_SIZE", "1TB" },
		{ "WEFT_OUTPUT_MAX_SIZE", "18446744073709551616" },
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
		   "weft: OTEL_METRIC_EXPORT_INTERVAL=0: out of range (10ms..1h); using 10ms");
	load1(&c, "OTEL_BSP_EXPORT_TIMEOUT", "99999999999999999999");
	expect_str(warnings[0], "weft: OTEL_BSP_EXPORT_TIMEOUT=99999999999999999999: out of range "
				"(1ms..1h); using 1h");
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
	load1(&c, "WEFT_OUTPUT_MAX_SIZE", "lots");
	expect_str(warnings[0], "weft: WEFT_OUTPUT_MAX_SIZE=lots: not a size (like 100MB, 64KiB; "
				"no unit is bytes); using 100000000");
	load1(&c, "WEFT_OUTPUT_MAX_SIZE", "99999999999999999999");
	expect_str(warnings[0], "weft: WEFT_OUTPUT_MAX_SIZE=99999999999999999999: out of range "
				"(0..18446744073709551615 bytes); using 100000000");
}

/*
 * A value is shown escaped: a newline in it cannot start a second line that
 * looks like weft's or like the program's, an escape sequence cannot drive
 * the terminal. Long values are cut.
 */
static void test_warning_escapes(void)
{
	struct weft_config c;

	load1(&c, "WEFT_LOG_LEVEL", "a\nb\033c");
	expect_int(nwarn, 1);
	expect_str(warnings[0], "weft: WEFT_LOG_LEVEL=a\\nb\\x1bc: expected one of error, warn, "
				"info, debug; using warn");
	load1(&c, "WEFT_RING_SIZE", "1\nweft: all is well\r\n");
	expect_int(nwarn, 1);
	expect_str(warnings[0], "weft: WEFT_RING_SIZE=1\\nweft: all is well\\r\\n: not a whole "
				"number; using 1024");
	load1(&c, "WEFT_TASK_PARENT",
	      "0123456789012345678901234567890123456789012345678901234567890123456789");
	expect_true(strncmp(warnings[0],
			    "weft: WEFT_TASK_PARENT=0123456789012345678901234567890123456789012345"
			    "678901234567890123...: expected",
			    97) == 0);

	/* An item quoted in the reason is escaped too. */
	load1(&c, "OTEL_TRACES_EXPORTER", "otlp,\"x\ty\"");
	expect_str(warnings[0], "weft: OTEL_TRACES_EXPORTER=otlp,\"x\\ty\": unknown exporter "
				"\"\"x\\ty\"\"; using otlp");

	/* What is kept is shown escaped as well. */
	load1(&c, "OTEL_SERVICE_NAME", "ok");
	expect_int(nwarn, 0);
	env_reset();
	env_set("OTEL_RESOURCE_ATTRIBUTES", "k=a\x1b[2Jb,junk");
	load(&c);
	expect_int(nwarn, 1);
	expect_str(warnings[0], "weft: OTEL_RESOURCE_ATTRIBUTES=k=a\\x1b[2Jb,junk: dropped 1 item "
				"that is not key=value (the first: \"junk\"); using k=a\\x1b[2Jb");
}

/* Big enough to be too long for any string row. */
static char big_a[4 * WEFT_CONFIG_STR + 8], big_k[4 * WEFT_CONFIG_STR + 8];

/*
 * Every variable set to something wrong at once, some wrong in several ways:
 * one line each, naming it once, none containing a raw control character,
 * and no secret shown.
 */
static void test_one_line_per_variable(void)
{
	static const struct {
		const char *name, *value;
	} bad[] = {
		{ "OTEL_SDK_DISABLED", "maybe\nweft: forged" },
		{ "OTEL_SERVICE_NAME", big_a },
		{ "OTEL_RESOURCE_ATTRIBUTES", "a,b\nc,=d, =e,f=g,h" },
		{ "OTEL_EXPORTER_OTLP_ENDPOINT", big_a },
		{ "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", big_a },
		{ "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", big_a },
		{ "OTEL_TRACES_EXPORTER", "x,y\nz,otlp" },
		{ "OTEL_METRICS_EXPORTER", "prometheus,zipkin" },
		{ "OTEL_EXPORTER_OTLP_HEADERS", big_k },
		{ "OTEL_EXPORTER_OTLP_TRACES_HEADERS", big_k },
		{ "OTEL_EXPORTER_OTLP_METRICS_HEADERS", big_k },
		{ "OTEL_EXPORTER_OTLP_CERTIFICATE", big_a },
		{ "OTEL_EXPORTER_OTLP_TIMEOUT", "18446744073709551615ns" },
		{ "OTEL_EXPORTER_OTLP_COMPRESSION", "zstd" },
		{ "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc" },
		{ "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc" },
		{ "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json" },
		{ "OTEL_TRACES_SAMPLER", "sometimes" },
		{ "OTEL_TRACES_SAMPLER_ARG", "2" },
		{ "OTEL_BSP_SCHEDULE_DELAY", "1ns" },
		{ "OTEL_BSP_MAX_QUEUE_SIZE", "lots" },
		{ "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "99999" },
		{ "OTEL_BSP_EXPORT_TIMEOUT", "2h" },
		{ "OTEL_METRIC_EXPORT_INTERVAL", "1ns" },
		{ "OTEL_METRIC_EXPORT_TIMEOUT", "0" },
		{ "OTEL_SPAN_LINK_COUNT_LIMIT", "-1" },
		{ "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "x" },
		{ "TRACEPARENT", big_a },
		{ "OTEL_EXPORTER_PROMETHEUS_HOST", "a b\nc" },
		{ "OTEL_EXPORTER_PROMETHEUS_PORT", "0" },
		{ "WEFT_OUTPUT", big_a },
		{ "WEFT_REPORT", big_a },
		{ "WEFT_EXIT_TIMEOUT", "99999999999999999999999h" },
		{ "WEFT_OUTPUT_MAX_SIZE", "lots" },
		{ "WEFT_SPAN_MIN_WAIT", "2h" },
		{ "WEFT_TASK_PARENT", "sibling" },
		{ "WEFT_STACKS", "deep" },
		{ "WEFT_HOLD_SAMPLE", "0x40" },
		{ "WEFT_RING_SIZE", "1000" },
		{ "WEFT_CARDINALITY_LIMIT", "1" },
		{ "WEFT_CAPTURE_ARGS", "perhaps" },
		{ "WEFT_LOG_LEVEL", "a\nweft: forged" },
		{ "WEFT_HOOKS", "locks\n,mutex" },
	};
	size_t n = sizeof(bad) / sizeof(bad[0]);
	struct weft_config c;
	char prefix[128];

	memset(big_a, 'a', sizeof(big_a));
	big_a[sizeof(big_a) - 1] = '\0';
	big_a[100] = '\n';
	memset(big_k, 'k', sizeof(big_k));
	big_k[sizeof(big_k) - 1] = '\0';
	env_reset();
	for (size_t i = 0; i < n; i++)
		env_set(bad[i].name, bad[i].value);
	load(&c);
	expect_int(nwarn, n);
	for (size_t i = 0; i < n; i++) {
		int named = 0;

		snprintf(prefix, sizeof(prefix), "weft: %s=", bad[i].name);
		for (int w = 0; w < nwarn && w < MAX_WARNINGS; w++)
			named += strncmp(warnings[w], prefix, strlen(prefix)) == 0;
		if (named != 1)
			fprintf(stderr, "%s: %d lines\n", bad[i].name, named);
		expect_int(named, 1);
	}
	for (int w = 0; w < nwarn && w < MAX_WARNINGS; w++) {
		for (const char *p = warnings[w]; *p; p++)
			expect_true((unsigned char)*p >= 0x20 && *p != 0x7f);
		expect_true(strstr(warnings[w], "kkkk") == NULL);
		expect_true(strlen(warnings[w]) < 600);
	}
	/* Each one still produced a working configuration. */
	expect_int(c.metric_interval_ns, 10 * MS);
	expect_int(c.bsp_schedule_delay_ns, 1 * MS);
	expect_int(c.otlp_timeout_ns, 1 * HOUR);
	expect_int(c.bsp_max_batch, 2048);
	expect_int(c.ring_size, 1024);
	expect_int(c.traces_out, WEFT_OUT_OTLP);
	expect_int(c.hooks, WEFT_HOOK_MUTEX);
	expect_str(c.resource_attrs, "f=g");
}

/* Headers carry credentials: a warning gives their length, never their text. */
static void test_secrets(void)
{
	static const char *const names[] = { "OTEL_EXPORTER_OTLP_HEADERS",
					     "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
					     "OTEL_EXPORTER_OTLP_METRICS_HEADERS" };
	char big[4 * WEFT_CONFIG_STR + 8];
	struct weft_config c;

	memset(big, 'k', sizeof(big));
	big[4 * WEFT_CONFIG_STR] = '\0';
	load1(&c, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", big);
	expect_str(c.traces_headers, "");
	expect_int(nwarn, 1);
	expect_str(warnings[0], "weft: OTEL_EXPORTER_OTLP_TRACES_HEADERS=<2048 bytes, not shown>: "
				"too long (2048 bytes, at most 2047); using \"\"");
	/* Malformed items are the exporter's to report, without their text either. */
	for (size_t i = 0; i < 3; i++) {
		load1(&c, names[i], "api-key=secret,garbage\n,=x");
		expect_int(nwarn, 0);
	}
	expect_str(c.metrics_headers, "api-key=secret,garbage\n,=x");
}

/*
 * OTEL_RESOURCE_ATTRIBUTES: items that are not key=value are dropped, the
 * rest kept as written; however many are dropped, one line says how many and
 * shows the first.
 */
static void test_resource_attributes(void)
{
	struct weft_config c;

	load1(&c, "OTEL_RESOURCE_ATTRIBUTES", "a=b,junk,c=d");
	expect_str(c.resource_attrs, "a=b,c=d");
	expect_int(nwarn, 1);
	expect_str(warnings[0], "weft: OTEL_RESOURCE_ATTRIBUTES=a=b,junk,c=d: dropped 1 item that "
				"is not key=value (the first: \"junk\"); using a=b,c=d");

	load1(&c, "OTEL_RESOURCE_ATTRIBUTES", " x ,y\nz,=v, \t=w,k = v ,%41=%42,,q");
	expect_str(c.resource_attrs, "k = v,%41=%42");
	expect_int(nwarn, 1);
	expect_str(warnings[0], "weft: OTEL_RESOURCE_ATTRIBUTES= x ,y\\nz,=v, \\t=w,k = v ,"
				"%41=%42,,q: dropped 5 items that are not key=value (the first: "
				"\"x\"); using k = v,%41=%42");

	load1(&c, "OTEL_RESOURCE_ATTRIBUTES", "b\nweft: forged,a=1");
	expect_int(nwarn, 1);
	expect_true(strstr(warnings[0], "(the first: \"b\\nweft: forged\")") != NULL);

	load1(&c, "OTEL_RESOURCE_ATTRIBUTES", "nothing,useful");
	expect_str(c.resource_attrs, "");
	expect_int(nwarn, 1);
	expect_true(strstr(warnings[0], "; using \"\"") != NULL);

	/* All well formed: stored as given, empty items and blanks included, silently. */
	load1(&c, "OTEL_RESOURCE_ATTRIBUTES", ",,a=b,, c = d ,e=,f==g");
	expect_str(c.resource_attrs, ",,a=b,, c = d ,e=,f==g");
	expect_int(nwarn, 0);
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

	/* A malformed batch is reported once, then shrinks with the default. */
	env_reset();
	env_set("OTEL_BSP_MAX_QUEUE_SIZE", "50");
	env_set("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "many");
	load(&c);
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

/* The exit budget is a part of the export timeout, never more. */
static void test_exit_budget(void)
{
	struct weft_config c;

	load1(&c, "WEFT_EXIT_TIMEOUT", "5s");
	expect_int(c.exit_timeout_ns, 5 * SEC);
	load1(&c, "WEFT_EXIT_TIMEOUT", "1m");
	expect_int(c.exit_timeout_ns, 30 * SEC);
	expect_int(nwarn, 0);
	load1(&c, "OTEL_BSP_EXPORT_TIMEOUT", "200ms");
	expect_int(c.exit_timeout_ns, 200 * MS);
	env_reset();
	env_set("OTEL_BSP_EXPORT_TIMEOUT", "1h");
	env_set("WEFT_EXIT_TIMEOUT", "2h");
	load(&c);
	expect_int(c.exit_timeout_ns, 1 * HOUR);
	expect_int(nwarn, 1);
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
	env_set("OTEL_METRICS_EXPORTER", "zipkin");
	load(&c);
	expect_int(c.metrics_out, WEFT_OUT_OTLP);
	expect_str(warnings[0], "weft: OTEL_METRICS_EXPORTER=zipkin: unknown exporter "
				"\"zipkin\"; using otlp");
}

/*
 * prometheus: a metrics exporter, alone or in the list; the traces keep their
 * default. Named for traces, it is dropped with one line. Its host and port.
 */
static void test_prometheus(void)
{
	struct weft_config c;

	load1(&c, "OTEL_METRICS_EXPORTER", "prometheus");
	expect_int(nwarn, 0);
	expect_int(c.metrics_out, WEFT_OUT_PROMETHEUS);
	expect_int(c.traces_out, WEFT_OUT_FILE);
	expect_str(c.prometheus_host, "localhost");
	expect_int(c.prometheus_port, 9464);
	load1(&c, "OTEL_METRICS_EXPORTER", "otlp, prometheus");
	expect_int(nwarn, 0);
	expect_int(c.metrics_out, WEFT_OUT_OTLP | WEFT_OUT_PROMETHEUS);
	load1(&c, "OTEL_TRACES_EXPORTER", "prometheus,console");
	expect_int(nwarn, 1);
	expect_int(c.traces_out, WEFT_OUT_CONSOLE);
	expect_str(warnings[0], "weft: OTEL_TRACES_EXPORTER=prometheus,console: prometheus exports "
				"metrics only; using console");
	load1(&c, "OTEL_TRACES_EXPORTER", "prometheus,zipkin");
	expect_int(nwarn, 1);
	expect_int(c.traces_out, 0);
	load1(&c, "OTEL_EXPORTER_PROMETHEUS_HOST", " [::1] ");
	expect_int(nwarn, 0);
	expect_str(c.prometheus_host, "::1");
	load1(&c, "OTEL_EXPORTER_PROMETHEUS_HOST", "0.0.0.0");
	expect_str(c.prometheus_host, "0.0.0.0");
	load1(&c, "OTEL_EXPORTER_PROMETHEUS_HOST", "http://x");
	expect_str(warnings[0], "weft: OTEL_EXPORTER_PROMETHEUS_HOST=http://x: not a host name or "
				"address; using localhost");
	load1(&c, "OTEL_EXPORTER_PROMETHEUS_PORT", "9091");
	expect_int(c.prometheus_port, 9091);
	load1(&c, "OTEL_EXPORTER_PROMETHEUS_PORT", "70000");
	expect_int(c.prometheus_port, 9464);
	expect_str(warnings[0], "weft: OTEL_EXPORTER_PROMETHEUS_PORT=70000: out of range "
				"(1..65535); using 9464");
}

/* Reads what was written to fd 2 while fn ran. */
static void capture_stderr(void (*fn)(void), char *buf, size_t len)
{
	int fds[2], saved;
	ssize_t n;

	assert_int(pipe(fds), 0);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(fds[1], 2) == 2);
	fn();
	dup2(saved, 2);
	close(saved);
	close(fds[1]);
	n = read(fds[0], buf, len - 1);
	close(fds[0]);
	assert_true(n > 0);
	buf[n] = '\0';
}

static struct weft_config stderr_cfg;

static void load_to_stderr(void)
{
	env_reset();
	env_set("WEFT_RING_SIZE", "x\ny");
	env_set("WEFT_LOG_LEVEL", "info");
	env_set("OTEL_EXPORTER_OTLP_HEADERS", "secret-token-value");
	weft_config_load_from(&stderr_cfg, fake_get, NULL);
}

/* Without a callback, the line goes to fd 2 with write(2), escaped like any other. */
static void test_stderr(void)
{
	char buf[512] = "";

	capture_stderr(load_to_stderr, buf, sizeof(buf));
	expect_str(buf, "weft: WEFT_RING_SIZE=x\\ny: not a whole number; using 1024\n");
	expect_int(stderr_cfg.log_level, WEFT_LOG_INFO);
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

/*
 * The real environment is read in one pass over environ: the first entry of a
 * name wins, as with getenv, and names that merely start like weft's are not
 * taken for them.
 */
static void test_real_env_first_wins(void)
{
	char **old = environ;
	char *vars[] = { "PATH=/bin",
			 "WEFT_RING_SIZEX=8",
			 "WEFT_RING_SIZE=256",
			 "WEFT_RING_SIZE=8192",
			 "OTEL_SERVICE_NAME=svc",
			 "TRACEPARENTS=no",
			 "TRACEPARENT=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
			 NULL };
	struct weft_config c;

	environ = vars;
	weft_config_load(&c);
	environ = old;
	expect_int(c.ring_size, 256);
	expect_str(c.service_name, "svc");
	expect_str(c.traceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
}

/* More of weft's variables than the pass keeps: getenv answers, with the same result. */
static void test_real_env_many(void)
{
	char *vars[100];
	char names[90][32];
	char **old = environ;
	struct weft_config c;
	size_t n = 0;

	for (int i = 0; i < 90; i++) {
		snprintf(names[i], sizeof(names[i]), "OTEL_UNRELATED_%d=1", i);
		vars[n++] = names[i];
	}
	vars[n++] = "WEFT_HOLD_SAMPLE=7";
	vars[n] = NULL;
	environ = vars;
	weft_config_load(&c);
	environ = old;
	expect_int(c.hold_sample, 7);
}

/* Into zeroed storage, what is zero by default is not written: the result is the same. */
static struct weft_config zeroed_cfg;

static void test_load_zeroed(void)
{
	struct weft_config c;
	char **old = environ;
	char *vars[] = { "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://collector:4318/v1/traces",
			 "WEFT_STACKS=off", "OTEL_BSP_MAX_QUEUE_SIZE=100", NULL };

	environ = vars;
	memset(&c, 0x5a, sizeof(c));
	weft_config_load(&c);
	weft_config_load_zeroed(&zeroed_cfg);
	environ = old;
	expect_true(memcmp(&c, &zeroed_cfg, sizeof(c)) == 0);
	/* An endpoint makes otlp the default exporter; numbers set by default are set. */
	expect_int(zeroed_cfg.traces_out, WEFT_OUT_OTLP);
	expect_int(zeroed_cfg.stack_depth, 0);
	expect_int(zeroed_cfg.bsp_max_batch, 100);
	expect_int(zeroed_cfg.ring_size, 1024);
	expect_str(zeroed_cfg.output_path, "weft-%n-%p.jsonl");
}

int main(void)
{
	test_defaults();
	test_blank_is_unset();
	test_malformed_keep_defaults();
	test_warning_text();
	test_warning_escapes();
	test_one_line_per_variable();
	test_secrets();
	test_resource_attributes();
	test_batch_clamp();
	test_exit_budget();
	test_exporter_default();
	test_prometheus();
	test_stderr();
	test_real_env();
	test_real_env_first_wins();
	test_real_env_many();
	test_load_zeroed();
	return harness_done();
}
