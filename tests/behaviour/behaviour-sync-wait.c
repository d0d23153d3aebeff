/*
 * Waiting for others: condition variables (timeouts, clocks, malformed
 * deadlines, a mutex not held, signal waking one waiter, broadcast waking
 * all, cancellation of a blocked waiter whose cleanup handler runs with the
 * mutex held), semaphores (trywait, timeouts, malformed deadlines on a free
 * and on an empty semaphore, interruption by a signal handler, overflow,
 * cancellation points) and barriers (one serial thread per round).
 *
 * As in behaviour-sync-lock.c, a thread that must be blocked before the
 * check goes on is seen blocked by the kernel (blocked_on), not guessed.
 */
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "behaviour.h"

/* ----------------------------------------------------------- condition variables */

struct cq {
	pthread_mutex_t m; /* errorcheck: an unlock shows whether the caller held it */
	pthread_cond_t c;
	int tokens, woken, go;
	atomic_int cleanup_ran;
	int cleanup_unlock;
};

static void cq_init(struct cq *q)
{
	pthread_mutexattr_t a;

	memset(q, 0, sizeof(*q));
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	must(pthread_mutex_init(&q->m, &a), "mutex init");
	pthread_mutexattr_destroy(&a);
	must(pthread_cond_init(&q->c, NULL), "cond init");
}

/* r->flag: 0 wait, 1 timedwait, 2 clockwait (deadlines far away). */
static int cq_wait(struct cq *q, int how)
{
	struct timespec ts;

	switch (how) {
	case 1:
		ts = deadline(CLOCK_REALTIME, 20000 * MS);
		return pthread_cond_timedwait(&q->c, &q->m, &ts);
	case 2:
		ts = deadline(CLOCK_MONOTONIC, 20000 * MS);
		return pthread_cond_clockwait(&q->c, &q->m, CLOCK_MONOTONIC, &ts);
	default:
		return pthread_cond_wait(&q->c, &q->m);
	}
}

/* Takes one token, waiting for it. */
static void token_taker(struct runner *r)
{
	struct cq *q = r->arg;
	int rc = 0;

	must(pthread_mutex_lock(&q->m), "lock");
	while (q->tokens == 0 && rc == 0)
		rc = cq_wait(q, r->flag);
	if (q->tokens) {
		q->tokens--;
		q->woken++;
	}
	r->rc = rc;
	pthread_mutex_unlock(&q->m);
}

/* Waits until go. */
static void go_waiter(struct runner *r)
{
	struct cq *q = r->arg;
	int rc = 0;

	must(pthread_mutex_lock(&q->m), "lock");
	while (!q->go && rc == 0)
		rc = cq_wait(q, r->flag);
	q->woken++;
	r->rc = rc;
	pthread_mutex_unlock(&q->m);
}

static void cond_timeouts(struct cq *q)
{
	static const struct timespec bad[] = { { 0, -1 }, { 0, 1000000000 } };
	struct timespec ts, past = { .tv_sec = 1, .tv_nsec = 0 };
	long long t0;
	char what[80];

	must(pthread_mutex_lock(&q->m), "lock");
	OBSERVE("cond: timedwait, past", pthread_cond_timedwait(&q->c, &q->m, &past));
	ts = deadline(CLOCK_REALTIME, 40 * MS);
	t0 = now_ns(CLOCK_MONOTONIC);
	OBSERVE("cond: timedwait 40ms", pthread_cond_timedwait(&q->c, &q->m, &ts));
	fact("cond: timedwait waited the time", now_ns(CLOCK_MONOTONIC) - t0 >= 39 * MS);
	ts = deadline(CLOCK_MONOTONIC, 20 * MS);
	OBSERVE("cond: clockwait monotonic",
		pthread_cond_clockwait(&q->c, &q->m, CLOCK_MONOTONIC, &ts));
	ts = deadline(CLOCK_REALTIME, 20 * MS);
	OBSERVE("cond: clockwait realtime",
		pthread_cond_clockwait(&q->c, &q->m, CLOCK_REALTIME, &ts));
	OBSERVE("cond: clockwait CLOCK_BOOTTIME",
		pthread_cond_clockwait(&q->c, &q->m, CLOCK_BOOTTIME, &ts));
	OBSERVE("cond: clockwait CPU-time clock",
		pthread_cond_clockwait(&q->c, &q->m, CLOCK_PROCESS_CPUTIME_ID, &ts));
	for (int i = 0; i < 2; i++) {
		snprintf(what, sizeof(what), "cond: timedwait nsec %ld", (long)bad[i].tv_nsec);
		OBSERVE(what, pthread_cond_timedwait(&q->c, &q->m, &bad[i]));
		snprintf(what, sizeof(what), "cond: clockwait nsec %ld", (long)bad[i].tv_nsec);
		OBSERVE(what, pthread_cond_clockwait(&q->c, &q->m, CLOCK_MONOTONIC, &bad[i]));
	}
	/* After all of them the caller holds the mutex again. */
	OBSERVE("cond: unlock after the waits", pthread_mutex_unlock(&q->m));
	OBSERVE("cond: wait, mutex not held", pthread_cond_wait(&q->c, &q->m));
	ts = deadline(CLOCK_REALTIME, 20 * MS);
	OBSERVE("cond: timedwait, mutex not held", pthread_cond_timedwait(&q->c, &q->m, &ts));
	OBSERVE("cond: signal, no waiter", pthread_cond_signal(&q->c));
	OBSERVE("cond: broadcast, no waiter", pthread_cond_broadcast(&q->c));
}

/* A signal wakes one of two waiters; the second signal the other. */
static void cond_signal_one(struct cq *q, int how, const char *label)
{
	struct runner r[2] = { { .name = label, .flag = how }, { .name = label, .flag = how } };
	char what[80];

	for (int i = 0; i < 2; i++) {
		run_start(&r[i], token_taker, q);
		blocked_on(r[i].tid, &q->c, sizeof(q->c));
	}
	for (int n = 1; n <= 2; n++) {
		int woken;

		must(pthread_mutex_lock(&q->m), "lock");
		q->tokens++;
		snprintf(what, sizeof(what), "cond %s: signal %d", label, n);
		OBSERVE(what, pthread_cond_signal(&q->c));
		pthread_mutex_unlock(&q->m);
		do {
			sleep_ms(1);
			pthread_mutex_lock(&q->m);
			woken = q->woken;
			pthread_mutex_unlock(&q->m);
		} while (woken < n);
		sleep_ms(20);
		snprintf(what, sizeof(what), "cond %s: woken after signal %d", label, n);
		pthread_mutex_lock(&q->m);
		fact(what, q->woken);
		pthread_mutex_unlock(&q->m);
	}
	for (int i = 0; i < 2; i++) {
		run_join(&r[i]);
		snprintf(what, sizeof(what), "cond %s: waiter %d's wait", label, i);
		show(what, r[i].rc, SENTINEL);
	}
	q->woken = 0;
}

/* A broadcast wakes all three waiters. */
static void cond_broadcast_all(struct cq *q)
{
	struct runner r[3];
	char what[80];

	q->go = 0;
	q->woken = 0;
	for (int i = 0; i < 3; i++) {
		r[i] = (struct runner){ .name = "broadcast", .flag = i };
		run_start(&r[i], go_waiter, q);
		blocked_on(r[i].tid, &q->c, sizeof(q->c));
	}
	must(pthread_mutex_lock(&q->m), "lock");
	q->go = 1;
	OBSERVE("cond: broadcast to 3 waiters", pthread_cond_broadcast(&q->c));
	pthread_mutex_unlock(&q->m);
	for (int i = 0; i < 3; i++) {
		run_join(&r[i]);
		snprintf(what, sizeof(what), "cond: broadcast, waiter %d's wait", i);
		show(what, r[i].rc, SENTINEL);
	}
	fact("cond: woken by the broadcast", q->woken);
}

static void cancel_cleanup(void *arg)
{
	struct cq *q = arg;

	/* The canceled waiter holds the mutex again: this unlock succeeds. */
	q->cleanup_unlock = pthread_mutex_unlock(&q->m);
	atomic_store(&q->cleanup_ran, 1);
}

static void cancel_waiter(struct runner *r)
{
	struct cq *q = r->arg;

	pthread_cleanup_push(cancel_cleanup, q);
	must(pthread_mutex_lock(&q->m), "lock");
	for (;;)
		cq_wait(q, r->flag);
	pthread_cleanup_pop(0);
}

/* A waiter canceled while blocked in each wait. */
static void cond_cancel(struct cq *q)
{
	static const char *const names[] = { "wait", "timedwait", "clockwait" };
	char what[80];

	for (int how = 0; how < 3; how++) {
		struct runner r = { .name = "cancel", .flag = how };
		void *ret = NULL;

		q->cleanup_ran = 0;
		q->cleanup_unlock = -1;
		run_start(&r, cancel_waiter, q);
		blocked_on(r.tid, &q->c, sizeof(q->c));
		snprintf(what, sizeof(what), "cond cancel in %s: cancel", names[how]);
		OBSERVE(what, pthread_cancel(r.th));
		OBSERVE("  join", pthread_join(r.th, &ret));
		snprintf(what, sizeof(what), "cond cancel in %s: canceled", names[how]);
		fact(what, ret == PTHREAD_CANCELED);
		snprintf(what, sizeof(what), "cond cancel in %s: cleanup ran", names[how]);
		fact(what, atomic_load(&q->cleanup_ran));
		snprintf(what, sizeof(what), "cond cancel in %s: cleanup's unlock", names[how]);
		show(what, q->cleanup_unlock, SENTINEL);
		snprintf(what, sizeof(what), "cond cancel in %s: mutex free after", names[how]);
		if (OBSERVE(what, pthread_mutex_trylock(&q->m)) == 0)
			pthread_mutex_unlock(&q->m);
	}
}

void check_cond(void)
{
	struct cq q;

	cq_init(&q);
	cond_timeouts(&q);
	cond_signal_one(&q, 0, "wait");
	cond_signal_one(&q, 1, "timedwait");
	cond_signal_one(&q, 2, "clockwait");
	cond_broadcast_all(&q);
	cond_cancel(&q);
	OBSERVE("cond: destroy", pthread_cond_destroy(&q.c));
	pthread_mutex_destroy(&q.m);
}

/* ------------------------------------------------------------------ semaphores */

static volatile sig_atomic_t usr1_handled;

static void on_usr1(int sig)
{
	int saved = errno;

	usr1_handled++;
	errno = saved;
}

static int sem_value(sem_t *s)
{
	int v = -1;

	sem_getvalue(s, &v);
	return v;
}

/* r->flag: 0 sem_wait, 1 sem_timedwait, 2 sem_clockwait (deadlines far away). */
static int sem_wait_how(sem_t *s, int how)
{
	struct timespec ts;

	switch (how) {
	case 1:
		ts = deadline(CLOCK_REALTIME, 20000 * MS);
		return sem_timedwait(s, &ts);
	case 2:
		ts = deadline(CLOCK_MONOTONIC, 20000 * MS);
		return sem_clockwait(s, CLOCK_MONOTONIC, &ts);
	default:
		return sem_wait(s);
	}
}

static const char *const sem_names[] = { "sem_wait", "sem_timedwait", "sem_clockwait" };

static void sem_blocker(struct runner *r)
{
	errno = SENTINEL;
	r->rc = sem_wait_how(r->arg, r->flag);
	r->err = errno;
}

static void sem_timeouts(void)
{
	static const struct timespec bad[] = { { 0, -1 }, { 0, 1000000000 } };
	struct timespec ts, past = { .tv_sec = 1, .tv_nsec = 0 };
	long long t0;
	char what[80];
	sem_t s;

	OBSERVE("sem: init 0", sem_init(&s, 0, 0));
	OBSERVE("sem: trywait empty", sem_trywait(&s));
	OBSERVE("sem: post", sem_post(&s));
	fact("sem: value", sem_value(&s));
	OBSERVE("sem: trywait", sem_trywait(&s));
	OBSERVE("sem: timedwait, past", sem_timedwait(&s, &past));
	ts = deadline(CLOCK_REALTIME, 40 * MS);
	t0 = now_ns(CLOCK_MONOTONIC);
	OBSERVE("sem: timedwait 40ms", sem_timedwait(&s, &ts));
	fact("sem: timedwait waited the time", now_ns(CLOCK_MONOTONIC) - t0 >= 39 * MS);
	ts = deadline(CLOCK_MONOTONIC, 20 * MS);
	OBSERVE("sem: clockwait monotonic", sem_clockwait(&s, CLOCK_MONOTONIC, &ts));
	ts = deadline(CLOCK_REALTIME, 20 * MS);
	OBSERVE("sem: clockwait realtime", sem_clockwait(&s, CLOCK_REALTIME, &ts));
	/* Malformed deadlines and clocks, on an empty and on an available semaphore. */
	for (int avail = 0; avail < 2; avail++) {
		const char *st = avail ? "available" : "empty";

		if (avail)
			sem_post(&s);
		for (int i = 0; i < 2; i++) {
			snprintf(what, sizeof(what), "sem %s: timedwait nsec %ld", st,
				 (long)bad[i].tv_nsec);
			OBSERVE(what, sem_timedwait(&s, &bad[i]));
			snprintf(what, sizeof(what), "sem %s: clockwait nsec %ld", st,
				 (long)bad[i].tv_nsec);
			OBSERVE(what, sem_clockwait(&s, CLOCK_MONOTONIC, &bad[i]));
		}
		snprintf(what, sizeof(what), "sem %s: clockwait CLOCK_BOOTTIME", st);
		OBSERVE(what, sem_clockwait(&s, CLOCK_BOOTTIME, &ts));
		snprintf(what, sizeof(what), "sem %s: clockwait CPU-time clock", st);
		OBSERVE(what, sem_clockwait(&s, CLOCK_PROCESS_CPUTIME_ID, &ts));
		snprintf(what, sizeof(what), "sem %s: value after", st);
		fact(what, sem_value(&s));
	}
	sem_destroy(&s);

	/* Overflow. */
	OBSERVE("sem: init SEM_VALUE_MAX", sem_init(&s, 0, SEM_VALUE_MAX));
	OBSERVE("sem: post past SEM_VALUE_MAX", sem_post(&s));
	fact("sem: value is SEM_VALUE_MAX", sem_value(&s) == SEM_VALUE_MAX);
	sem_destroy(&s);
}

/* A post wakes a blocked waiter, in each wait. */
static void sem_post_wakes(void)
{
	char what[80];
	sem_t s;

	sem_init(&s, 0, 0);
	for (int how = 0; how < 3; how++) {
		struct runner r = { .name = "sem", .flag = how };

		run_start(&r, sem_blocker, &s);
		blocked_on(r.tid, &s, sizeof(s));
		snprintf(what, sizeof(what), "sem: post to a blocked %s", sem_names[how]);
		OBSERVE(what, sem_post(&s));
		run_join(&r);
		snprintf(what, sizeof(what), "sem: the blocked %s", sem_names[how]);
		show(what, r.rc, r.err);
	}
	fact("sem: value after the wakes", sem_value(&s));
	sem_destroy(&s);
}

/*
 * A handler installed without SA_RESTART interrupts a blocked wait: -1/EINTR.
 * (With SA_RESTART, glibc 2.36's futex wait is restarted and keeps waiting.)
 */
static void sem_interrupted(void)
{
	static const int flags[] = { 0 };
	char what[96];
	sem_t s;

	sem_init(&s, 0, 0);
	for (int f = 0; f < 1; f++) {
		struct sigaction sa, old;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_usr1;
		sa.sa_flags = flags[f];
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, &old);
		for (int how = 0; how < 3; how++) {
			struct runner r = { .name = "sem", .flag = how };

			usr1_handled = 0;
			run_start(&r, sem_blocker, &s);
			blocked_on(r.tid, &s, sizeof(s));
			pthread_kill(r.th, SIGUSR1);
			run_join(&r);
			snprintf(what, sizeof(what), "sem: %s interrupted%s", sem_names[how],
				 flags[f] ? " (SA_RESTART)" : "");
			show(what, r.rc, r.err);
			fact("  handler ran", usr1_handled);
		}
		sigaction(SIGUSR1, &old, NULL);
	}
	sem_destroy(&s);
}

/* Cancellation: pending when a wait finds a unit at once; and while blocked. */
static void sem_pending_cancel(struct runner *r)
{
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	sem_post(&r->done);
	sem_wait_all(&r->go); /* main has canceled us */
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	r->rc = sem_wait_how(r->arg, r->flag);
	r->rc2 = 1; /* returned */
}

static void sem_cancel(void)
{
	char what[96];
	sem_t s;

	sem_init(&s, 0, 0);
	for (int how = 0; how < 3; how++) {
		struct runner r = { .name = "sem", .flag = how };
		void *ret = NULL;

		sem_post(&s);
		run_start(&r, sem_pending_cancel, &s);
		sem_wait_all(&r.done);
		pthread_cancel(r.th);
		sem_post(&r.go);
		pthread_join(r.th, &ret);
		snprintf(what, sizeof(what), "sem: cancel pending, %s available", sem_names[how]);
		fact(what, ret == PTHREAD_CANCELED);
		fact("  the wait returned", r.rc2);
		fact("  value after", sem_value(&s));
		while (sem_trywait(&s) == 0)
			;

		r = (struct runner){ .name = "sem", .flag = how };
		run_start(&r, sem_blocker, &s);
		blocked_on(r.tid, &s, sizeof(s));
		pthread_cancel(r.th);
		pthread_join(r.th, &ret);
		snprintf(what, sizeof(what), "sem: canceled while blocked in %s", sem_names[how]);
		fact(what, ret == PTHREAD_CANCELED);
		fact("  value after", sem_value(&s));
	}
	sem_destroy(&s);
}

void check_sem(void)
{
	sem_timeouts();
	sem_post_wakes();
	sem_interrupted();
	sem_cancel();
}

/* ---------------------------------------------------------------- barriers */

static void barrier_rounds(struct runner *r)
{
	for (int i = 0; i < 2; i++) {
		int rc = pthread_barrier_wait(r->arg);

		if (rc == PTHREAD_BARRIER_SERIAL_THREAD)
			r->rc++;
		else if (rc == 0)
			r->rc2++;
		else
			r->err = rc;
	}
}

void check_barrier(void)
{
	pthread_barrier_t b;
	struct runner r[4];
	int serial = 0, zero = 0, other = 0;

	OBSERVE("barrier: init 4", pthread_barrier_init(&b, NULL, 4));
	for (int i = 0; i < 3; i++) {
		r[i] = (struct runner){ .name = "barrier" };
		run_start(&r[i], barrier_rounds, &b);
	}
	r[3] = (struct runner){ .name = "barrier", .arg = &b };
	barrier_rounds(&r[3]);
	for (int i = 0; i < 4; i++) {
		if (i < 3)
			run_join(&r[i]);
		serial += r[i].rc;
		zero += r[i].rc2;
		other += r[i].err != 0;
	}
	fact("barrier: serial threads in 2 rounds", serial);
	fact("barrier: others in 2 rounds", zero);
	fact("barrier: errors", other);
	OBSERVE("barrier: destroy", pthread_barrier_destroy(&b));
	OBSERVE("barrier: init 1", pthread_barrier_init(&b, NULL, 1));
	fact("barrier: wait alone is serial",
	     pthread_barrier_wait(&b) == PTHREAD_BARRIER_SERIAL_THREAD);
	OBSERVE("barrier: destroy", pthread_barrier_destroy(&b));
	OBSERVE("barrier: init 0", pthread_barrier_init(&b, NULL, 0));
}
