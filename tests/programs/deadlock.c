/*
 * Deadlocks that recover, for tests/integration/test-deadlock.py: every
 * cycle is closed by a timed wait that gives up after HOLD_S seconds, so the
 * program ends; weft must have reported the cycle before that.
 *
 *   deadlock abba    threads "left" and "right" take mutexes a and b in
 *                    opposite orders (take_ab, take_ba); main joins left,
 *                    blocked behind the cycle but not in it
 *   deadlock three   threads "t0", "t1", "t2": ti holds m[i] and waits for
 *                    m[(i + 1) % 3] (in take_next)
 *   deadlock join    threads "j1" and "j2" join each other (join_other)
 *   deadlock self    thread "selfish" locks a normal mutex it holds (relock)
 *
 * Prints "tid NAME TID" per thread, "mutex NAME ADDRESS" per mutex, the
 * result of each timed wait ("gave up NAME ETIMEDOUT|OK") and "done".
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HOLD_S 4

static pthread_barrier_t all_hold;
static pthread_mutex_t out = PTHREAD_MUTEX_INITIALIZER;

static void say(const char *fmt, const char *name, unsigned long long v)
{
	pthread_mutex_lock(&out);
	printf(fmt, name, v);
	fflush(stdout);
	pthread_mutex_unlock(&out);
}

static void gave_up(const char *who, int rc)
{
	pthread_mutex_lock(&out);
	printf("gave up %s %s\n", who, rc == ETIMEDOUT ? "ETIMEDOUT" : rc == 0 ? "OK" : "error");
	fflush(stdout);
	pthread_mutex_unlock(&out);
}

static void named(const char *name)
{
	pthread_setname_np(pthread_self(), name);
	say("tid %s %llu\n", name, (unsigned long long)gettid());
}

static struct timespec in_seconds(int s)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += s;
	return ts;
}

/* A timed lock that gives up after `s` seconds (the first thread of a cycle waits longest). */
static void lock_or_give_up(pthread_mutex_t *m, int s, const char *who)
{
	struct timespec ts = in_seconds(s);
	int rc = pthread_mutex_timedlock(m, &ts);

	gave_up(who, rc);
	if (rc == 0)
		pthread_mutex_unlock(m);
}

/* ---------------------------------------------------------------- abba */

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline)) static void take_ab(void)
{
	pthread_mutex_lock(&a);
	pthread_barrier_wait(&all_hold);
	lock_or_give_up(&b, HOLD_S + 2, "left");
	pthread_mutex_unlock(&a);
}

__attribute__((noinline)) static void take_ba(void)
{
	pthread_mutex_lock(&b);
	pthread_barrier_wait(&all_hold);
	lock_or_give_up(&a, HOLD_S, "right");
	pthread_mutex_unlock(&b);
}

static void *left(void *arg)
{
	named("left");
	take_ab();
	return NULL;
}

static void *right(void *arg)
{
	named("right");
	take_ba();
	return NULL;
}

/* --------------------------------------------------------------- three */

static pthread_mutex_t m3[3] = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
				 PTHREAD_MUTEX_INITIALIZER };

__attribute__((noinline)) static void take_next(int i)
{
	char who[8];

	snprintf(who, sizeof(who), "t%d", i);
	pthread_mutex_lock(&m3[i]);
	pthread_barrier_wait(&all_hold);
	lock_or_give_up(&m3[(i + 1) % 3], i == 0 ? HOLD_S : HOLD_S + 2, who);
	pthread_mutex_unlock(&m3[i]);
}

static void *cyclist(void *arg)
{
	char name[8];

	snprintf(name, sizeof(name), "t%d", (int)(long)arg);
	named(name);
	take_next((int)(long)arg);
	return NULL;
}

/* ---------------------------------------------------------------- join */

static pthread_t j[2];
static sem_t j1_done;

__attribute__((noinline)) static void join_other(int i)
{
	if (i == 0) {
		pthread_join(j[1], NULL);
		sem_post(&j1_done); /* not a tail call: the join's caller is join_other */
	} else {
		struct timespec ts = in_seconds(HOLD_S);
		int rc = pthread_timedjoin_np(j[0], NULL, &ts);

		gave_up("j2", rc);
	}
}

static void *joiner(void *arg)
{
	named((long)arg == 0 ? "j1" : "j2");
	pthread_barrier_wait(&all_hold);
	join_other((int)(long)arg);
	return NULL;
}

/* ---------------------------------------------------------------- self */

static pthread_mutex_t mine = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline)) static void relock(void)
{
	pthread_mutex_lock(&mine);
	lock_or_give_up(&mine, HOLD_S, "selfish");
	pthread_mutex_unlock(&mine);
}

static void *selfish(void *arg)
{
	named("selfish");
	relock();
	return NULL;
}

static void mutex_address(const char *name, const void *m)
{
	say("mutex %s %llu\n", name, (unsigned long long)(uintptr_t)m);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "abba";
	pthread_t t[3];

	if (strcmp(mode, "abba") == 0) {
		mutex_address("a", &a);
		mutex_address("b", &b);
		pthread_barrier_init(&all_hold, NULL, 2);
		pthread_create(&t[0], NULL, left, NULL);
		pthread_create(&t[1], NULL, right, NULL);
		pthread_join(t[0], NULL);
		pthread_join(t[1], NULL);
	} else if (strcmp(mode, "three") == 0) {
		for (int i = 0; i < 3; i++) {
			char name[8];

			snprintf(name, sizeof(name), "m%d", i);
			mutex_address(name, &m3[i]);
		}
		pthread_barrier_init(&all_hold, NULL, 3);
		for (long i = 0; i < 3; i++)
			pthread_create(&t[i], NULL, cyclist, (void *)i);
		for (int i = 0; i < 3; i++)
			pthread_join(t[i], NULL);
	} else if (strcmp(mode, "join") == 0) {
		pthread_barrier_init(&all_hold, NULL, 2);
		for (long i = 0; i < 2; i++)
			pthread_create(&j[i], NULL, joiner, (void *)i);
		/* j1 joins j2 (j2's timed join of j1 gives up); main joins j1 once it is done. */
		sem_init(&j1_done, 0, 0);
		sem_wait(&j1_done);
		pthread_join(j[0], NULL);
	} else if (strcmp(mode, "self") == 0) {
		mutex_address("mine", &mine);
		pthread_create(&t[0], NULL, selfish, NULL);
		pthread_join(t[0], NULL);
	} else {
		fprintf(stderr, "usage: deadlock abba|three|join|self\n");
		return 2;
	}
	puts("done");
	return 0;
}
