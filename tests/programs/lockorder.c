/*
 * Lock orders, for tests/integration/test-lockorder.py. Never deadlocks:
 * the threads run one after the other.
 *
 *   thread "alpha": takes a, then b (in take_a_then_b); takes c, then d;
 *                   takes e, then f, releases e first, then takes g (f
 *                   held, e not: the edges are e→f and f→g, never e→g)
 *   thread "beta":  takes b, then a (in take_b_then_a): the inversion;
 *                   takes c, then d again (the same order: none); takes g,
 *                   then e (no inversion: e was not held when g was taken)
 *
 * Prints "mutex NAME ADDRESS" for a and b, and "done".
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER,
		       c = PTHREAD_MUTEX_INITIALIZER, d = PTHREAD_MUTEX_INITIALIZER,
		       e = PTHREAD_MUTEX_INITIALIZER, f = PTHREAD_MUTEX_INITIALIZER,
		       g = PTHREAD_MUTEX_INITIALIZER;

/* After a call: it is no tail call, so its return address is in the function named. */
#define STAY __asm__ volatile("" ::: "memory")

__attribute__((noinline)) static void take_a_then_b(void)
{
	pthread_mutex_lock(&a);
	pthread_mutex_lock(&b);
	STAY;
	pthread_mutex_unlock(&b);
	pthread_mutex_unlock(&a);
}

__attribute__((noinline)) static void take_b_then_a(void)
{
	pthread_mutex_lock(&b);
	pthread_mutex_lock(&a);
	STAY;
	pthread_mutex_unlock(&a);
	pthread_mutex_unlock(&b);
}

__attribute__((noinline)) static void take_c_then_d(void)
{
	pthread_mutex_lock(&c);
	pthread_mutex_lock(&d);
	STAY;
	pthread_mutex_unlock(&d);
	pthread_mutex_unlock(&c);
}

static void *alpha(void *arg)
{
	pthread_setname_np(pthread_self(), "alpha");
	take_a_then_b();
	take_c_then_d();
	pthread_mutex_lock(&e);
	pthread_mutex_lock(&f);
	pthread_mutex_unlock(&e); /* not the newest first */
	pthread_mutex_lock(&g);
	pthread_mutex_unlock(&g);
	pthread_mutex_unlock(&f);
	return NULL;
}

static void *beta(void *arg)
{
	pthread_setname_np(pthread_self(), "beta");
	take_b_then_a();
	take_c_then_d();
	pthread_mutex_lock(&g);
	pthread_mutex_lock(&e);
	pthread_mutex_unlock(&e);
	pthread_mutex_unlock(&g);
	return NULL;
}

int main(void)
{
	pthread_t t;

	printf("mutex a %llu\nmutex b %llu\n", (unsigned long long)(uintptr_t)&a,
	       (unsigned long long)(uintptr_t)&b);
	pthread_create(&t, NULL, alpha, NULL);
	pthread_join(t, NULL);
	pthread_create(&t, NULL, beta, NULL);
	pthread_join(t, NULL);
	puts("done");
	return 0;
}
