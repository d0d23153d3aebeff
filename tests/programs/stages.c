/*
 * A three-stage pipeline whose middle stage is slow, for
 * tests/integration/test-findings.py:
 *
 *   source --pipe:make_pipes#1--> middle --pipe:make_pipes#2--> sink
 *
 * The source writes 300 records of 4 KiB as fast as it can (the pipe holds
 * 16 of them, so it soon finds it full and blocks); "middle" reads one,
 * spends 1.5 ms of CPU on it and passes it on; "sink" reads them (and waits
 * for each). The middle stage limits the throughput and is itself rarely
 * blocked. Prints "done".
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RECORDS 300
#define SIZE    4096

static int a[2], b[2];

__attribute__((noinline)) static void make_pipes(void)
{
	if (pipe(a) != 0 || pipe(b) != 0)
		_exit(1);
}

static void spin_ns(long ns)
{
	struct timespec s, n;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &s);
	do
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &n);
	while ((n.tv_sec - s.tv_sec) * 1000000000L + (n.tv_nsec - s.tv_nsec) < ns);
}

/* A whole record, or 0 at the end. */
static int read_record(int fd, char *buf)
{
	size_t got = 0;

	while (got < SIZE) {
		ssize_t n = read(fd, buf + got, SIZE - got);

		if (n <= 0)
			return 0;
		got += (size_t)n;
	}
	return 1;
}

static void *source(void *arg)
{
	static char rec[SIZE];

	pthread_setname_np(pthread_self(), "source");
	for (int i = 0; i < RECORDS; i++)
		if (write(a[1], rec, SIZE) != SIZE)
			break;
	close(a[1]);
	return NULL;
}

static void *middle(void *arg)
{
	static char rec[SIZE];

	pthread_setname_np(pthread_self(), "middle");
	while (read_record(a[0], rec)) {
		spin_ns(1500000);
		if (write(b[1], rec, SIZE) != SIZE)
			break;
	}
	close(b[1]);
	return NULL;
}

static void *sink(void *arg)
{
	static char rec[SIZE];

	pthread_setname_np(pthread_self(), "sink");
	while (read_record(b[0], rec))
		;
	return NULL;
}

int main(void)
{
	pthread_t t[3];

	make_pipes();
	pthread_create(&t[0], NULL, sink, NULL);
	pthread_create(&t[1], NULL, middle, NULL);
	pthread_create(&t[2], NULL, source, NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	puts("done");
	return 0;
}
