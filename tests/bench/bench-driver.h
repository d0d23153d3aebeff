/*
 * The driver the in-process benchmarks share: one run times the same
 * workload natively and under each preload library, and prints medians,
 * ranges and the ratios.
 *
 * A benchmark program lists its workloads (a function that runs n operations
 * and reports nanoseconds per operation) and calls bench_main. The driver
 * re-executes the program as the worker (`PROG --worker NAME N`, which prints
 * ns per operation: wall-clock, then the process's CPU time, the steadier of
 * the two on a shared machine since time spent waiting for a core is not in
 * it), once per round and configuration: native (LD_PRELOAD unset), weft
 * (LD_PRELOAD=libweft.so) and, when given, null (a preload library that only
 * forwards the same calls: the floor any LD_PRELOAD tool pays). Every
 * configuration runs in every round and the order rotates, so that what the
 * machine does meanwhile falls on all of them. Usage of a program built on it:
 *
 *   PROG [path/to/libweft.so] [workload|all] [scale] [rounds] [null.so]
 *
 * `scale` multiplies each workload's operation count. Telemetry goes to
 * OTEL_*_EXPORTER=none unless WEFT_BENCH_OUTPUT=file (then to
 * /tmp/weft-bench-<pid>.jsonl). The worker alone serves instruction counts
 * (valgrind --tool=callgrind): `PROG --worker NAME N`.
 */
#ifndef WEFT_TESTS_BENCH_DRIVER_H
#define WEFT_TESTS_BENCH_DRIVER_H

#include <stddef.h>

/* What a worker measured, in nanoseconds per operation. */
struct bench_result {
	double wall; /* elapsed (monotonic clock) */
	double cpu;  /* the process's CPU time, user + system, all its threads */
};

struct bench_workload {
	const char *name;
	const char *what; /* the line printed above its results */
	/* Runs n operations: 0, or -1 when the workload went wrong. */
	int (*run)(long n, struct bench_result *r);
	long n;        /* operations per process at scale 1 */
	double target; /* weft's median over native's: the most allowed */
};

/*
 * Runs `batch(n / batches)` `batches` times in this process and stores the
 * least wall-clock and the least CPU time per operation (each the batch the
 * other programs on the machine disturbed least). A batch returns 0, or -1
 * when it went wrong; it calls bench_batch_start once its setup is done, and
 * its clocks stop when it returns.
 */
int bench_best_of(int (*batch)(long n), long n, int batches, struct bench_result *r);
void bench_batch_start(void);

/* The benchmark's main: the driver, or the worker when argv[1] is --worker. */
int bench_main(int argc, char **argv, const char *prog, const struct bench_workload *workloads,
	       size_t nworkloads);

#endif
