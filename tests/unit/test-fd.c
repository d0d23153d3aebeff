/*
 * agent/fd.c: weft's owned descriptors. Placement above the soft limit (and
 * below it when the hard limit leaves no room), the table and its handles,
 * the hooks' tests, moving out of a dup2's way while a write is in flight,
 * and what a forked child keeps.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/fd.h"
#include "harness.h"

static struct rlimit original;

static void set_limits(rlim_t soft, rlim_t hard)
{
	struct rlimit rl = { .rlim_cur = soft, .rlim_max = hard };

	assert_int(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

static int soft_limit(void)
{
	struct rlimit rl;

	getrlimit(RLIMIT_NOFILE, &rl);
	return (int)rl.rlim_cur;
}

static bool is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static int lowest_free(void)
{
	int fd = open("/dev/null", O_RDONLY), r = fd;

	close(fd);
	return r;
}

/* Above the soft limit, which is put back; the program's next open is unchanged. */
static void test_above_soft_limit(void)
{
	int before = lowest_free(), h, fd;

	set_limits(64, original.rlim_max);
	h = weft_fd_openat(AT_FDCWD, "/dev/null", O_RDONLY, 0, 0);
	assert_true(h >= 0);
	fd = weft_fd_number(h);
	expect_true(fd >= 64 && fd < 64 + 2 * WEFT_FD_SLOTS);
	expect_int(soft_limit(), 64);
	expect_int(fcntl(fd, F_GETFD), FD_CLOEXEC);
	expect_int(lowest_free(), before);
	/* The hooks' tests. */
	expect_true(!weft_fd_maybe_owned(before));
	expect_true(weft_fd_maybe_owned(fd));
	expect_true(weft_fd_is_owned(fd));
	expect_true(!weft_fd_is_owned(fd + 1));
	expect_int(weft_fd_next_owned(0), fd);
	expect_int(weft_fd_next_owned(fd + 1), INT_MAX);
	expect_int(weft_fd_count(), 1);
	/* Closing: the number is closed, the handle stale, the fast path back to all. */
	expect_int(weft_fd_close(h), 0);
	expect_true(!is_open(fd));
	expect_int(weft_fd_use(h), -EBADF);
	expect_int(weft_fd_close(h), -EBADF);
	expect_int(weft_fd_count(), 0);
	expect_int(atomic_load(&weft_fd_fast_limit), INT_MAX);
}

/*
 * No room above the soft limit: the highest free number below it. In a child:
 * a lowered hard limit cannot be raised again without privilege.
 */
static void test_below_when_no_room(void)
{
	int h, h2, status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid > 0) {
		assert_int(waitpid(pid, &status, 0), pid);
		expect_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		return;
	}
	set_limits(64, 64);
	h = weft_fd_socket(AF_UNIX, SOCK_STREAM, 0, 0);
	assert_true(h >= 0);
	expect_int(weft_fd_number(h), 63);
	h2 = weft_fd_own(open("/dev/null", O_RDONLY), 0);
	assert_true(h2 >= 0);
	expect_int(weft_fd_number(h2), 62);
	expect_int(atomic_load(&weft_fd_fast_limit), 62);
	weft_fd_close(h);
	weft_fd_close(h2);
	_exit(harness_failures ? 1 : 0);
}

/* Every number below the soft limit in use: opened above it all the same. */
static void test_every_descriptor_in_use(void)
{
	int fds[64], n = 0, fd, h;

	set_limits(32, original.rlim_max);
	while (n < 64 && (fd = open("/dev/null", O_RDONLY)) >= 0)
		fds[n++] = fd;
	expect_int(errno, EMFILE);
	h = weft_fd_openat(AT_FDCWD, "/dev/null", O_RDONLY, 0, 0);
	assert_true(h >= 0);
	expect_true(weft_fd_number(h) >= 32);
	expect_int(soft_limit(), 32);
	/* The program still cannot open more than natively. */
	expect_int(open("/dev/null", O_RDONLY), -1);
	weft_fd_close(h);
	while (n > 0)
		close(fds[--n]);
	set_limits(original.rlim_cur, original.rlim_max);
}

/*
 * A small file read whole: NUL-terminated, at most n - 1 bytes; nothing kept
 * open, nothing owned, the change lock released; errors as negative errno;
 * read even when every number below the soft limit is in use.
 */
static struct weft_proc_read proc_one(const char *path)
{
	struct weft_proc_read r = { .got = 12345 };

	snprintf(r.path, sizeof(r.path), "%s", path);
	weft_fd_read_proc(&r, 1);
	return r;
}

/* Whether the /proc helper can run here (see fd.h). */
static bool helper_expected(void)
{
#if (defined(__x86_64__) && !defined(__ILP32__)) || defined(__aarch64__)
	return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 0;
#else
	return false;
#endif
}

static atomic_int sigchld_seen;

static void on_sigchld(int sig)
{
	atomic_fetch_add(&sigchld_seen, 1);
}

static void *nothing(void *arg)
{
	return arg;
}

static void *read_fifo(void *arg)
{
	*(struct weft_proc_read *)arg =
		proc_one((const char *)((struct weft_proc_read *)arg)->path);
	return NULL;
}

/*
 * weft_fd_read_proc reads whole files of this process's /proc directory, and
 * never with a descriptor in the program's table: a FIFO (reached through
 * /proc/<pid>/root) keeps the read in its open while the program opens a
 * file, which gets the lowest free number (a descriptor weft opened itself
 * would have taken it: the number is reserved before an open blocks).
 */
static void test_read_proc(void)
{
	struct sigaction sa = { .sa_handler = on_sigchld }, old_sa;
	struct weft_proc_read r,
		batch[3] = { { .path = "comm" }, { .path = "nonexistent" }, { .path = "task" } };
	const char *tmp = getenv("TMPDIR");
	char dir[36], fifo[42];
	int fds[64], n = 0, fd, lowest = lowest_free(), w = -1;
	pthread_t reader;
	pid_t child;
	int status;
	bool helper;

	sigaction(SIGCHLD, &sa, &old_sa);
	/* A process that has had a second thread: the helper reads. */
	assert_int(pthread_create(&reader, NULL, nothing, NULL), 0);
	pthread_join(reader, NULL);
	r = proc_one("comm");
	expect_int((int)r.got, 8);
	expect_int(strcmp(r.buf, "test-fd\n"), 0);
	helper = weft_fd_read_proc(batch, 3);
	expect_int((int)batch[0].got, 8);
	expect_int((int)batch[1].got, -ENOENT);
	expect_int((int)batch[2].got, -EISDIR);
	expect_int(batch[2].buf[0], '\0');
	expect_int(lowest_free(), lowest); /* nothing left open */
	expect_int(atomic_load(&weft_fd_fast_limit), INT_MAX);
	expect_int(atomic_load(&sigchld_seen), 0);           /* the helper sends no SIGCHLD */
	expect_int(waitpid(-1, NULL, WNOHANG | __WALL), -1); /* and is reaped */
	expect_int(errno, ECHILD);

	/*
	 * Blocked in the open of a FIFO: the program's open gets the lowest
	 * number. Where the helper cannot run (fd.h), the reads take a number
	 * of the program's table: this part says so and is left out.
	 */
	if (helper_expected())
		expect_true(helper);
	if (!helper) {
		fprintf(stderr,
			"test-fd: /proc read helper unavailable here: FIFO case left out\n");
		goto limit;
	}
	snprintf(dir, sizeof(dir), "%s/weft-fd-XXXXXX", tmp && strlen(tmp) < 20 ? tmp : "/tmp");
	assert_true(mkdtemp(dir) != NULL);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	assert_int(mkfifo(fifo, 0600), 0);
	memset(&r, 0, sizeof(r));
	snprintf(r.path, sizeof(r.path), "root%s", fifo);
	assert_int(pthread_create(&reader, NULL, read_fifo, &r), 0);
	for (int i = 0; i < 5000 && w < 0; i++) {
		w = open(fifo, O_WRONLY | O_NONBLOCK); /* succeeds once a reader waits */
		if (w < 0)
			usleep(1000);
	}
	assert_true(w >= 0);
	expect_int(w, lowest);
	/*
	 * A fork while the helper runs (blocked in its read): the child's own
	 * reads use a helper of their own (the running one was the parent's).
	 * (ThreadSanitizer allows no thread in the child of a threaded parent.)
	 */
#ifndef __SANITIZE_THREAD__
	child = fork();
	if (child == 0) {
		struct weft_proc_read c = { .path = "comm" };

		weft_fd_after_fork_child(); /* what the fork handler runs */
		pthread_create(&reader, NULL, nothing, NULL);
		pthread_join(reader, NULL);
		_exit(weft_fd_read_proc(&c, 1) && c.got == 8 ? 0 : 1);
	}
	assert_true(child > 0);
	expect_true(waitpid(child, &status, 0) == child && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0);
#else
	(void)child;
	(void)status;
#endif
	expect_int(write(w, "weft", 4), 4);
	close(w);
	pthread_join(reader, NULL);
	expect_int((int)r.got, 4);
	expect_int(strcmp(r.buf, "weft"), 0);
	unlink(fifo);
	rmdir(dir);

limit:
	/* Every number in use up to a soft limit: read all the same, the limit unchanged. */
	set_limits(32, original.rlim_max);
	while (n < 64 && (fd = open("/dev/null", O_RDONLY)) >= 0)
		fds[n++] = fd;
	r = proc_one("comm");
	expect_int((int)r.got, 8);
	expect_int(soft_limit(), 32);
	while (n > 0)
		close(fds[--n]);
	set_limits(original.rlim_cur, original.rlim_max);
	sigaction(SIGCHLD, &old_sa, NULL);
}

/*
 * weft_fd_map maps a whole file read-only, and never with a descriptor in the
 * program's table. Errors as errno, errno kept on success, nothing left open,
 * the change lock released; mapped even when every number below the soft
 * limit is in use.
 */
static void test_map(void)
{
	const char *tmp = getenv("TMPDIR");
	char dir[36], file[42], empty[42], fifo[42];
	int fds[64], n = 0, fd, lowest = lowest_free();
	size_t size = 0;
	const char *m;

	snprintf(dir, sizeof(dir), "%s/weft-fd-XXXXXX", tmp && strlen(tmp) < 20 ? tmp : "/tmp");
	assert_true(mkdtemp(dir) != NULL);
	snprintf(file, sizeof(file), "%s/file", dir);
	snprintf(empty, sizeof(empty), "%s/empty", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	expect_int((int)write(fd, "weft map\n", 9), 9);
	close(fd);
	close(open(empty, O_WRONLY | O_CREAT | O_EXCL, 0600));

	/* Multi-threaded since test_read_proc: the helper maps. */
	errno = 1234;
	m = weft_fd_map(file, &size);
	assert_true(m != NULL);
	expect_int((int)size, 9);
	expect_int(memcmp(m, "weft map\n", 9), 0);
	expect_int(errno, 1234);
	munmap((void *)m, size);
	expect_true(weft_fd_map(empty, &size) == NULL);
	expect_int(errno, EINVAL);
	expect_true(weft_fd_map("/nonexistent/weft", &size) == NULL);
	expect_int(errno, ENOENT);
	expect_int(lowest_free(), lowest);
	expect_int(atomic_load(&weft_fd_fast_limit), INT_MAX);

	/* Not a file: a FIFO fails at once (opened non-blocking), nothing left open. */
	assert_int(mkfifo(fifo, 0600), 0);
	expect_true(weft_fd_map(fifo, &size) == NULL);
	expect_int(errno, ESPIPE);
	expect_true(weft_fd_map("/dev/null", &size) == NULL);
	expect_int(errno, EINVAL);
	expect_int(lowest_free(), lowest);

	/*
	 * Never in the program's table: with every number in use and no room
	 * above the limit (soft = hard), the helper maps all the same, in a
	 * table of its own. In a child (the hard limit cannot come back up),
	 * which has a thread of its own first (ThreadSanitizer allows none in
	 * the child of a threaded parent). Where the helper cannot run (fd.h):
	 * left out.
	 */
#ifndef __SANITIZE_THREAD__
	if (helper_expected()) {
		pthread_t t;
		int status;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			weft_fd_after_fork_child(); /* what the fork handler runs */
			pthread_create(&t, NULL, nothing, NULL);
			pthread_join(t, NULL);
			set_limits(64, 64);
			while (open("/dev/null", O_RDONLY) >= 0)
				;
			m = weft_fd_map(file, &size);
			_exit(m && size == 9 && memcmp(m, "weft map\n", 9) == 0 ? 0 : 1);
		}
		expect_true(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
			    WEXITSTATUS(status) == 0);
	}
#endif

	/* Every number in use up to a soft limit: mapped all the same, the limit unchanged. */
	set_limits(32, original.rlim_max);
	while (n < 64 && (fd = open("/dev/null", O_RDONLY)) >= 0)
		fds[n++] = fd;
	m = weft_fd_map(file, &size);
	expect_true(m != NULL && size == 9);
	if (m)
		munmap((void *)m, size);
	expect_int(soft_limit(), 32);
	while (n > 0)
		close(fds[--n]);
	set_limits(original.rlim_cur, original.rlim_max);
	unlink(file);
	unlink(empty);
	unlink(fifo);
	rmdir(dir);
}

static void test_table_full(void)
{
	int h[WEFT_FD_SLOTS], fd;

	for (int i = 0; i < WEFT_FD_SLOTS; i++) {
		h[i] = weft_fd_openat(AT_FDCWD, "/dev/null", O_RDONLY, 0, 0);
		assert_true(h[i] >= 0);
	}
	fd = open("/dev/null", O_RDONLY);
	expect_int(weft_fd_own(fd, 0), -EMFILE);
	expect_true(!is_open(fd)); /* consumed */
	expect_int(weft_fd_openat(AT_FDCWD, "/dev/null", O_RDONLY, 0, 0), -EMFILE);
	for (int i = 0; i < WEFT_FD_SLOTS; i++)
		weft_fd_close(h[i]);
	/* A freed slot's new handle differs from the old one. */
	fd = weft_fd_openat(AT_FDCWD, "/dev/null", O_RDONLY, 0, 0);
	expect_true(fd >= 0 && fd != h[0]);
	expect_int(weft_fd_number(h[0]), -EBADF);
	weft_fd_close(fd);
}

struct holder {
	int h;
	int fd_seen;
	atomic_int using;
};

static void *hold_for_a_while(void *arg)
{
	struct holder *x = arg;
	struct timespec ts = { 0, 200 * 1000 * 1000 };

	x->fd_seen = weft_fd_use(x->h);
	atomic_store(&x->using, 1);
	nanosleep(&ts, NULL);
	atomic_store(&x->using, 2);
	weft_fd_unuse(x->h);
	return NULL;
}

/*
 * A dup2 onto weft's number: weft moves first, and the move waits for a write
 * in flight on the old number to finish.
 */
static void test_yield(void)
{
	struct holder x = { .h = weft_fd_openat(AT_FDCWD, "/dev/null", O_WRONLY, 0, 0) };
	pthread_t t;
	int old, now;

	assert_true(x.h >= 0);
	old = weft_fd_number(x.h);
	pthread_create(&t, NULL, hold_for_a_while, &x);
	while (!atomic_load(&x.using))
		;
	expect_true(weft_fd_yield(old)); /* a stray copy stays at old until the dup2 */
	expect_int(atomic_load(&x.using), 2);
	pthread_join(t, NULL);
	expect_int(x.fd_seen, old);
	now = weft_fd_number(x.h);
	expect_true(now >= 0 && now != old);
	expect_true(!weft_fd_is_owned(old));
	expect_true(weft_fd_is_owned(now));
	expect_true(is_open(old));
	close(old);
	/* Nothing of weft's at a number: nothing to do. */
	expect_true(!weft_fd_yield(old));
	weft_fd_close(x.h);

	/* Pinned (libcurl's sockets): never moved, the handle goes stale instead. */
	x.h = weft_fd_socket(AF_UNIX, SOCK_STREAM, 0, WEFT_FD_PINNED);
	old = weft_fd_number(x.h);
	expect_true(!weft_fd_yield(old));
	expect_int(weft_fd_number(x.h), -EBADF);
	expect_true(is_open(old)); /* the program's dup2 replaces it */
	expect_int(weft_fd_close(x.h), 0);
	expect_true(is_open(old)); /* never closed by weft: the number is the program's */
	close(old);
	expect_int(weft_fd_count(), 0);
}

/* A forked child keeps the inherited descriptors and closes the others. */
static void test_fork(void)
{
	int keep = weft_fd_openat(AT_FDCWD, "/dev/null", O_RDONLY, 0, WEFT_FD_INHERIT);
	int drop = weft_fd_openat(AT_FDCWD, "/dev/null", O_RDONLY, 0, 0);
	int kfd = weft_fd_number(keep), dfd = weft_fd_number(drop), status;
	pid_t pid;

	weft_fd_init(NULL); /* registers the fork handler; a copy of stderr */
	pid = fork();
	if (pid == 0) {
		int ok = is_open(kfd) && weft_fd_number(keep) == kfd && !is_open(dfd) &&
			 weft_fd_number(drop) == -EBADF && weft_fd_use(weft_fd_stderr()) >= 0;
		_exit(ok ? 0 : 1);
	}
	assert_true(pid > 0);
	assert_int(waitpid(pid, &status, 0), pid);
	expect_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	expect_true(is_open(dfd));
	weft_fd_close(keep);
	weft_fd_close(drop);
}

int main(void)
{
	getrlimit(RLIMIT_NOFILE, &original);
	if (original.rlim_max < 256) {
		printf("hard RLIMIT_NOFILE below 256: skipped\n");
		return HARNESS_SKIP;
	}
	test_above_soft_limit();
	test_below_when_no_room();
	test_every_descriptor_in_use();
	test_read_proc();
	test_map();
	test_table_full();
	test_yield();
	test_fork();
	return harness_done();
}
