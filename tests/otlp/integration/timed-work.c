/*
 * timed-work: a program whose own work is timed, for checking that a slow or
 * dead collector does not slow a program down.
 *
 *     timed-work ROUNDS [fork]
 *
 * Runs ROUNDS rounds; each starts four threads that sleep 5 ms and joins
 * them. Prints "elapsed_ms=N", the time from the first round to the end of
 * the last, measured by the program itself, then returns from main (weft's
 * final export comes after that).
 *
 * With `fork`, it then sleeps 300 ms (so that weft has exported and holds a
 * connection), forks a child that runs two rounds and calls exit(0), waits
 * for it, runs two more rounds itself and returns.
 *
 * With `forkstorm`, it first forks 20 children, one after the other, at once
 * (while weft's exporter is still starting: loading libcurl, connecting);
 * even ones run a round and call exit(0), odd ones exec /bin/true. Prints
 * "children ok" when every child exited with 0.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *work(void *arg)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 5000000 };

	nanosleep(&ts, NULL);
	return arg;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int run_rounds(int rounds)
{
	for (int r = 0; r < rounds; r++) {
		pthread_t t[4];

		for (int i = 0; i < 4; i++)
			if (pthread_create(&t[i], NULL, work, NULL) != 0)
				return 1;
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 40, status;
	double t0 = now_ms();
	struct timespec pause = { .tv_sec = 0, .tv_nsec = 300000000 };
	pid_t pid;

	if (argc > 2 && strcmp(argv[2], "forkstorm") == 0) {
		int bad = 0;

		for (int i = 0; i < 20; i++) {
			pid = fork();
			if (pid < 0)
				return 1;
			if (pid == 0) {
				if (i % 2)
					execl("/bin/true", "true", (char *)NULL);
				exit(run_rounds(1));
			}
			if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
			    WEXITSTATUS(status) != 0)
				bad++;
		}
		if (!bad)
			printf("children ok\n");
	}
	if (run_rounds(rounds))
		return 1;
	printf("elapsed_ms=%.1f\n", now_ms() - t0);
	if (argc < 3 || strcmp(argv[2], "fork") != 0)
		return 0;
	fflush(stdout);
	nanosleep(&pause, NULL);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0)
		exit(run_rounds(2));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 1;
	return run_rounds(2);
}
