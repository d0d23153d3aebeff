/*
 * One hand-built batch of telemetry for the output tests (declared in
 * sample-telemetry.h): a resource, four spans and four metrics that between
 * them use every attribute type, escaping edge case and optional field the
 * outputs must write or leave out.
 */
#include <math.h>

#include "sample-telemetry.h"

static const char *const cmd_args[] = { "./demo", "--flag", "a b" };

static const struct weft_attr res_attrs[] = {
	{ .key = "service.name", .type = WEFT_VALUE_STRING, .v.s = "demo" },
	{ .key = "process.pid", .type = WEFT_VALUE_INT, .v.i = 4242 },
	{ .key = "process.command_args",
	  .type = WEFT_VALUE_STRING_ARRAY,
	  .v.strs = { cmd_args, 3 } },
	{ .key = "weft.empty", .type = WEFT_VALUE_STRING_ARRAY, .v.strs = { NULL, 0 } },
};

const struct weft_resource sample_resource = {
	.attrs = res_attrs,
	.n_attrs = 4,
	.scope_name = "weft",
	.scope_version = "0.1.0",
};

static const char *const arr_items[] = { "x", "y\"z" };

static const struct weft_attr span1_attrs[] = {
	{ .key = "process.exit.code", .type = WEFT_VALUE_INT, .v.i = 1 },
};

static const struct weft_attr span2_attrs[] = {
	{ .key = "s",
	  .type = WEFT_VALUE_STRING,
	  .v.s = "tab\t \"q\" back\\slash nl\n ctl\x01 del\x7f bad\xff\xc0\xaf end" },
	{ .key = "i", .type = WEFT_VALUE_INT, .v.i = INT64_MIN },
	{ .key = "d", .type = WEFT_VALUE_DOUBLE, .v.d = 0.1 },
	{ .key = "nan", .type = WEFT_VALUE_DOUBLE, .v.d = NAN },
	{ .key = "b", .type = WEFT_VALUE_BOOL, .v.b = true },
	{ .key = "f", .type = WEFT_VALUE_BOOL, .v.b = false },
	{ .key = "arr", .type = WEFT_VALUE_STRING_ARRAY, .v.strs = { arr_items, 2 } },
};

static const struct weft_attr event_attrs[] = {
	{ .key = "weft.object", .type = WEFT_VALUE_STRING, .v.s = "0x1234" },
};

static const struct weft_span_event span2_events[] = {
	{ .name = "weft.deadlock",
	  .time_unix_nano = 1700000000015000000ull,
	  .attrs = event_attrs,
	  .n_attrs = 1 },
	{ .name = "bare" },
};

static const struct weft_attr link_attrs[] = {
	{ .key = "weft.link.kind", .type = WEFT_VALUE_STRING, .v.s = "pipe" },
};

static const struct weft_span_link span2_links[] = {
	{ .trace_id = { { 0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88, 0x77, 0x66, 0x55, 0x44,
			  0x33, 0x22, 0x11, 0x00 } },
	  .span_id = { { 1, 2, 3, 4, 5, 6, 7, 8 } },
	  .attrs = link_attrs,
	  .n_attrs = 1 },
};

static const struct weft_attr span3_attrs[] = {
	{ .key = "k\xe2\x82", .type = WEFT_VALUE_STRING, .v.s = "\xf0\x9f\x98\x80 \xed\xa0\x80" },
};

/* clang-format off */
#define TRACE_ID { { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 } }
/* clang-format on */

const struct weft_span sample_spans[SAMPLE_N_SPANS] = {
	{
		.trace_id = TRACE_ID,
		.span_id = { { 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8 } },
		.flags = 1,
		.name = "process",
		.kind = WEFT_SPAN_KIND_INTERNAL,
		.start_unix_nano = 1700000000000000000ull,
		.end_unix_nano = 1700000001500000000ull,
		.attrs = span1_attrs,
		.n_attrs = 1,
		.status = WEFT_STATUS_ERROR,
		.status_message = "exit code 1",
	},
	{
		.trace_id = TRACE_ID,
		.span_id = { { 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8 } },
		.parent_span_id = { { 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8 } },
		.name = "thread w\xc3\xb6rker",
		.kind = WEFT_SPAN_KIND_CONSUMER,
		.start_unix_nano = 1700000000010000000ull,
		.end_unix_nano = 1700000000022345678ull,
		.attrs = span2_attrs,
		.n_attrs = 7,
		.dropped_attrs = 3,
		.events = span2_events,
		.n_events = 2,
		.links = span2_links,
		.n_links = 1,
		.dropped_links = 2,
	},
	{
		.trace_id = TRACE_ID,
		.span_id = { { 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8 } },
		.attrs = span3_attrs,
		.n_attrs = 1,
		.dropped_events = 7,
		.status = WEFT_STATUS_OK,
	},
	{
		.trace_id = TRACE_ID,
		.span_id = { { 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8 } },
		.name = "",
		.status_message = "only a message",
	},
};

#define S_NS 1700000000000000000ull
#define T_NS 1700000060000000000ull

static const struct weft_point count_points[] = {
	{ .start_unix_nano = S_NS, .time_unix_nano = T_NS, .as_int = 3 },
};

static const struct weft_attr pool_workers[] = {
	{ .key = "weft.pool.name", .type = WEFT_VALUE_STRING, .v.s = "workers" },
};

static const struct weft_attr pool_io[] = {
	{ .key = "weft.pool.name", .type = WEFT_VALUE_STRING, .v.s = "io" },
};

static const struct weft_point created_points[] = {
	{ .attrs = pool_workers,
	  .n_attrs = 1,
	  .start_unix_nano = S_NS,
	  .time_unix_nano = T_NS,
	  .as_int = 12 },
	{ .attrs = pool_io,
	  .n_attrs = 1,
	  .start_unix_nano = S_NS,
	  .time_unix_nano = T_NS,
	  .as_int = 0 },
};

static const struct weft_attr channel_attrs[] = {
	{ .key = "weft.channel.name", .type = WEFT_VALUE_STRING, .v.s = "pipe:main#1" },
};

static const struct weft_point depth_points[] = {
	{ .attrs = channel_attrs,
	  .n_attrs = 1,
	  .time_unix_nano = T_NS,
	  .is_double = true,
	  .as_double = 1.5 },
	{ .time_unix_nano = T_NS, .as_int = -2 },
};

static const struct weft_attr kind_mutex[] = {
	{ .key = "weft.wait.kind", .type = WEFT_VALUE_STRING, .v.s = "mutex" },
};

static const struct weft_attr kind_cond[] = {
	{ .key = "weft.wait.kind", .type = WEFT_VALUE_STRING, .v.s = "cond" },
};

static const double bounds[] = { 0.001, 0.005, 0.01 };
static const uint64_t buckets_mutex[] = { 1, 2, 1, 0 };
static const uint64_t buckets_cond[] = { 0, 0, 0, 0 };

static const struct weft_point wait_points[] = {
	{ .attrs = kind_mutex,
	  .n_attrs = 1,
	  .start_unix_nano = S_NS,
	  .time_unix_nano = T_NS,
	  .count = 4,
	  .sum = 0.0105,
	  .min = 0.0005,
	  .max = 0.007,
	  .bounds = bounds,
	  .n_bounds = 3,
	  .bucket_counts = buckets_mutex },
	{ .attrs = kind_cond,
	  .n_attrs = 1,
	  .start_unix_nano = S_NS,
	  .time_unix_nano = T_NS,
	  .bounds = bounds,
	  .n_bounds = 3,
	  .bucket_counts = buckets_cond },
};

const struct weft_metric sample_metrics[SAMPLE_N_METRICS] = {
	{ .name = "process.thread.count",
	  .description = "Live threads",
	  .unit = "{thread}",
	  .type = WEFT_METRIC_SUM,
	  .monotonic = false,
	  .points = count_points,
	  .n_points = 1 },
	{ .name = "weft.thread.created",
	  .unit = "{thread}",
	  .type = WEFT_METRIC_SUM,
	  .monotonic = true,
	  .points = created_points,
	  .n_points = 2 },
	{ .name = "weft.channel.queue.depth",
	  .unit = "By",
	  .type = WEFT_METRIC_GAUGE,
	  .points = depth_points,
	  .n_points = 2 },
	{ .name = "weft.wait.duration",
	  .unit = "s",
	  .type = WEFT_METRIC_HISTOGRAM,
	  .points = wait_points,
	  .n_points = 2 },
};
