/*
 * Pipe and regular-file I/O workloads, natively and under weft, in one run
 * (issue 9's benchmark; the driver is bench-driver.h).
 *
 *   pingpong    two threads pass one byte back and forth through two pipes
 *               (ns per round trip: two writes, two reads, two wake-ups);
 *   throughput  one thread writes single bytes into a pipe, another reads
 *               them one at a time (ns per 1-byte message);
 *   file        plain write() and read() of 4 KiB blocks on a 256 KiB
 *               regular file in /dev/shm (or /tmp), an lseek to the start
 *               between the writes and the reads (ns per write+read pair):
 *               a descriptor that is not a channel, which under weft must
 *               pay the descriptor lookup and nothing else.
 *
 * Each workload runs 5 batches in its process and reports the fastest (the
 * one the machine's other programs disturbed least), by wall-clock and by
 * the process's CPU time. Every byte read is
 * checked against what was written, so a hook that lost, duplicated or
 * reordered data fails the run instead of timing it. Usage:
 *
 *   bench-pipe [path/to/libweft.so] [pingpong|throughput|file|all] [scale] [rounds] [null.so]
 *
 * null.so is tests/bench/libbench-null-preload-io.so, an interposer of read
 * and write that only forwards. WEFT_BENCH_SPREAD=1 puts the two threads of
 * a ping-pong or throughput run on CPUs 0 and 1, one each (a pinned run,
 * `taskset -c 0`, has them share one): where a two-core machine's scheduler
 * puts them when it spreads them, without its choice moving the figure. For
 * instruction counts (callgrind-io.sh):
 *
 *   bench-pipe --worker throughput|file N
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-driver.h"

#define BATCHES     5
#define FILE_BLOCK  4096
#define FILE_BLOCKS 64

/* Exactly one byte through fd, retried on EINTR: 0, or -1 on anything else. */
static int put1(int fd, unsigned char c)
{
	ssize_t r;

	do
		r = write(fd, &c, 1);
	while (r < 0 && errno == EINTR);
	return r == 1 ? 0 : -1;
}

static int get1(int fd, unsigned char *c)
{
	ssize_t r;

	do
		r = read(fd, c, 1);
	while (r < 0 && errno == EINTR);
	return r == 1 ? 0 : -1;
}

/*
 * The two pipes of a ping-pong or the one of a throughput run, and what the
 * second thread is to do. `failed` is set by the second thread when a byte
 * did not arrive or was not the one expected.
 */
struct pair {
	int there[2]; /* the main thread writes, the other thread reads */
	int back[2];  /* the other thread writes, the main thread reads */
	long n;
	int failed;
};

static int pair_open(struct pair *p, long n)
{
	memset(p, 0, sizeof(*p));
	p->n = n;
	if (pipe(p->there) != 0)
		return -1;
	if (pipe(p->back) != 0) {
		close(p->there[0]);
		close(p->there[1]);
		return -1;
	}
	return 0;
}

static void pair_close(struct pair *p)
{
	close(p->there[0]);
	close(p->there[1]);
	close(p->back[0]);
	close(p->back[1]);
}

/* With WEFT_BENCH_SPREAD set, the calling thread on CPU `cpu` alone (else unchanged). */
static void spread(int cpu)
{
	cpu_set_t set;

	if (!getenv("WEFT_BENCH_SPREAD"))
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
		fprintf(stderr, "bench-pipe: WEFT_BENCH_SPREAD: no CPU %d: not spread\n", cpu);
}

/* Runs `body` on a second thread while the main thread runs `main_body`. */
static int pair_run(long n, void *(*body)(void *), int (*main_body)(struct pair *))
{
	struct pair p;
	pthread_t t;
	int bad;

	if (pair_open(&p, n) != 0)
		return -1;
	spread(0);
	bench_batch_start();
	if (pthread_create(&t, NULL, body, &p) != 0) {
		pair_close(&p);
		return -1;
	}
	bad = main_body(&p);
	pthread_join(t, NULL);
	pair_close(&p);
	return bad || p.failed ? -1 : 0;
}

/* Ping-pong: byte i goes there, comes back as i + 1. */
static void *echo(void *arg)
{
	struct pair *p = arg;
	unsigned char c;

	spread(1);
	for (long i = 0; i < p->n; i++)
		if (get1(p->there[0], &c) != 0 || c != (unsigned char)i ||
		    put1(p->back[1], (unsigned char)(c + 1)) != 0) {
			p->failed = 1;
			break;
		}
	return NULL;
}

static int serve(struct pair *p)
{
	unsigned char c;

	for (long i = 0; i < p->n; i++)
		if (put1(p->there[1], (unsigned char)i) != 0 || get1(p->back[0], &c) != 0 ||
		    c != (unsigned char)(i + 1))
			return 1;
	return 0;
}

static int pingpong_batch(long n)
{
	return pair_run(n, echo, serve);
}

/* Throughput: the other thread writes bytes 0, 1, 2, ...; the main thread reads them. */
static void *produce(void *arg)
{
	struct pair *p = arg;

	spread(1);
	for (long i = 0; i < p->n; i++)
		if (put1(p->there[1], (unsigned char)i) != 0) {
			p->failed = 1;
			break;
		}
	return NULL;
}

static int consume(struct pair *p)
{
	unsigned char c;

	for (long i = 0; i < p->n; i++)
		if (get1(p->there[0], &c) != 0 || c != (unsigned char)i)
			return 1;
	return 0;
}

static int throughput_batch(long n)
{
	return pair_run(n, produce, consume);
}

/*
 * A regular file, unlinked at once, in /dev/shm when it can be created there
 * (tmpfs: no disk in the measurement), else in /tmp.
 */
static int scratch_file(void)
{
	static const char *const dirs[] = { "/dev/shm", "/tmp" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char path[64];
		int fd;

		snprintf(path, sizeof(path), "%s/weft-bench-pipe-XXXXXX", dirs[i]);
		fd = mkstemp(path);
		if (fd >= 0) {
			unlink(path);
			return fd;
		}
	}
	return -1;
}

/*
 * File: n write+read pairs of 4 KiB blocks on a 256 KiB file, rewritten from
 * the start and read back from the start; each block carries its number in
 * its first byte, checked on the way back.
 */
static unsigned char wbuf[FILE_BLOCK], rbuf[FILE_BLOCK];

static int file_pass(int fd, long blocks)
{
	if (lseek(fd, 0, SEEK_SET) != 0)
		return -1;
	for (long b = 0; b < blocks; b++) {
		wbuf[0] = (unsigned char)b;
		if (write(fd, wbuf, FILE_BLOCK) != FILE_BLOCK)
			return -1;
	}
	if (lseek(fd, 0, SEEK_SET) != 0)
		return -1;
	for (long b = 0; b < blocks; b++)
		if (read(fd, rbuf, FILE_BLOCK) != FILE_BLOCK || rbuf[0] != (unsigned char)b)
			return -1;
	return 0;
}

static int file_batch(long n)
{
	int fd = scratch_file(), bad;

	if (fd < 0)
		return -1;
	memset(wbuf, 'w', sizeof(wbuf));
	bad = file_pass(fd, FILE_BLOCKS); /* the file's pages exist before the clock starts */
	bench_batch_start();
	for (long left = n; left > 0 && !bad; left -= FILE_BLOCKS)
		bad = file_pass(fd, left < FILE_BLOCKS ? left : FILE_BLOCKS);
	close(fd);
	return bad ? -1 : 0;
}

static int pingpong(long n, struct bench_result *r)
{
	return bench_best_of(pingpong_batch, n, BATCHES, r);
}

static int throughput(long n, struct bench_result *r)
{
	return bench_best_of(throughput_batch, n, BATCHES, r);
}

static int file(long n, struct bench_result *r)
{
	return bench_best_of(file_batch, n, BATCHES, r);
}

static const struct bench_workload workloads[] = {
	{ "pingpong", "pipe ping-pong between two threads, per round trip", pingpong, 50000, 1.05 },
	{ "throughput", "1-byte pipe write/read between two threads, per message", throughput,
	  200000, 1.15 },
	{ "file", "4 KiB write+read on a regular file, per pair", file, 200000, 1.02 },
};

int main(int argc, char **argv)
{
	return bench_main(argc, argv, "bench-pipe", workloads,
			  sizeof(workloads) / sizeof(workloads[0]));
}
