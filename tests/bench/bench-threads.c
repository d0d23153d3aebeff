/*
 * Thread create+join, natively and under weft, in one run.
 *
 * The driver re-executes itself as a worker, alternately without and with
 * LD_PRELOAD=libweft.so, several rounds each, and prints the median cost per
 * create+join pair of each and their ratio. Usage:
 *
 *   bench-threads [path/to/libweft.so] [threads-per-round] [rounds]
 *
 * Telemetry goes to OTEL_*_EXPORTER=none unless WEFT_BENCH_OUTPUT=file, so
 * the figure is the cost the program pays, not the cost of disk writes (the
 * exporter thread does that work off the program's threads either way).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *noop(void *arg)
{
	return arg;
}

/* The workload: n threads, each created and joined at once. Prints ns/pair. */
static int worker(long n)
{
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, noop, NULL) != 0 || pthread_join(t, NULL) != 0)
			return 1;
	}
	printf("%.1f\n", (now_ns() - t0) / (double)n);
	return 0;
}

static double run_worker(const char *self, const char *lib, long n)
{
	int fd[2];
	char buf[64] = { 0 }, nbuf[32];
	pid_t pid;
	ssize_t r;

	if (pipe(fd) != 0)
		return -1;
	snprintf(nbuf, sizeof(nbuf), "%ld", n);
	pid = fork();
	if (pid == 0) {
		dup2(fd[1], STDOUT_FILENO);
		close(fd[0]);
		if (lib)
			setenv("LD_PRELOAD", lib, 1);
		else
			unsetenv("LD_PRELOAD");
		execl(self, self, "--worker", nbuf, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	r = read(fd[0], buf, sizeof(buf) - 1);
	close(fd[0]);
	waitpid(pid, NULL, 0);
	return r > 0 ? atof(buf) : -1;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const char *lib = argc > 1 ? argv[1] : "build/hooks/libweft.so";
	long n = argc > 2 ? atol(argv[2]) : 20000;
	int rounds = argc > 3 ? atoi(argv[3]) : 7;
	double native[64], weft[64], mn, mw;
	char self[4096];
	ssize_t len;

	if (argc > 2 && strcmp(argv[1], "--worker") == 0)
		return worker(atol(argv[2]));
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0 || access(lib, R_OK) != 0) {
		fprintf(stderr, "bench-threads: cannot find %s\n", lib);
		return 77;
	}
	self[len] = '\0';
	if (rounds > 64)
		rounds = 64;
	if (!getenv("WEFT_BENCH_OUTPUT")) {
		setenv("OTEL_TRACES_EXPORTER", "none", 1);
		setenv("OTEL_METRICS_EXPORTER", "none", 1);
	} else {
		setenv("WEFT_OUTPUT", "/tmp/weft-bench-%p.jsonl", 1);
	}
	run_worker(self, NULL, n / 10); /* warm up caches and the page cache */
	run_worker(self, lib, n / 10);
	for (int i = 0; i < rounds; i++) {
		native[i] = run_worker(self, NULL, n);
		weft[i] = run_worker(self, lib, n);
	}
	qsort(native, (size_t)rounds, sizeof(double), cmp);
	qsort(weft, (size_t)rounds, sizeof(double), cmp);
	mn = native[rounds / 2];
	mw = weft[rounds / 2];
	printf("thread create+join: native %.0f ns, weft %.0f ns, ratio %.3fx "
	       "(median of %d rounds of %ld threads)\n",
	       mn, mw, mw / mn, rounds, n);
	return 0;
}
