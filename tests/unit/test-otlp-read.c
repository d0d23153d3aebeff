/*
 * Reading OTLP JSON Lines back (exporter/otlp_read.h): spans with their
 * resource, ids, times, attributes, links and events; sum and gauge points;
 * empty lines skipped; a line longer than the read buffer; a last line with
 * no newline that is complete (read) or cut short (refused, with its number,
 * and nothing of it visited); the attribute helpers and span ids.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exporter/otlp_read.h"
#include "tests/unit/harness.h"

#define SPAN_LINE                                                                                  \
	"{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","            \
	"\"value\":{\"stringValue\":\"svc\"}},{\"key\":\"process.pid\",\"value\":{\"intValue\":"   \
	"\"42\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"weft\"},\"spans\":[{\"traceId\":"       \
	"\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"00000000000000ff\",\"parentSpanId\":"   \
	"\"0000000000000001\",\"name\":\"wait mutex\",\"kind\":1,\"startTimeUnixNano\":"           \
	"\"1000\",\"endTimeUnixNano\":\"3000\",\"attributes\":[{\"key\":\"thread.id\",\"value\":"  \
	"{\"intValue\":\"43\"}},{\"key\":\"thread.name\",\"value\":{\"stringValue\":\"w\\u00e9\"}" \
	"}"                                                                                        \
	"],\"links\":[{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":"               \
	"\"0000000000000002\"}],\"events\":[{\"name\":\"e\"}]},{\"spanId\":\"0000000000000001\","  \
	"\"name\":\"process\",\"startTimeUnixNano\":\"500\",\"endTimeUnixNano\":\"400\"}]}]}]}"

#define METRIC_LINE                                                                                \
	"{\"resourceMetrics\":[{\"resource\":{\"attributes\":[{\"key\":\"process.pid\",\"value\":" \
	"{\"intValue\":\"42\"}}]},\"scopeMetrics\":[{\"metrics\":[{\"name\":\"m.sum\",\"sum\":{"   \
	"\"dataPoints\":[{\"asInt\":\"5\"},{\"asInt\":\"6\"}]}},{\"name\":\"m.gauge\",\"gauge\":{" \
	"\"dataPoints\":[{\"asInt\":\"7\"}]}},{\"name\":\"m.hist\",\"histogram\":{\"dataPoints\":" \
	"[{\"count\":\"1\"}]}}]}]}]}"

struct seen {
	const struct weft_otlp_reader *r;
	int spans, metrics, points;
	char names[256];
};

static void on_span(void *arg, const struct weft_otlp_resource *res, const struct weft_otlp_span *s)
{
	struct seen *x = arg;
	const struct weft_json_reader *j = weft_otlp_read_json(x->r);
	int64_t tid = 0;

	x->spans++;
	strcat(x->names, s->name);
	strcat(x->names, ";");
	expect_int(res->pid, 42);
	expect_str(res->service, "svc");
	if (strcmp(s->name, "wait mutex") == 0) {
		expect_true(s->span_id == 0xff && s->parent_id == 1);
		expect_int(s->kind, 1);
		expect_int(s->start_ns, 1000);
		expect_int(s->end_ns, 3000);
		expect_int(weft_otlp_read_attr_int(j, s->attrs, "thread.id", &tid), 0);
		expect_int(tid, 43);
		expect_str(weft_otlp_read_attr_str(j, s->attrs, "thread.name"), "w\xc3\xa9");
		expect_true(weft_otlp_read_attr_str(j, s->attrs, "thread.id") == NULL);
		expect_int(weft_otlp_read_attr_int(j, s->attrs, "nope", &tid), -ENOENT);
		expect_true(s->links && s->links->count == 1);
		expect_true(s->events && s->events->count == 1);
	} else {
		/* An end before the start is taken as the start. */
		expect_int(s->end_ns, 500);
		expect_true(s->parent_id == 0 && !s->attrs && !s->links);
	}
}

static void on_metric(void *arg, const struct weft_otlp_resource *res, const char *name,
		      const struct weft_json_node *points)
{
	struct seen *x = arg;

	x->metrics++;
	x->points += (int)points->count;
	strcat(x->names, name);
	strcat(x->names, ";");
}

static const struct weft_otlp_visitor visitor = { .span = on_span, .metric = on_metric };

/* Reads `text` as a file: the rc of each read_next call, in `rcs`. */
static void read_text(const char *text, size_t len, struct seen *x, int *rcs, int n,
		      uint64_t *last_line)
{
	char path[] = "/tmp/weft-test-otlp-read-XXXXXX";
	int fd = mkstemp(path);
	struct weft_otlp_reader r;

	assert_true(fd >= 0);
	assert_int(write(fd, text, len), (long long)len);
	close(fd);
	assert_int(weft_otlp_read_open(&r, path), 0);
	memset(x, 0, sizeof(*x));
	x->r = &r;
	for (int i = 0; i < n; i++)
		rcs[i] = weft_otlp_read_next(&r, &visitor, x);
	*last_line = r.line;
	weft_otlp_read_close(&r);
	unlink(path);
}

static void test_lines(void)
{
	static const char text[] = "\n" SPAN_LINE "\n\n" METRIC_LINE "\n" SPAN_LINE;
	struct seen x;
	int rc[4];
	uint64_t line;

	/* A last line without a newline, complete: read. */
	read_text(text, sizeof(text) - 1, &x, rc, 4, &line);
	expect_int(rc[0], 1);
	expect_int(rc[1], 1);
	expect_int(rc[2], 1);
	expect_int(rc[3], 0);
	expect_int(line, 5);
	expect_int(x.spans, 4);
	expect_int(x.metrics, 2); /* the histogram is not visited */
	expect_int(x.points, 3);
	expect_str(x.names, "wait mutex;process;m.sum;m.gauge;wait mutex;process;");

	/* Cut short anywhere in the last line: refused, nothing of it visited. */
	for (size_t cut = 1; cut < sizeof(SPAN_LINE) - 1; cut += 7) {
		read_text(text, sizeof(text) - 1 - cut, &x, rc, 4, &line);
		expect_int(rc[2], -EINVAL);
		expect_int(line, 5);
		expect_int(x.spans, 2);
	}
	/* Not a request at all. */
	read_text("{\"x\":1}\n", 8, &x, rc, 1, &line);
	expect_int(rc[0], -EINVAL);
}

/* A line of 3 MB (longer than a read): read whole. */
static void test_long_line(void)
{
	const size_t pad = 3u << 20;
	char *text = malloc(sizeof(SPAN_LINE) + pad + 16), *p;
	struct seen x;
	int rc[2];
	uint64_t line;

	/* The span's name made long: "wait mutex" followed by spaces is another name, so
	 * the padding goes inside the resource's service name instead. */
	p = strstr(strcpy(text, SPAN_LINE), "\"svc\"");
	memmove(p + pad, p, strlen(p) + 1);
	memset(p, ' ', pad);
	strcat(text, "\n");
	read_text(text, strlen(text), &x, rc, 2, &line);
	expect_int(rc[0], 1);
	expect_int(rc[1], 0);
	expect_int(x.spans, 2);
	free(text);
}

static void test_span_id(void)
{
	expect_true(weft_otlp_read_span_id("00000000000000ff") == 0xff);
	expect_true(weft_otlp_read_span_id("FFFFFFFFFFFFFFFF") == UINT64_MAX);
	expect_true(weft_otlp_read_span_id("00000000000000f") == 0);   /* 15 digits */
	expect_true(weft_otlp_read_span_id("00000000000000fff") == 0); /* 17 */
	expect_true(weft_otlp_read_span_id("000000000000000g") == 0);
	expect_true(weft_otlp_read_span_id("") == 0);
}

int main(void)
{
	test_lines();
	test_long_line();
	test_span_id();
	return harness_done();
}
