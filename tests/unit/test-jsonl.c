/*
 * The `file` output (OTLP JSON Lines): the exact lines written for the sample
 * telemetry, the file mode, appending, a symlink refused, a descriptor closed
 * and reused behind the sink's back, and a relative path after a chdir.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exporter/sink.h"
#include "harness.h"
#include "sample-telemetry.h"
#include "tmpdir.h"

/* This test's private directory (tmpdir.h). */
static const char *dir;

/* The lines the file output must write for the sample telemetry, written out by hand. */

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

	expect_int(sink->export_spans(sink, &sample_resource, sample_spans, SAMPLE_N_SPANS), 0);
	expect_int(sink->export_metrics(sink, &sample_resource, sample_metrics, SAMPLE_N_METRICS),
		   0);
	/* Empty batches write nothing. */
	expect_int(sink->export_spans(sink, &sample_resource, sample_spans, 0), 0);
	expect_int(sink->export_metrics(sink, &sample_resource, sample_metrics, 0), 0);
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
	expect_int(sink->export_metrics(sink, &sample_resource, sample_metrics, 1), 0);
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

static void test_relative_path(void)
{
	char cwd[PATH_MAX];
	struct weft_sink *sink;
	int fd;

	assert_true(getcwd(cwd, sizeof(cwd)) != NULL);
	assert_int(chdir(dir), 0);
	sink = weft_jsonl_open("rel.jsonl");
	assert_int(chdir("/"), 0);
	assert_true(sink != NULL);
	/* Reopened after the program changed directory: still the same file. */
	fd = fd_of(tmp_path("rel.jsonl"));
	assert_true(fd > 2);
	close(fd);
	expect_int(sink->export_metrics(sink, &sample_resource, sample_metrics, 1), 0);
	expect_int(count_lines(tmp_path("rel.jsonl")), 1);
	sink->shutdown(sink);
	assert_int(chdir(cwd), 0);
}

int main(void)
{
	dir = tmpdir_create("jsonl");
	assert_true(dir != NULL);
	test_file_exact();
	test_symlink_refused();
	test_relative_path();
	tmpdir_remove();
	return harness_done();
}
