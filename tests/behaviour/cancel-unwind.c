/*
 * A forced unwind: a thread blocked in a cancellation point is cancelled and
 * its cleanup handler runs. Run under valgrind (memcheck) with weft
 * preloaded, it must report no errors: glibc's forced unwind reads the
 * unwinder's state, and a foreign unwinder's functions answering for
 * libgcc's leave part of it uninitialised.
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static int cleaned;

static void cleanup(void *arg)
{
	cleaned++;
}

static void *blocked(void *arg)
{
	pthread_cleanup_push(cleanup, NULL);
	for (;;)
		pause();
	pthread_cleanup_pop(0);
	return NULL;
}

int main(void)
{
	pthread_t t;
	void *ret;

	for (int i = 0; i < 2; i++) {
		if (pthread_create(&t, NULL, blocked, NULL) != 0)
			return 2;
		usleep(20000);
		pthread_cancel(t);
		pthread_join(t, &ret);
		if (ret != PTHREAD_CANCELED)
			return 1;
	}
	printf("cleanup handlers run: %d of 2\n", cleaned);
	return cleaned == 2 ? 0 : 1;
}
