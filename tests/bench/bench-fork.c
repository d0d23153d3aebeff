/*
 * fork, vfork+exec and posix_spawn, natively and under weft, in one run.
 *
 * Two workloads, each run by a worker process (this program re-executed with
 * --worker) natively, under weft and under weft with OTEL_SDK_DISABLED=true:
 *
 *   fork   a parent with four running threads forks 200 children one after
 *          another; each child returns from a function and calls exit(0)
 *          (so under weft it ends as a process of its own, with its export);
 *   spawn  100 vfork+execve and 100 posix_spawn of a trivial program (this
 *          one with --child), each waited for: under weft each child loads
 *          libweft.so again, so this is mostly start-up cost.
 *
 * Each round runs every mode once, in a random order; prints the median wall
 * time of each workload per mode, weft's ratio to native (the median of each
 * round's ratio to the native run of the same round, and their range), and
 * the CPU time (user + system) of the worker and its children; for fork, also
 * the medians of a fork's two parts: fork() in the parent, and its return to
 * the child reaped.
 * With a floor library (libbench-floor-preload.so: floor-preload.c), a fourth
 * mode runs the worker under it: each child loads it and, as it ends, writes
 * a file the size of a trivial process's output under weft, and nothing else:
 * what any tool leaving a file per process pays.
 * Usage: bench-fork [path/to/libweft.so] [rounds] [floor.so]
 */
#include <pthread.h>
#include <spawn.h>
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

enum { MAX_ROUNDS = 32, MODES = 4, FORKS = 200, SPAWNS = 100 };

extern char **environ;
static const char *const mode_names[MODES] = { "native", "weft", "disabled", "floor" };
static volatile int stop;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *spin(void *arg)
{
	while (!stop) {
		struct timespec ts = { 0, 200000 };
		nanosleep(&ts, NULL);
	}
	return arg;
}

static int wait_ok(pid_t pid)
{
	int status;

	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0;
}

/*
 * The fork workload; *split gets the medians, in microseconds, of the two
 * parts of a fork: fork() in the parent (its fork handlers and the kernel's
 * copy of the process), and from fork()'s return to the child reaped (the
 * child's whole life, its fork handlers and exit included).
 */
static int fork_workload(double split[2])
{
	static double parent[FORKS], child[FORKS];
	pthread_t t[4];
	int ok = 1, n;

	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, spin, NULL);
	for (n = 0; n < FORKS && ok; n++) {
		double t0 = now_ns(), t1;
		pid_t pid = fork();

		if (pid == 0)
			exit(0);
		t1 = now_ns();
		ok = wait_ok(pid);
		parent[n] = (t1 - t0) / 1e3;
		child[n] = (now_ns() - t1) / 1e3;
	}
	stop = 1;
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	qsort(parent, (size_t)n, sizeof(double), bench_cmp_double);
	qsort(child, (size_t)n, sizeof(double), bench_cmp_double);
	split[0] = parent[n / 2];
	split[1] = child[n / 2];
	return ok;
}

/* Its own frame: nothing of the caller's lives across vfork. */
__attribute__((noinline)) static pid_t vfork_exec(const char *self, char **argv)
{
	pid_t pid = vfork();

	if (pid == 0) {
		execve(self, argv, environ);
		_exit(127);
	}
	return pid;
}

static int spawn_workload(const char *self)
{
	char *argv[] = { (char *)self, "--child", NULL };
	int ok = 1;

	for (int i = 0; i < SPAWNS && ok; i++) {
		ok = wait_ok(vfork_exec(self, argv));
	}
	for (int i = 0; i < SPAWNS && ok; i++) {
		pid_t pid;
		ok = posix_spawn(&pid, self, NULL, NULL, argv, environ) == 0 && wait_ok(pid);
	}
	return ok;
}

/*
 * Prints "<ms> <cpu ms> <page faults> <fork us> <child us>" for the workload
 * (the worker and its children; the last two: fork_workload's split, 0 for
 * spawn).
 */
static int worker(const char *self, const char *which)
{
	struct rusage self_ru, kids_ru;
	double t0 = now_ns(), split[2] = { 0, 0 };
	int ok = strcmp(which, "fork") == 0 ? fork_workload(split) : spawn_workload(self);

	getrusage(RUSAGE_SELF, &self_ru);
	getrusage(RUSAGE_CHILDREN, &kids_ru);
	printf("%.3f %.3f %ld %.1f %.1f\n", (now_ns() - t0) / 1e6,
	       (double)(self_ru.ru_utime.tv_sec + self_ru.ru_stime.tv_sec +
			kids_ru.ru_utime.tv_sec + kids_ru.ru_stime.tv_sec) *
			       1e3 +
		       (double)(self_ru.ru_utime.tv_usec + self_ru.ru_stime.tv_usec +
				kids_ru.ru_utime.tv_usec + kids_ru.ru_stime.tv_usec) /
			       1e3,
	       self_ru.ru_minflt + kids_ru.ru_minflt, split[0], split[1]);
	return ok ? 0 : 1;
}

/* mode: 0 native, 1 weft, 2 weft disabled, 3 the floor library (`lib` is then that one). */
static int run_worker(const char *self, const char *lib, int mode, const char *which, double *ms,
		      double *cpu, double *faults, double split[2])
{
	int fd[2];
	char buf[128] = { 0 };
	pid_t pid;
	ssize_t r;

	if (pipe(fd) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(fd[1], STDOUT_FILENO);
		close(fd[0]);
		unsetenv("LD_PRELOAD");
		unsetenv("OTEL_SDK_DISABLED");
		if (mode > 0)
			setenv("LD_PRELOAD", lib, 1);
		if (mode == 2)
			setenv("OTEL_SDK_DISABLED", "true", 1);
		execl(self, self, "--worker", which, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	r = read(fd[0], buf, sizeof(buf) - 1);
	close(fd[0]);
	if (!wait_ok(pid) || r <= 0 ||
	    sscanf(buf, "%lf %lf %lf %lf %lf", ms, cpu, faults, &split[0], &split[1]) != 5)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *lib = argc > 1 ? argv[1] : "build/hooks/libweft.so";
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	const char *floor_lib = argc > 3 && access(argv[3], R_OK) == 0 ? argv[3] : NULL;
	int modes = floor_lib ? MODES : MODES - 1;
	const char *const workloads[2] = { "fork", "spawn" };
	char self[4096], dir[1024], out[4200];
	double ms[MODES][MAX_ROUNDS], cpu[MODES][MAX_ROUNDS], pf[MODES][MAX_ROUNDS], ignored;
	double forked[MODES][MAX_ROUNDS], child[MODES][MAX_ROUNDS], split[2];
	double ratio[MODES][MAX_ROUNDS], cpu_ratio[MODES][MAX_ROUNDS];
	uint64_t rng = BENCH_SEED;
	ssize_t len;

	if (argc > 1 && strcmp(argv[1], "--child") == 0)
		return 0;
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0)
		return 1;
	self[len] = '\0';
	if (argc > 2 && strcmp(argv[1], "--worker") == 0)
		return worker(self, argv[2]);
	if (access(lib, R_OK) != 0) {
		fprintf(stderr, "bench-fork: cannot find %s\n", lib);
		return 77;
	}
	if (rounds < 1)
		rounds = 1;
	if (rounds > MAX_ROUNDS)
		rounds = MAX_ROUNDS;
	if (!bench_scratch_dir(dir, sizeof(dir), "fork"))
		return 1;
	snprintf(out, sizeof(out), "%s/weft-%%p.jsonl", dir);
	setenv("WEFT_OUTPUT", out, 1);
	for (int w = 0; w < 2; w++) {
		run_worker(self, lib, 1, workloads[w], &ignored, &ignored, &ignored,
			   split); /* warm up */
		/*
		 * Each round runs every mode once, in a new random order, and each
		 * mode's ratio is taken against the native run of its own round:
		 * a slow phase of the machine falls on the round, not on one mode.
		 */
		for (int r = 0; r < rounds; r++) {
			int order[MODES];

			bench_shuffle(order, modes, &rng);
			for (int k = 0; k < modes; k++) {
				int m = order[k];

				if (run_worker(self, m == 3 ? floor_lib : lib, m, workloads[w],
					       &ms[m][r], &cpu[m][r], &pf[m][r], split) != 0) {
					fprintf(stderr, "bench-fork: %s %s failed\n", workloads[w],
						mode_names[m]);
					return 1;
				}
				forked[m][r] = split[0];
				child[m][r] = split[1];
			}
		}
		for (int m = 0; m < modes; m++)
			for (int r = 0; r < rounds; r++) {
				ratio[m][r] = ms[m][r] / ms[0][r];
				cpu_ratio[m][r] = cpu[m][r] / cpu[0][r];
			}
		for (int m = 0; m < modes; m++) {
			qsort(ms[m], (size_t)rounds, sizeof(double), bench_cmp_double);
			qsort(cpu[m], (size_t)rounds, sizeof(double), bench_cmp_double);
			qsort(pf[m], (size_t)rounds, sizeof(double), bench_cmp_double);
			qsort(forked[m], (size_t)rounds, sizeof(double), bench_cmp_double);
			qsort(child[m], (size_t)rounds, sizeof(double), bench_cmp_double);
			qsort(ratio[m], (size_t)rounds, sizeof(double), bench_cmp_double);
			qsort(cpu_ratio[m], (size_t)rounds, sizeof(double), bench_cmp_double);
		}
		printf("%s: native %.1f ms, weft %.1f ms (%.2fx, %.2f..%.2f), disabled %.1f ms "
		       "(%.2fx); CPU native %.1f ms, weft %.1f ms (%.2fx), disabled %.1f ms "
		       "(%.2fx) "
		       "(medians of %d rounds; a ratio is to the native run of its own round)\n",
		       w == 0 ? "200 forks of a threaded parent"
			      : "100 vfork+exec + 100 posix_spawn",
		       ms[0][rounds / 2], ms[1][rounds / 2], ratio[1][rounds / 2], ratio[1][0],
		       ratio[1][rounds - 1], ms[2][rounds / 2], ratio[2][rounds / 2],
		       cpu[0][rounds / 2], cpu[1][rounds / 2], cpu_ratio[1][rounds / 2],
		       cpu[2][rounds / 2], cpu_ratio[2][rounds / 2], rounds);
		/* Page faults are steadier than time on a shared machine: per process made. */
		printf("  page faults per child: native %.0f, weft %.0f, disabled %.0f\n",
		       pf[0][rounds / 2] / (w == 0 ? FORKS : 2 * SPAWNS),
		       pf[1][rounds / 2] / (w == 0 ? FORKS : 2 * SPAWNS),
		       pf[2][rounds / 2] / (w == 0 ? FORKS : 2 * SPAWNS));
		if (w == 0)
			printf("  a fork's two parts (medians): fork() in the parent "
			       "native %.0f us, weft %.0f, disabled %.0f; "
			       "its return to the child reaped "
			       "native %.0f us, weft %.0f, disabled %.0f\n",
			       forked[0][rounds / 2], forked[1][rounds / 2], forked[2][rounds / 2],
			       child[0][rounds / 2], child[1][rounds / 2], child[2][rounds / 2]);
		if (modes == MODES)
			printf("  floor (a preload that only writes the output file): %.1f ms "
			       "(%.2fx), CPU %.2fx, %.0f page faults per child\n",
			       ms[3][rounds / 2], ratio[3][rounds / 2], cpu_ratio[3][rounds / 2],
			       pf[3][rounds / 2] / (w == 0 ? FORKS : 2 * SPAWNS));
		fflush(stdout);
	}
	/* Each weft child wrote a file: remove them. */
	{
		char cmd[4300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench-fork: could not remove %s\n", dir);
	}
	return 0;
}
