/*
 * A fan-out and fan-in through condition variables, for
 * tests/integration/test-tasks.py:
 *
 *   fanin ROUNDS W   main hands one job to each of W workers ("fan-0" …)
 *                    with one broadcast on `work`, then waits on `results`
 *                    until all W are done. A worker that has run its job
 *                    signals `results` only while main is listening: main
 *                    sets `listening` (under the mutex) just before each
 *                    wait, and the worker that signals clears it, so every
 *                    result is handed to main waiting for it — W wake-ups
 *                    a round, each with one result. Before each round main
 *                    waits until every worker waits for work, so each job
 *                    is a hand-off to a waiting worker: W worker tasks a
 *                    round, and W main tasks, each linked to one of them.
 *
 * Prints "jobs N" (the jobs run) and "rounds R".
 */
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { MAX_WORKERS = 8 };

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER, results = PTHREAD_COND_INITIALIZER;
static bool job[MAX_WORKERS], stop, listening;
static int workers, idle, done, jobs_run;

static void *fan_worker(void *arg)
{
	int i = (int)(long)arg;
	char name[16];

	snprintf(name, sizeof(name), "fan-%d", i);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		pthread_mutex_lock(&m);
		while (!job[i] && !stop) {
			idle++;
			pthread_cond_wait(&work, &m);
			idle--;
		}
		if (stop) {
			pthread_mutex_unlock(&m);
			return NULL;
		}
		job[i] = false;
		jobs_run++;
		pthread_mutex_unlock(&m);
		/* The job done: its result, handed to main waiting for it. */
		pthread_mutex_lock(&m);
		while (!listening) {
			pthread_mutex_unlock(&m);
			sched_yield();
			pthread_mutex_lock(&m);
		}
		listening = false;
		done++;
		pthread_cond_signal(&results);
		pthread_mutex_unlock(&m);
	}
}

int main(int argc, char **argv)
{
	pthread_t th[MAX_WORKERS];
	struct timespec pause = { 0, 200000L };
	int rounds = argc == 3 ? atoi(argv[1]) : -1;

	workers = argc == 3 ? atoi(argv[2]) : 0;
	if (rounds < 0 || workers < 2 || workers > MAX_WORKERS) {
		fprintf(stderr, "usage: fanin ROUNDS WORKERS (2..%d)\n", MAX_WORKERS);
		return 2;
	}
	for (int i = 0; i < workers; i++)
		pthread_create(&th[i], NULL, fan_worker, (void *)(long)i);
	for (int r = 0; r < rounds; r++) {
		pthread_mutex_lock(&m);
		while (idle < workers) {
			pthread_mutex_unlock(&m);
			nanosleep(&pause, NULL);
			pthread_mutex_lock(&m);
		}
		done = 0;
		for (int i = 0; i < workers; i++)
			job[i] = true;
		pthread_cond_broadcast(&work);
		while (done < workers) {
			listening = true;
			pthread_cond_wait(&results, &m);
		}
		pthread_mutex_unlock(&m);
	}
	pthread_mutex_lock(&m);
	while (idle < workers) {
		pthread_mutex_unlock(&m);
		nanosleep(&pause, NULL);
		pthread_mutex_lock(&m);
	}
	stop = true;
	pthread_cond_broadcast(&work);
	pthread_mutex_unlock(&m);
	for (int i = 0; i < workers; i++)
		pthread_join(th[i], NULL);
	printf("jobs %d\nrounds %d\n", jobs_run, rounds);
	return jobs_run == rounds * workers ? 0 : 1;
}
