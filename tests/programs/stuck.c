/*
 * Stuck and leaked threads, for tests/integration/test-stuck.py (run with
 * WEFT_STUCK_AFTER=1s).
 *
 *   stuck hung   thread "hung" waits forever on a condition variable nobody
 *                signals (in wait_for_backend); three workers ("worker-0..2")
 *                each take one job from a queue, then wait for the next as
 *                long (idle, not stuck); thread "slow" waits 1.6 s for a
 *                mutex main holds (stuck for a while, then done, joined);
 *                main returns after 2.5 s with hung and the workers alive
 *   stuck leak   five per-request threads (start routine handle_request)
 *                block forever in wait_for_backend; main returns after 2 s
 *
 * Prints "tid NAME TID" for hung and slow, and "done".
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t backend = PTHREAD_COND_INITIALIZER, jobs = PTHREAD_COND_INITIALIZER;
static int queued, taken;

/* Never signalled: whoever waits here waits until the process ends. */
__attribute__((noinline)) static void wait_for_backend(void)
{
	pthread_mutex_lock(&m);
	pthread_cond_wait(&backend, &m);
	pthread_mutex_unlock(&m);
}

static void say_tid(const char *name)
{
	printf("tid %s %d\n", name, (int)gettid());
	fflush(stdout);
}

static void *hung(void *arg)
{
	pthread_setname_np(pthread_self(), "hung");
	say_tid("hung");
	wait_for_backend();
	return NULL;
}

static void *handle_request(void *arg)
{
	wait_for_backend();
	return NULL;
}

/* A worker: takes jobs as they come, forever. */
static void *worker(void *arg)
{
	char name[16];

	snprintf(name, sizeof(name), "worker-%d", (int)(long)arg);
	pthread_setname_np(pthread_self(), name);
	pthread_mutex_lock(&m);
	for (;;) {
		while (queued == 0)
			pthread_cond_wait(&jobs, &m);
		queued--;
		taken++;
	}
	return NULL;
}

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline)) static void wait_for_held(void)
{
	pthread_mutex_lock(&held);
	pthread_mutex_unlock(&held);
}

static void *slow(void *arg)
{
	pthread_setname_np(pthread_self(), "slow");
	say_tid("slow");
	wait_for_held();
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "hung";
	pthread_t t;

	if (strcmp(mode, "hung") == 0) {
		pthread_create(&t, NULL, hung, NULL);
		for (long i = 0; i < 3; i++) {
			pthread_t w;

			pthread_create(&w, NULL, worker, (void *)i);
		}
		usleep(100000); /* the workers wait for work: each job is handed over */
		for (int i = 0; i < 3; i++) {
			pthread_mutex_lock(&m);
			queued++;
			pthread_cond_signal(&jobs);
			pthread_mutex_unlock(&m);
			usleep(20000);
		}
		pthread_mutex_lock(&held);
		pthread_create(&t, NULL, slow, NULL);
		usleep(1600000);
		pthread_mutex_unlock(&held);
		pthread_join(t, NULL);
		usleep(900000);
	} else {
		for (int i = 0; i < 5; i++)
			pthread_create(&t, NULL, handle_request, NULL);
		usleep(2000000);
	}
	puts("done");
	fflush(stdout);
	return 0;
}
