/*
 * Lock and condition-variable workloads, natively and under weft, in one run.
 *
 * Three workloads, each timed inside a fresh process:
 *
 *   uncontended  one thread locks and unlocks a free mutex (ns per pair);
 *   contended    4 threads add to one counter under one mutex (ns per add);
 *   pingpong     2 threads hand a turn back and forth through a mutex and a
 *                condition variable (ns per round trip: two waits, two
 *                signals).
 *
 * The driver re-executes itself as the worker, alternately without
 * LD_PRELOAD, with LD_PRELOAD=libweft.so and, when LTTng-UST's pthread
 * wrapper (liblttng-ust-pthread-wrapper.so.1, Debian's liblttng-ust1) sits
 * beside libc, with LD_PRELOAD of that wrapper: native and each tool in every
 * round, so that what the machine is doing meanwhile falls on all of them. It
 * prints each configuration's median and range and the ratio of the medians.
 * Usage:
 *
 *   bench-sync [path/to/libweft.so] [workload|all] [scale] [rounds] [null.so]
 *
 * `scale` multiplies each workload's operation count (1 is about 0.1-0.5 s a
 * process). `null.so` (built as tests/bench/libbench-null-preload.so) is an
 * interposer that only forwards: its column is the floor that any LD_PRELOAD
 * tool pays, so weft's own cost is the gap between `weft` and `null`.
 * Telemetry goes to OTEL_*_EXPORTER=none unless WEFT_BENCH_OUTPUT=file, as in
 * bench-threads. WEFT_BENCH_LTTNG=PATH names another wrapper,
 * WEFT_BENCH_LTTNG=none skips it. Without an LTTng session daemon the
 * wrapper's tracepoints are disabled ("tracing off"): what is measured then
 * is the cost of its interposition and its tracepoint checks. With
 * WEFT_LOCK_ORDER=1 in the environment weft runs with lock-order tracking,
 * whose target for the uncontended pair is 2x (issue 13).
 *
 * The worker alone, for instruction counts (valgrind --tool=callgrind):
 *
 *   bench-sync --worker uncontended N
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-stats.h"

#define MAX_ROUNDS        64
#define CONTENDED_THREADS 4

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/*
 * Uncontended: n lock/unlock pairs in batches of UNCONTENDED_BATCH (at least
 * 5 batches); the best batch's ns per pair. A batch lasts about 0.1 ms,
 * shorter than a scheduler time slice, so on a busy machine most batches
 * run undisturbed and the best one is the pair's own cost (with ~300
 * sampled holds in it, at the default WEFT_HOLD_SAMPLE). The mutex is
 * volatile-addressed so the calls cannot be hoisted or merged.
 */
#define UNCONTENDED_BATCH 20000

static pthread_mutex_t lone = PTHREAD_MUTEX_INITIALIZER;

static double work_uncontended(long n)
{
	pthread_mutex_t *volatile m = &lone;
	long batches = n / UNCONTENDED_BATCH > 5 ? n / UNCONTENDED_BATCH : 5;
	long batch = n / batches > 0 ? n / batches : 1;
	double best = -1;

	for (long b = 0; b < batches; b++) {
		double t0 = now_ns(), t;

		for (long i = 0; i < batch; i++) {
			pthread_mutex_lock(m);
			pthread_mutex_unlock(m);
		}
		t = (now_ns() - t0) / (double)batch;
		if (best < 0 || t < best)
			best = t;
	}
	return best;
}

/* Contended: CONTENDED_THREADS threads, n adds in all, one mutex. */
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile long counter;

static void *adder(void *arg)
{
	long n = *(const long *)arg;

	for (long i = 0; i < n; i++) {
		pthread_mutex_lock(&counter_lock);
		counter++;
		pthread_mutex_unlock(&counter_lock);
	}
	return NULL;
}

static double work_contended(long n)
{
	pthread_t t[CONTENDED_THREADS];
	long each = n / CONTENDED_THREADS;
	double t0 = now_ns();

	for (int i = 0; i < CONTENDED_THREADS; i++)
		if (pthread_create(&t[i], NULL, adder, &each) != 0)
			return -1;
	for (int i = 0; i < CONTENDED_THREADS; i++)
		pthread_join(t[i], NULL);
	if (counter != each * CONTENDED_THREADS)
		return -1;
	return (now_ns() - t0) / (double)(each * CONTENDED_THREADS);
}

/* Ping-pong: the turn goes 0 -> 1 -> 0, n round trips. */
static pthread_mutex_t pp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pp_cond[2] = { PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER };
static int pp_turn;

struct pp_arg {
	int me;
	long n;
};

static void *player(void *arg)
{
	const struct pp_arg *a = arg;

	pthread_mutex_lock(&pp_lock);
	for (long i = 0; i < a->n; i++) {
		while (pp_turn != a->me)
			pthread_cond_wait(&pp_cond[a->me], &pp_lock);
		pp_turn = !a->me;
		pthread_cond_signal(&pp_cond[!a->me]);
	}
	pthread_mutex_unlock(&pp_lock);
	return NULL;
}

static double work_pingpong(long n)
{
	struct pp_arg a0 = { 0, n }, a1 = { 1, n };
	pthread_t t;
	double t0 = now_ns();

	if (pthread_create(&t, NULL, player, &a1) != 0)
		return -1;
	player(&a0);
	pthread_join(t, NULL);
	return (now_ns() - t0) / (double)n;
}

struct workload {
	const char *name;
	const char *what;
	double (*run)(long n);
	long n; /* operations per process at scale 1 */
	double target;
};

static const struct workload workloads[] = {
	{ "uncontended", "uncontended mutex lock+unlock pair", work_uncontended, 5000000, 1.3 },
	{ "contended", "4-thread contended counter, per add", work_contended, 2000000, 1.3 },
	{ "pingpong", "condvar ping-pong, per round trip", work_pingpong, 50000, 1.1 },
};
#define NWORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

static const struct workload *workload_named(const char *name)
{
	for (size_t i = 0; i < NWORKLOADS; i++)
		if (strcmp(workloads[i].name, name) == 0)
			return &workloads[i];
	return NULL;
}

static int worker(const char *name, long n)
{
	const struct workload *w = workload_named(name);
	double r;

	if (!w || n <= 0)
		return 2;
	r = w->run(n);
	if (r < 0)
		return 1;
	printf("%.2f\n", r);
	return 0;
}

/* One worker process under `preload` (NULL: natively); its ns per operation. */
static double run_worker(const char *self, const char *preload, const char *name, long n)
{
	int fd[2], status;
	char buf[64] = { 0 }, nbuf[32];
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
	return r > 0 ? atof(buf) : -1;
}

/* LTTng-UST's pthread wrapper, looked for beside the libc this program uses. */
static const char *find_lttng(char *buf, size_t size)
{
	const char *env = getenv("WEFT_BENCH_LTTNG");
	Dl_info info;
	const char *slash;

	if (env)
		return strcmp(env, "none") == 0 || access(env, R_OK) != 0 ? NULL : env;
	if (!dladdr(__extension__(void *) printf, &info) || !info.dli_fname)
		return NULL;
	slash = strrchr(info.dli_fname, '/');
	if (!slash)
		return NULL;
	snprintf(buf, size, "%.*s/liblttng-ust-pthread-wrapper.so.1", (int)(slash - info.dli_fname),
		 info.dli_fname);
	return access(buf, R_OK) == 0 ? buf : NULL;
}

struct config {
	const char *label;
	const char *preload;
	double v[MAX_ROUNDS];
};

static int bench(const char *self, const struct workload *w, struct config *c, int nc, double scale,
		 int rounds)
{
	long n = (long)((double)w->n * scale);
	const char *order = getenv("WEFT_LOCK_ORDER");
	double ratio[4][MAX_ROUNDS], to_weft[4][MAX_ROUNDS];
	double target =
		order && strcmp(order, "1") == 0 && w->run == work_uncontended ? 2.0 : w->target;
	uint64_t rng = BENCH_SEED;

	for (int k = 0; k < nc; k++) /* warm up caches and the page cache */
		run_worker(self, c[k].preload, w->name, n / 10 > 0 ? n / 10 : 1);
	for (int i = 0; i < rounds; i++) {
		int perm[4];

		/* Interleave, in a new random order each round, so that drift falls on all. */
		bench_shuffle(perm, nc, &rng);
		for (int j = 0; j < nc; j++) {
			int k = perm[j];

			c[k].v[i] = run_worker(self, c[k].preload, w->name, n);
			if (c[k].v[i] < 0) {
				fprintf(stderr, "bench-sync: %s worker failed under %s\n", w->name,
					c[k].label);
				return 1;
			}
		}
	}
	printf("%s (%d rounds of %ld)%s:\n", w->what, rounds, n,
	       target != w->target ? ", weft with WEFT_LOCK_ORDER=1" : "");
	/* Ratios round by round (bench-stats.h): each run to the native run of its round. */
	for (int k = 1; k < nc; k++)
		for (int i = 0; i < rounds; i++)
			ratio[k][i] = c[k].v[i] / c[0].v[i];
	for (int k = 2; k < nc; k++)
		for (int i = 0; i < rounds; i++)
			to_weft[k][i] = c[1].v[i] / c[k].v[i];
	for (int k = 0; k < nc; k++) {
		double med = bench_median(c[k].v, rounds);

		printf("  %-7s median %9.1f ns  range %.1f-%.1f", c[k].label, med, c[k].v[0],
		       c[k].v[rounds - 1]);
		if (k > 0) {
			double r = bench_median(ratio[k], rounds);

			printf("  ratio %.3fx (%.3f-%.3f)", r, ratio[k][0], ratio[k][rounds - 1]);
			if (k == 1)
				printf("  (target <= %.2fx%s)", target,
				       r <= target ? "" : ", MISSED");
		}
		printf("\n");
	}
	for (int k = 2; k < nc; k++) {
		double r = bench_median(to_weft[k], rounds);

		printf("  weft / %s %.3fx (%.3f-%.3f)\n", c[k].label, r, to_weft[k][0],
		       to_weft[k][rounds - 1]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *lib = argc > 1 ? argv[1] : "build/hooks/libweft.so";
	const char *which = argc > 2 ? argv[2] : "all";
	double scale = argc > 3 ? atof(argv[3]) : 1.0;
	int rounds = argc > 4 ? atoi(argv[4]) : 7;
	char self[4096], lttng_buf[4096];
	const char *null_lib = argc > 5 ? argv[5] : NULL;
	struct config c[4];
	int nc = 0, rc = 0;
	const char *lttng;
	ssize_t len;

	if (argc > 3 && strcmp(argv[1], "--worker") == 0)
		return worker(argv[2], atol(argv[3]));
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0 || access(lib, R_OK) != 0) {
		fprintf(stderr, "bench-sync: cannot find %s\n", lib);
		return 77;
	}
	self[len] = '\0';
	if (rounds < 1 || rounds > MAX_ROUNDS || scale <= 0) {
		fprintf(stderr, "bench-sync: rounds must be 1-%d and scale positive\n", MAX_ROUNDS);
		return 2;
	}
	if (strcmp(which, "all") != 0 && !workload_named(which)) {
		fprintf(stderr, "bench-sync: no workload %s\n", which);
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
	lttng = find_lttng(lttng_buf, sizeof(lttng_buf));
	if (lttng)
		c[nc++] = (struct config){ .label = "lttng", .preload = lttng };
	else
		printf("(LTTng-UST's liblttng-ust-pthread-wrapper.so.1 not found: no lttng "
		       "column)\n");
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < NWORKLOADS && rc == 0; i++)
		if (strcmp(which, "all") == 0 || strcmp(which, workloads[i].name) == 0)
			rc = bench(self, &workloads[i], c, nc, scale, rounds);
	return rc;
}
