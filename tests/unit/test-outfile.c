/*
 * exporter/outfile.c: the file under the `file` output. Created lazily with
 * O_EXCL, another user's file refused, rotated past its size with the spans
 * of deleted backups counted, writes bounded in time once the process exits,
 * and a line cut short never corrupting the next.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "exporter/outfile.h"
#include "exporter/outputs.h"
#include "harness.h"

static char tmpdir[] = "/tmp/weft-test-outfile-XXXXXX";

static const char *tmp_path(const char *name)
{
	static char buf[4][PATH_MAX];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", tmpdir, name);
	return p;
}

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_lazy_and_rotation(void)
{
	const char *path = tmp_path("out.jsonl");
	char line[101];
	struct weft_outfile *f = weft_outfile_new(-1, path, path, 1000, NULL);
	struct stat st;

	assert_true(f != NULL);
	expect_int(file_size(path), -1); /* nothing until there is a line */
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	/* 10 lines of 101 bytes fill a file past 1000: each file holds 9. */
	for (int i = 0; i < 9 * 5; i++)
		expect_int(weft_outfile_write(f, line, sizeof(line), 2, 0), 0);
	expect_int(stat(path, &st), 0);
	expect_int(st.st_mode & 0777, 0600);
	expect_int(file_size(path), 909);
	expect_int(file_size(tmp_path("out.jsonl.1")), 909);
	expect_int(file_size(tmp_path("out.jsonl.3")), 909);
	expect_int(file_size(tmp_path("out.jsonl.4")), -1);
	/* Five files' worth: the first was deleted with its 9 lines of 2 spans. */
	expect_int(weft_outfile_rotated_spans(f), 18);
	/* A line longer than the limit still goes out, alone in a new file. */
	{
		char big[2000];

		memset(big, 'y', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\n';
		expect_int(weft_outfile_write(f, big, sizeof(big), 1, 0), 0);
		expect_int(file_size(path), 2000);
		expect_int(weft_outfile_rotated_spans(f), 36);
	}
	weft_outfile_close(f);
}

/* An existing file of this user is appended to (processes sharing a path). */
static void test_append_own(void)
{
	const char *path = tmp_path("shared.jsonl");
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	struct weft_outfile *f;

	assert_true(fd >= 0);
	assert_int(write(fd, "first\n", 6), 6);
	close(fd);
	f = weft_outfile_new(-1, path, path, 0, NULL);
	expect_int(weft_outfile_write(f, "second\n", 7, 0, 1), 0);
	weft_outfile_close(f);
	expect_int(file_size(path), 13);
}

static int fallback_to(char *path, size_t len)
{
	snprintf(path, len, "%s", tmp_path("fallback.jsonl"));
	return 0;
}

/* Another user's file is never written, even by root: the fallback is. */
static void test_other_users_file(void)
{
	const char *path = tmp_path("theirs.jsonl");
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0666);
	struct weft_outfile *f;

	assert_true(fd >= 0);
	close(fd);
	if (geteuid() != 0 || chown(path, 65534, 65534) != 0) {
		printf("not root: another user's file not tested\n");
		return;
	}
	f = weft_outfile_new(-1, path, path, 0, fallback_to);
	expect_int(weft_outfile_write(f, "line\n", 5, 1, 0), 0);
	expect_str(weft_outfile_path(f), tmp_path("fallback.jsonl"));
	weft_outfile_close(f);
	expect_int(file_size(path), 0);
	expect_int(file_size(tmp_path("fallback.jsonl")), 5);
}

/*
 * A FIFO nobody reads: once the process exits, all writes together take at
 * most WEFT_EXIT_TIMEOUT; a line cut short is ended before the next.
 */
static void test_stalled_fifo_at_exit(void)
{
	const char *path = tmp_path("fifo");
	static char chunk[48 * 1024];
	struct weft_outfile *f;
	int rfd, r, failures = 0;
	double t0;
	char buf[256];

	assert_int(mkfifo(path, 0600), 0);
	rfd = open(path, O_RDONLY | O_NONBLOCK);
	assert_true(rfd >= 0);
	f = weft_outfile_new(-1, path, path, 0, NULL);
	memset(chunk, 'z', sizeof(chunk) - 1);
	chunk[sizeof(chunk) - 1] = '\n';
	weft_cfg.exit_timeout_ns = 300 * 1000 * 1000;
	atomic_store(&weft_process.exiting, 1);
	t0 = now_s();
	for (int i = 0; i < 10; i++) {
		r = weft_outfile_write(f, chunk, sizeof(chunk), 100, 0);
		failures += r != 0;
	}
	expect_true(now_s() - t0 < 0.6);
	expect_true(failures >= 8);
	/* The reader drains: the next line starts on a line of its own. */
	while (read(rfd, chunk, sizeof(chunk)) > 0)
		;
	expect_int(weft_outfile_write(f, "ok\n", 3, 0, 0), 0);
	r = (int)read(rfd, buf, sizeof(buf) - 1);
	assert_true(r > 0);
	buf[r] = '\0';
	expect_true(strcmp(buf, "\nok\n") == 0 || strcmp(buf, "ok\n") == 0);
	atomic_store(&weft_process.exiting, 0);
	weft_outfile_close(f);
	close(rfd);
}

/* A service name too long for a file name is shortened; the pid is kept. */
static void test_long_names(void)
{
	char service[400], out[600];

	memset(service, 's', sizeof(service) - 1);
	service[sizeof(service) - 1] = '\0';
	weft_outputs_expand_name("weft-%n-%p.jsonl", service, 4242, out, sizeof(out));
	expect_int(strlen(out), 255);
	expect_true(strncmp(out, "weft-sss", 8) == 0);
	expect_true(strcmp(out + strlen(out) - 11, "-4242.jsonl") == 0);
	weft_outputs_expand_name("weft-%n-%p.jsonl", "short", 7, out, sizeof(out));
	expect_str(out, "weft-short-7.jsonl");
}

int main(void)
{
	assert_true(mkdtemp(tmpdir) != NULL);
	test_lazy_and_rotation();
	test_append_own();
	test_other_users_file();
	test_stalled_fifo_at_exit();
	test_long_names();
	{
		char cmd[PATH_MAX + 20];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
	return harness_done();
}
