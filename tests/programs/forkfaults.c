/*
 * Forks children that exit at once and prints the median number of page
 * faults (minor faults) a child took between fork and exit, as the child
 * itself counts them (getrusage in the child, sent to the parent through a
 * pipe). Usage: forkfaults [children] [exit]. With weft loaded, what its
 * fork handlers write in the child shows here as copied pages. With "exit",
 * each child calls exit(0) instead and the parent counts the child's faults
 * from fork to its end (RUSAGE_CHILDREN), the exit handlers included: under
 * weft, the child's own final export.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

enum { MAX = 101 };

static int cmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 21;
	int whole = argc > 2 && strcmp(argv[2], "exit") == 0;
	long faults[MAX];

	if (n < 1 || n > MAX)
		n = 21;
	for (int i = 0; i < n; i++) {
		struct rusage after;
		int fd[2];
		pid_t pid;

		if (whole) {
			struct rusage before;

			getrusage(RUSAGE_CHILDREN, &before);
			pid = fork();
			if (pid == 0)
				exit(0);
			if (pid < 0 || waitpid(pid, NULL, 0) != pid)
				return 1;
			getrusage(RUSAGE_CHILDREN, &after);
			faults[i] = after.ru_minflt - before.ru_minflt;
			continue;
		}
		if (pipe(fd) != 0)
			return 1;
		pid = fork();
		if (pid == 0) {
			long d;

			getrusage(RUSAGE_SELF, &after);
			/* The child's counters start at zero: what it took since the fork. */
			d = after.ru_minflt;
			if (write(fd[1], &d, sizeof(d)) != (ssize_t)sizeof(d))
				_exit(1);
			_exit(0);
		}
		close(fd[1]);
		if (pid < 0 ||
		    read(fd[0], &faults[i], sizeof(faults[i])) != (ssize_t)sizeof(faults[i]))
			return 1;
		close(fd[0]);
		waitpid(pid, NULL, 0);
	}
	qsort(faults, (size_t)n, sizeof(faults[0]), cmp);
	printf("%ld\n", faults[n / 2]);
	return 0;
}
