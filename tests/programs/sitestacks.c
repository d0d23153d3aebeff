/*
 * One thread that waits again and again from one call site, for
 * tests/integration/test-spans.py. The thread "looper" sleeps N times
 * (default 300) for 50 µs through path_a, then N times through path_b, then N
 * times through path_a again. Both call nap(), whose usleep is the only call
 * site, but path_b's frame is larger, so that the sleeps come to that site
 * at two depths of the stack: one call site, two stack pointers, two stacks.
 * Usage: sitestacks [N]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* After a call: it is no tail call, so its return address is in the function named. */
#define STAY __asm__ volatile("" ::: "memory")

static long n = 300;

__attribute__((noinline)) static void nap(void)
{
	usleep(50);
	STAY;
}

__attribute__((noinline)) static void path_a(void)
{
	volatile char pad[64];

	pad[0] = 0;
	nap();
	STAY;
	(void)pad[0];
}

__attribute__((noinline)) static void path_b(void)
{
	volatile char pad[4096];

	pad[0] = 0;
	nap();
	STAY;
	(void)pad[0];
}

static void *looper(void *arg)
{
	pthread_setname_np(pthread_self(), "looper");
	for (long i = 0; i < n; i++)
		path_a();
	for (long i = 0; i < n; i++)
		path_b();
	for (long i = 0; i < n; i++)
		path_a();
	return arg;
}

int main(int argc, char **argv)
{
	pthread_t th;

	if (argc > 1)
		n = atol(argv[1]);
	if (n <= 0 || pthread_create(&th, NULL, looper, NULL) != 0)
		return 2;
	pthread_join(th, NULL);
	puts("done");
	return 0;
}
