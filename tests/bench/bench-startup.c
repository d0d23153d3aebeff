/*
 * What weft costs every process at start and exit, in one run.
 *
 * The driver starts a trivial program (itself, with --child: main returns 0 at
 * once) many times with fork+exec+wait, natively, under weft, and under weft
 * with OTEL_SDK_DISABLED=true (loading libweft.so and its dependencies, no
 * work), one start of each after another, and prints the median time of
 * each and weft's extra cost per process: the median of the differences
 * between a start under weft and the native start made beside it, which a
 * slow phase of the machine hits alike (rounds of 200 starts of one mode,
 * as it measured before, took a phase's noise of hundreds of us whole). With
 * a floor library (libbench-floor-preload.so: floor-preload.c), a fourth
 * mode runs the children under it: what loading a preloaded library and
 * writing a trivial process's output file cost, the part of weft's cost that
 * any tool leaving a file per process pays. Usage:
 *
 *   bench-startup [path/to/libweft.so] [starts-per-batch] [batches] [floor.so]
 *
 * (starts-per-batch x batches starts of each mode; the output directory is
 * emptied after each batch.)
 *
 * The weft runs use the default outputs (a file per process, in a scratch
 * directory that is emptied between rounds) unless WEFT_BENCH_OUTPUT=none.
 * The directory is in /dev/shm when there is one (bench-scratch.h says
 * why); WEFT_BENCH_DIR names another parent directory.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-scratch.h"
#include "bench-stats.h"

enum { MODES = 4 };

static const char *const mode_names[MODES] = { "native", "weft", "disabled", "floor" };

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double children_cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_CHILDREN, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/*
 * Starts the child once with `envp`: returns the wall µs from fork to the
 * end of waitpid (-1 if it failed) and adds the child's CPU µs (user +
 * system) to *cpu.
 */
static double start_once(const char *self, char **envp, double *cpu)
{
	char *argv[] = { (char *)self, "--child", NULL };
	double t0 = now_ns(), c0 = children_cpu_us();
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		execve(self, argv, envp);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return -1;
	*cpu += children_cpu_us() - c0;
	return (now_ns() - t0) / 1e3;
}

static void empty_dir(const char *dir)
{
	char path[4096];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	closedir(d);
}

/* The paired differences a[i] - b[i] for i < n, into out: their median, quartiles in *lo, *hi. */
static double paired(const double *a, const double *b, long n, double *out, double *lo, double *hi)
{
	for (long i = 0; i < n; i++)
		out[i] = a[i] - b[i];
	qsort(out, (size_t)n, sizeof(double), bench_cmp_double);
	*lo = out[n / 4];
	*hi = out[3 * n / 4];
	return out[n / 2];
}

int main(int argc, char **argv)
{
	const char *lib = argc > 1 ? argv[1] : "build/hooks/libweft.so";
	long n = argc > 2 ? atol(argv[2]) : 200;
	int rounds = argc > 3 ? atoi(argv[3]) : 9;
	const char *floor_lib = argc > 4 ? argv[4] : NULL;
	char self[4096], dir[1024], preload[4200], output[4200], floor_preload[4200];
	char *envs[MODES][8];
	double *us, *diff, cpu[MODES] = { 0 }, med[MODES] = { 0 }, ignored = 0;
	double extra, lo, hi, extra_disabled, lo_d, hi_d, extra_floor = 0, lo_f = 0, hi_f = 0;
	double above_floor = 0, lo_a = 0, hi_a = 0;
	long total;
	uint64_t rng = BENCH_SEED;
	ssize_t len;
	int modes = MODES - 1;

	if (argc > 1 && strcmp(argv[1], "--child") == 0)
		return 0;
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0 || access(lib, R_OK) != 0) {
		fprintf(stderr, "bench-startup: cannot find %s\n", lib);
		return 77;
	}
	self[len] = '\0';
	if (!bench_scratch_dir(dir, sizeof(dir), "startup"))
		return 1;
	if (rounds < 1)
		rounds = 1;
	if (n < 1)
		n = 1;
	total = n * rounds;
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", lib);
	snprintf(output, sizeof(output), "WEFT_OUTPUT=%s/weft-%%p.jsonl", dir);
	/* The same small environment for every mode; only weft's variables differ. */
	envs[0][0] = "PATH=/usr/bin:/bin";
	envs[0][1] = NULL;
	envs[1][0] = "PATH=/usr/bin:/bin";
	envs[1][1] = preload;
	envs[1][2] = output;
	envs[1][3] = getenv("WEFT_BENCH_OUTPUT") ? "OTEL_TRACES_EXPORTER=none" : NULL;
	envs[1][4] = getenv("WEFT_BENCH_OUTPUT") ? "OTEL_METRICS_EXPORTER=none" : NULL;
	envs[1][5] = NULL;
	envs[2][0] = "PATH=/usr/bin:/bin";
	envs[2][1] = preload;
	envs[2][2] = output;
	envs[2][3] = "OTEL_SDK_DISABLED=true";
	envs[2][4] = NULL;
	if (floor_lib && access(floor_lib, R_OK) == 0) {
		snprintf(floor_preload, sizeof(floor_preload), "LD_PRELOAD=%s", floor_lib);
		envs[3][0] = "PATH=/usr/bin:/bin";
		envs[3][1] = floor_preload;
		envs[3][2] = output;
		envs[3][3] = NULL;
		modes = MODES;
	}
	us = calloc((size_t)(MODES + 1) * (size_t)total, sizeof(double));
	if (!us) {
		fprintf(stderr, "bench-startup: out of memory\n");
		return 1;
	}
	diff = us + (size_t)MODES * (size_t)total;
	for (int m = 0; m < modes; m++)
		for (long i = 0; i < n / 10 + 1; i++)
			start_once(self, envs[m], &ignored); /* warm up */
	/*
	 * One start of each mode after another, in a new random order each
	 * time: a slow phase of the machine (they come and go within seconds on
	 * a shared VM) falls on every mode alike, and the differences of the
	 * starts made side by side cancel it. Random, because a start runs a
	 * little faster after one that used the same libraries: a fixed rotation
	 * gave the mode after `disabled` 10 to 18 us it did not earn.
	 */
	for (long i = 0; i < total; i++) {
		int order[MODES];

		bench_shuffle(order, modes, &rng);
		for (int k = 0; k < modes; k++) {
			int m = order[k];
			double t = start_once(self, envs[m], &cpu[m]);

			if (t < 0) {
				fprintf(stderr, "bench-startup: a %s child failed\n",
					mode_names[m]);
				return 1;
			}
			us[(size_t)m * (size_t)total + (size_t)i] = t;
		}
		if ((i + 1) % n == 0)
			empty_dir(dir);
	}
	rmdir(dir);
	for (int m = 0; m < modes; m++)
		cpu[m] /= (double)total;
#define US(m) (us + (size_t)(m) * (size_t)total)
	extra = paired(US(1), US(0), total, diff, &lo, &hi);
	extra_disabled = paired(US(2), US(0), total, diff, &lo_d, &hi_d);
	if (modes == MODES) {
		extra_floor = paired(US(3), US(0), total, diff, &lo_f, &hi_f);
		above_floor = paired(US(1), US(3), total, diff, &lo_a, &hi_a);
	}
	for (int m = 0; m < modes; m++)
		med[m] = bench_median(US(m), total);
#undef US
	printf("process start+exit (%ld starts of each, one after another): native %.0f us, "
	       "weft %.0f us, disabled %.0f us (medians); weft's extra +%.0f us (a start's "
	       "difference from the native one beside it: median, quartiles %.0f..%.0f), "
	       "disabled +%.0f us (%.0f..%.0f)\n",
	       total, med[0], med[1], med[2], extra, lo, hi, extra_disabled, lo_d, hi_d);
	/* The children's own CPU time: steadier than wall time on a busy machine. */
	printf("  CPU per process (user+system, mean): native %.0f us, weft %.0f us (+%.0f us), "
	       "disabled %.0f us (+%.0f us)\n",
	       cpu[0], cpu[1], cpu[1] - cpu[0], cpu[2], cpu[2] - cpu[0]);
	if (modes == MODES)
		printf("  floor (a preload that only writes the output file): %.0f us (+%.0f us, "
		       "%.0f..%.0f), CPU +%.0f us; weft above the floor: +%.0f us (%.0f..%.0f), "
		       "CPU +%.0f us\n",
		       med[3], extra_floor, lo_f, hi_f, cpu[3] - cpu[0], above_floor, lo_a, hi_a,
		       cpu[1] - cpu[3]);
	free(us);
	return 0;
}
