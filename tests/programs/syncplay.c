/*
 * syncplay: locks, condition variables and semaphores used in patterns whose
 * telemetry is known exactly, for tests/integration/test-sync.py.
 *
 * Every wait the program makes is forced, not left to the scheduler: where a
 * thread must be blocked before another goes on, the other waits until the
 * kernel shows the first in a futex call on that very object (blocked_on,
 * from /proc/self/task/TID/syscall). So the counts below hold on any machine:
 *
 *   contend    N times: contend_holder locks M; contend_waiter then locks M
 *              and blocks until the holder, seeing it blocked, unlocks.
 *              N contended waits by contend_waiter, holder contend_holder.
 *              Two barrier rounds per iteration keep the two in step.
 *   queue      producer hands K items to consumer over mutex Q and condvar
 *              CV, signalling only once the consumer is blocked in
 *              pthread_cond_wait and has taken the previous item: K waits,
 *              each woken by a signal. Then the consumer makes T timed waits
 *              on CV that time out (ETIMEDOUT, no signal).
 *   broadcast  3 bcast_waiter threads block on CV3; main broadcasts once.
 *   sem        K2 times: sem_consumer blocks in sem_wait; main posts. Then
 *              one sem_timedwait that times out.
 *   spin       main: S spin lock/unlock pairs.
 *   plain      main: U uncontended mutex lock/unlock pairs (in uncontended),
 *              R rdlock/unlock and W wrlock/unlock pairs (in rw_pairs).
 *   refusals   main: calls that fail at once and never block — an errorcheck
 *              mutex locked again (EDEADLK), a read and a write lock asked
 *              by the writer (EDEADLK), condvar waits with a malformed
 *              deadline or an unsupported clock, timed locks of a held
 *              mutex with a malformed deadline (EINVAL): no waits at all.
 *              Acquisitions: one errorcheck lock, one mutex for the condvar,
 *              one write lock.
 *   cancel     three threads, blocked in pthread_cond_wait (cancelled_cond),
 *              sem_wait (cancelled_sem) and pthread_join (cancelled_join),
 *              are cancelled; each cleanup handler then runs for 800 ms, in
 *              which no thread is blocked in a condvar or a semaphore and
 *              only main in a join. Prints `cancel_window START END` (realtime
 *              ns) for the part of it the test checks.
 *   gauge      main holds Mg for 400 ms while gauge_waiter is blocked on it.
 *
 * It prints `tid <role> <tid>` for each thread and `count <name> <n>` for
 * each constant, then `done`.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define N  5
#define K  6
#define T  3
#define K2 4
#define S  5
#define U  1000
#define R  10
#define W  7

#define NOINLINE __attribute__((noinline))

static pid_t tid_self(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static void fail(const char *what)
{
	printf("FAILED: %s\n", what);
	fflush(stdout);
	exit(1);
}

/* Waits until thread `tid` is blocked in a futex call on [obj, obj+size). */
static void blocked_on(pid_t tid, const void *obj, size_t size)
{
	char path[64], buf[256];
	uintptr_t lo = (uintptr_t)obj, hi = lo + size;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	for (int i = 0; i < 20000; i++) {
		FILE *f = fopen(path, "r");
		long nr = -1;
		unsigned long a0 = 0;
		int ok = 0;

		if (f) {
			ok = fgets(buf, sizeof(buf), f) && sscanf(buf, "%ld %lx", &nr, &a0) == 2 &&
			     nr == SYS_futex && a0 >= lo && a0 < hi;
			fclose(f);
		}
		if (ok)
			return;
		sleep_ms(1);
	}
	fail("a thread never blocked on the object");
}

static void spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
	if (pthread_create(t, NULL, fn, arg) != 0)
		fail("pthread_create");
}

static void join(pthread_t t)
{
	if (pthread_join(t, NULL) != 0)
		fail("pthread_join");
}

/* A thread's id, published once it runs. */
static void announce(const char *role, _Atomic pid_t *slot)
{
	pid_t tid = tid_self();

	atomic_store(slot, tid);
	printf("tid %s %d\n", role, (int)tid);
}

static pid_t await_tid(_Atomic pid_t *slot)
{
	pid_t tid;

	while ((tid = atomic_load(slot)) == 0)
		sleep_ms(1);
	return tid;
}

/* ------------------------------------------------------------------ contend */

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t steps;
static _Atomic pid_t holder_tid, waiter_tid;

static void *contend_holder(void *arg)
{
	announce("contend_holder", &holder_tid);
	for (int i = 0; i < N; i++) {
		pthread_mutex_lock(&m);
		pthread_barrier_wait(&steps);
		blocked_on(await_tid(&waiter_tid), &m, sizeof(m));
		pthread_mutex_unlock(&m);
		pthread_barrier_wait(&steps);
	}
	return NULL;
}

static void *contend_waiter(void *arg)
{
	announce("contend_waiter", &waiter_tid);
	for (int i = 0; i < N; i++) {
		pthread_barrier_wait(&steps);
		pthread_mutex_lock(&m);
		pthread_mutex_unlock(&m);
		pthread_barrier_wait(&steps);
	}
	return NULL;
}

static NOINLINE void run_contend(void)
{
	pthread_t h, w;

	pthread_barrier_init(&steps, NULL, 2);
	spawn(&h, contend_holder, NULL);
	spawn(&w, contend_waiter, NULL);
	join(h);
	join(w);
	pthread_barrier_destroy(&steps);
}

/* -------------------------------------------------------------------- queue */

static pthread_mutex_t q = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int items;
static _Atomic int consumed;
static _Atomic pid_t consumer_tid, producer_tid;

static void *consumer(void *arg)
{
	announce("consumer", &consumer_tid);
	pthread_mutex_lock(&q);
	for (int k = 0; k < K; k++) {
		while (items == 0)
			pthread_cond_wait(&cv, &q);
		items--;
		atomic_fetch_add(&consumed, 1);
	}
	for (int i = 0; i < T; i++) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (pthread_cond_timedwait(&cv, &q, &ts) == 0)
			; /* nobody signals now: only a timeout ends it */
	}
	pthread_mutex_unlock(&q);
	return NULL;
}

static void *producer(void *arg)
{
	pid_t c;

	announce("producer", &producer_tid);
	c = await_tid(&consumer_tid);
	for (int k = 0; k < K; k++) {
		while (atomic_load(&consumed) != k)
			sleep_ms(1);
		blocked_on(c, &cv, sizeof(cv));
		pthread_mutex_lock(&q);
		items++;
		pthread_cond_signal(&cv);
		pthread_mutex_unlock(&q);
	}
	return NULL;
}

static NOINLINE void run_queue(void)
{
	pthread_t c, p;

	spawn(&c, consumer, NULL);
	spawn(&p, producer, NULL);
	join(p);
	join(c);
}

/* ---------------------------------------------------------------- broadcast */

static pthread_mutex_t q3 = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv3 = PTHREAD_COND_INITIALIZER;
static int go;

static void *bcast_waiter(void *arg)
{
	_Atomic pid_t *slot = arg;

	announce("bcast_waiter", slot);
	pthread_mutex_lock(&q3);
	while (!go)
		pthread_cond_wait(&cv3, &q3);
	pthread_mutex_unlock(&q3);
	return NULL;
}

static NOINLINE void run_broadcast(void)
{
	static _Atomic pid_t tids[3];
	pthread_t t[3];

	for (int i = 0; i < 3; i++) {
		spawn(&t[i], bcast_waiter, &tids[i]);
		blocked_on(await_tid(&tids[i]), &cv3, sizeof(cv3));
	}
	pthread_mutex_lock(&q3);
	go = 1;
	pthread_cond_broadcast(&cv3);
	pthread_mutex_unlock(&q3);
	for (int i = 0; i < 3; i++)
		join(t[i]);
}

/* ---------------------------------------------------------------------- sem */

static sem_t sem;
static _Atomic int taken;
static _Atomic pid_t sem_tid;

static void *sem_consumer(void *arg)
{
	struct timespec ts;

	announce("sem_consumer", &sem_tid);
	for (int k = 0; k < K2; k++) {
		while (sem_wait(&sem) != 0)
			;
		atomic_fetch_add(&taken, 1);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1; /* nobody posts any more: times out */
	ts.tv_nsec = 0;
	if (sem_timedwait(&sem, &ts) == 0)
		fail("sem_timedwait took a unit nobody posted");
	return NULL;
}

static NOINLINE void run_sem(void)
{
	pthread_t t;
	pid_t s;

	sem_init(&sem, 0, 0);
	spawn(&t, sem_consumer, NULL);
	s = await_tid(&sem_tid);
	for (int k = 0; k < K2; k++) {
		while (atomic_load(&taken) != k)
			sleep_ms(1);
		blocked_on(s, &sem, sizeof(sem));
		sem_post(&sem);
	}
	join(t);
	sem_destroy(&sem);
}

/* -------------------------------------------------------------------- plain */

static NOINLINE void spin_pairs(void)
{
	pthread_spinlock_t l;

	pthread_spin_init(&l, PTHREAD_PROCESS_PRIVATE);
	for (int i = 0; i < S; i++) {
		pthread_spin_lock(&l);
		pthread_spin_unlock(&l);
	}
	pthread_spin_destroy(&l);
}

static NOINLINE void uncontended(void)
{
	static pthread_mutex_t u = PTHREAD_MUTEX_INITIALIZER;

	for (int i = 0; i < U; i++) {
		pthread_mutex_lock(&u);
		pthread_mutex_unlock(&u);
	}
}

static NOINLINE void rw_pairs(void)
{
	static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;

	for (int i = 0; i < R; i++) {
		pthread_rwlock_rdlock(&rw);
		pthread_rwlock_unlock(&rw);
	}
	for (int i = 0; i < W; i++) {
		pthread_rwlock_wrlock(&rw);
		pthread_rwlock_unlock(&rw);
	}
}

/* ----------------------------------------------------------------- refusals */

static NOINLINE void refusals(void)
{
	static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
	static pthread_cond_t cc = PTHREAD_COND_INITIALIZER;
	const struct timespec bad = { .tv_sec = 0, .tv_nsec = -1 };
	struct timespec later;
	pthread_mutexattr_t a;
	pthread_mutex_t e;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&e, &a);
	pthread_mutexattr_destroy(&a);
	clock_gettime(CLOCK_REALTIME, &later);
	later.tv_sec += 10;
	if (pthread_mutex_lock(&e) != 0 || pthread_mutex_lock(&e) != EDEADLK ||
	    pthread_mutex_timedlock(&e, &later) != EDEADLK || pthread_mutex_unlock(&e) != 0)
		fail("errorcheck self-lock");
	pthread_mutex_destroy(&e);
	if (pthread_rwlock_wrlock(&rw) != 0 || pthread_rwlock_rdlock(&rw) != EDEADLK ||
	    pthread_rwlock_wrlock(&rw) != EDEADLK || pthread_rwlock_unlock(&rw) != 0)
		fail("rwlock self-deadlock");
	pthread_mutex_lock(&cm);
	if (pthread_cond_timedwait(&cc, &cm, &bad) != EINVAL ||
	    pthread_cond_clockwait(&cc, &cm, CLOCK_BOOTTIME, &later) != EINVAL)
		fail("condvar malformed deadline");
	/* cm is held (by main): a malformed deadline is EINVAL at once. */
	if (pthread_mutex_timedlock(&cm, &bad) != EINVAL ||
	    pthread_mutex_clocklock(&cm, CLOCK_MONOTONIC, &bad) != EINVAL)
		fail("mutex malformed deadline");
	pthread_mutex_unlock(&cm);
}

/* ------------------------------------------------------------------- cancel */

static pthread_mutex_t cm2 = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cc2 = PTHREAD_COND_INITIALIZER;
static sem_t never;
static pthread_t sleeper;
static _Atomic pid_t cancel_tids[3];

static void slow_cleanup(void *arg)
{
	sleep_ms(800);
	if (arg)
		pthread_mutex_unlock(arg);
}

static void *sleeps(void *arg)
{
	sleep_ms(3000);
	return NULL;
}

static void *cancelled_cond(void *arg)
{
	announce("cancelled_cond", &cancel_tids[0]);
	pthread_mutex_lock(&cm2);
	pthread_cleanup_push(slow_cleanup, &cm2);
	for (;;)
		pthread_cond_wait(&cc2, &cm2);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *cancelled_sem(void *arg)
{
	announce("cancelled_sem", &cancel_tids[1]);
	pthread_cleanup_push(slow_cleanup, NULL);
	for (;;)
		sem_wait(&never);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *cancelled_join(void *arg)
{
	announce("cancelled_join", &cancel_tids[2]);
	pthread_cleanup_push(slow_cleanup, NULL);
	pthread_join(sleeper, NULL);
	pthread_cleanup_pop(0);
	return NULL;
}

static long long realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static NOINLINE void run_cancel(void)
{
	void *(*const fns[3])(void *) = { cancelled_cond, cancelled_sem, cancelled_join };
	const void *objs[3] = { &cc2, &never, NULL };
	pthread_t t[3];
	long long t0;

	sem_init(&never, 0, 0);
	spawn(&sleeper, sleeps, NULL);
	for (int i = 0; i < 3; i++) {
		pid_t tid;

		spawn(&t[i], fns[i], NULL);
		tid = await_tid(&cancel_tids[i]);
		/* A join waits on the joined thread's tid word, inside its pthread_t. */
		if (objs[i])
			blocked_on(tid, objs[i], i == 0 ? sizeof(cc2) : sizeof(never));
		else
			blocked_on(tid, (const void *)sleeper, 4096);
	}
	t0 = realtime_ns();
	for (int i = 0; i < 3; i++)
		pthread_cancel(t[i]);
	for (int i = 0; i < 3; i++)
		join(t[i]);
	/* Leaves time for the cancellations to arrive, and for the cleanups to end. */
	printf("cancel_window %lld %lld\n", t0 + 250000000LL, t0 + 650000000LL);
	pthread_cancel(sleeper);
	join(sleeper);
	sem_destroy(&never);
}

/* -------------------------------------------------------------------- gauge */

static pthread_mutex_t mg = PTHREAD_MUTEX_INITIALIZER;
static _Atomic pid_t gauge_tid;

static void *gauge_waiter(void *arg)
{
	announce("gauge_waiter", &gauge_tid);
	pthread_mutex_lock(&mg);
	pthread_mutex_unlock(&mg);
	return NULL;
}

static NOINLINE void run_gauge(void)
{
	pthread_t t;

	pthread_mutex_lock(&mg);
	spawn(&t, gauge_waiter, NULL);
	blocked_on(await_tid(&gauge_tid), &mg, sizeof(mg));
	sleep_ms(400); /* several metric exports see it blocked */
	pthread_mutex_unlock(&mg);
	join(t);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("tid main %d\n", (int)tid_self());
	printf("count N %d\ncount K %d\ncount T %d\ncount K2 %d\n", N, K, T, K2);
	printf("count S %d\ncount U %d\ncount R %d\ncount W %d\n", S, U, R, W);
	run_contend();
	run_queue();
	run_broadcast();
	run_sem();
	spin_pairs();
	uncontended();
	rw_pairs();
	refusals();
	run_cancel();
	run_gauge();
	printf("done\n");
	return 0;
}
