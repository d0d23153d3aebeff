/*
 * Hot locks and a saturated pool, for tests/integration/test-findings.py.
 *
 *   hotlock hot        thread "flusher" holds mutex `buffer` 40 ms at a time
 *                      (in flush_buffer), 20 times, while two "consumer"
 *                      threads wait for it (in consume); meanwhile four
 *                      "counter" threads take mutex `count` 1,000 times
 *                      each and yield the processor while holding it (in
 *                      bump): more contentions, less time waited
 *   hotlock saturated  three bursts of 40 client threads that write 3 jobs
 *                      each into a pipe at once; two "worker" threads read
 *                      them one at a time and spend 3 ms of CPU on each: the
 *                      jobs queue up. A pipe keeps the producers of its last
 *                      8 writes only (agent/channel.h), so in a burst only
 *                      the reads of the last 8 clients' jobs carry a
 *                      producer and start tasks (one per client); the next
 *                      burst comes when 6 jobs are left, so that the workers
 *                      never wait and the pool runs well over the finding's
 *                      10 tasks whatever the scheduling
 *
 * Prints "mutex NAME ADDRESS" and "done".
 */
#include <pthread.h>
#include <sys/ioctl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t buffer = PTHREAD_MUTEX_INITIALIZER, count = PTHREAD_MUTEX_INITIALIZER;
static volatile int flushing = 1;
static volatile uint64_t counted;

#define STAY __asm__ volatile("" ::: "memory")

static void spin_ns(long ns)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	do
		clock_gettime(CLOCK_MONOTONIC, &b);
	while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < ns);
}

__attribute__((noinline)) static void flush_buffer(void)
{
	pthread_mutex_lock(&buffer);
	spin_ns(40000000);
	pthread_mutex_unlock(&buffer);
	STAY;
}

static void *flusher(void *arg)
{
	pthread_setname_np(pthread_self(), "flusher");
	for (int i = 0; i < 20; i++) {
		flush_buffer();
		usleep(2000);
	}
	flushing = 0;
	return NULL;
}

__attribute__((noinline)) static void consume(void)
{
	pthread_mutex_lock(&buffer);
	STAY;
	pthread_mutex_unlock(&buffer);
}

static void *consumer(void *arg)
{
	pthread_setname_np(pthread_self(), "consumer");
	while (flushing) {
		consume();
		usleep(1000);
	}
	return NULL;
}

/* Yields the processor while holding `count`: another counter finds it held. */
__attribute__((noinline)) static void bump(void)
{
	pthread_mutex_lock(&count);
	counted++;
	sched_yield();
	pthread_mutex_unlock(&count);
	STAY;
}

static void *counter(void *arg)
{
	pthread_setname_np(pthread_self(), "counter");
	for (int i = 0; i < 1000; i++)
		bump();
	return NULL;
}

/* ---------------------------------------------------------------- saturated */

static int jobs[2];

__attribute__((noinline)) static void run_job(void)
{
	spin_ns(3000000);
}

static void *client(void *arg)
{
	for (int64_t j = 0; j < 3; j++)
		if (write(jobs[1], &j, sizeof(j)) != sizeof(j))
			return NULL;
	return NULL;
}

static void *worker(void *arg)
{
	int64_t job;

	pthread_setname_np(pthread_self(), "worker");
	while (read(jobs[0], &job, sizeof(job)) == sizeof(job) && job >= 0)
		run_job();
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[8];
	int n = 0;

	if (argc > 1 && strcmp(argv[1], "saturated") == 0) {
		if (pipe(jobs) != 0)
			return 1;
		for (int i = 0; i < 2; i++)
			pthread_create(&t[n++], NULL, worker, NULL);
		usleep(2000); /* the workers wait for work */
		for (int burst = 0; burst < 3; burst++) {
			pthread_t c[40];
			int queued;

			/* The next burst when 6 jobs (18 ms of the workers' time) are left. */
			while (burst > 0 && ioctl(jobs[0], FIONREAD, &queued) == 0 &&
			       queued > 6 * (int)sizeof(int64_t))
				usleep(500);
			for (int i = 0; i < 40; i++)
				pthread_create(&c[i], NULL, client, NULL);
			for (int i = 0; i < 40; i++)
				pthread_join(c[i], NULL);
		}
		for (int i = 0; i < 2; i++) {
			int64_t stop = -1;

			if (write(jobs[1], &stop, sizeof(stop)) != sizeof(stop))
				return 1;
		}
	} else {
		printf("mutex buffer %llu\nmutex count %llu\n",
		       (unsigned long long)(uintptr_t)&buffer,
		       (unsigned long long)(uintptr_t)&count);
		pthread_create(&t[n++], NULL, flusher, NULL);
		for (int i = 0; i < 2; i++)
			pthread_create(&t[n++], NULL, consumer, NULL);
		for (int i = 0; i < 4; i++)
			pthread_create(&t[n++], NULL, counter, NULL);
	}
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	puts("done");
	return 0;
}
