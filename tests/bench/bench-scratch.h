/*
 * The scratch directory of a benchmark whose weft processes each write a
 * file (bench-startup, bench-fork): under WEFT_BENCH_DIR, else in /dev/shm
 * when it can be written, else in /tmp.
 *
 * Not on ext4 by default: these drivers delete their files by the thousand,
 * and for minutes after, ext4 passes over the recently deleted inodes at
 * every create (recently_deleted: 17% of a trivial weft process's samples
 * under perf, up to 0.2 ms a process start on one VM; bench-fork's ratio
 * moved as much between runs in either directory, tests/bench/README.md) —
 * a cost of the benchmarks' own deletions that a program writing its files
 * once does not pay.
 */
#ifndef WEFT_BENCH_SCRATCH_H
#define WEFT_BENCH_SCRATCH_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Makes "<parent>/weft-bench-<name>-XXXXXX" into dir; false if it cannot. */
static inline int bench_scratch_dir(char *dir, size_t size, const char *name)
{
	const char *parent = getenv("WEFT_BENCH_DIR");

	if (!parent)
		parent = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	if ((size_t)snprintf(dir, size, "%s/weft-bench-%s-XXXXXX", parent, name) >= size)
		return 0;
	return mkdtemp(dir) != NULL;
}

#endif
