/*
 * The timeline (exporter/timeline.h) on a crafted file, read back with the
 * JSON reader: time 0 from the metrics' start; spans that nest as X events,
 * including a task that arrives after its thread with the same end; spans
 * that cannot nest (overlapping without containing, and a late span that
 * overlaps a slice already inside its parent) and connections as async
 * b/e pairs; a link drawn at once, one whose producer comes later (drawn at
 * the end), one to a span not in the file (counted, not drawn); counters;
 * names (escaped), the main thread named after the service; and a last line
 * cut short: what came before it converted, exit status 0.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exporter/json_read.h"
#include "exporter/timeline.h"
#include "tests/unit/harness.h"

#define RES                                                                                        \
	"{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":"     \
	"\"s\\\"vc\"}},{\"key\":\"process.pid\",\"value\":{\"intValue\":\"100\"}}]}"
#define SPANS_BEGIN "{\"resourceSpans\":[" RES ",\"scopeSpans\":[{\"spans\":["
#define SPANS_END   "]}]}]}\n"
/* id, name, start, end (ns after 1e9), thread id, links. */
#define SPAN(id, name, start, end, tid, links)                                                     \
	"{\"spanId\":\"" id "\",\"name\":\"" name "\",\"startTimeUnixNano\":\"1" start             \
	"\",\"endTimeUnixNano\":\"1" end "\",\"attributes\":[{\"key\":\"thread.id\",\"value\":"    \
	"{\"intValue\":\"" tid "\"}},{\"key\":\"thread.name\",\"value\":{\"stringValue\":\"t" tid  \
	"\"}}]" links "}"
#define LINK(id, kind)                                                                             \
	"{\"spanId\":\"" id "\",\"attributes\":[{\"key\":\"weft.link.kind\",\"value\":{"           \
	"\"stringValue\":\"" kind "\"}}]}"

static const char file[] =
	"{\"resourceMetrics\":[" RES ",\"scopeMetrics\":[{\"metrics\":[{\"name\":"
	"\"process.thread.count\",\"sum\":{\"dataPoints\":[{\"startTimeUnixNano\":\"1000000000\","
	"\"timeUnixNano\":\"1000005000\",\"asInt\":\"3\"}]}},{\"name\":\"weft.pool.busy\","
	"\"gauge\":"
	"{\"dataPoints\":[{\"attributes\":[{\"key\":\"weft.pool.name\",\"value\":{\"stringValue\":"
	"\"w\"}}],\"timeUnixNano\":\"1000005000\",\"asInt\":\"2\"}]}},{\"name\":\"other\","
	"\"gauge\":{\"dataPoints\":[{\"asInt\":\"9\"}]}}]}]}]}\n"
	/* Thread 101: a wait, its task (linked to 000b, which comes later, and to
	 * a span nowhere), the thread, then a task ending with the thread. */
	SPANS_BEGIN SPAN(
		"0000000000000001", "wait mutex", "000001000", "000002000", "101",
		"") "," SPAN("0000000000000002", "task w", "000000500", "000003000", "101",
			     ",\"links\":[" LINK("000000000000000b", "cond.signal") "," LINK(
				     "00000000000000ff",
				     "pipe") "]") "," SPAN("0000000000000003", "thread w",
							   "000000100", "000009000", "101",
							   "") "," SPAN("0000000000000004",
									"task w", "000008000",
									"000009000", "101", "")
	/* Thread 102: a slice, then one overlapping it without containing it. */
	"," SPAN("0000000000000005", "wait cond", "000001000", "000003000", "102",
		 "") "," SPAN("0000000000000006", "task v", "000002000", "000004000", "102", "")
	/* Late on thread 101: inside the thread, overlapping the task 0002 (async). */
	"," SPAN("0000000000000007", "wait sem", "000002500", "000004000", "101", "")
	/* A connection, and a wait linked to the thread span 0003 (already read). */
	"," SPAN("0000000000000008", "connect", "000001000", "000002000", "101", "") "," SPAN(
		"0000000000000009", "wait join", "000004000", "000009500", "100",
		",\"links\":[" LINK("0000000000000003",
				    "join") "]") "," SPAN("000000000000000b", "task d", "000000200",
							  "000000400", "103", "") SPANS_END
	/* The process span (thread id absent: the main thread's track) and a cut line. */
	"{\"resourceSpans\":[" RES ",\"scopeSpans\":[{\"spans\":[{\"spanId\":"
	"\"000000000000000a\",\"name\":\"process\",\"startTimeUnixNano\":\"1000000000\","
	"\"endTimeUnixNano\":\"1000010000\"}]}]}]}\n" SPANS_BEGIN SPAN(
		"000000000000000c", "task lost", "000000100", "000000200", "101", "");

struct found {
	char ph[20][4];
	int n;
};

/* The events of the output whose args name span `id` (or, for flows, link to it). */
static int events_of(const struct weft_json_reader *r, const char *id, struct found *f)
{
	const struct weft_json_node *evs =
		weft_json_read_get(r, weft_json_read_root(r), "traceEvents");

	f->n = 0;
	for (const struct weft_json_node *e = weft_json_read_first(r, evs); e;
	     e = weft_json_read_next(r, e)) {
		const struct weft_json_node *args = weft_json_read_get(r, e, "args");
		const char *sid = weft_json_read_str(r, args, "span.id", "");
		const char *to = weft_json_read_str(r, args, "to", "");

		if ((strcmp(sid, id) == 0 || strcmp(to, id) == 0) && f->n < 20)
			snprintf(f->ph[f->n++], 4, "%s", weft_json_read_str(r, e, "ph", "?"));
	}
	return f->n;
}

/* The event of span `id` with phase `ph`, or NULL. */
static const struct weft_json_node *event(const struct weft_json_reader *r, const char *ph,
					  const char *id)
{
	const struct weft_json_node *evs =
		weft_json_read_get(r, weft_json_read_root(r), "traceEvents");

	for (const struct weft_json_node *e = weft_json_read_first(r, evs); e;
	     e = weft_json_read_next(r, e))
		if (strcmp(weft_json_read_str(r, e, "ph", ""), ph) == 0 &&
		    strcmp(weft_json_read_str(r, weft_json_read_get(r, e, "args"), "span.id", ""),
			   id) == 0)
			return e;
	return NULL;
}

static const char *text_of(const struct weft_json_node *v)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "%.*s", v ? (int)v->len : 0, v ? v->s : "");
	return buf;
}

int main(void)
{
	char in[] = "/tmp/weft-test-timeline-XXXXXX", out[64], *text;
	char *argv[] = { "timeline", in, "-o", out, NULL };
	struct weft_json_reader r;
	struct found f;
	FILE *fp;
	long len;
	int fd = mkstemp(in);

	assert_true(fd >= 0);
	assert_int(write(fd, file, sizeof(file) - 1), sizeof(file) - 1);
	close(fd);
	snprintf(out, sizeof(out), "%s.json", in);
	expect_int(weft_timeline_main(4, argv), 0);

	fp = fopen(out, "r");
	assert_true(fp != NULL);
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	text = malloc((size_t)len + 1);
	assert_int(fread(text, 1, (size_t)len, fp), len);
	fclose(fp);
	weft_json_read_init(&r);
	assert_int(weft_json_read_parse(&r, text, (size_t)len), 0);

	/* Nesting spans: X; the late task with its thread's end, too. */
	expect_int(events_of(&r, "0000000000000001", &f), 1);
	expect_str(f.ph[0], "X");
	expect_int(events_of(&r, "0000000000000003", &f), 1); /* its X (it links nothing) */
	expect_str(event(&r, "X", "0000000000000004") ? "X" : "-", "X");
	expect_str(event(&r, "X", "0000000000000005") ? "X" : "-", "X");
	/* Times: microseconds from the process start, to the nanosecond. */
	expect_str(text_of(weft_json_read_get(&r, event(&r, "X", "0000000000000001"), "ts")),
		   "1.000");
	expect_str(text_of(weft_json_read_get(&r, event(&r, "X", "0000000000000001"), "dur")),
		   "1.000");
	expect_str(text_of(weft_json_read_get(&r, event(&r, "X", "000000000000000a"), "tid")),
		   "100");
	/* Cannot nest, or a connection: async (b, and an e with the same id). */
	expect_true(event(&r, "b", "0000000000000006") != NULL);
	expect_true(event(&r, "b", "0000000000000007") != NULL);
	expect_true(event(&r, "b", "0000000000000008") != NULL);
	expect_true(event(&r, "X", "0000000000000006") == NULL);
	/* The task's flows: one from 000b (read later), none to the span nowhere. */
	expect_int(events_of(&r, "0000000000000002", &f), 3);
	expect_str(f.ph[0], "X");
	expect_str(f.ph[1], "s");
	expect_str(f.ph[2], "f");
	/* The join's flow: from the thread's end (9 us) to the join's end, forward. */
	expect_int(events_of(&r, "0000000000000009", &f), 3);
	{
		/* From inside the thread's end (9 us) to inside the join's end (9.5 us). */
		const struct weft_json_node *evs =
			weft_json_read_get(&r, weft_json_read_root(&r), "traceEvents");
		int seen = 0;

		for (const struct weft_json_node *e = weft_json_read_first(&r, evs); e;
		     e = weft_json_read_next(&r, e)) {
			const char *ph = weft_json_read_str(&r, e, "ph", "");
			const struct weft_json_node *args = weft_json_read_get(&r, e, "args");

			if (strcmp(weft_json_read_str(&r, args, "to", ""), "0000000000000009") != 0)
				continue;
			seen++;
			expect_str(weft_json_read_str(&r, e, "name", ""), "join");
			expect_str(weft_json_read_str(&r, args, "from", ""), "0000000000000003");
			if (strcmp(ph, "s") == 0) {
				expect_str(text_of(weft_json_read_get(&r, e, "ts")), "8.999");
				expect_str(text_of(weft_json_read_get(&r, e, "tid")), "101");
			} else {
				expect_str(ph, "f");
				expect_str(text_of(weft_json_read_get(&r, e, "ts")), "9.499");
				expect_str(weft_json_read_str(&r, e, "bp", ""), "e");
				expect_str(text_of(weft_json_read_get(&r, e, "tid")), "100");
			}
		}
		expect_int(seen, 2);
	}
	/* Nothing of the cut line. */
	expect_int(events_of(&r, "000000000000000c", &f), 0);
	/* Counters: the two of the four (not "other"). */
	{
		const struct weft_json_node *evs =
			weft_json_read_get(&r, weft_json_read_root(&r), "traceEvents");
		int counters = 0, names = 0;

		for (const struct weft_json_node *e = weft_json_read_first(&r, evs); e;
		     e = weft_json_read_next(&r, e)) {
			const char *ph = weft_json_read_str(&r, e, "ph", "");
			const char *name = weft_json_read_str(&r, e, "name", "");
			const struct weft_json_node *args = weft_json_read_get(&r, e, "args");

			if (strcmp(ph, "C") == 0) {
				counters++;
				if (strcmp(name, "weft.pool.busy") == 0)
					expect_str(text_of(weft_json_read_get(&r, args, "w")), "2");
				else
					expect_str(text_of(weft_json_read_get(&r, args, "value")),
						   "3");
				expect_str(text_of(weft_json_read_get(&r, e, "ts")), "5.000");
			}
			if (strcmp(ph, "M") == 0 && strcmp(name, "thread_name") == 0) {
				const char *n = weft_json_read_str(&r, args, "name", "");

				names++;
				expect_true(strcmp(n, "t101 (101)") == 0 ||
					    strcmp(n, "t102 (102)") == 0 ||
					    strcmp(n, "t103 (103)") == 0 ||
					    strcmp(n, "t100 (100)") == 0);
			}
			if (strcmp(ph, "M") == 0 && strcmp(name, "process_name") == 0)
				expect_str(weft_json_read_str(&r, args, "name", ""), "s\"vc (100)");
		}
		expect_int(counters, 2);
		expect_int(names, 4);
	}
	weft_json_read_free(&r);
	free(text);
	unlink(in);
	unlink(out);
	return harness_done();
}
