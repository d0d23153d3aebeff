/*
 * The fixed sample of the OTLP round-trip test: a resource, a span tree and
 * one metric of every kind, encoded with weft_otlp_encode_* into two files
 * that check-sample.js decodes with the OpenTelemetry JS decoder and compares
 * with exactly these values.
 *
 *   encode-sample TRACES.bin METRICS.bin
 *   encode-sample --partial traces|metrics RESPONSE.bin
 *   encode-sample --errors
 *
 * The second form decodes an Export*ServiceResponse (check-sample.js writes
 * one with the JS encoder) and prints "rejected=N message=TEXT". The third
 * checks the error paths and a batch large enough to span many arena chunks
 * (read back with protobuf-c itself), and needs no node.
 */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_service.pb-c.h"
#include "trace_service.pb-c.h"

#include "agent/alloc.h"
#include "exporter/model.h"
#include "exporter/otlp_encode.h"

/* weft's enums are OTLP's numbers, written as they are (exporter/otlp_encode_*.c). */
#define PB_KIND(x)   OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_##x
#define PB_STATUS(x) OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_##x
_Static_assert((int)WEFT_SPAN_KIND_UNSPECIFIED == PB_KIND(UNSPECIFIED) &&
		       (int)WEFT_SPAN_KIND_INTERNAL == PB_KIND(INTERNAL) &&
		       (int)WEFT_SPAN_KIND_SERVER == PB_KIND(SERVER) &&
		       (int)WEFT_SPAN_KIND_CLIENT == PB_KIND(CLIENT) &&
		       (int)WEFT_SPAN_KIND_PRODUCER == PB_KIND(PRODUCER) &&
		       (int)WEFT_SPAN_KIND_CONSUMER == PB_KIND(CONSUMER),
	       "span kinds are OTLP's");
_Static_assert((int)WEFT_STATUS_UNSET == PB_STATUS(UNSET) && (int)WEFT_STATUS_OK == PB_STATUS(OK) &&
		       (int)WEFT_STATUS_ERROR == PB_STATUS(ERROR),
	       "status codes are OTLP's");
_Static_assert(
	WEFT_TEMPORALITY_CUMULATIVE ==
		OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE,
	"temporality is OTLP's");

/* clang-format off */
#define T0 UINT64_C(1700000000123456789)
#define MS UINT64_C(1000000)

static const char *const command_args[] = { "sample", "--flag", "two words", "" };
static const char *const deadlock_threads[] = { "worker-1", "worker-2" };

static const struct weft_attr resource_attrs[] = {
	{ .key = "service.name", .type = WEFT_VALUE_STRING, .v.s = "sample-svc" },
	{ .key = "process.pid", .type = WEFT_VALUE_INT, .v.i = 4242 },
	{ .key = "process.command_args",
	  .type = WEFT_VALUE_STRING_ARRAY,
	  .v.strs = { .items = command_args, .n = 4 } },
	{ .key = "telemetry.sdk.name", .type = WEFT_VALUE_STRING, .v.s = "weft" },
	{ .key = "host.name", .type = WEFT_VALUE_STRING, .v.s = "h\xc3\xa9te" },
};

static const struct weft_resource resource = {
	.attrs = resource_attrs,
	.n_attrs = sizeof(resource_attrs) / sizeof(resource_attrs[0]),
	.scope_name = "weft",
	.scope_version = "0.1.0",
};

#define TRACE_A { { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, \
		    0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10 } }
#define TRACE_B { { 0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87, \
		    0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0xff } }
#define SPAN_ID(x) { { 0xa0, 0, 0, 0, 0, 0, 0, (x) } }

static const struct weft_attr process_attrs[] = {
	{ .key = "process.exit.code", .type = WEFT_VALUE_INT, .v.i = 3 },
};

static const struct weft_attr thread_attrs[] = {
	{ .key = "thread.id", .type = WEFT_VALUE_INT, .v.i = 4243 },
	{ .key = "thread.name", .type = WEFT_VALUE_STRING, .v.s = "worker" },
	{ .key = "code.function.name", .type = WEFT_VALUE_STRING, .v.s = "worker_main" },
};

static const struct weft_attr deadlock_attrs[] = {
	{ .key = "weft.threads",
	  .type = WEFT_VALUE_STRING_ARRAY,
	  .v.strs = { .items = deadlock_threads, .n = 2 } },
	{ .key = "weft.cycle.length", .type = WEFT_VALUE_INT, .v.i = 2 },
};

static const struct weft_span_event thread_events[] = {
	{ .name = "weft.deadlock",
	  .time_unix_nano = T0 + 40 * MS,
	  .attrs = deadlock_attrs,
	  .n_attrs = 2 },
	{ .name = "weft.lock_order_inversion", .time_unix_nano = T0 + 41 * MS },
};

/* Every attribute type, with edge values. */
static const struct weft_attr wait_attrs[] = {
	{ .key = "weft.wait.kind", .type = WEFT_VALUE_STRING, .v.s = "mutex" },
	{ .key = "int.max", .type = WEFT_VALUE_INT, .v.i = INT64_MAX },
	{ .key = "int.min", .type = WEFT_VALUE_INT, .v.i = INT64_MIN },
	{ .key = "int.neg", .type = WEFT_VALUE_INT, .v.i = -7 },
	{ .key = "int.zero", .type = WEFT_VALUE_INT, .v.i = 0 },
	{ .key = "double", .type = WEFT_VALUE_DOUBLE, .v.d = 0.25 },
	{ .key = "double.neg", .type = WEFT_VALUE_DOUBLE, .v.d = -1e300 },
	{ .key = "bool.true", .type = WEFT_VALUE_BOOL, .v.b = true },
	{ .key = "bool.false", .type = WEFT_VALUE_BOOL, .v.b = false },
	{ .key = "string.empty", .type = WEFT_VALUE_STRING, .v.s = "" },
	{ .key = "array.empty", .type = WEFT_VALUE_STRING_ARRAY, .v.strs = { NULL, 0 } },
	{ .key = "weft.object", .type = WEFT_VALUE_STRING, .v.s = "0x7f00deadbeef" },
};

static const struct weft_attr holder_link_attrs[] = {
	{ .key = "weft.link.kind", .type = WEFT_VALUE_STRING, .v.s = "holder" },
};

static const struct weft_span_link wait_links[] = {
	{ .trace_id = TRACE_B,
	  .span_id = SPAN_ID(0x21),
	  .attrs = holder_link_attrs,
	  .n_attrs = 1 },
	{ .trace_id = TRACE_A, .span_id = SPAN_ID(0x01) },
};

static const struct weft_attr task_link_attrs[] = {
	{ .key = "weft.link.kind", .type = WEFT_VALUE_STRING, .v.s = "sem.post" },
};

static const struct weft_span_link task_links[] = {
	{ .trace_id = TRACE_A,
	  .span_id = SPAN_ID(0x02),
	  .attrs = task_link_attrs,
	  .n_attrs = 1 },
};

static const struct weft_span spans[] = {
	{
		.trace_id = TRACE_A,
		.span_id = SPAN_ID(0x01),
		.flags = 1,
		.name = "process",
		.kind = WEFT_SPAN_KIND_INTERNAL,
		.start_unix_nano = T0,
		.end_unix_nano = T0 + 5000 * MS,
		.attrs = process_attrs,
		.n_attrs = 1,
		.status = WEFT_STATUS_ERROR,
		.status_message = "exit code 3",
	},
	{
		.trace_id = TRACE_A,
		.span_id = SPAN_ID(0x02),
		.parent_span_id = SPAN_ID(0x01),
		.flags = 1,
		.name = "thread worker",
		.kind = WEFT_SPAN_KIND_INTERNAL,
		.start_unix_nano = T0 + 1 * MS,
		.end_unix_nano = T0 + 4000 * MS,
		.attrs = thread_attrs,
		.n_attrs = 3,
		.dropped_attrs = 2,
		.events = thread_events,
		.n_events = 2,
		.dropped_events = 1,
	},
	{
		.trace_id = TRACE_A,
		.span_id = SPAN_ID(0x03),
		.parent_span_id = SPAN_ID(0x02),
		.flags = 1,
		.name = "wait mutex",
		.kind = WEFT_SPAN_KIND_INTERNAL,
		.start_unix_nano = T0 + 30 * MS,
		.end_unix_nano = T0 + 45 * MS,
		.attrs = wait_attrs,
		.n_attrs = sizeof(wait_attrs) / sizeof(wait_attrs[0]),
		.links = wait_links,
		.n_links = 2,
		.dropped_links = 3,
		.status = WEFT_STATUS_OK,
	},
	{
		.trace_id = TRACE_B,
		.span_id = SPAN_ID(0x04),
		.flags = 0,
		.name = "task pool",
		.kind = WEFT_SPAN_KIND_CONSUMER,
		.start_unix_nano = T0 + 50 * MS,
		.end_unix_nano = T0 + 60 * MS,
		.links = task_links,
		.n_links = 1,
	},
	{
		.trace_id = TRACE_A,
		.span_id = SPAN_ID(0x05),
		.parent_span_id = SPAN_ID(0x02),
		.flags = 1,
		.name = "connect",
		.kind = WEFT_SPAN_KIND_CLIENT,
		.start_unix_nano = T0 + 70 * MS,
		.end_unix_nano = T0 + 80 * MS,
	},
	{
		.trace_id = TRACE_A,
		.span_id = SPAN_ID(0x06),
		.parent_span_id = SPAN_ID(0x01),
		.flags = 1,
		.name = "accept",
		.kind = WEFT_SPAN_KIND_SERVER,
		.start_unix_nano = T0 + 90 * MS,
		.end_unix_nano = T0 + 95 * MS,
	},
	{
		.trace_id = TRACE_A,
		.span_id = SPAN_ID(0x07),
		.parent_span_id = SPAN_ID(0x01),
		.flags = 1,
		.name = "produce",
		.kind = WEFT_SPAN_KIND_PRODUCER,
		.start_unix_nano = T0 + 96 * MS,
		.end_unix_nano = T0 + 97 * MS,
	},
	{
		.trace_id = TRACE_A,
		.span_id = SPAN_ID(0x08),
		.parent_span_id = SPAN_ID(0x01),
		.name = "unspecified",
		.kind = WEFT_SPAN_KIND_UNSPECIFIED,
		.start_unix_nano = T0 + 98 * MS,
		.end_unix_nano = T0 + 99 * MS,
	},
};

static const struct weft_attr pool_a[] = {
	{ .key = "weft.pool.name", .type = WEFT_VALUE_STRING, .v.s = "pool-a" },
};
static const struct weft_attr pool_b[] = {
	{ .key = "weft.pool.name", .type = WEFT_VALUE_STRING, .v.s = "pool-b" },
};
static const struct weft_attr wait_mutex[] = {
	{ .key = "weft.wait.kind", .type = WEFT_VALUE_STRING, .v.s = "mutex" },
	{ .key = "code.function.name", .type = WEFT_VALUE_STRING, .v.s = "worker_main" },
};
static const struct weft_attr wait_cond[] = {
	{ .key = "weft.wait.kind", .type = WEFT_VALUE_STRING, .v.s = "cond" },
};

static const struct weft_point created_points[] = {
	{ .attrs = pool_a, .n_attrs = 1, .start_unix_nano = T0, .time_unix_nano = T0 + 10 * MS,
	  .as_int = 5 },
	{ .attrs = pool_b, .n_attrs = 1, .start_unix_nano = T0, .time_unix_nano = T0 + 10 * MS,
	  .as_int = 9000000000 },
};

static const struct weft_point thread_count_points[] = {
	{ .start_unix_nano = T0, .time_unix_nano = T0 + 10 * MS, .as_int = -2 },
};

static const struct weft_point waiting_points[] = {
	{ .attrs = wait_mutex, .n_attrs = 1, .time_unix_nano = T0 + 10 * MS, .as_int = 0 },
};

static const struct weft_point busy_points[] = {
	{ .attrs = pool_a, .n_attrs = 1, .time_unix_nano = T0 + 10 * MS, .is_double = true,
	  .as_double = 1.5 },
};

static const struct weft_point io_points[] = {
	{ .start_unix_nano = T0, .time_unix_nano = T0 + 10 * MS, .is_double = true,
	  .as_double = 0.0 },
};

static const double duration_bounds[] = { 0.001, 0.01, 0.1, 1.0 };
static const uint64_t mutex_buckets[] = { 5, 3, 2, 0, 1 };
static const uint64_t cond_buckets[] = { 0, 0, 0, 0, 0 };
static const uint64_t one_bucket[] = { 7 };

static const struct weft_point duration_points[] = {
	{ .attrs = wait_mutex, .n_attrs = 2, .start_unix_nano = T0, .time_unix_nano = T0 + 10 * MS,
	  .count = 11, .sum = 2.5, .min = 0.0002, .max = 1.75,
	  .bounds = duration_bounds, .n_bounds = 4, .bucket_counts = mutex_buckets },
	/* No observations: sum present (zero), min and max absent. */
	{ .attrs = wait_cond, .n_attrs = 1, .start_unix_nano = T0, .time_unix_nano = T0 + 10 * MS,
	  .count = 0, .sum = 0, .min = 99, .max = 99,
	  .bounds = duration_bounds, .n_bounds = 4, .bucket_counts = cond_buckets },
	/* No bounds: a single bucket. */
	{ .start_unix_nano = T0, .time_unix_nano = T0 + 10 * MS,
	  .count = 7, .sum = -3.5, .min = -1, .max = 0,
	  .bounds = NULL, .n_bounds = 0, .bucket_counts = one_bucket },
};

static const struct weft_metric metrics[] = {
	{ .name = "weft.thread.created", .description = "Threads created.", .unit = "{thread}",
	  .type = WEFT_METRIC_SUM, .monotonic = true, .points = created_points, .n_points = 2 },
	{ .name = "process.thread.count", .description = "Live threads.", .unit = "{thread}",
	  .type = WEFT_METRIC_SUM, .monotonic = false, .points = thread_count_points,
	  .n_points = 1 },
	{ .name = "weft.thread.waiting", .unit = "{thread}",
	  .type = WEFT_METRIC_GAUGE, .points = waiting_points, .n_points = 1 },
	{ .name = "weft.pool.busy", .description = "", .unit = "{thread}",
	  .type = WEFT_METRIC_GAUGE, .points = busy_points, .n_points = 1 },
	{ .name = "weft.channel.io", .unit = "By",
	  .type = WEFT_METRIC_SUM, .monotonic = true, .points = io_points, .n_points = 1 },
	{ .name = "weft.wait.duration", .description = "Blocked calls.", .unit = "s",
	  .type = WEFT_METRIC_HISTOGRAM, .points = duration_points, .n_points = 3 },
	{ .name = "weft.empty", .type = WEFT_METRIC_SUM, .monotonic = true },
};

/* clang-format on */

static int write_file(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

static int decode_response(const char *signal, const char *path)
{
	static uint8_t buf[1 << 16];
	int64_t rejected = -1;
	char msg[64];
	size_t len;
	FILE *f;
	int sig, err;

	sig = strcmp(signal, "metrics") == 0 ? WEFT_OTLP_SIGNAL_METRICS : WEFT_OTLP_SIGNAL_TRACES;
	f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return 1;
	}
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	err = weft_otlp_decode_partial_success(sig, buf, len, &rejected, msg, sizeof(msg));
	if (err) {
		fprintf(stderr, "decode: %s\n", strerror(-err));
		return 1;
	}
	printf("rejected=%" PRId64 " message=%s\n", rejected, msg);
	return 0;
}

static int failures;

#define EXPECT(cond)                                                                               \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);        \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

static void check_large_batch(void)
{
	const size_t n = 100000;
	struct weft_span *many = calloc(n, sizeof(*many));
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *req;
	uint8_t *buf;
	size_t len;

	if (!many) {
		failures++;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		many[i] = spans[i % (sizeof(spans) / sizeof(spans[0]))];
		many[i].start_unix_nano = i;
	}
	EXPECT(weft_otlp_encode_traces(&resource, many, n, &buf, &len) == 0);
	req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
		NULL, len, buf);
	EXPECT(req && req->n_resource_spans == 1 && req->resource_spans[0]->n_scope_spans == 1);
	if (req && req->n_resource_spans == 1 && req->resource_spans[0]->n_scope_spans == 1) {
		Opentelemetry__Proto__Trace__V1__ScopeSpans *ss =
			req->resource_spans[0]->scope_spans[0];

		EXPECT(ss->n_spans == n);
		for (size_t i = 0; i < ss->n_spans && i < n; i++) {
			if (ss->spans[i]->start_time_unix_nano != i ||
			    strcmp(ss->spans[i]->name, many[i].name) != 0 ||
			    ss->spans[i]->n_attributes != many[i].n_attrs) {
				EXPECT(!"span read back as encoded");
				break;
			}
		}
	}
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
		req, NULL);
	weft_free(buf);
	free(many);
}

/*
 * Requests are written directly (exporter/otlp_wire.h), not packed by
 * protobuf-c: protobuf-c reads one back as a `desc` message and packs what
 * it read, and the bytes must be the same — the same fields, in field
 * order, with the same defaults left out. Frees buf.
 */
static void expect_repacked(const ProtobufCMessageDescriptor *desc, uint8_t *buf, size_t len,
			    const char *what, size_t k)
{
	ProtobufCMessage *req = protobuf_c_message_unpack(desc, NULL, len, buf);
	size_t again;
	uint8_t *repacked;

	EXPECT(req != NULL);
	if (!req) {
		weft_free(buf);
		return;
	}
	again = protobuf_c_message_get_packed_size(req);
	repacked = malloc(again ? again : 1);
	EXPECT(repacked != NULL);
	if (repacked && (protobuf_c_message_pack(req, repacked) != len || again != len ||
			 memcmp(repacked, buf, len) != 0)) {
		fprintf(stderr, "%s %zu: %zu bytes written, %zu repacked\n", what, k, len, again);
		EXPECT(!"protobuf-c repacks the same bytes");
	}
	free(repacked);
	protobuf_c_message_free_unpacked(req, NULL);
	weft_free(buf);
}

/* Every span shape of the sample alone and all together, and a string array holding a NULL. */
static void check_repacked(void)
{
	static const char *const with_null[] = { "a", NULL, "" };
	struct weft_attr null_item = { .key = "arr",
				       .type = WEFT_VALUE_STRING_ARRAY,
				       .v.strs = { with_null, 3 } };
	const size_t n_spans = sizeof(spans) / sizeof(spans[0]);
	struct weft_span odd = spans[0];

	odd.attrs = &null_item;
	odd.n_attrs = 1;
	for (size_t k = 0; k <= n_spans + 1; k++) {
		const struct weft_span *batch = k < n_spans    ? &spans[k]
						: k == n_spans ? spans
							       : &odd;
		uint8_t *buf;
		size_t len;

		EXPECT(weft_otlp_encode_traces(&resource, batch, k == n_spans ? n_spans : 1, &buf,
					       &len) == 0);
		expect_repacked(
			&opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
			buf, len, "span batch", k);
	}
}

/* Every sample metric alone, and all of them. */
static void check_metrics_repacked(void)
{
	const size_t n_metrics = sizeof(metrics) / sizeof(metrics[0]);

	for (size_t k = 0; k <= n_metrics; k++) {
		uint8_t *buf;
		size_t len;

		EXPECT(weft_otlp_encode_metrics(&resource, k == n_metrics ? metrics : &metrics[k],
						k == n_metrics ? n_metrics : 1, &buf, &len) == 0);
		expect_repacked(
			&opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor,
			buf, len, "metric batch", k);
	}
}

/* A response packed by protobuf-c, then `extra` bytes (unknown fields), read back by weft. */
static int decode_packed(int signal, bool partial, int64_t rejected, const char *text,
			 const char *extra, size_t extra_n, int64_t *got, char *msg, size_t msglen)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess tps =
		OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse tr =
		OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
	Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsPartialSuccess mps =
		OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_PARTIAL_SUCCESS__INIT;
	Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse mr =
		OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_RESPONSE__INIT;
	uint8_t buf[512];
	size_t n;

	tps.rejected_spans = mps.rejected_data_points = rejected;
	tps.error_message = mps.error_message = (char *)text;
	tr.partial_success = partial ? &tps : NULL;
	mr.partial_success = partial ? &mps : NULL;
	n = signal == WEFT_OTLP_SIGNAL_TRACES
		    ? opentelemetry__proto__collector__trace__v1__export_trace_service_response__pack(
			      &tr, buf)
		    : opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__pack(
			      &mr, buf);
	memcpy(buf + n, extra, extra_n);
	return weft_otlp_decode_partial_success(signal, buf, n + extra_n, got, msg, msglen);
}

/*
 * The response is read by weft's own code: against what protobuf-c packs,
 * with unknown fields of every wire type around it, and malformed bytes.
 */
static void check_responses(void)
{
	/* Unknown fields: 9 varint, 10 fixed64, 11 length-delimited, 12 fixed32. */
	static const char unknown[] = "\x48\x96\x01\x51\1\2\3\4\5\6\7\x08\x5a\x02hi\x65\1\2\3\4";
	static const char *const bad[] = {
		"\x0a\x05\x08\x01",                             /* a length past the end */
		"\x08",                                         /* a tag without its value */
		"\x0b\x0c",                                     /* a group */
		"\x00\x01",                                     /* field 0 */
		"\x08\x01",                                     /* partial_success as a varint */
		"\x0a\x02\x0a\x00",                             /* rejected as bytes */
		"\x0a\x02\x10\x01",                             /* error_message as a varint */
		"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", /* an eleven-byte varint */
	};
	static const size_t bad_n[] = { 4, 1, 2, 2, 2, 4, 4, 11 };
	const int64_t values[] = { 0, 5, -1, INT64_MAX, INT64_MIN };
	int64_t got;
	char msg[16];

	for (int sig = WEFT_OTLP_SIGNAL_TRACES; sig <= WEFT_OTLP_SIGNAL_METRICS; sig++) {
		for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
			EXPECT(decode_packed(sig, true, values[i], "too\tlong a message", unknown,
					     sizeof(unknown) - 1, &got, msg, sizeof(msg)) == 0 &&
			       got == values[i] && strcmp(msg, "too?long a mess") == 0);
			EXPECT(decode_packed(sig, true, values[i], "", "", 0, &got, msg,
					     sizeof(msg)) == 0 &&
			       got == values[i] && msg[0] == '\0');
		}
		EXPECT(decode_packed(sig, false, 0, NULL, unknown, sizeof(unknown) - 1, &got, msg,
				     sizeof(msg)) == 0 &&
		       got == 0 && msg[0] == '\0');
		/* partial_success twice: merged, as protobuf merges a message given again. */
		EXPECT(weft_otlp_decode_partial_success(
			       sig, (const uint8_t *)"\x0a\x06\x08\x05\x12\x02hi\x0a\x02\x08\x07",
			       12, &got, msg, sizeof(msg)) == 0 &&
		       got == 7 && strcmp(msg, "hi") == 0);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			EXPECT(weft_otlp_decode_partial_success(sig, (const uint8_t *)bad[i],
								bad_n[i], &got, msg,
								sizeof(msg)) == -EBADMSG);
	}
}

static int check_errors(void)
{
	static const char *const no_items[] = { NULL };
	struct weft_attr bad_type = { .key = "k", .type = (enum weft_value_type)99 };
	struct weft_attr bad_array = { .key = "k",
				       .type = WEFT_VALUE_STRING_ARRAY,
				       .v.strs = { NULL, 2 } };
	struct weft_attr null_item = { .key = "k",
				       .type = WEFT_VALUE_STRING_ARRAY,
				       .v.strs = { no_items, 1 } };
	struct weft_span s = spans[2];
	struct weft_metric m = metrics[5];
	struct weft_point p = duration_points[0];
	uint8_t *buf = NULL;
	size_t len = 99;
	int64_t rejected;
	char msg[8];

	EXPECT(weft_otlp_encode_traces(NULL, spans, 1, &buf, &len) == -EINVAL);
	EXPECT(weft_otlp_encode_traces(&resource, NULL, 1, &buf, &len) == -EINVAL);
	EXPECT(weft_otlp_encode_traces(&resource, spans, 1, NULL, &len) == -EINVAL);
	EXPECT(weft_otlp_encode_metrics(&resource, metrics, 1, &buf, NULL) == -EINVAL);

	EXPECT(weft_otlp_encode_traces(&resource, NULL, 0, &buf, &len) == 0 && len == 0);
	weft_free(buf);
	EXPECT(weft_otlp_encode_metrics(&resource, NULL, 0, &buf, &len) == 0 && len == 0);
	weft_free(buf);

	/* Failures deep in the tree, after the arena has grown: nothing may leak. */
	s.attrs = &bad_type;
	s.n_attrs = 1;
	EXPECT(weft_otlp_encode_traces(&resource, &s, 1, &buf, &len) == -EINVAL);
	s.attrs = &bad_array;
	EXPECT(weft_otlp_encode_traces(&resource, &s, 1, &buf, &len) == -EINVAL);
	s.attrs = NULL;
	EXPECT(weft_otlp_encode_traces(&resource, &s, 1, &buf, &len) == -EINVAL);
	s = spans[2];
	s.links = NULL;
	EXPECT(weft_otlp_encode_traces(&resource, &s, 1, &buf, &len) == -EINVAL);

	m.type = (enum weft_metric_type)42;
	EXPECT(weft_otlp_encode_metrics(&resource, &m, 1, &buf, &len) == -EINVAL);
	m = metrics[5];
	p.bucket_counts = NULL;
	m.points = &p;
	m.n_points = 1;
	EXPECT(weft_otlp_encode_metrics(&resource, &m, 1, &buf, &len) == -EINVAL);

	/* A NULL string in an array is encoded as "". */
	s = spans[2];
	s.attrs = &null_item;
	s.n_attrs = 1;
	EXPECT(weft_otlp_encode_traces(&resource, &s, 1, &buf, &len) == 0);
	weft_free(buf);

	EXPECT(weft_otlp_decode_partial_success(7, NULL, 0, &rejected, msg, sizeof(msg)) ==
	       -EINVAL);
	EXPECT(weft_otlp_decode_partial_success(WEFT_OTLP_SIGNAL_TRACES,
						(const uint8_t *)"\xff\xff", 2, &rejected, msg,
						sizeof(msg)) == -EBADMSG);
	EXPECT(weft_otlp_decode_partial_success(WEFT_OTLP_SIGNAL_METRICS, NULL, 0, &rejected, NULL,
						0) == 0 &&
	       rejected == 0);

	check_large_batch();
	check_repacked();
	check_metrics_repacked();
	check_responses();
	printf("%s - encoder error paths, a 100000-span batch, requests as protobuf-c packs them\n",
	       failures ? "not ok" : "ok");
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	uint8_t *buf;
	size_t len;
	int err;

	if (argc == 4 && strcmp(argv[1], "--partial") == 0)
		return decode_response(argv[2], argv[3]);
	if (argc == 2 && strcmp(argv[1], "--errors") == 0)
		return check_errors();
	if (argc != 3) {
		fprintf(stderr, "usage: %s TRACES.bin METRICS.bin\n", argv[0]);
		return 2;
	}

	err = weft_otlp_encode_traces(&resource, spans, sizeof(spans) / sizeof(spans[0]), &buf,
				      &len);
	if (err) {
		fprintf(stderr, "encode traces: %s\n", strerror(-err));
		return 1;
	}
	if (write_file(argv[1], buf, len))
		return 1;
	weft_free(buf);

	err = weft_otlp_encode_metrics(&resource, metrics, sizeof(metrics) / sizeof(metrics[0]),
				       &buf, &len);
	if (err) {
		fprintf(stderr, "encode metrics: %s\n", strerror(-err));
		return 1;
	}
	if (write_file(argv[2], buf, len))
		return 1;
	weft_free(buf);
	return 0;
}
