/*
 * A program that handles descriptors carelessly, one way per mode (argv[1]),
 * for tests/integration/test-fds.py. Each mode prints what it saw on stdout,
 * one `key value` per line, so that a native run and a run under weft can be
 * compared.
 *
 *   closeall HOW FILE  start a thread, let weft export once (`before N`: the
 *                      numbers of .jsonl files in the program's table,
 *                      `before-own N` in the exporter's own), close every
 *                      descriptor from 3 (HOW: close, close_range, closefrom,
 *                      double), open FILE, write "program\n" into it, let weft
 *                      export again, then exit
 *   dup2 FILE          dup2 FILE's descriptor onto every descriptor of the
 *                      program's table it did not open itself (weft's, above
 *                      2), and write "program\n" to each
 *   fill LIMIT         set the soft RLIMIT_NOFILE to LIMIT, open /dev/null until
 *                      EMFILE, print how many and the numbers, exit with all open
 *   stderr FILE        close descriptor 2, open FILE (it gets 2), write
 *                      "program\n", exit
 *   chroot DIR         chroot into DIR (in a new user namespace when not root),
 *                      then exit
 *   churn N            create and join N threads, one at a time
 *   quick-exit         start a thread (and so weft's exporter), then _exit
 *   main-exit-redirect FILE
 *                      main starts a thread and calls pthread_exit; the thread
 *                      makes FILE its stderr with dup2 (a daemon's log), waits
 *                      300 ms, writes "program\n" to it and calls exit(0)
 *   close-stdio HOW    prints "closing", starts a thread, closes descriptors 1
 *                      and 2 (HOW: close, close_range or closefrom), lives 3 s
 *   daemon             fork; the parent exits at once, the child redirects its
 *                      standard streams to /dev/null with dup2 and lives 3 s
 *   steady MS [OUT]    after a first thread (weft's exporter starts and opens
 *                      its output: a descriptor whose name holds OUT, .jsonl
 *                      unless given), for MS milliseconds, one thread opens and
 *                      closes /dev/null without pause while others come and
 *                      go (weft exports and symbolises); prints how many
 *                      opens got a number other than the first (`moved N`),
 *                      how many were made (`opens N`), and how many sockets
 *                      the program's table holds at the end (`sockets N`)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void *work(void *arg)
{
	return arg;
}

static void one_thread(void)
{
	pthread_t t;

	pthread_create(&t, NULL, work, NULL);
	pthread_join(t, NULL);
}

static void write_str(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) < 0)
		perror("write");
}

/*
 * The descriptor directory of weft's exporter thread (the task named
 * weft-exporter) into dir; false when there is none.
 */
static bool exporter_fd_dir(char *dir, size_t size)
{
	char path[96], comm[32];
	struct dirent *e;
	DIR *d = opendir("/proc/self/task");
	bool found = false;

	while (d && !found && (e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%d/comm", atoi(e->d_name));
		f = fopen(path, "r");
		if (!f)
			continue;
		found = fgets(comm, sizeof(comm), f) && strcmp(comm, "weft-exporter\n") == 0;
		fclose(f);
		if (found)
			snprintf(dir, size, "/proc/self/task/%d/fd", atoi(e->d_name));
	}
	if (d)
		closedir(d);
	return found;
}

/*
 * How many descriptors of table dir name a file whose name holds `what`;
 * with a label, prints `label N` for each.
 */
static int fds_naming(const char *dir, const char *what, const char *label)
{
	int n = 0;
	char link[PATH_MAX], target[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(dir);

	while (d && (e = readdir(d))) {
		int num = atoi(e->d_name);
		ssize_t len;

		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%d", dir, num);
		len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (!strstr(target, what) || (strcmp(dir, "/proc/self/fd") == 0 && num == dirfd(d)))
			continue;
		n++;
		if (label)
			printf("%s %d\n", label, num);
	}
	if (d)
		closedir(d);
	return n;
}

/*
 * How many descriptors name a file whose name holds `what`, in the program's
 * table (`label N` for each) and in the exporter's when it has a table of its
 * own (`label-own N`).
 */
static int weft_fds(const char *what, const char *label)
{
	char dir[96], own[64];
	int n = fds_naming("/proc/self/fd", what, label);

	snprintf(own, sizeof(own), "%s-own", label ? label : "");
	if (exporter_fd_dir(dir, sizeof(dir)))
		n += fds_naming(dir, what, label ? own : NULL);
	return n;
}

static int closeall(const char *how, const char *file)
{
	int fd;

	one_thread();
	usleep(300 * 1000); /* OTEL_BSP_SCHEDULE_DELAY is short in the test: an export */
	weft_fds(".jsonl", "before");
	if (strcmp(how, "close_range") == 0) {
		printf("close_range %d\n", close_range(3, ~0U, 0));
	} else if (strcmp(how, "closefrom") == 0) {
		closefrom(3);
	} else {
		struct rlimit rl;
		int n = 0;

		getrlimit(RLIMIT_NOFILE, &rl);
		for (int i = 3; i < (int)rl.rlim_cur + 64 && i < 70000; i++)
			n += close(i) == 0;
		if (strcmp(how, "double") == 0)
			for (int i = 3; i < (int)rl.rlim_cur + 64 && i < 70000; i++)
				n += close(i) == 0;
		printf("closed %d\n", n);
	}
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	printf("fd %d\n", fd);
	one_thread();
	write_str(fd, "program\n");
	weft_fds(".jsonl", "after");
	usleep(300 * 1000);
	one_thread();
	return 0;
}

static atomic_int steady_stop;

static void *steady_opener(void *arg)
{
	long moved = 0, opens = 0;
	int first = -1;

	while (!atomic_load(&steady_stop)) {
		int fd = open("/dev/null", O_RDONLY);

		if (first < 0)
			first = fd;
		moved += fd != first;
		opens++;
		close(fd);
	}
	printf("moved %ld\nopens %ld\n", moved, opens);
	return arg;
}

static int steady(int ms, const char *output)
{
	pthread_t t;

	/* weft's exporter starts and opens its output (a real open, once) first. */
	one_thread();
	for (int i = 0; i < 5000 && weft_fds(output, NULL) == 0; i++)
		usleep(1000);
	pthread_create(&t, NULL, steady_opener, NULL);
	for (int i = 0; i < ms / 20; i++) {
		one_thread();
		usleep(20 * 1000);
	}
	atomic_store(&steady_stop, 1);
	pthread_join(t, NULL);
	printf("sockets %d\n", fds_naming("/proc/self/fd", "socket:", NULL));
	return 0;
}

static int dup2_onto(const char *file)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644), n = 0;
	int nums[256], count = 0;
	struct dirent *e;
	DIR *d;

	one_thread();
	usleep(300 * 1000);
	d = opendir("/proc/self/fd");
	while (d && (e = readdir(d)) && count < 256) {
		int num = atoi(e->d_name);

		if (e->d_name[0] != '.' && num > 2 && num != fd && num != dirfd(d))
			nums[count++] = num;
	}
	if (d)
		closedir(d);
	for (int i = 0; i < count; i++) {
		printf("dup2 %d %d\n", nums[i], dup2(fd, nums[i]));
		write_str(nums[i], "program\n");
		n++;
	}
	printf("replaced %d\n", n);
	one_thread();
	usleep(300 * 1000);
	one_thread();
	return 0;
}

static int fill(int limit)
{
	struct rlimit rl;
	int n = 0, last = -1, fd;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = (rlim_t)limit;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		perror("setrlimit");
	while ((fd = open("/dev/null", O_RDONLY)) >= 0) {
		n++;
		last = fd;
	}
	printf("opened %d\nlast %d\nerrno %d\n", n, last, errno);
	return 0;
}

static int stderr_reuse(const char *file)
{
	close(2);
	printf("fd %d\n", open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_str(2, "program\n");
	return 0;
}

static void *redirect_then_exit(void *file)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	usleep(100 * 1000); /* main has exited */
	dup2(fd, 2);
	close(fd);
	usleep(300 * 1000); /* weft's exporter takes its turn */
	write_str(2, "program\n");
	exit(0);
}

static int do_chroot(const char *dir)
{
	if (geteuid() != 0 && unshare(CLONE_NEWUSER) != 0) {
		perror("unshare");
		return 77;
	}
	if (chroot(dir) != 0 || chdir("/") != 0) {
		perror("chroot");
		return 77;
	}
	printf("chrooted\n");
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(mode, "closeall") == 0 && argc > 3)
		return closeall(argv[2], argv[3]);
	if (strcmp(mode, "dup2") == 0 && argc > 2)
		return dup2_onto(argv[2]);
	if (strcmp(mode, "fill") == 0 && argc > 2)
		return fill(atoi(argv[2]));
	if (strcmp(mode, "stderr") == 0 && argc > 2)
		return stderr_reuse(argv[2]);
	if (strcmp(mode, "chroot") == 0 && argc > 2)
		return do_chroot(argv[2]);
	if (strcmp(mode, "churn") == 0 && argc > 2) {
		for (int i = atoi(argv[2]); i > 0; i--)
			one_thread();
		return 0;
	}
	if (strcmp(mode, "close-stdio") == 0 && argc > 2) {
		printf("closing\n");
		one_thread();
		if (strcmp(argv[2], "close_range") == 0) {
			close_range(1, 2, 0);
		} else if (strcmp(argv[2], "closefrom") == 0) {
			closefrom(1);
		} else {
			close(1);
			close(2);
		}
		sleep(3);
		return 0;
	}
	if (strcmp(mode, "daemon") == 0) {
		int n;

		if (fork() != 0)
			return 0;
		setsid();
		n = open("/dev/null", O_RDWR);
		dup2(n, 0);
		dup2(n, 1);
		dup2(n, 2);
		one_thread();
		sleep(3);
		return 0;
	}
	if (strcmp(mode, "steady") == 0 && argc > 2)
		return steady(atoi(argv[2]), argc > 3 ? argv[3] : ".jsonl");
	if (strcmp(mode, "main-exit-redirect") == 0 && argc > 2) {
		pthread_t t;

		pthread_create(&t, NULL, redirect_then_exit, argv[2]);
		pthread_exit(NULL);
	}
	if (strcmp(mode, "quick-exit") == 0) {
		one_thread();
		usleep(100 * 1000);
		_exit(0);
	}
	fprintf(stderr,
		"usage: fdplay closeall|dup2|fill|stderr|chroot|churn|steady|quick-exit ...\n");
	return 2;
}
