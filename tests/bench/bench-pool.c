/*
 * A job-queue pool, natively and under weft, in one run (issue 11's
 * benchmark; the driver is bench-driver.h).
 *
 *   jobqueue  one producer and 4 workers share a 1,024-slot ring guarded by
 *             a mutex and two condition variables (not_empty, not_full);
 *             the producer pushes tiny jobs (a few additions) and signals
 *             not_empty at each push, the workers pop and run them and
 *             signal not_full at each pop, as the textbook queue does (ns
 *             per job). Workers wait only when the
 *             ring is empty, the producer only when it is full: each such
 *             wait is a receive from a work source under weft, and a wake
 *             by a signal starts a task.
 *
 * Every job number is summed by the workers and checked against the sum
 * pushed, so a hook that lost or duplicated a wake-up fails the run instead
 * of timing it. Usage:
 *
 *   bench-pool [path/to/libweft.so] [jobqueue|all] [scale] [rounds]
 *
 * For instruction counts: bench-pool --worker jobqueue N
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bench-driver.h"

#define BATCHES 3
#define WORKERS 4
#define SLOTS   1024

static struct {
	pthread_mutex_t m;
	pthread_cond_t not_empty, not_full;
	uint64_t ring[SLOTS];
	unsigned head, count;
	bool closed;
	uint64_t sum;
} q = { .m = PTHREAD_MUTEX_INITIALIZER,
	.not_empty = PTHREAD_COND_INITIALIZER,
	.not_full = PTHREAD_COND_INITIALIZER };

static void *worker(void *arg)
{
	uint64_t sum = 0;

	for (;;) {
		uint64_t job;

		pthread_mutex_lock(&q.m);
		while (q.count == 0 && !q.closed)
			pthread_cond_wait(&q.not_empty, &q.m);
		if (q.count == 0) {
			pthread_mutex_unlock(&q.m);
			break;
		}
		job = q.ring[q.head];
		q.head = (q.head + 1) % SLOTS;
		q.count--;
		pthread_cond_signal(&q.not_full);
		pthread_mutex_unlock(&q.m);
		/* The job: a few additions. */
		sum += job * 3 + 1;
	}
	pthread_mutex_lock(&q.m);
	q.sum += sum;
	pthread_mutex_unlock(&q.m);
	return arg;
}

static int pool_batch(long n)
{
	pthread_t th[WORKERS];
	uint64_t want = 0;

	q.head = q.count = 0;
	q.closed = false;
	q.sum = 0;
	for (int i = 0; i < WORKERS; i++)
		if (pthread_create(&th[i], NULL, worker, NULL) != 0)
			return -1;
	bench_batch_start();
	for (long i = 0; i < n; i++) {
		pthread_mutex_lock(&q.m);
		while (q.count == SLOTS)
			pthread_cond_wait(&q.not_full, &q.m);
		q.ring[(q.head + q.count) % SLOTS] = (uint64_t)i;
		q.count++;
		pthread_cond_signal(&q.not_empty);
		pthread_mutex_unlock(&q.m);
		want += (uint64_t)i * 3 + 1;
	}
	pthread_mutex_lock(&q.m);
	q.closed = true;
	pthread_cond_broadcast(&q.not_empty);
	pthread_mutex_unlock(&q.m);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(th[i], NULL);
	return q.sum == want ? 0 : -1;
}

static int jobqueue(long n, struct bench_result *r)
{
	return bench_best_of(pool_batch, n, BATCHES, r);
}

static const struct bench_workload workloads[] = {
	{ "jobqueue", "1 producer, 4 workers, 1,024-slot mutex+condvar queue, per job", jobqueue,
	  2000000, 1.2 },
};

int main(int argc, char **argv)
{
	return bench_main(argc, argv, "bench-pool", workloads,
			  sizeof(workloads) / sizeof(workloads[0]));
}
