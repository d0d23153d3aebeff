/*
 * The JSON writer, the `file` output (OTLP JSON Lines) and the `console` and
 * `none` outputs: exact lines for a hand-built model, escaping edge cases, a
 * symlink refused, the file mode, and a descriptor closed and reused behind
 * the sink's back.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exporter/json.h"
#include "exporter/sink.h"
#include "harness.h"

static char tmpdir[] = "/tmp/weft-test-jsonl-XXXXXX";

/* ---- The model. ---- */

static const char *const cmd_args[] = {"./demo", "--flag", "a b"};

static const struct weft_attr res_attrs[] = {
    {.key = "service.name", .type = WEFT_VALUE_STRING, .v.s = "demo"},
    {.key = "process.pid", .type = WEFT_VALUE_INT, .v.i = 4242},
    {.key = "process.command_args", .type = WEFT_VALUE_STRING_ARRAY, .v.strs = {cmd_args, 3}},
    {.key = "weft.empty", .type = WEFT_VALUE_STRING_ARRAY, .v.strs = {NULL, 0}},
};

static const struct weft_resource resource = {
    .attrs = res_attrs,
    .n_attrs = 4,
    .scope_name = "weft",
    .scope_version = "0.1.0",
};

static const char *const arr_items[] = {"x", "y\"z"};

static const struct weft_attr span1_attrs[] = {
    {.key = "process.exit.code", .type = WEFT_VALUE_INT, .v.i = 1},
};

static const struct weft_attr span2_attrs[] = {
    {.key = "s",
     .type = WEFT_VALUE_STRING,
     .v.s = "tab\t \"q\" back\\slash nl\n ctl\x01 del\x7f bad\xff\xc0\xaf end"},
    {.key = "i", .type = WEFT_VALUE_INT, .v.i = INT64_MIN},
    {.key = "d", .type = WEFT_VALUE_DOUBLE, .v.d = 0.1},
    {.key = "nan", .type = WEFT_VALUE_DOUBLE, .v.d = NAN},
    {.key = "b", .type = WEFT_VALUE_BOOL, .v.b = true},
    {.key = "f", .type = WEFT_VALUE_BOOL, .v.b = false},
    {.key = "arr", .type = WEFT_VALUE_STRING_ARRAY, .v.strs = {arr_items, 2}},
};

static const struct weft_attr event_attrs[] = {
    {.key = "weft.object", .type = WEFT_VALUE_STRING, .v.s = "0x1234"},
};

static const struct weft_span_event span2_events[] = {
    {.name = "weft.deadlock",
     .time_unix_nano = 1700000000015000000ull,
     .attrs = event_attrs,
     .n_attrs = 1},
    {.name = "bare"},
};

static const struct weft_attr link_attrs[] = {
    {.key = "weft.link.kind", .type = WEFT_VALUE_STRING, .v.s = "pipe"},
};

static const struct weft_span_link span2_links[] = {
    {.trace_id = {{0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33,
		   0x22, 0x11, 0x00}},
     .span_id = {{1, 2, 3, 4, 5, 6, 7, 8}},
     .attrs = link_attrs,
     .n_attrs = 1},
};

static const struct weft_attr span3_attrs[] = {
    {.key = "k\xe2\x82", .type = WEFT_VALUE_STRING, .v.s = "\xf0\x9f\x98\x80 \xed\xa0\x80"},
};

#define TRACE_ID                                                                                   \
	{                                                                                          \
		{                                                                                  \
			1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16                      \
		}                                                                                  \
	}

static const struct weft_span spans[] = {
    {
	.trace_id = TRACE_ID,
	.span_id = {{0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8}},
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
	.span_id = {{0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8}},
	.parent_span_id = {{0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8}},
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
	.span_id = {{0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8}},
	.attrs = span3_attrs,
	.n_attrs = 1,
	.dropped_events = 7,
	.status = WEFT_STATUS_OK,
    },
    {
	.trace_id = TRACE_ID,
	.span_id = {{0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8}},
	.name = "",
	.status_message = "only a message",
    },
};

#define S_NS 1700000000000000000ull
#define T_NS 1700000060000000000ull

static const struct weft_point count_points[] = {
    {.start_unix_nano = S_NS, .time_unix_nano = T_NS, .as_int = 3},
};

static const struct weft_attr pool_workers[] = {
    {.key = "weft.pool.name", .type = WEFT_VALUE_STRING, .v.s = "workers"},
};

static const struct weft_attr pool_io[] = {
    {.key = "weft.pool.name", .type = WEFT_VALUE_STRING, .v.s = "io"},
};

static const struct weft_point created_points[] = {
    {.attrs = pool_workers,
     .n_attrs = 1,
     .start_unix_nano = S_NS,
     .time_unix_nano = T_NS,
     .as_int = 12},
    {.attrs = pool_io, .n_attrs = 1, .start_unix_nano = S_NS, .time_unix_nano = T_NS, .as_int = 0},
};

static const struct weft_attr channel_attrs[] = {
    {.key = "weft.channel.name", .type = WEFT_VALUE_STRING, .v.s = "pipe:main#1"},
};

static const struct weft_point depth_points[] = {
    {.attrs = channel_attrs,
     .n_attrs = 1,
     .time_unix_nano = T_NS,
     .is_double = true,
     .as_double = 1.5},
    {.time_unix_nano = T_NS, .as_int = -2},
};

static const struct weft_attr kind_mutex[] = {
    {.key = "weft.wait.kind", .type = WEFT_VALUE_STRING, .v.s = "mutex"},
};

static const struct weft_attr kind_cond[] = {
    {.key = "weft.wait.kind", .type = WEFT_VALUE_STRING, .v.s = "cond"},
};

static const double bounds[] = {0.001, 0.005, 0.01};
static const uint64_t buckets_mutex[] = {1, 2, 1, 0};
static const uint64_t buckets_cond[] = {0, 0, 0, 0};

static const struct weft_point wait_points[] = {
    {.attrs = kind_mutex,
     .n_attrs = 1,
     .start_unix_nano = S_NS,
     .time_unix_nano = T_NS,
     .count = 4,
     .sum = 0.0105,
     .min = 0.0005,
     .max = 0.007,
     .bounds = bounds,
     .n_bounds = 3,
     .bucket_counts = buckets_mutex},
    {.attrs = kind_cond,
     .n_attrs = 1,
     .start_unix_nano = S_NS,
     .time_unix_nano = T_NS,
     .bounds = bounds,
     .n_bounds = 3,
     .bucket_counts = buckets_cond},
};

static const struct weft_metric metrics[] = {
    {.name = "process.thread.count",
     .description = "Live threads",
     .unit = "{thread}",
     .type = WEFT_METRIC_SUM,
     .monotonic = false,
     .points = count_points,
     .n_points = 1},
    {.name = "weft.thread.created",
     .unit = "{thread}",
     .type = WEFT_METRIC_SUM,
     .monotonic = true,
     .points = created_points,
     .n_points = 2},
    {.name = "weft.channel.queue.depth",
     .unit = "By",
     .type = WEFT_METRIC_GAUGE,
     .points = depth_points,
     .n_points = 2},
    {.name = "weft.wait.duration",
     .unit = "s",
     .type = WEFT_METRIC_HISTOGRAM,
     .points = wait_points,
     .n_points = 2},
};

/* ---- The expected lines, written out by hand. ---- */

/* clang-format off */
#define RESOURCE_JSON \
	"\"resource\":{\"attributes\":[" \
	"{\"key\":\"service.name\",\"value\":{\"stringValue\":\"demo\"}}," \
	"{\"key\":\"process.pid\",\"value\":{\"intValue\":\"4242\"}}," \
	"{\"key\":\"process.command_args\",\"value\":{\"arrayValue\":{\"values\":[" \
	"{\"stringValue\":\"./demo\"},{\"stringValue\":\"--flag\"},{\"stringValue\":\"a b\"}]}}}," \
	"{\"key\":\"weft.empty\",\"value\":{\"arrayValue\":{}}}" \
	"]}"

#define SCOPE_JSON "\"scope\":{\"name\":\"weft\",\"version\":\"0.1.0\"}"

static const char expected_spans[] =
	"{\"resourceSpans\":[{" RESOURCE_JSON ",\"scopeSpans\":[{" SCOPE_JSON ",\"spans\":["
	/* A root span with an error status. */
	"{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"a1a2a3a4a5a6a7a8\","
	"\"flags\":1,\"name\":\"process\",\"kind\":1,"
	"\"startTimeUnixNano\":\"1700000000000000000\","
	"\"endTimeUnixNano\":\"1700000001500000000\","
	"\"attributes\":[{\"key\":\"process.exit.code\",\"value\":{\"intValue\":\"1\"}}],"
	"\"status\":{\"code\":2,\"message\":\"exit code 1\"}},"
	/* A child with every attribute type, events and a link. */
	"{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"b1b2b3b4b5b6b7b8\","
	"\"parentSpanId\":\"a1a2a3a4a5a6a7a8\",\"name\":\"thread w\xc3\xb6rker\",\"kind\":5,"
	"\"startTimeUnixNano\":\"1700000000010000000\","
	"\"endTimeUnixNano\":\"1700000000022345678\","
	"\"attributes\":["
	"{\"key\":\"s\",\"value\":{\"stringValue\":\"tab\\u0009 \\\"q\\\" back\\\\slash nl\\u000a "
	"ctl\\u0001 del\\u007f bad\\ufffd\\ufffd\\ufffd end\"}},"
	"{\"key\":\"i\",\"value\":{\"intValue\":\"-9223372036854775808\"}},"
	"{\"key\":\"d\",\"value\":{\"doubleValue\":0.1}},"
	"{\"key\":\"nan\",\"value\":{\"doubleValue\":\"NaN\"}},"
	"{\"key\":\"b\",\"value\":{\"boolValue\":true}},"
	"{\"key\":\"f\",\"value\":{\"boolValue\":false}},"
	"{\"key\":\"arr\",\"value\":{\"arrayValue\":{\"values\":"
	"[{\"stringValue\":\"x\"},{\"stringValue\":\"y\\\"z\"}]}}}"
	"],\"droppedAttributesCount\":3,"
	"\"events\":[{\"timeUnixNano\":\"1700000000015000000\",\"name\":\"weft.deadlock\","
	"\"attributes\":[{\"key\":\"weft.object\",\"value\":{\"stringValue\":\"0x1234\"}}]},"
	"{\"name\":\"bare\"}],"
	"\"links\":[{\"traceId\":\"ffeeddccbbaa99887766554433221100\","
	"\"spanId\":\"0102030405060708\","
	"\"attributes\":[{\"key\":\"weft.link.kind\",\"value\":{\"stringValue\":\"pipe\"}}]}],"
	"\"droppedLinksCount\":2},"
	/* Defaults left out; invalid UTF-8 in a key. */
	"{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"c1c2c3c4c5c6c7c8\","
	"\"attributes\":[{\"key\":\"k\\ufffd\",\"value\":{\"stringValue\":"
	"\"\xf0\x9f\x98\x80 \\ufffd\\ufffd\\ufffd\"}}],"
	"\"droppedEventsCount\":7,\"status\":{\"code\":1}},"
	/* A status with a message and no code; an empty name left out. */
	"{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"d1d2d3d4d5d6d7d8\","
	"\"status\":{\"message\":\"only a message\"}}"
	"]}]}]}\n";

#define ATTR(key, value) \
	"\"attributes\":[{\"key\":\"" key "\",\"value\":{\"stringValue\":\"" value "\"}}],"
#define TIMES \
	"\"startTimeUnixNano\":\"1700000000000000000\",\"timeUnixNano\":\"1700000060000000000\","

static const char expected_metrics[] =
	"{\"resourceMetrics\":[{" RESOURCE_JSON ",\"scopeMetrics\":[{" SCOPE_JSON ",\"metrics\":["
	/* An up-down counter. */
	"{\"name\":\"process.thread.count\",\"description\":\"Live threads\",\"unit\":\"{thread}\","
	"\"sum\":{\"dataPoints\":[{" TIMES "\"asInt\":\"3\"}],\"aggregationTemporality\":2}},"
	/* A monotonic counter; a zero value is still written (a oneof). */
	"{\"name\":\"weft.thread.created\",\"unit\":\"{thread}\",\"sum\":{\"dataPoints\":["
	"{" ATTR("weft.pool.name", "workers") TIMES "\"asInt\":\"12\"},"
	"{" ATTR("weft.pool.name", "io") TIMES "\"asInt\":\"0\"}],"
	"\"aggregationTemporality\":2,\"isMonotonic\":true}},"
	/* A gauge: no start time, a double and an int point. */
	"{\"name\":\"weft.channel.queue.depth\",\"unit\":\"By\",\"gauge\":{\"dataPoints\":["
	"{" ATTR("weft.channel.name", "pipe:main#1")
	"\"timeUnixNano\":\"1700000060000000000\",\"asDouble\":1.5},"
	"{\"timeUnixNano\":\"1700000060000000000\",\"asInt\":\"-2\"}]}},"
	/* A histogram; the empty point has no count, min or max. */
	"{\"name\":\"weft.wait.duration\",\"unit\":\"s\",\"histogram\":{\"dataPoints\":["
	"{" ATTR("weft.wait.kind", "mutex") TIMES
	"\"count\":\"4\",\"sum\":0.0105,\"bucketCounts\":[\"1\",\"2\",\"1\",\"0\"],"
	"\"explicitBounds\":[0.001,0.005,0.01],\"min\":0.0005,\"max\":0.007},"
	"{" ATTR("weft.wait.kind", "cond") TIMES
	"\"sum\":0,\"bucketCounts\":[\"0\",\"0\",\"0\",\"0\"],"
	"\"explicitBounds\":[0.001,0.005,0.01]}],"
	"\"aggregationTemporality\":2}}"
	"]}]}]}\n";
/* clang-format on */

/* ---- Helpers. ---- */

static char *tmp_path(const char *name)
{
	static char bufs[8][PATH_MAX];
	static unsigned next;
	char *p = bufs[next++ % 8];

	snprintf(p, PATH_MAX, "%s/%s", tmpdir, name);
	return p;
}

/* The whole file, NUL-terminated; the caller frees it. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[n] = '\0';
	fclose(f);
	return buf;
}

/* The descriptor of this process that names `path`, or -1. */
static int fd_of(const char *path)
{
	char want[PATH_MAX], link[PATH_MAX], target[PATH_MAX];
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int found = -1;

	if (!d || !realpath(path, want)) {
		if (d)
			closedir(d);
		return -1;
	}
	while ((e = readdir(d))) {
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, want) == 0 && atoi(e->d_name) != dirfd(d))
			found = atoi(e->d_name);
	}
	closedir(d);
	return found;
}

/* Runs fn with stderr captured into a file; returns what was written (freed by the caller). */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
	const char *path = tmp_path("stderr.txt");
	int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	fflush(stderr);
	dup2(fd, 2);
	close(fd);
	fn(arg);
	dup2(saved, 2);
	close(saved);
	return slurp(path);
}

static int count_lines(const char *path)
{
	char *s = slurp(path);
	int n = 0;

	if (!s)
		return -1;
	for (char *p = s; *p; p++)
		n += *p == '\n';
	free(s);
	return n;
}

static void validate_with_python(const char *path)
{
	char cmd[PATH_MAX + 200];

	if (system("command -v python3 >/dev/null 2>&1") != 0) {
		printf("python3 not found: JSON validation skipped\n");
		return;
	}
	snprintf(cmd, sizeof(cmd),
		 "python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' '%s'",
		 path);
	expect_int(system(cmd), 0);
}

/* ---- The JSON writer. ---- */

static void check_json(struct weft_json *j, const char *expected)
{
	assert_int(weft_json_error(j), 0);
	char *got = strndup(j->buf ? j->buf : "", j->len);

	expect_str(got, expected);
	free(got);
	weft_json_reset(j);
}

static void test_json_writer(void)
{
	struct weft_json j;
	char d[WEFT_JSON_DOUBLE_MAX];

	weft_json_init(&j);

	/* Structure and commas. */
	weft_json_begin_object(&j);
	weft_json_key(&j, "a");
	weft_json_begin_array(&j);
	weft_json_end_array(&j);
	weft_json_key(&j, "b");
	weft_json_begin_array(&j);
	weft_json_u64(&j, 1);
	weft_json_begin_object(&j);
	weft_json_end_object(&j);
	weft_json_begin_array(&j);
	weft_json_bool(&j, false);
	weft_json_end_array(&j);
	weft_json_string(&j, NULL);
	weft_json_end_array(&j);
	weft_json_key(&j, "c");
	weft_json_u64_string(&j, UINT64_MAX);
	weft_json_key(&j, "d");
	weft_json_i64_string(&j, INT64_MIN);
	weft_json_key(&j, "e");
	weft_json_i64_string(&j, 0);
	weft_json_key(&j, "f");
	weft_json_hex(&j, (const uint8_t *)"\x00\x0f\xf0\xff", 4);
	weft_json_end_object(&j);
	check_json(&j, "{\"a\":[],\"b\":[1,{},[false],\"\"],\"c\":\"18446744073709551615\","
		       "\"d\":\"-9223372036854775808\",\"e\":\"0\",\"f\":\"000ff0ff\"}");

	/* Escaping: quotes, backslash, every control character form, DEL, NUL. */
	weft_json_string_n(&j, "\"\\/\b\f\n\r\t\x1f\x7f\0x", 12);
	check_json(&j, "\"\\\"\\\\/\\u0008\\u000c\\u000a\\u000d\\u0009\\u001f\\u007f\\u0000x\"");

	/* Valid UTF-8 of every length passes through. */
	weft_json_string(&j,
			 "\xc2\xa9 \xe2\x82\xac \xef\xbf\xbf \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
	check_json(&j, "\"\xc2\xa9 \xe2\x82\xac \xef\xbf\xbf \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"");

	/* Invalid UTF-8: one U+FFFD per maximal ill-formed subpart. */
	weft_json_string(&j, "a\x80z");			  /* lone continuation */
	weft_json_string(&j, "\xc0\xaf");		  /* overlong: two bad bytes */
	weft_json_string(&j, "\xe0\x80\xaf");		  /* overlong three-byte form */
	weft_json_string(&j, "\xed\xa0\x80");		  /* a surrogate */
	weft_json_string(&j, "\xf4\x90\x80\x80");	  /* above U+10FFFF */
	weft_json_string(&j, "\xe2\x82");		  /* truncated at the end */
	weft_json_string(&j, "\xe2\x82x");		  /* truncated before ASCII */
	weft_json_string(&j, "\xf0\x9f\x98\xe2\x82\xac"); /* truncated before a valid one */
	weft_json_string(&j, "\xfe\xff\xf5");		  /* never valid */
	check_json(&j, "\"a\\ufffdz\"\"\\ufffd\\ufffd\"\"\\ufffd\\ufffd\\ufffd\""
		       "\"\\ufffd\\ufffd\\ufffd\"\"\\ufffd\\ufffd\\ufffd\\ufffd\"\"\\ufffd\""
		       "\"\\ufffdx\"\"\\ufffd\xe2\x82\xac\"\"\\ufffd\\ufffd\\ufffd\"");

	/* Doubles: shortest round trip, non-finite as proto3 strings. */
	weft_json_begin_array(&j);
	weft_json_double(&j, 0.1);
	weft_json_double(&j, 1.5);
	weft_json_double(&j, -0.0);
	weft_json_double(&j, 0);
	weft_json_double(&j, 1e300);
	weft_json_double(&j, 1e-5);
	weft_json_double(&j, 5e-324);
	weft_json_double(&j, 1.0 / 3);
	weft_json_double(&j, 123456789012345678.0);
	weft_json_double(&j, NAN);
	weft_json_double(&j, INFINITY);
	weft_json_double(&j, -INFINITY);
	weft_json_end_array(&j);
	check_json(&j, "[0.1,1.5,-0,0,1e+300,1e-05,4.94065645841247e-324,0.3333333333333333,"
		       "1.2345678901234568e+17,\"NaN\",\"Infinity\",\"-Infinity\"]");

	/* A locale with a decimal comma changes nothing. */
	if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
		weft_json_format_double(d, 2.25);
		expect_str(d, "2.25");
		setlocale(LC_NUMERIC, "C");
	} else {
		printf("no decimal-comma locale installed: locale check skipped\n");
	}

	/* Nesting past the limit is an error, and errors are sticky. */
	for (int i = 0; i <= WEFT_JSON_MAX_DEPTH; i++)
		weft_json_begin_array(&j);
	expect_int(weft_json_error(&j), -EINVAL);
	weft_json_u64(&j, 1);
	expect_int(weft_json_error(&j), -EINVAL);
	weft_json_reset(&j);
	expect_int(weft_json_error(&j), 0);

	/* appendf grows the buffer when the text does not fit. */
	weft_json_free(&j);
	weft_json_appendf(&j, "%0300d|%s", 7, "end");
	assert_int(weft_json_error(&j), 0);
	expect_int(j.len, 304);
	expect_true(memcmp(j.buf + 299, "7|end", 5) == 0);
	weft_json_free(&j);
}

/* ---- The file output. ---- */

static void test_file_exact(void)
{
	const char *path = tmp_path("out.jsonl");
	struct weft_sink *sink;
	struct stat st;
	char *got;
	mode_t old = umask(0);

	sink = weft_jsonl_open(path);
	umask(old);
	assert_true(sink != NULL);
	expect_str(sink->name, "file");
	expect_int(stat(path, &st), 0);
	expect_int(st.st_mode & 07777, 0600);

	expect_int(sink->export_spans(sink, &resource, spans, 4), 0);
	expect_int(sink->export_metrics(sink, &resource, metrics, 4), 0);
	/* Empty batches write nothing. */
	expect_int(sink->export_spans(sink, &resource, spans, 0), 0);
	expect_int(sink->export_metrics(sink, &resource, metrics, 0), 0);
	sink->shutdown(sink);
	expect_int(fd_of(path), -1);

	got = slurp(path);
	assert_true(got != NULL);
	{
		char *nl = strchr(got, '\n');

		assert_true(nl != NULL);
		char *first = strndup(got, (size_t)(nl + 1 - got));

		expect_str(first, expected_spans);
		expect_str(nl + 1, expected_metrics);
		free(first);
	}
	free(got);
	validate_with_python(path);

	/* A second sink appends, and an existing file keeps its mode. */
	expect_int(chmod(path, 0644), 0);
	sink = weft_jsonl_open(path);
	assert_true(sink != NULL);
	expect_int(sink->export_metrics(sink, &resource, metrics, 1), 0);
	sink->shutdown(sink);
	expect_int(stat(path, &st), 0);
	expect_int(st.st_mode & 07777, 0644);
	expect_int(count_lines(path), 3);
	validate_with_python(path);
}

static void open_symlink(void *arg)
{
	*(struct weft_sink **)arg = weft_jsonl_open(tmp_path("link.jsonl"));
}

static void test_symlink_refused(void)
{
	struct weft_sink *sink = (struct weft_sink *)1;
	char expected[PATH_MAX + 100];
	struct stat st;
	char *err;

	assert_int(symlink(tmp_path("target.jsonl"), tmp_path("link.jsonl")), 0);
	err = capture_stderr(open_symlink, &sink);
	expect_true(sink == NULL);
	snprintf(expected, sizeof(expected),
		 "weft: cannot write %s: Too many levels of symbolic links\n",
		 tmp_path("link.jsonl"));
	expect_str(err, expected);
	free(err);
	expect_int(lstat(tmp_path("target.jsonl"), &st), -1);
}

struct export_args {
	struct weft_sink *sink;
	int r1, r2;
};

static void export_twice(void *arg)
{
	struct export_args *a = arg;

	a->r1 = a->sink->export_metrics(a->sink, &resource, metrics, 1);
	a->r2 = a->sink->export_metrics(a->sink, &resource, metrics, 1);
}

static void test_fd_stolen(void)
{
	const char *real = tmp_path("real.jsonl"), *impostor = tmp_path("impostor.txt");
	struct weft_sink *sink = weft_jsonl_open(real);
	struct export_args args;
	struct stat st, ist;
	int fd, ifd, fd2;
	char *err;

	assert_true(sink != NULL);
	expect_int(sink->export_spans(sink, &resource, spans, 1), 0);
	fd = fd_of(real);
	assert_true(fd > 2);

	/* The program closes our descriptor and puts its own file on the number. */
	ifd = open(impostor, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(ifd >= 0);
	close(fd);
	assert_int(dup2(ifd, fd), fd);
	close(ifd);

	expect_int(sink->export_spans(sink, &resource, spans, 1), 0);
	expect_int(count_lines(real), 2);
	expect_int(count_lines(impostor), 0);
	fd2 = fd_of(real);
	expect_true(fd2 > 2 && fd2 != fd);

	/* Closed and not reused: reopened as well. */
	close(fd2);
	expect_int(sink->export_metrics(sink, &resource, metrics, 1), 0);
	expect_int(count_lines(real), 3);
	validate_with_python(real);

	/*
	 * Replaced by a symlink while we were not looking: the reopen refuses it,
	 * says so once, and the symlink's target is never created.
	 */
	fd2 = fd_of(real);
	assert_true(fd2 > 2);
	close(fd2);
	expect_int(unlink(real), 0);
	expect_int(symlink(tmp_path("elsewhere.jsonl"), real), 0);
	args.sink = sink;
	err = capture_stderr(export_twice, &args);
	expect_int(args.r1, -ELOOP);
	expect_int(args.r2, -ELOOP);
	assert_true(err != NULL);
	/* One line, not one per failed export. */
	expect_true(strchr(err, '\n') == err + strlen(err) - 1);
	expect_true(strstr(err, "weft: cannot write ") == err);
	expect_true(strstr(err, ": Too many levels of symbolic links\n") != NULL);
	free(err);
	expect_int(lstat(tmp_path("elsewhere.jsonl"), &st), -1);

	/* Shutting down leaves the program's descriptor alone. */
	sink->shutdown(sink);
	expect_int(fstat(fd, &st), 0);
	expect_int(stat(impostor, &ist), 0);
	expect_true(st.st_ino == ist.st_ino && st.st_dev == ist.st_dev);
	expect_int(count_lines(impostor), 0);
	close(fd);
}

static void test_relative_path(void)
{
	char cwd[PATH_MAX];
	struct weft_sink *sink;
	int fd;

	assert_true(getcwd(cwd, sizeof(cwd)) != NULL);
	assert_int(chdir(tmpdir), 0);
	sink = weft_jsonl_open("rel.jsonl");
	assert_int(chdir("/"), 0);
	assert_true(sink != NULL);
	/* Reopened after the program changed directory: still the same file. */
	fd = fd_of(tmp_path("rel.jsonl"));
	assert_true(fd > 2);
	close(fd);
	expect_int(sink->export_metrics(sink, &resource, metrics, 1), 0);
	expect_int(count_lines(tmp_path("rel.jsonl")), 1);
	sink->shutdown(sink);
	assert_int(chdir(cwd), 0);
}

/* ---- The console and none outputs. ---- */

struct console_args {
	int fd;
	struct weft_sink *sink;
};

static void open_console(void *arg)
{
	struct console_args *a = arg;

	a->sink = weft_console_open(a->fd);
}

static void test_console(void)
{
	const char *path = tmp_path("console.txt"), *other = tmp_path("other.txt");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), ofd;
	struct weft_sink *sink;
	char *got;

	assert_true(fd >= 0);
	sink = weft_console_open(fd);
	assert_true(sink != NULL);
	expect_str(sink->name, "console");
	expect_int(sink->export_spans(sink, &resource, spans, 4), 0);
	expect_int(sink->export_metrics(sink, &resource, metrics, 4), 0);
	got = slurp(path);
	expect_str(
	    got, "weft: span process  trace=0102030405060708090a0b0c0d0e0f10 span=a1a2a3a4a5a6a7a8"
		 " 1500.000ms  process.exit.code=1 status=ERROR message=\"exit code 1\"\n"
		 "weft: span thread w\xc3\xb6rker  trace=0102030405060708090a0b0c0d0e0f10"
		 " span=b1b2b3b4b5b6b7b8 parent=a1a2a3a4a5a6a7a8 12.345ms  kind=consumer"
		 " s=\"tab\\u0009 \\\"q\\\" back\\\\slash nl\\u000a ctl\\u0001 del\\u007f"
		 " bad\\ufffd\\ufffd\\ufffd end\" i=-9223372036854775808 d=0.1 nan=NaN b=true"
		 " f=false arr=[x,\"y\\\"z\"] events=weft.deadlock,bare links=0102030405060708\n"
		 "weft: span   trace=0102030405060708090a0b0c0d0e0f10 span=c1c2c3c4c5c6c7c8"
		 " 0.000ms  \"k\\ufffd\"=\"\xf0\x9f\x98\x80 \\ufffd\\ufffd\\ufffd\" status=OK\n"
		 "weft: span   trace=0102030405060708090a0b0c0d0e0f10 span=d1d2d3d4d5d6d7d8"
		 " 0.000ms  message=\"only a message\"\n"
		 "weft: metric process.thread.count{} = 3\n"
		 "weft: metric weft.thread.created{weft.pool.name=\"workers\"} = 12\n"
		 "weft: metric weft.thread.created{weft.pool.name=\"io\"} = 0\n"
		 "weft: metric weft.channel.queue.depth{weft.channel.name=\"pipe:main#1\"} = 1.5\n"
		 "weft: metric weft.channel.queue.depth{} = -2\n"
		 "weft: metric weft.wait.duration{weft.wait.kind=\"mutex\"} count=4 sum=0.0105"
		 " min=0.0005 max=0.007\n"
		 "weft: metric weft.wait.duration{weft.wait.kind=\"cond\"} count=0 sum=0\n");
	free(got);

	/* The program closed the descriptor and reused it: nothing is written there. */
	ofd = open(other, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(ofd >= 0);
	close(fd);
	assert_int(dup2(ofd, fd), fd);
	close(ofd);
	expect_int(sink->export_spans(sink, &resource, spans, 1), -EBADF);
	expect_int(sink->export_metrics(sink, &resource, metrics, 1), -EBADF);
	expect_int(count_lines(other), 0);
	sink->shutdown(sink);
	/* The descriptor was never ours to close. */
	expect_true(fcntl(fd, F_GETFD) >= 0);
	close(fd);

	/* A descriptor that is not open cannot be a console. */
	{
		struct console_args a = {.fd = 999, .sink = (struct weft_sink *)1};
		char *err, expected[64];

		err = capture_stderr(open_console, &a);
		expect_true(a.sink == NULL);
		expect_int(fcntl(a.fd, F_GETFD), -1);
		snprintf(expected, sizeof(expected), "weft: cannot write to fd 999: %s\n",
			 strerror(EBADF));
		expect_str(err, expected);
		free(err);
	}

	sink = weft_none_open();
	assert_true(sink != NULL);
	expect_str(sink->name, "none");
	expect_int(sink->export_spans(sink, &resource, spans, 4), 0);
	expect_int(sink->export_metrics(sink, &resource, metrics, 4), 0);
	if (sink->shutdown)
		sink->shutdown(sink);
}

static void cleanup(void)
{
	char cmd[PATH_MAX + 20];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

int main(void)
{
	assert_true(mkdtemp(tmpdir) != NULL);
	test_json_writer();
	test_file_exact();
	test_symlink_refused();
	test_fd_stolen();
	test_relative_path();
	test_console();
	cleanup();
	return harness_done();
}
