/*
 * A thread cancelled while blocked in a call weft interposes runs its cleanup
 * handlers, weft's and the program's (tests/integration/test-unwindlink.py).
 *
 * A C program: nothing here needs libgcc_s.so.1, and libweft.so does not
 * either, so it is not loaded at start (printed: libgcc_s_at_start 0 or 1).
 * glibc loads it for the first pthread_cancel; the unwind then passes through
 * weft's pthread_cond_wait hook, whose cleanup — the wait guard's — goes
 * through libweft.so's own personality routine and _Unwind_Resume, which
 * forward to libgcc_s's (agent/unwind_link.c). Two rounds, the second with
 * everything already resolved. Prints the cleanup count; exits 0 when both
 * threads ended cancelled with their mutex released by their cleanup handler.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static int waiting, cleaned;

static void unlock(void *arg)
{
	cleaned++;
	pthread_mutex_unlock(&lock);
}

static void *waiter(void *arg)
{
	pthread_mutex_lock(&lock);
	waiting = 1;
	pthread_cleanup_push(unlock, NULL);
	for (;;)
		pthread_cond_wait(&never, &lock);
	pthread_cleanup_pop(1);
	return NULL;
}

int main(void)
{
	void *libgcc = dlopen("libgcc_s.so.1", RTLD_LAZY | RTLD_NOLOAD);

	printf("libgcc_s_at_start %d\n", libgcc != NULL);
	for (int i = 0; i < 2; i++) {
		pthread_t t;
		void *ret;
		int ready;

		waiting = 0;
		if (pthread_create(&t, NULL, waiter, NULL) != 0)
			return 2;
		/* Until the waiter holds the mutex and has released it in the wait. */
		do {
			usleep(1000);
			pthread_mutex_lock(&lock);
			ready = waiting;
			pthread_mutex_unlock(&lock);
		} while (!ready);
		usleep(20000);
		pthread_cancel(t);
		pthread_join(t, &ret);
		if (ret != PTHREAD_CANCELED)
			return 1;
		/* The cleanup handler released the mutex the cancelled wait re-took. */
		if (pthread_mutex_trylock(&lock) != 0)
			return 3;
		pthread_mutex_unlock(&lock);
	}
	printf("cleaned %d\n", cleaned);
	return 0;
}
