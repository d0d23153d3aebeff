/*
 * A parent and a child take turns through two pipes made before the fork
 * (shared channels, agent/channel.h), for tests/integration/test-channels.py.
 * N turns (default 50): in each the parent sleeps 5 ms, writes one byte to
 * the child and reads the child's answer; the child reads, blocked through
 * the parent's sleep every time, and answers at once. With `fifo`, the way
 * down is a FIFO (made in the current directory, opened read-write before
 * the fork) instead of a pipe; with `waitall`, a socketpair, which the child
 * reads with recv(MSG_WAITALL). Prints "child PID", then "done" once the
 * child has exited with status 0.
 * Usage: forkturns [N [fifo|waitall]]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 50;
	const char *mode = argc > 2 ? argv[2] : "pipe";
	int waitall = strcmp(mode, "waitall") == 0;
	int down[2], up[2], status;
	char c = 0;
	pid_t pid;

	if (n <= 0)
		return 2;
	if (strcmp(mode, "fifo") == 0) {
		unlink("forkturns.fifo");
		if (mkfifo("forkturns.fifo", 0600) != 0)
			return 2;
		down[0] = open("forkturns.fifo", O_RDWR);
		down[1] = open("forkturns.fifo", O_WRONLY);
		if (down[0] < 0 || down[1] < 0)
			return 2;
	} else if (waitall ? socketpair(AF_UNIX, SOCK_STREAM, 0, down) != 0 : pipe(down) != 0) {
		return 2;
	}
	if (pipe(up) != 0)
		return 2;
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		for (long i = 0; i < n; i++) {
			ssize_t got =
				waitall ? recv(down[0], &c, 1, MSG_WAITALL) : read(down[0], &c, 1);

			if (got != 1 || write(up[1], &c, 1) != 1)
				_exit(3);
		}
		exit(0);
	}
	printf("child %d\n", (int)pid);
	fflush(stdout);
	for (long i = 0; i < n; i++) {
		nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
		c = (char)i;
		if (write(down[1], &c, 1) != 1 || read(up[0], &c, 1) != 1 || c != (char)i)
			return 4;
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 5;
	puts("done");
	return 0;
}
