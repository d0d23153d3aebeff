/*
 * The `console` output (one readable line per span and per series, on a
 * descriptor weft does not own) and the `none` output, for the sample
 * telemetry; a console descriptor closed and reused by the program, or never
 * open.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "exporter/sink.h"
#include "harness.h"
#include "sample-telemetry.h"
#include "tmpdir.h"

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
	expect_int(sink->export_spans(sink, &sample_resource, sample_spans, SAMPLE_N_SPANS), 0);
	expect_int(sink->export_metrics(sink, &sample_resource, sample_metrics, SAMPLE_N_METRICS),
		   0);
	got = slurp(path);
	expect_str(
		got,
		"weft: span process  trace=0102030405060708090a0b0c0d0e0f10 span=a1a2a3a4a5a6a7a8"
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
	expect_int(sink->export_spans(sink, &sample_resource, sample_spans, 1), -EBADF);
	expect_int(sink->export_metrics(sink, &sample_resource, sample_metrics, 1), -EBADF);
	expect_int(count_lines(other), 0);
	sink->shutdown(sink);
	/* The descriptor was never ours to close. */
	expect_true(fcntl(fd, F_GETFD) >= 0);
	close(fd);

	/* A descriptor that is not open cannot be a console. */
	{
		struct console_args a = { .fd = 999, .sink = (struct weft_sink *)1 };
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
	expect_int(sink->export_spans(sink, &sample_resource, sample_spans, SAMPLE_N_SPANS), 0);
	expect_int(sink->export_metrics(sink, &sample_resource, sample_metrics, SAMPLE_N_METRICS),
		   0);
	if (sink->shutdown)
		sink->shutdown(sink);
}

int main(void)
{
	assert_true(tmpdir_create("console") != NULL);
	test_console();
	tmpdir_remove();
	return harness_done();
}
