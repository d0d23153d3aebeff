/*
 * What weft costs every process at start and exit, in one run.
 *
 * The driver starts a trivial program (itself, with --child: main returns 0 at
 * once) many times with fork+exec+wait, natively, under weft, and under weft
 * with OTEL_SDK_DISABLED=true (loading libweft.so and its dependencies, no
 * work), interleaving the three so that the machine's background load hits
 * them alike, and prints the median of several rounds of each and weft's
 * extra cost per process. With a floor library (libbench-floor-preload.so:
 * floor-preload.c), a fourth column runs the children under it: what loading
 * a preloaded library and writing a trivial process's output file cost, the
 * part of weft's cost that any tool leaving a file per process pays. Usage:
 *
 *   bench-startup [path/to/libweft.so] [runs-per-round] [rounds] [floor.so]
 *
 * The weft runs use the default outputs (a file per process, in a scratch
 * directory that is emptied between rounds) unless WEFT_BENCH_OUTPUT=none.
 * The directory is in /dev/shm when there is one (bench-scratch.h says
 * why); WEFT_BENCH_DIR names another parent directory.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-scratch.h"

enum { MAX_ROUNDS = 64, MODES = 4 };

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
 * Starts the child `n` times with `envp`; returns the mean wall µs per start
 * and stores the mean CPU µs (user + system, the children's own) in *cpu.
 */
static double round_us(const char *self, char **envp, long n, double *cpu)
{
	char *argv[] = { (char *)self, "--child", NULL };
	double t0 = now_ns(), c0 = children_cpu_us();

	for (long i = 0; i < n; i++) {
		int status;
		pid_t pid = fork();

		if (pid == 0) {
			execve(self, argv, envp);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			return -1;
	}
	*cpu = (children_cpu_us() - c0) / (double)n;
	return (now_ns() - t0) / 1e3 / (double)n;
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

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const char *lib = argc > 1 ? argv[1] : "build/hooks/libweft.so";
	long n = argc > 2 ? atol(argv[2]) : 200;
	int rounds = argc > 3 ? atoi(argv[3]) : 9;
	const char *floor_lib = argc > 4 ? argv[4] : NULL;
	char self[4096], dir[1024], preload[4200], output[4200], floor_preload[4200];
	char *envs[MODES][8];
	double us[MODES][MAX_ROUNDS], cpu[MODES][MAX_ROUNDS], ignored;
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
	if (rounds > MAX_ROUNDS)
		rounds = MAX_ROUNDS;
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
	for (int m = 0; m < modes; m++)
		round_us(self, envs[m], n / 10 + 1, &ignored); /* warm up */
	for (int r = 0; r < rounds; r++) {
		for (int m = 0; m < modes; m++) {
			us[m][r] = round_us(self, envs[m], n, &cpu[m][r]);
			if (us[m][r] < 0) {
				fprintf(stderr, "bench-startup: a %s child failed\n",
					mode_names[m]);
				return 1;
			}
		}
		empty_dir(dir);
	}
	rmdir(dir);
	for (int m = 0; m < modes; m++) {
		qsort(us[m], (size_t)rounds, sizeof(double), cmp);
		qsort(cpu[m], (size_t)rounds, sizeof(double), cmp);
	}
	printf("process start+exit (median of %d rounds of %ld): native %.0f us, weft %.0f us "
	       "(+%.0f us), disabled %.0f us (+%.0f us); weft's extra ranged %.0f..%.0f us\n",
	       rounds, n, us[0][rounds / 2], us[1][rounds / 2],
	       us[1][rounds / 2] - us[0][rounds / 2], us[2][rounds / 2],
	       us[2][rounds / 2] - us[0][rounds / 2], us[1][0] - us[0][rounds - 1],
	       us[1][rounds - 1] - us[0][0]);
	/* The children's own CPU time: steadier than wall time on a busy machine. */
	printf("  CPU per process (user+system, median): native %.0f us, weft %.0f us (+%.0f us), "
	       "disabled %.0f us (+%.0f us)\n",
	       cpu[0][rounds / 2], cpu[1][rounds / 2], cpu[1][rounds / 2] - cpu[0][rounds / 2],
	       cpu[2][rounds / 2], cpu[2][rounds / 2] - cpu[0][rounds / 2]);
	if (modes == MODES)
		printf("  floor (a preload that only writes the output file): %.0f us (+%.0f us), "
		       "CPU +%.0f us; weft above the floor: +%.0f us, CPU +%.0f us\n",
		       us[3][rounds / 2], us[3][rounds / 2] - us[0][rounds / 2],
		       cpu[3][rounds / 2] - cpu[0][rounds / 2],
		       us[1][rounds / 2] - us[3][rounds / 2],
		       cpu[1][rounds / 2] - cpu[3][rounds / 2]);
	return 0;
}
