/*
 * Where the time went, for tests/integration/test-threadtime.py: four
 * CPU-bound threads ("hog-0..3", more than this machine's two cores) each
 * run until they have had 0.6 s of CPU, and thread "napper" sleeps 1 s.
 * Each thread, as it ends, prints the kernel's own figures for itself:
 *
 *   time NAME TID RUN_NS WAIT_NS
 *
 * (/proc/thread-self/schedstat: time on a CPU, time runnable on a run
 * queue). Prints "done" at the end.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t out = PTHREAD_MUTEX_INITIALIZER;

static void report(const char *name)
{
	char buf[96] = "";
	unsigned long long run = 0, wait = 0;
	FILE *f = fopen("/proc/thread-self/schedstat", "r");

	if (f) {
		if (fgets(buf, sizeof(buf), f))
			sscanf(buf, "%llu %llu", &run, &wait);
		fclose(f);
	}
	pthread_mutex_lock(&out);
	printf("time %s %d %llu %llu\n", name, (int)gettid(), run, wait);
	fflush(stdout);
	pthread_mutex_unlock(&out);
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *hog(void *arg)
{
	char name[16];
	volatile unsigned long x = 0;

	snprintf(name, sizeof(name), "hog-%d", (int)(long)arg);
	pthread_setname_np(pthread_self(), name);
	while (cpu_s() < 0.6)
		for (int i = 0; i < 100000; i++)
			x += (unsigned long)i;
	report(name);
	return NULL;
}

static void *napper(void *arg)
{
	pthread_setname_np(pthread_self(), "napper");
	sleep(1);
	report("napper");
	return NULL;
}

int main(void)
{
	pthread_t t[5];

	for (long i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hog, (void *)i);
	pthread_create(&t[4], NULL, napper, NULL);
	for (int i = 0; i < 5; i++)
		pthread_join(t[i], NULL);
	puts("done");
	return 0;
}
