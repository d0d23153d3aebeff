/*
 * Locks: every mutex type (normal, recursive, errorcheck, adaptive, robust,
 * priority-inherit, priority-protect) locked, tried, timed and released by
 * its owner and by others; deadlines in the past, in the future, malformed
 * and against clocks the call does not support; spin locks; read-write locks.
 *
 * Where a check needs a thread to be blocked in a call before it goes on, it
 * waits until the kernel shows that thread in a futex call on the object
 * (blocked_on), never for a guessed time: the output stays deterministic on
 * a loaded machine.
 */
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "behaviour.h"

pid_t tid_self(void)
{
	return (pid_t)syscall(SYS_gettid);
}

void blocked_on(pid_t tid, const void *obj, size_t size)
{
	char path[64], buf[256];
	uintptr_t lo = (uintptr_t)obj, hi = lo + size;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	for (int i = 0; i < 20000; i++) {
		FILE *f = fopen(path, "r");
		long nr = -1;
		unsigned long a0 = 0;

		if (f) {
			if (fgets(buf, sizeof(buf), f) && sscanf(buf, "%ld %lx", &nr, &a0) == 2 &&
			    nr == SYS_futex && a0 >= lo && a0 < hi) {
				fclose(f);
				return;
			}
			fclose(f);
		}
		sleep_ms(1);
	}
	printf("SETUP FAILED: thread never blocked on the object\n");
	fflush(stdout);
	abort();
}

static void *runner_main(void *arg)
{
	struct runner *r = arg;

	r->tid = tid_self();
	sem_post(&r->started);
	r->fn(r);
	return NULL;
}

void run_start(struct runner *r, void (*fn)(struct runner *), void *arg)
{
	r->fn = fn;
	r->arg = arg;
	sem_init(&r->started, 0, 0);
	sem_init(&r->go, 0, 0);
	sem_init(&r->done, 0, 0);
	must(pthread_create(&r->th, NULL, runner_main, r), "create runner");
	sem_wait_all(&r->started);
}

void run_join(struct runner *r)
{
	must(pthread_join(r->th, NULL), "join runner");
	sem_destroy(&r->started);
	sem_destroy(&r->go);
	sem_destroy(&r->done);
}

/* ------------------------------------------------------------------ mutexes */

static pid_t main_tid;

static void mutex_init_kind(pthread_mutex_t *m, int type, int protocol, int robust)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, type);
	if (protocol != PTHREAD_PRIO_NONE)
		must(pthread_mutexattr_setprotocol(&a, protocol), "setprotocol");
	if (protocol == PTHREAD_PRIO_PROTECT)
		must(pthread_mutexattr_setprioceiling(&a, sched_get_priority_min(SCHED_FIFO)),
		     "setprioceiling");
	if (robust)
		must(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST), "setrobust");
	must(pthread_mutex_init(m, &a), "mutex init");
	pthread_mutexattr_destroy(&a);
}

/* What another thread sees of a mutex main holds: tries, timeouts, unlock. */
static void other_while_held(struct runner *r)
{
	pthread_mutex_t *m = r->arg;
	struct timespec past = { .tv_sec = 1, .tv_nsec = 0 }, ts;
	long long t0;
	char what[80];

	snprintf(what, sizeof(what), "%s: trylock other", r->name);
	OBSERVE(what, pthread_mutex_trylock(m));
	snprintf(what, sizeof(what), "%s: timedlock other, past", r->name);
	OBSERVE(what, pthread_mutex_timedlock(m, &past));
	ts = deadline(CLOCK_REALTIME, 40 * MS);
	t0 = now_ns(CLOCK_MONOTONIC);
	snprintf(what, sizeof(what), "%s: timedlock other, 40ms", r->name);
	OBSERVE(what, pthread_mutex_timedlock(m, &ts));
	snprintf(what, sizeof(what), "%s: timedlock waited the time", r->name);
	fact(what, now_ns(CLOCK_MONOTONIC) - t0 >= 39 * MS);
	ts = deadline(CLOCK_MONOTONIC, 20 * MS);
	snprintf(what, sizeof(what), "%s: clocklock other, monotonic", r->name);
	OBSERVE(what, pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &ts));
	ts = deadline(CLOCK_REALTIME, 20 * MS);
	snprintf(what, sizeof(what), "%s: clocklock other, realtime", r->name);
	OBSERVE(what, pthread_mutex_clocklock(m, CLOCK_REALTIME, &ts));
	if (r->flag) {
		snprintf(what, sizeof(what), "%s: unlock not owner", r->name);
		OBSERVE(what, pthread_mutex_unlock(m));
	}
}

/* Blocks in a lock of a mutex main holds, until main releases it. */
static void contended_lock(struct runner *r)
{
	pthread_mutex_t *m = r->arg;

	errno = SENTINEL;
	r->rc = pthread_mutex_lock(m);
	r->err = errno;
	if (r->rc == 0)
		r->rc2 = pthread_mutex_unlock(m);
}

static void contend(pthread_mutex_t *m, const char *name)
{
	struct runner r = { .name = name };
	char what[80];

	must(pthread_mutex_lock(m), "lock");
	run_start(&r, contended_lock, m);
	blocked_on(r.tid, m, sizeof(*m));
	OBSERVE("  (main) unlock for a blocked locker", pthread_mutex_unlock(m));
	run_join(&r);
	snprintf(what, sizeof(what), "%s: contended lock", name);
	show(what, r.rc, r.err);
	snprintf(what, sizeof(what), "%s: unlock after contention", name);
	show(what, r.rc2, SENTINEL);
}

static const struct {
	int type;
	const char *name;
} mutex_types[] = {
	{ PTHREAD_MUTEX_NORMAL, "normal" },         { PTHREAD_MUTEX_RECURSIVE, "recursive" },
	{ PTHREAD_MUTEX_ERRORCHECK, "errorcheck" }, { PTHREAD_MUTEX_ADAPTIVE_NP, "adaptive" },
	{ PTHREAD_MUTEX_DEFAULT, "default" },
};

static void check_mutex_type(int type, const char *name, int protocol)
{
	pthread_mutex_t m;
	struct runner r = { .name = name };
	struct timespec ts;
	char what[80];

	mutex_init_kind(&m, type, protocol, 0);
	snprintf(what, sizeof(what), "%s: lock", name);
	OBSERVE(what, pthread_mutex_lock(&m));
	snprintf(what, sizeof(what), "%s: trylock self", name);
	if (OBSERVE(what, pthread_mutex_trylock(&m)) == 0)
		must(pthread_mutex_unlock(&m), "unlock");
	if (type == PTHREAD_MUTEX_RECURSIVE) {
		snprintf(what, sizeof(what), "%s: lock again", name);
		OBSERVE(what, pthread_mutex_lock(&m));
		ts = deadline(CLOCK_REALTIME, 20 * MS);
		snprintf(what, sizeof(what), "%s: timedlock again", name);
		OBSERVE(what, pthread_mutex_timedlock(&m, &ts));
		for (int i = 0; i < 3; i++) {
			snprintf(what, sizeof(what), "%s: unlock %d", name, i + 1);
			OBSERVE(what, pthread_mutex_unlock(&m));
		}
	} else if (type == PTHREAD_MUTEX_ERRORCHECK) {
		snprintf(what, sizeof(what), "%s: lock self", name);
		OBSERVE(what, pthread_mutex_lock(&m));
		ts = deadline(CLOCK_REALTIME, 20 * MS);
		snprintf(what, sizeof(what), "%s: timedlock self", name);
		OBSERVE(what, pthread_mutex_timedlock(&m, &ts));
		ts = deadline(CLOCK_MONOTONIC, 20 * MS);
		snprintf(what, sizeof(what), "%s: clocklock self", name);
		OBSERVE(what, pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &ts));
	}
	snprintf(what, sizeof(what), "%s: unlock", name);
	OBSERVE(what, pthread_mutex_unlock(&m));
	if (type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK) {
		snprintf(what, sizeof(what), "%s: unlock unlocked", name);
		OBSERVE(what, pthread_mutex_unlock(&m));
	}

	/* Another thread, while main holds it. */
	must(pthread_mutex_lock(&m), "lock");
	r.flag = type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK;
	run_start(&r, other_while_held, &m);
	run_join(&r);
	must(pthread_mutex_unlock(&m), "unlock");
	contend(&m, name);
	snprintf(what, sizeof(what), "%s: destroy", name);
	OBSERVE(what, pthread_mutex_destroy(&m));
}

void check_mutex_types(void)
{
	main_tid = tid_self();
	for (size_t i = 0; i < sizeof(mutex_types) / sizeof(mutex_types[0]); i++)
		check_mutex_type(mutex_types[i].type, mutex_types[i].name, PTHREAD_PRIO_NONE);
	/* Priority inheritance: the kernel's PI futexes. */
	check_mutex_type(PTHREAD_MUTEX_NORMAL, "pi normal", PTHREAD_PRIO_INHERIT);
	check_mutex_type(PTHREAD_MUTEX_RECURSIVE, "pi recursive", PTHREAD_PRIO_INHERIT);
	check_mutex_type(PTHREAD_MUTEX_ERRORCHECK, "pi errorcheck", PTHREAD_PRIO_INHERIT);
}

/* Priority protection: whatever the ceiling allows here, identically. */
void check_mutex_pp(void)
{
	pthread_mutex_t m;
	struct runner r = { .name = "pp" };

	mutex_init_kind(&m, PTHREAD_MUTEX_ERRORCHECK, PTHREAD_PRIO_PROTECT, 0);
	if (OBSERVE("pp: lock", pthread_mutex_lock(&m)) == 0) {
		OBSERVE("pp: lock self", pthread_mutex_lock(&m));
		OBSERVE("pp: trylock self", pthread_mutex_trylock(&m));
		r.flag = 1;
		run_start(&r, other_while_held, &m);
		run_join(&r);
		OBSERVE("pp: unlock", pthread_mutex_unlock(&m));
	}
	OBSERVE("pp: unlock unlocked", pthread_mutex_unlock(&m));
	OBSERVE("pp: trylock", pthread_mutex_trylock(&m));
	OBSERVE("pp: unlock after trylock", pthread_mutex_unlock(&m));
	pthread_mutex_destroy(&m);
}

/* Malformed deadlines and unsupported clocks; an acquisition is released. */
static void bad_deadlines(pthread_mutex_t *m, const char *label)
{
	static const struct timespec bad[] = { { 0, -1 }, { 0, 1000000000 } };
	struct timespec ts = deadline(CLOCK_MONOTONIC, 20 * MS);
	char what[80];

	for (int i = 0; i < 2; i++) {
		snprintf(what, sizeof(what), "timedlock %s, nsec %ld", label, (long)bad[i].tv_nsec);
		if (OBSERVE(what, pthread_mutex_timedlock(m, &bad[i])) == 0)
			pthread_mutex_unlock(m);
		snprintf(what, sizeof(what), "clocklock %s, nsec %ld", label, (long)bad[i].tv_nsec);
		if (OBSERVE(what, pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &bad[i])) == 0)
			pthread_mutex_unlock(m);
	}
	snprintf(what, sizeof(what), "clocklock %s, CLOCK_BOOTTIME", label);
	if (OBSERVE(what, pthread_mutex_clocklock(m, CLOCK_BOOTTIME, &ts)) == 0)
		pthread_mutex_unlock(m);
	snprintf(what, sizeof(what), "clocklock %s, CPU-time clock", label);
	if (OBSERVE(what, pthread_mutex_clocklock(m, CLOCK_PROCESS_CPUTIME_ID, &ts)) == 0)
		pthread_mutex_unlock(m);
}

static void bad_deadlines_other(struct runner *r)
{
	bad_deadlines(r->arg, "held");
}

void check_mutex_deadlines(void)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct runner r = { .name = "held" };

	bad_deadlines(&m, "free");
	must(pthread_mutex_lock(&m), "lock");
	run_start(&r, bad_deadlines_other, &m);
	run_join(&r);
	must(pthread_mutex_unlock(&m), "unlock");
}

/* ------------------------------------------------------------------- robust */

/* Locks the robust mutex and ends without unlocking it. */
static void lock_and_die(struct runner *r)
{
	pthread_mutex_t *m = r->arg;

	must(pthread_mutex_lock(m), "robust lock");
	sem_post(&r->done);
	if (r->flag)
		blocked_on(main_tid, m, sizeof(*m)); /* main is waiting for it */
}

static void owner_dies(pthread_mutex_t *m, int wait_for_main)
{
	struct runner r = { .name = "robust", .flag = wait_for_main };

	run_start(&r, lock_and_die, m);
	if (!wait_for_main)
		run_join(&r);
}

void check_mutex_robust(void)
{
	pthread_mutex_t m;
	struct runner r = { .name = "robust", .flag = 1 };
	struct timespec ts;

	main_tid = tid_self();
	/* The owner died; the state is not made consistent: not recoverable. */
	mutex_init_kind(&m, PTHREAD_MUTEX_NORMAL, PTHREAD_PRIO_NONE, 1);
	owner_dies(&m, 0);
	OBSERVE("robust: lock, owner died", pthread_mutex_lock(&m));
	OBSERVE("robust: unlock without consistent", pthread_mutex_unlock(&m));
	OBSERVE("robust: lock unrecoverable", pthread_mutex_lock(&m));
	OBSERVE("robust: trylock unrecoverable", pthread_mutex_trylock(&m));
	ts = deadline(CLOCK_REALTIME, 20 * MS);
	OBSERVE("robust: timedlock unrecoverable", pthread_mutex_timedlock(&m, &ts));
	OBSERVE("robust: consistent unrecoverable", pthread_mutex_consistent(&m));
	OBSERVE("robust: destroy", pthread_mutex_destroy(&m));

	/* trylock finds the dead owner; made consistent, it works again. */
	mutex_init_kind(&m, PTHREAD_MUTEX_NORMAL, PTHREAD_PRIO_NONE, 1);
	OBSERVE("robust: consistent, not owner-dead", pthread_mutex_consistent(&m));
	owner_dies(&m, 0);
	OBSERVE("robust: trylock, owner died", pthread_mutex_trylock(&m));
	OBSERVE("robust: consistent", pthread_mutex_consistent(&m));
	OBSERVE("robust: unlock", pthread_mutex_unlock(&m));
	OBSERVE("robust: lock again", pthread_mutex_lock(&m));
	OBSERVE("robust: unlock again", pthread_mutex_unlock(&m));

	/* timedlock and clocklock find the dead owner too. */
	owner_dies(&m, 0);
	ts = deadline(CLOCK_REALTIME, 20 * MS);
	OBSERVE("robust: timedlock, owner died", pthread_mutex_timedlock(&m, &ts));
	OBSERVE("robust: consistent", pthread_mutex_consistent(&m));
	OBSERVE("robust: unlock", pthread_mutex_unlock(&m));
	owner_dies(&m, 0);
	ts = deadline(CLOCK_MONOTONIC, 20 * MS);
	OBSERVE("robust: clocklock, owner died", pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &ts));
	OBSERVE("robust: consistent", pthread_mutex_consistent(&m));
	OBSERVE("robust: unlock", pthread_mutex_unlock(&m));

	/* main blocked in lock when the owner dies. */
	run_start(&r, lock_and_die, &m);
	sem_wait_all(&r.done);
	OBSERVE("robust: blocked lock, owner dies", pthread_mutex_lock(&m));
	run_join(&r);
	OBSERVE("robust: consistent", pthread_mutex_consistent(&m));
	OBSERVE("robust: unlock", pthread_mutex_unlock(&m));
	pthread_mutex_destroy(&m);

	/* Robust errorcheck: self-deadlock and foreign unlock reported. */
	mutex_init_kind(&m, PTHREAD_MUTEX_ERRORCHECK, PTHREAD_PRIO_NONE, 1);
	OBSERVE("robust errorcheck: lock", pthread_mutex_lock(&m));
	OBSERVE("robust errorcheck: lock self", pthread_mutex_lock(&m));
	OBSERVE("robust errorcheck: trylock self", pthread_mutex_trylock(&m));
	OBSERVE("robust errorcheck: unlock", pthread_mutex_unlock(&m));
	OBSERVE("robust errorcheck: unlock unlocked", pthread_mutex_unlock(&m));
	pthread_mutex_destroy(&m);

	/* Robust and priority-inheriting. */
	mutex_init_kind(&m, PTHREAD_MUTEX_NORMAL, PTHREAD_PRIO_INHERIT, 1);
	owner_dies(&m, 0);
	OBSERVE("robust pi: lock, owner died", pthread_mutex_lock(&m));
	OBSERVE("robust pi: consistent", pthread_mutex_consistent(&m));
	OBSERVE("robust pi: unlock", pthread_mutex_unlock(&m));
	pthread_mutex_destroy(&m);
}

/* --------------------------------------------------------------- spin locks */

static void spin_holder(struct runner *r)
{
	pthread_spinlock_t *l = (pthread_spinlock_t *)r->arg;

	must(pthread_spin_lock(l), "spin lock");
	sem_post(&r->done);
	sleep_ms(50);
	r->flag = 1;
	pthread_spin_unlock(l);
}

void check_spin(void)
{
	pthread_spinlock_t l;
	struct runner r = { .name = "spin" };

	OBSERVE("spin: init", pthread_spin_init(&l, PTHREAD_PROCESS_PRIVATE));
	OBSERVE("spin: lock", pthread_spin_lock(&l));
	OBSERVE("spin: trylock held", pthread_spin_trylock(&l));
	OBSERVE("spin: unlock", pthread_spin_unlock(&l));
	OBSERVE("spin: trylock free", pthread_spin_trylock(&l));
	OBSERVE("spin: unlock", pthread_spin_unlock(&l));
	run_start(&r, spin_holder, (void *)&l);
	sem_wait_all(&r.done);
	OBSERVE("spin: lock held by another", pthread_spin_lock(&l));
	fact("spin: spun until released", r.flag);
	OBSERVE("spin: unlock", pthread_spin_unlock(&l));
	run_join(&r);
	OBSERVE("spin: destroy", pthread_spin_destroy(&l));
}

/* ---------------------------------------------------------- read-write locks */

static void rw_self_deadlocks(pthread_rwlock_t *rw)
{
	struct timespec ts;

	OBSERVE("rwlock: rdlock while writing", pthread_rwlock_rdlock(rw));
	OBSERVE("rwlock: wrlock while writing", pthread_rwlock_wrlock(rw));
	OBSERVE("rwlock: tryrdlock while writing", pthread_rwlock_tryrdlock(rw));
	OBSERVE("rwlock: trywrlock while writing", pthread_rwlock_trywrlock(rw));
	ts = deadline(CLOCK_REALTIME, 20 * MS);
	OBSERVE("rwlock: timedrdlock while writing", pthread_rwlock_timedrdlock(rw, &ts));
	OBSERVE("rwlock: timedwrlock while writing", pthread_rwlock_timedwrlock(rw, &ts));
	ts = deadline(CLOCK_MONOTONIC, 20 * MS);
	OBSERVE("rwlock: clockrdlock while writing",
		pthread_rwlock_clockrdlock(rw, CLOCK_MONOTONIC, &ts));
	OBSERVE("rwlock: clockwrlock while writing",
		pthread_rwlock_clockwrlock(rw, CLOCK_MONOTONIC, &ts));
}

/* Another thread, while main holds the lock for writing. */
static void rw_other(struct runner *r)
{
	pthread_rwlock_t *rw = r->arg;
	struct timespec past = { .tv_sec = 1, .tv_nsec = 0 }, ts;

	OBSERVE("rwlock other: tryrdlock", pthread_rwlock_tryrdlock(rw));
	OBSERVE("rwlock other: trywrlock", pthread_rwlock_trywrlock(rw));
	OBSERVE("rwlock other: timedrdlock, past", pthread_rwlock_timedrdlock(rw, &past));
	OBSERVE("rwlock other: timedwrlock, past", pthread_rwlock_timedwrlock(rw, &past));
	ts = deadline(CLOCK_REALTIME, 20 * MS);
	OBSERVE("rwlock other: timedrdlock", pthread_rwlock_timedrdlock(rw, &ts));
	ts = deadline(CLOCK_REALTIME, 20 * MS);
	OBSERVE("rwlock other: timedwrlock", pthread_rwlock_timedwrlock(rw, &ts));
	ts = deadline(CLOCK_MONOTONIC, 20 * MS);
	OBSERVE("rwlock other: clockrdlock", pthread_rwlock_clockrdlock(rw, CLOCK_MONOTONIC, &ts));
	ts = deadline(CLOCK_REALTIME, 20 * MS);
	OBSERVE("rwlock other: clockwrlock", pthread_rwlock_clockwrlock(rw, CLOCK_REALTIME, &ts));
}

/* Malformed deadlines and unsupported clocks; an acquisition is released. */
static void rw_bad_deadlines(struct runner *r)
{
	static const struct timespec bad[] = { { 0, -1 }, { 0, 1000000000 } };
	pthread_rwlock_t *rw = r->arg;
	struct timespec ts = deadline(CLOCK_MONOTONIC, 20 * MS);
	char what[80];

	for (int i = 0; i < 2; i++) {
		snprintf(what, sizeof(what), "rwlock %s: timedrdlock nsec %ld", r->name,
			 (long)bad[i].tv_nsec);
		if (OBSERVE(what, pthread_rwlock_timedrdlock(rw, &bad[i])) == 0)
			pthread_rwlock_unlock(rw);
		snprintf(what, sizeof(what), "rwlock %s: timedwrlock nsec %ld", r->name,
			 (long)bad[i].tv_nsec);
		if (OBSERVE(what, pthread_rwlock_timedwrlock(rw, &bad[i])) == 0)
			pthread_rwlock_unlock(rw);
		snprintf(what, sizeof(what), "rwlock %s: clockrdlock nsec %ld", r->name,
			 (long)bad[i].tv_nsec);
		if (OBSERVE(what, pthread_rwlock_clockrdlock(rw, CLOCK_MONOTONIC, &bad[i])) == 0)
			pthread_rwlock_unlock(rw);
	}
	snprintf(what, sizeof(what), "rwlock %s: clockrdlock CLOCK_BOOTTIME", r->name);
	if (OBSERVE(what, pthread_rwlock_clockrdlock(rw, CLOCK_BOOTTIME, &ts)) == 0)
		pthread_rwlock_unlock(rw);
	snprintf(what, sizeof(what), "rwlock %s: clockwrlock CPU-time clock", r->name);
	if (OBSERVE(what, pthread_rwlock_clockwrlock(rw, CLOCK_PROCESS_CPUTIME_ID, &ts)) == 0)
		pthread_rwlock_unlock(rw);
}

static void rw_block(struct runner *r)
{
	pthread_rwlock_t *rw = r->arg;

	errno = SENTINEL;
	r->rc = r->flag ? pthread_rwlock_wrlock(rw) : pthread_rwlock_rdlock(rw);
	r->err = errno;
	if (r->rc == 0)
		r->rc2 = pthread_rwlock_unlock(rw);
}

/* A runner blocks (for writing if `write`) until main's hold ends. */
static void rw_contend(pthread_rwlock_t *rw, int write, const char *what)
{
	struct runner r = { .name = what, .flag = write };

	run_start(&r, rw_block, rw);
	blocked_on(r.tid, rw, sizeof(*rw));
	OBSERVE("  (main) unlock for a blocked locker", pthread_rwlock_unlock(rw));
	run_join(&r);
	show(what, r.rc, r.err);
	show("  its unlock", r.rc2, SENTINEL);
}

void check_rwlock(void)
{
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	pthread_rwlockattr_t a;
	struct runner r = { .name = "free" };
	struct timespec ts;

	OBSERVE("rwlock: rdlock", pthread_rwlock_rdlock(&rw));
	OBSERVE("rwlock: rdlock again", pthread_rwlock_rdlock(&rw));
	OBSERVE("rwlock: tryrdlock while reading", pthread_rwlock_tryrdlock(&rw));
	OBSERVE("rwlock: trywrlock while reading", pthread_rwlock_trywrlock(&rw));
	ts = deadline(CLOCK_REALTIME, 20 * MS);
	OBSERVE("rwlock: timedwrlock while reading", pthread_rwlock_timedwrlock(&rw, &ts));
	for (int i = 0; i < 3; i++)
		OBSERVE("rwlock: unlock read", pthread_rwlock_unlock(&rw));
	OBSERVE("rwlock: wrlock", pthread_rwlock_wrlock(&rw));
	rw_self_deadlocks(&rw);
	run_start(&r, rw_other, &rw);
	run_join(&r);
	OBSERVE("rwlock: unlock write", pthread_rwlock_unlock(&rw));

	rw_bad_deadlines(&(struct runner){ .name = "free", .arg = &rw });
	must(pthread_rwlock_wrlock(&rw), "wrlock");
	r.name = "held";
	run_start(&r, rw_bad_deadlines, &rw);
	run_join(&r);
	must(pthread_rwlock_unlock(&rw), "unlock");

	must(pthread_rwlock_wrlock(&rw), "wrlock");
	rw_contend(&rw, 0, "rwlock: rdlock blocked by a writer");
	must(pthread_rwlock_wrlock(&rw), "wrlock");
	rw_contend(&rw, 1, "rwlock: wrlock blocked by a writer");
	must(pthread_rwlock_rdlock(&rw), "rdlock");
	rw_contend(&rw, 1, "rwlock: wrlock blocked by a reader");
	OBSERVE("rwlock: destroy", pthread_rwlock_destroy(&rw));

	/* Writer preference: a waiting writer turns new readers away. */
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	must(pthread_rwlock_init(&rw, &a), "rwlock init");
	pthread_rwlockattr_destroy(&a);
	must(pthread_rwlock_rdlock(&rw), "rdlock");
	r = (struct runner){ .name = "writer", .flag = 1 };
	run_start(&r, rw_block, &rw);
	blocked_on(r.tid, &rw, sizeof(rw));
	OBSERVE("rwlock prefer-writer: tryrdlock", pthread_rwlock_tryrdlock(&rw));
	ts = deadline(CLOCK_REALTIME, 20 * MS);
	OBSERVE("rwlock prefer-writer: timedrdlock", pthread_rwlock_timedrdlock(&rw, &ts));
	OBSERVE("rwlock prefer-writer: unlock", pthread_rwlock_unlock(&rw));
	run_join(&r);
	show("rwlock prefer-writer: the writer", r.rc, r.err);
	pthread_rwlock_destroy(&rw);
}
