/*
 * A daemon, the classic way, for tests/integration/test-process.py: fork,
 * setsid, fork again, chdir("/"), umask(0), close every descriptor
 * (close_range), reopen 0-2 on /dev/null; with an argument DIR, chroot(DIR)
 * first (as root). The daemon then starts and joins two threads named
 * `daemon-worker` and exits 0. The first parent prints the daemon's pid (read
 * from a pipe) and waits until the daemon is gone. With `--threaded` first,
 * the first parent starts and joins a thread named `daemon-parent` before it
 * forks (so that, under weft, its exporter has started and read the
 * process's facts).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void *work(void *arg)
{
	pthread_setname_np(pthread_self(), "daemon-worker");
	return arg;
}

static void daemon_main(const char *root, int report)
{
	pid_t me = getpid();
	pthread_t a, b;

	if (root && (chroot(root) != 0 || chdir("/") != 0))
		_exit(3);
	if (!root && chdir("/") != 0)
		_exit(3);
	umask(0);
	if (write(report, &me, sizeof(me)) != (ssize_t)sizeof(me))
		_exit(4);
	close_range(0, ~0U, 0);
	open("/dev/null", O_RDWR); /* 0 (in a chroot without /dev: fails, as for many daemons) */
	dup2(0, 1);
	dup2(0, 2);
	pthread_create(&a, NULL, work, NULL);
	pthread_create(&b, NULL, work, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	exit(0);
}

static void *parent_work(void *arg)
{
	pthread_setname_np(pthread_self(), "daemon-parent");
	return arg;
}

int main(int argc, char **argv)
{
	int threaded = argc > 1 && strcmp(argv[1], "--threaded") == 0;
	const char *root = argc > 1 + threaded ? argv[1 + threaded] : NULL;
	int p[2], status;
	pid_t child, daemon_pid = 0;

	if (threaded) {
		pthread_t t;

		if (pthread_create(&t, NULL, parent_work, NULL) != 0 || pthread_join(t, NULL) != 0)
			return 1;
	}
	if (pipe(p) != 0)
		return 1;
	child = fork();
	if (child == 0) {
		close(p[0]);
		if (setsid() < 0)
			_exit(2);
		if (fork() != 0)
			_exit(0);
		daemon_main(root, p[1]);
	}
	close(p[1]);
	if (read(p[0], &daemon_pid, sizeof(daemon_pid)) != (ssize_t)sizeof(daemon_pid))
		return 1;
	waitpid(child, &status, 0);
	/* The daemon is not our child: wait until it is gone. */
	for (int i = 0; i < 1000 && kill(daemon_pid, 0) == 0; i++)
		usleep(10000);
	printf("daemon %d\n", (int)daemon_pid);
	return 0;
}
