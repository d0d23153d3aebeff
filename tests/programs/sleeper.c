/*
 * Sleeps of every kind, for tests/integration/test-sleep.py: two named
 * threads ("napper-0", "napper-1") each sleep once in each of nanosleep,
 * clock_nanosleep (relative and absolute), usleep and thrd_sleep for 3 ms,
 * once in nanosleep for 100 µs (shorter than the test's span threshold), and
 * make three calls that never sleep (a malformed duration, none at all: a
 * NULL pointer, an absolute deadline already past); main sleeps once in sleep(1). Each sleep
 * is made from a function named after it, which the wait spans must name.
 * Prints "done" at the end, after "overslept N" if N of the 100 µs sleeps
 * took 0.9 ms or more (a loaded machine: such a sleep may become a span).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

/* After a call: it is no tail call, so its return address is in the function named. */
#define STAY __asm__ volatile("" ::: "memory")

static const struct timespec ms3 = { 0, 3000000 };

__attribute__((noinline)) static void nap_nanosleep(void)
{
	nanosleep(&ms3, NULL);
	STAY;
}

__attribute__((noinline)) static void nap_clock(void)
{
	clock_nanosleep(CLOCK_MONOTONIC, 0, &ms3, NULL);
	STAY;
}

__attribute__((noinline)) static void nap_clock_abs(void)
{
	struct timespec at;

	clock_gettime(CLOCK_MONOTONIC, &at);
	at.tv_nsec += 3000000;
	if (at.tv_nsec >= 1000000000) {
		at.tv_sec++;
		at.tv_nsec -= 1000000000;
	}
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
	STAY;
}

__attribute__((noinline)) static void nap_usleep(void)
{
	usleep(3000);
	STAY;
}

__attribute__((noinline)) static void nap_thrd(void)
{
	thrd_sleep(&ms3, NULL);
	STAY;
}

/* Short naps that took 0.9 ms or more (a loaded machine): they may be spans. */
static atomic_int overslept;

__attribute__((noinline)) static void nap_short(void)
{
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	nanosleep(&(struct timespec){ 0, 100000 }, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if ((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) >= 900000)
		atomic_fetch_add(&overslept, 1);
}

/* Calls that do not sleep: none is a wait. */
__attribute__((noinline)) static void nap_none(void)
{
	struct timespec past = { 1, 0 };

	nanosleep(&(struct timespec){ 0, 1000000000L }, NULL);
	nanosleep(NULL, NULL);
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL);
}

static void *napper(void *arg)
{
	char name[16];

	snprintf(name, sizeof(name), "napper-%d", (int)(long)arg);
	pthread_setname_np(pthread_self(), name);
	nap_nanosleep();
	nap_clock();
	nap_clock_abs();
	nap_usleep();
	nap_thrd();
	nap_short();
	nap_none();
	return NULL;
}

__attribute__((noinline)) static void nap_sleep(void)
{
	sleep(1);
	STAY;
}

int main(void)
{
	pthread_t th[2];

	for (long i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, napper, (void *)i);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	nap_sleep();
	if (atomic_load(&overslept))
		printf("overslept %d\n", atomic_load(&overslept));
	puts("done");
	return 0;
}
