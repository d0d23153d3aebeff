/*
 * Cancellation and joins: a thread canceled while blocked in each join
 * variant, a pending cancel meeting a join of an ended thread, cancellation
 * disabled around a join, and a plain canceled sleeper.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "behaviour.h"

/* Cancellation around joins. */
struct joiner {
	pthread_t target;
	int mode; /* 0 join, 1 timedjoin, 2 clockjoin */
	atomic_int cleanup_ran;
	atomic_int join_returned;
	int join_rc;
	sem_t ready;
	sem_t canceled;
};

static void joiner_cleanup(void *arg)
{
	struct joiner *j = arg;

	atomic_store(&j->cleanup_ran, 1);
}

static void *joiner_thread(void *arg)
{
	struct joiner *j = arg;
	struct timespec ts;
	int rc = -1;

	pthread_cleanup_push(joiner_cleanup, j);
	sem_post(&j->ready);
	switch (j->mode) {
	case 0:
		rc = pthread_join(j->target, NULL);
		break;
	case 1:
		ts = deadline(CLOCK_REALTIME, 20000 * MS);
		rc = pthread_timedjoin_np(j->target, NULL, &ts);
		break;
	case 2:
		ts = deadline(CLOCK_MONOTONIC, 20000 * MS);
		rc = pthread_clockjoin_np(j->target, NULL, CLOCK_MONOTONIC, &ts);
		break;
	}
	j->join_rc = rc;
	atomic_store(&j->join_returned, 1);
	pthread_cleanup_pop(0);
	return (void *)1;
}

/* Cancel pending before it joins a thread that has already ended. */
static void *pending_cancel_joiner(void *arg)
{
	struct joiner *j = arg;

	pthread_cleanup_push(joiner_cleanup, j);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	sem_post(&j->ready);
	sem_wait_all(&j->canceled); /* main has canceled us */
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	j->join_rc = pthread_join(j->target, NULL);
	atomic_store(&j->join_returned, 1);
	pthread_testcancel();
	pthread_cleanup_pop(0);
	return (void *)1;
}

/* Cancellation disabled while blocked in join. */
static void *disabled_cancel_joiner(void *arg)
{
	struct joiner *j = arg;

	pthread_cleanup_push(joiner_cleanup, j);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	sem_post(&j->ready);
	j->join_rc = pthread_join(j->target, NULL);
	atomic_store(&j->join_returned, 1);
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	pthread_testcancel();
	pthread_cleanup_pop(0);
	return (void *)1;
}

static void *cancel_me(void *arg)
{
	sem_t *s = arg;

	sem_post(s);
	for (;;)
		sleep_ms(10); /* nanosleep is a cancellation point */
	return NULL;
}

void check_cancel(void)
{
	static const char *const modes[] = { "join", "timedjoin", "clockjoin" };
	char what[64];
	void *ret = NULL;

	for (int mode = 0; mode < 3; mode++) {
		struct gate g;
		struct joiner j;
		pthread_t a;

		memset(&j, 0, sizeof(j));
		sem_init(&j.ready, 0, 0);
		j.mode = mode;
		j.target = start_gated(&g, (void *)51);
		must(pthread_create(&a, NULL, joiner_thread, &j), "create joiner");
		sem_wait_all(&j.ready);
		sleep_ms(100); /* the joiner is blocked in the join */
		snprintf(what, sizeof(what), "cancel thread blocked in %s", modes[mode]);
		OBSERVE(what, pthread_cancel(a));
		OBSERVE("join the canceled joiner", pthread_join(a, &ret));
		fact("  canceled joiner: PTHREAD_CANCELED", ret == PTHREAD_CANCELED);
		fact("  canceled joiner: cleanup handler ran", atomic_load(&j.cleanup_ran));
		fact("  canceled joiner: join returned", atomic_load(&j.join_returned));
		release(&g);
		OBSERVE("  target still joinable", pthread_join(j.target, &ret));
		fact("  target value", ret == (void *)51);
	}

	/* A pending cancel and a join of a thread that has already ended. */
	{
		struct gate g;
		struct joiner j;
		pthread_t a;

		memset(&j, 0, sizeof(j));
		sem_init(&j.ready, 0, 0);
		sem_init(&j.canceled, 0, 0);
		j.join_rc = -1;
		j.target = start_gated(&g, (void *)52);
		release(&g);
		settle(&g);
		must(pthread_create(&a, NULL, pending_cancel_joiner, &j), "create");
		sem_wait_all(&j.ready);
		OBSERVE("cancel joiner (pending, target ended)", pthread_cancel(a));
		sem_post(&j.canceled);
		OBSERVE("join it", pthread_join(a, &ret));
		fact("  PTHREAD_CANCELED", ret == PTHREAD_CANCELED);
		fact("  cleanup handler ran", atomic_load(&j.cleanup_ran));
		fact("  join returned", atomic_load(&j.join_returned));
		if (atomic_load(&j.join_returned))
			show("  its join", j.join_rc, 0);
		else
			OBSERVE("  target still joinable", pthread_join(j.target, NULL));
	}

	/* Cancellation disabled: the join completes, the cancel acts after. */
	{
		struct gate g;
		struct joiner j;
		pthread_t a;

		memset(&j, 0, sizeof(j));
		sem_init(&j.ready, 0, 0);
		j.target = start_gated(&g, NULL);
		must(pthread_create(&a, NULL, disabled_cancel_joiner, &j), "create");
		sem_wait_all(&j.ready);
		sleep_ms(50); /* blocked in the join, most likely: either way the same */
		OBSERVE("cancel joiner (disabled)", pthread_cancel(a));
		sem_post(&g.go); /* the join completes, then the cancel acts */
		OBSERVE("join it", pthread_join(a, &ret));
		fact("  PTHREAD_CANCELED", ret == PTHREAD_CANCELED);
		fact("  its join completed", atomic_load(&j.join_returned));
		show("  its join", j.join_rc, 0);
	}

	/* Cancelling a thread weft started: canceled in nanosleep. */
	{
		sem_t s;
		pthread_t a;

		sem_init(&s, 0, 0);
		must(pthread_create(&a, NULL, cancel_me, &s), "create");
		sem_wait_all(&s);
		OBSERVE("cancel sleeping thread", pthread_cancel(a));
		OBSERVE("join it", pthread_join(a, &ret));
		fact("  PTHREAD_CANCELED", ret == PTHREAD_CANCELED);
	}
}
