/*
 * The shared benchmark driver (bench-driver.h): worker processes, rounds,
 * medians and ratios.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-driver.h"
#include "bench-stats.h"

#define MAX_ROUNDS  64
#define MAX_CONFIGS 3

struct config {
	const char *label;
	const char *preload; /* NULL: natively */
	struct bench_result v[MAX_ROUNDS];
};

static double clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Both clocks when the current batch's setup ended. */
static struct bench_result batch_start;

void bench_batch_start(void)
{
	batch_start.wall = clock_ns(CLOCK_MONOTONIC);
	batch_start.cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

int bench_best_of(int (*batch)(long n), long n, int batches, struct bench_result *r)
{
	long each = n / batches > 0 ? n / batches : 1;

	for (int b = 0; b < batches; b++) {
		double wall, cpu;

		bench_batch_start(); /* in case the batch does not */
		if (batch(each) != 0)
			return -1;
		wall = (clock_ns(CLOCK_MONOTONIC) - batch_start.wall) / (double)each;
		cpu = (clock_ns(CLOCK_PROCESS_CPUTIME_ID) - batch_start.cpu) / (double)each;
		if (b == 0 || wall < r->wall)
			r->wall = wall;
		if (b == 0 || cpu < r->cpu)
			r->cpu = cpu;
	}
	return 0;
}

static const struct bench_workload *workload_named(const struct bench_workload *w, size_t nw,
						   const char *name)
{
	for (size_t i = 0; i < nw; i++)
		if (strcmp(w[i].name, name) == 0)
			return &w[i];
	return NULL;
}

static int worker(const struct bench_workload *w, long n)
{
	struct bench_result r;

	if (!w || n <= 0)
		return 2;
	if (w->run(n, &r) != 0)
		return 1;
	printf("%.2f %.2f\n", r.wall, r.cpu);
	return 0;
}

/* One worker process under `preload` (NULL: natively): 0 and its result, or -1. */
static int run_worker(const char *self, const char *preload, const char *name, long n,
		      struct bench_result *res)
{
	int fd[2], status;
	char buf[128] = { 0 }, nbuf[32];
	pid_t pid;
	ssize_t r;

	if (pipe(fd) != 0)
		return -1;
	snprintf(nbuf, sizeof(nbuf), "%ld", n);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(fd[1], STDOUT_FILENO);
		close(fd[0]);
		if (preload)
			setenv("LD_PRELOAD", preload, 1);
		else
			unsetenv("LD_PRELOAD");
		execl(self, self, "--worker", name, nbuf, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	r = read(fd[0], buf, sizeof(buf) - 1);
	close(fd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return r > 0 && sscanf(buf, "%lf %lf", &res->wall, &res->cpu) == 2 ? 0 : -1;
}

static double measure_of(const struct bench_result *r, int measure)
{
	return measure ? r->cpu : r->wall;
}

/*
 * The median of the per-round ratios of one measure (0: wall-clock, 1: CPU)
 * of a to b, the runs of a round side by side; their range in *lo, *hi.
 */
static double paired_ratio(const struct config *a, const struct config *b, int rounds, int measure,
			   double *lo, double *hi)
{
	double v[MAX_ROUNDS];

	for (int i = 0; i < rounds; i++)
		v[i] = measure_of(&a->v[i], measure) / measure_of(&b->v[i], measure);
	qsort(v, (size_t)rounds, sizeof(double), bench_cmp_double);
	*lo = v[0];
	*hi = v[rounds - 1];
	return v[rounds / 2];
}

/*
 * Prints the median and range of one measure of c's rounds and, against
 * `native` when that is set, its ratio: the median of the per-round ratios
 * (each run to the native run of its own round, which a slow phase of the
 * machine hits alike) and their range, checked against the target when that
 * is set.
 */
static void report(const struct config *c, const struct config *native, int rounds, int measure,
		   double target)
{
	double v[MAX_ROUNDS], ratio, lo, hi;

	for (int i = 0; i < rounds; i++)
		v[i] = measure_of(&c->v[i], measure);
	qsort(v, (size_t)rounds, sizeof(double), bench_cmp_double);
	printf("    %-7s median %9.1f ns  range %.1f-%.1f", c->label, v[rounds / 2], v[0],
	       v[rounds - 1]);
	if (native) {
		ratio = paired_ratio(c, native, rounds, measure, &lo, &hi);
		printf("  ratio %.3fx (%.3f-%.3f)", ratio, lo, hi);
		if (target > 0)
			printf("  (target <= %.2fx%s)", target, ratio <= target ? "" : ", MISSED");
	}
	printf("\n");
}

static int bench(const char *prog, const char *self, const struct bench_workload *w,
		 struct config *c, int nc, double scale, int rounds)
{
	long n = (long)((double)w->n * scale);
	struct bench_result warm;
	uint64_t rng = BENCH_SEED;

	for (int k = 0; k < nc; k++) /* warm up caches and the page cache */
		run_worker(self, c[k].preload, w->name, n / 10 > 0 ? n / 10 : 1, &warm);
	for (int i = 0; i < rounds; i++) {
		int order[MAX_CONFIGS];

		/*
		 * Interleave, in a new random order each round (fixed seed), so
		 * that drift falls on all and no configuration always runs after
		 * the same other.
		 */
		bench_shuffle(order, nc, &rng);
		for (int j = 0; j < nc; j++) {
			int k = order[j];

			if (run_worker(self, c[k].preload, w->name, n, &c[k].v[i]) != 0) {
				fprintf(stderr, "%s: %s worker failed under %s\n", prog, w->name,
					c[k].label);
				return 1;
			}
		}
	}
	printf("%s (%d rounds of %ld):\n", w->what, rounds, n);
	for (int measure = 0; measure < 2; measure++) {
		printf(measure ? "  CPU time (user + system, all threads):\n" : "  wall-clock:\n");
		report(&c[0], NULL, rounds, measure, 0);
		for (int k = 1; k < nc; k++)
			report(&c[k], &c[0], rounds, measure, k == 1 ? w->target : 0);
		/* weft against the other library, round by round (an older weft, say). */
		for (int k = 2; k < nc; k++) {
			double lo, hi,
				ratio = paired_ratio(&c[1], &c[k], rounds, measure, &lo, &hi);

			printf("    weft / %s %.3fx (%.3f-%.3f)\n", c[k].label, ratio, lo, hi);
		}
	}
	return 0;
}

int bench_main(int argc, char **argv, const char *prog, const struct bench_workload *workloads,
	       size_t nworkloads)
{
	const char *lib = argc > 1 ? argv[1] : "build/hooks/libweft.so";
	const char *which = argc > 2 ? argv[2] : "all";
	double scale = argc > 3 ? atof(argv[3]) : 1.0;
	int rounds = argc > 4 ? atoi(argv[4]) : 7;
	const char *null_lib = argc > 5 ? argv[5] : NULL;
	struct config c[MAX_CONFIGS];
	char self[4096];
	int nc = 0, rc = 0;
	ssize_t len;

	if (argc > 3 && strcmp(argv[1], "--worker") == 0)
		return worker(workload_named(workloads, nworkloads, argv[2]), atol(argv[3]));
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0 || access(lib, R_OK) != 0) {
		fprintf(stderr, "%s: cannot find %s\n", prog, lib);
		return 77;
	}
	self[len] = '\0';
	if (rounds < 1 || rounds > MAX_ROUNDS || scale <= 0) {
		fprintf(stderr, "%s: rounds must be 1-%d and scale positive\n", prog, MAX_ROUNDS);
		return 2;
	}
	if (strcmp(which, "all") != 0 && !workload_named(workloads, nworkloads, which)) {
		fprintf(stderr, "%s: no workload %s\n", prog, which);
		return 2;
	}
	if (!getenv("WEFT_BENCH_OUTPUT")) {
		setenv("OTEL_TRACES_EXPORTER", "none", 1);
		setenv("OTEL_METRICS_EXPORTER", "none", 1);
	} else {
		setenv("WEFT_OUTPUT", "/tmp/weft-bench-%p.jsonl", 1);
	}
	c[nc++] = (struct config){ .label = "native" };
	c[nc++] = (struct config){ .label = "weft", .preload = lib };
	if (null_lib && access(null_lib, R_OK) == 0)
		c[nc++] = (struct config){ .label = "null", .preload = null_lib };
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < nworkloads && rc == 0; i++)
		if (strcmp(which, "all") == 0 || strcmp(which, workloads[i].name) == 0)
			rc = bench(prog, self, &workloads[i], c, nc, scale, rounds);
	return rc;
}
