/*
 * Concurrent thread creation, natively and under weft, in one run.
 *
 * Eight threads start together and each creates and joins threads in a loop;
 * every new thread names itself (pthread_setname_np) and ends. So
 * pthread_create, the first event of a thread, and thread ends run on several
 * cores at once:
 * what weft adds there (allocating and freeing each thread's state, the
 * exporter collecting exited threads) must not serialise them. The driver
 * re-executes itself as the worker, alternately without and with
 * LD_PRELOAD=libweft.so, and prints the median wall time of each, their
 * ratio (native / weft: 1.0 is native speed) and the peak resident memory of
 * each run. Usage:
 *
 *   bench-threads-concurrent [path/to/libweft.so] [threads-per-creator] [rounds] [creators]
 *
 * Telemetry goes to OTEL_*_EXPORTER=none unless WEFT_BENCH_OUTPUT=file.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MAX_CREATORS = 64, MAX_ROUNDS = 64 };

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Each thread names itself, as pool threads do: weft records that name. */
static void *named(void *arg)
{
	pthread_setname_np(pthread_self(), "bench-worker");
	return arg;
}

static long per_creator;
static pthread_barrier_t start;

static void *creator(void *arg)
{
	pthread_barrier_wait(&start);
	for (long i = 0; i < per_creator; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, named, NULL) != 0 || pthread_join(t, NULL) != 0)
			return (void *)1;
	}
	return NULL;
}

/* The workload: `creators` threads, each creating and joining n. Prints ms. */
static int worker(long n, int creators)
{
	pthread_t c[MAX_CREATORS];
	double t0;
	int bad = 0;

	per_creator = n;
	pthread_barrier_init(&start, NULL, (unsigned)creators + 1);
	for (int i = 0; i < creators; i++)
		if (pthread_create(&c[i], NULL, creator, NULL) != 0)
			return 1;
	t0 = now_ns();
	pthread_barrier_wait(&start);
	for (int i = 0; i < creators; i++) {
		void *r;
		pthread_join(c[i], &r);
		bad |= r != NULL;
	}
	printf("%.3f\n", (now_ns() - t0) / 1e6);
	return bad;
}

struct result {
	double ms;
	double cpu_ms; /* user + system time of the whole process */
	long rss_kb;
	long vcsw; /* voluntary context switches: waits, including on locks */
};

static struct result run_worker(const char *self, const char *lib, long n, int creators)
{
	struct result res = { -1, -1, -1, -1 };
	struct rusage ru;
	int fd[2], status;
	char buf[64] = { 0 }, nbuf[32], cbuf[16];
	pid_t pid;
	ssize_t r;

	if (pipe(fd) != 0)
		return res;
	snprintf(nbuf, sizeof(nbuf), "%ld", n);
	snprintf(cbuf, sizeof(cbuf), "%d", creators);
	pid = fork();
	if (pid == 0) {
		dup2(fd[1], STDOUT_FILENO);
		close(fd[0]);
		if (lib)
			setenv("LD_PRELOAD", lib, 1);
		else
			unsetenv("LD_PRELOAD");
		execl(self, self, "--worker", nbuf, cbuf, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	r = read(fd[0], buf, sizeof(buf) - 1);
	close(fd[0]);
	if (wait4(pid, &status, 0, &ru) == pid && r > 0 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0) {
		res.ms = atof(buf);
		res.rss_kb = ru.ru_maxrss;
		res.cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
			     (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
		res.vcsw = ru.ru_nvcsw;
	}
	return res;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const char *lib = argc > 1 ? argv[1] : "build/hooks/libweft.so";
	long n = argc > 2 ? atol(argv[2]) : 2000;
	int rounds = argc > 3 ? atoi(argv[3]) : 7;
	int creators = argc > 4 ? atoi(argv[4]) : 8;
	double native[MAX_ROUNDS], weft[MAX_ROUNDS], cpu_n[MAX_ROUNDS], cpu_w[MAX_ROUNDS];
	double sw_n[MAX_ROUNDS], sw_w[MAX_ROUNDS], mn, mw;
	long rss_native = 0, rss_weft = 0;
	char self[4096];
	ssize_t len;

	if (argc > 3 && strcmp(argv[1], "--worker") == 0)
		return worker(atol(argv[2]), atoi(argv[3]));
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0 || access(lib, R_OK) != 0) {
		fprintf(stderr, "bench-threads-concurrent: cannot find %s\n", lib);
		return 77;
	}
	self[len] = '\0';
	if (rounds < 1)
		rounds = 1;
	if (rounds > MAX_ROUNDS)
		rounds = MAX_ROUNDS;
	if (creators < 1 || creators > MAX_CREATORS)
		creators = 8;
	if (!getenv("WEFT_BENCH_OUTPUT")) {
		setenv("OTEL_TRACES_EXPORTER", "none", 1);
		setenv("OTEL_METRICS_EXPORTER", "none", 1);
	} else {
		setenv("WEFT_OUTPUT", "/tmp/weft-bench-%p.jsonl", 1);
	}
	run_worker(self, NULL, n / 10, creators); /* warm up */
	run_worker(self, lib, n / 10, creators);
	for (int i = 0; i < rounds; i++) {
		struct result a = run_worker(self, NULL, n, creators);
		struct result b = run_worker(self, lib, n, creators);

		if (a.ms < 0 || b.ms < 0) {
			fprintf(stderr, "bench-threads-concurrent: a worker failed\n");
			return 1;
		}
		native[i] = a.ms;
		weft[i] = b.ms;
		cpu_n[i] = a.cpu_ms;
		cpu_w[i] = b.cpu_ms;
		sw_n[i] = (double)a.vcsw;
		sw_w[i] = (double)b.vcsw;
		rss_native = a.rss_kb > rss_native ? a.rss_kb : rss_native;
		rss_weft = b.rss_kb > rss_weft ? b.rss_kb : rss_weft;
	}
	qsort(native, (size_t)rounds, sizeof(double), cmp);
	qsort(weft, (size_t)rounds, sizeof(double), cmp);
	qsort(cpu_n, (size_t)rounds, sizeof(double), cmp);
	qsort(cpu_w, (size_t)rounds, sizeof(double), cmp);
	qsort(sw_n, (size_t)rounds, sizeof(double), cmp);
	qsort(sw_w, (size_t)rounds, sizeof(double), cmp);
	mn = native[rounds / 2];
	mw = weft[rounds / 2];
	printf("concurrent thread create+join (%d creators x %ld threads): native %.1f ms, "
	       "weft %.1f ms, speed %.2f of native (min %.2f, max %.2f); peak RSS native "
	       "%.1f MB, weft %.1f MB (median of %d rounds)\n",
	       creators, n, mn, mw, mn / mw, native[0] / weft[rounds - 1],
	       native[rounds - 1] / weft[0], (double)rss_native / 1024, (double)rss_weft / 1024,
	       rounds);
	/* CPU time is steadier than wall time on a shared machine. */
	printf("  CPU time native %.1f ms, weft %.1f ms (%.2fx); voluntary context switches "
	       "native %.0f, weft %.0f\n",
	       cpu_n[rounds / 2], cpu_w[rounds / 2], cpu_w[rounds / 2] / cpu_n[rounds / 2],
	       sw_n[rounds / 2], sw_w[rounds / 2]);
	return 0;
}
