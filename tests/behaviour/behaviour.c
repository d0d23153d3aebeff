/*
 * behaviour: the libc contract of every call weft interposes, observed.
 *
 * tests/behaviour/behaviour.py runs this program natively, under weft and
 * under weft with OTEL_SDK_DISABLED=true, and requires byte-identical stdout
 * and the same exit status. So everything printed is deterministic: return
 * values and errno by name, and booleans for anything that depends on timing
 * or addresses ("blocked until the end  1"), never a tid, an address or a
 * duration.
 *
 * Before each observed call errno is set to a sentinel (1234); the line shows
 * `errno=kept` when the call left it alone, else the value it left.
 *
 * Only defined behaviour is exercised (as glibc defines it): no join of a
 * thread that was already joined, or of a detached thread that has exited.
 *
 *     behaviour [contract]            every call's contract (exit status 0)
 *     behaviour exit-in-thread        a non-main thread calls exit(42)
 *     behaviour return-main           main returns 7
 *     behaviour main-pthread-exit     main calls pthread_exit; a thread exit(3)s
 *     behaviour main-pthread-exit-last  main calls pthread_exit; the last thread returns
 *     behaviour return-while-blocked  main returns 9 while a thread is blocked in join
 *     behaviour cancel-main           main is canceled in pthread_join
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SENTINEL 1234
#define MS 1000000LL

static const char *ename(int e)
{
	static _Thread_local char buf[32];

	switch (e) {
	case 0: return "0";
	case SENTINEL: return "kept";
	case EINVAL: return "EINVAL";
	case EDEADLK: return "EDEADLK";
	case ESRCH: return "ESRCH";
	case EBUSY: return "EBUSY";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ERANGE: return "ERANGE";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EPERM: return "EPERM";
	case ENOSYS: return "ENOSYS";
	case EINTR: return "EINTR";
	case ENOENT: return "ENOENT";
	case EOVERFLOW: return "EOVERFLOW";
	default: snprintf(buf, sizeof(buf), "%d", e); return buf;
	}
}

static void show(const char *what, int rc, int err)
{
	printf("%-44s rc=%s errno=%s\n", what, ename(rc), ename(err));
}

/* Prints a call's result and the errno it left; yields the result. */
static int observe(const char *what, int rc)
{
	int err = errno;

	show(what, rc, err);
	return rc;
}

/* Calls `expr` with errno at the sentinel, prints the result, yields it. */
#define OBSERVE(what, expr) (errno = SENTINEL, observe((what), (expr)))

static void fact(const char *what, long value)
{
	printf("%-44s %ld\n", what, value);
}

static long long now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct timespec deadline(clockid_t clk, long long from_now_ns)
{
	long long t = now_ns(clk) + from_now_ns;
	struct timespec ts = {.tv_sec = t / 1000000000LL, .tv_nsec = t % 1000000000LL};

	return ts;
}

static long long ts_ns(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * MS};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void must(int rc, const char *what)
{
	if (rc != 0) {
		printf("SETUP FAILED: %s: %s\n", what, ename(rc));
		fflush(stdout);
		abort();
	}
}

static void sem_wait_all(sem_t *s)
{
	while (sem_wait(s) != 0 && errno == EINTR)
		;
}

/* ---------------------------------------------------------------- threads */

/* A thread that blocks until released, then returns its value. */
struct gate {
	sem_t go;	  /* posted by main: finish */
	sem_t started;	  /* posted by the thread when it runs */
	sem_t leaving;	  /* posted by the thread just before it returns */
	void *value;
	pid_t tid;
};

static void gate_init(struct gate *g, void *value)
{
	sem_init(&g->go, 0, 0);
	sem_init(&g->started, 0, 0);
	sem_init(&g->leaving, 0, 0);
	g->value = value;
}

static void *gated(void *arg)
{
	struct gate *g = arg;

	g->tid = (pid_t)syscall(SYS_gettid);
	sem_post(&g->started);
	sem_wait_all(&g->go);
	sem_post(&g->leaving);
	return g->value;
}

static pthread_t start_gated(struct gate *g, void *value)
{
	pthread_t t;

	gate_init(g, value);
	must(pthread_create(&t, NULL, gated, g), "create gated");
	sem_wait_all(&g->started);
	return t;
}

/* Releases a gated thread and waits until it has (all but) ended. */
static void release(struct gate *g)
{
	sem_post(&g->go);
	sem_wait_all(&g->leaving);
}

/*
 * Waits until a released thread has ended: its kernel task is gone, so the
 * kernel has also cleared the tid that joins wait on.
 */
static void settle(const struct gate *g)
{
	while (syscall(SYS_tgkill, (long)getpid(), (long)g->tid, 0L) == 0)
		sleep_ms(1);
}

static void *returns_arg(void *arg)
{
	return arg;
}

static void *sleeps_then_returns(void *arg)
{
	sleep_ms(200);
	return arg;
}

/* ------------------------------------------------------------- observations */

struct basic {
	int errno_at_start;
	pthread_t self;
	void *arg;
	int sigusr2_blocked, sigusr1_blocked;
};

static void *basic_thread(void *arg)
{
	struct basic *b = arg;
	sigset_t set;

	b->errno_at_start = errno; /* a new thread starts with errno 0 */
	b->self = pthread_self();
	b->arg = arg;
	pthread_sigmask(SIG_SETMASK, NULL, &set);
	b->sigusr2_blocked = sigismember(&set, SIGUSR2);
	b->sigusr1_blocked = sigismember(&set, SIGUSR1);
	errno = 77; /* must not leak anywhere */
	return (void *)0x42;
}

static void t_create_basic(void)
{
	struct basic b;
	sigset_t set, old;
	pthread_t t;
	void *ret = NULL;

	memset(&b, 0, sizeof(b));
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	OBSERVE("create", pthread_create(&t, NULL, basic_thread, &b));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	OBSERVE("join", pthread_join(t, &ret));
	fact("create: value through join", ret == (void *)0x42);
	fact("create: arg passed unchanged", b.arg == &b);
	fact("create: pthread_self is the handle", pthread_equal(b.self, t) != 0);
	fact("create: errno at thread start", b.errno_at_start);
	fact("create: signal mask inherited (USR2)", b.sigusr2_blocked);
	fact("create: signal mask inherited (USR1)", b.sigusr1_blocked);

	/* NULL for the return value, and a routine that returns its argument */
	must(pthread_create(&t, NULL, returns_arg, NULL), "create");
	OBSERVE("join, retval NULL", pthread_join(t, NULL));
}

static void t_join(void)
{
	struct gate g;
	pthread_t t;
	void *ret = NULL;
	long long t0;

	/* A thread that has already ended. */
	t = start_gated(&g, (void *)11);
	release(&g);
	settle(&g);
	OBSERVE("join finished", pthread_join(t, &ret));
	fact("join finished: value", ret == (void *)11);

	/* A running thread: blocks until it ends. */
	t0 = now_ns(CLOCK_MONOTONIC);
	must(pthread_create(&t, NULL, sleeps_then_returns, (void *)7), "create");
	OBSERVE("join running", pthread_join(t, &ret));
	fact("join running: blocked until the end", now_ns(CLOCK_MONOTONIC) - t0 >= 200 * MS);
	fact("join running: value", ret == (void *)7);

	/* Self-join: EDEADLK from every blocking join, EBUSY from tryjoin. */
	{
		struct timespec rt = deadline(CLOCK_REALTIME, 50 * MS);
		struct timespec mono = deadline(CLOCK_MONOTONIC, 50 * MS);

		OBSERVE("join self", pthread_join(pthread_self(), &ret));
		OBSERVE("tryjoin self", pthread_tryjoin_np(pthread_self(), &ret));
		OBSERVE("timedjoin self", pthread_timedjoin_np(pthread_self(), &ret, &rt));
		OBSERVE("clockjoin self", pthread_clockjoin_np(pthread_self(), &ret,
								CLOCK_MONOTONIC, &mono));
	}
}

static void t_detach(void)
{
	struct gate g;
	pthread_t t;
	void *ret = NULL;
	struct timespec rt, mono;

	t = start_gated(&g, (void *)3);
	OBSERVE("detach running", pthread_detach(t));
	OBSERVE("detach again", pthread_detach(t));
	OBSERVE("join detached", pthread_join(t, &ret));
	OBSERVE("tryjoin detached", pthread_tryjoin_np(t, &ret));
	rt = deadline(CLOCK_REALTIME, 50 * MS);
	OBSERVE("timedjoin detached", pthread_timedjoin_np(t, &ret, &rt));
	mono = deadline(CLOCK_MONOTONIC, 50 * MS);
	OBSERVE("clockjoin detached", pthread_clockjoin_np(t, &ret, CLOCK_MONOTONIC, &mono));
	release(&g); /* no use of t from here on: a detached thread's handle dies with it */
	settle(&g);

	/* Detaching a thread that has ended but was not joined reaps it. */
	t = start_gated(&g, (void *)4);
	release(&g);
	settle(&g);
	OBSERVE("detach finished", pthread_detach(t));
}

static void t_tryjoin(void)
{
	struct gate g;
	pthread_t t;
	void *ret = NULL;
	int rc;

	t = start_gated(&g, (void *)21);
	OBSERVE("tryjoin running", pthread_tryjoin_np(t, &ret));
	release(&g);
	while ((rc = pthread_tryjoin_np(t, &ret)) == EBUSY)
		sleep_ms(1);
	show("tryjoin until done", rc, 0);
	fact("tryjoin: value", ret == (void *)21);

	t = start_gated(&g, (void *)22);
	release(&g);
	settle(&g);
	OBSERVE("tryjoin finished", pthread_tryjoin_np(t, &ret));
	fact("tryjoin finished: value", ret == (void *)22);
}

static void t_timedjoin(void)
{
	struct gate g;
	pthread_t t;
	void *ret = NULL;
	struct timespec ts;

	t = start_gated(&g, (void *)31);
	ts = deadline(CLOCK_REALTIME, 100 * MS);
	OBSERVE("timedjoin times out", pthread_timedjoin_np(t, &ret, &ts));
	fact("timedjoin: returned after the deadline", now_ns(CLOCK_REALTIME) >= ts_ns(&ts));
	ts = deadline(CLOCK_REALTIME, -1000 * MS);
	OBSERVE("timedjoin past deadline, running", pthread_timedjoin_np(t, &ret, &ts));
	sem_post(&g.go);
	ts = deadline(CLOCK_REALTIME, 10000 * MS);
	OBSERVE("timedjoin succeeds", pthread_timedjoin_np(t, &ret, &ts));
	fact("timedjoin: value", ret == (void *)31);

	t = start_gated(&g, (void *)32);
	release(&g);
	settle(&g);
	ts = deadline(CLOCK_REALTIME, -1000 * MS);
	OBSERVE("timedjoin past deadline, finished", pthread_timedjoin_np(t, &ret, &ts));
	fact("timedjoin finished: value", ret == (void *)32);

	/* tv_nsec out of range, on a thread that has ended. */
	t = start_gated(&g, (void *)33);
	release(&g);
	settle(&g);
	ts = deadline(CLOCK_REALTIME, 1000 * MS);
	ts.tv_nsec = 1000000000L;
	ret = NULL;
	if (OBSERVE("timedjoin bad tv_nsec, finished", pthread_timedjoin_np(t, &ret, &ts)) != 0)
		OBSERVE("  then join", pthread_join(t, &ret));
	fact("timedjoin bad tv_nsec: value", ret == (void *)33);
}

static void t_clockjoin(void)
{
	static const clockid_t clocks[] = {CLOCK_MONOTONIC, CLOCK_REALTIME};
	static const char *const names[] = {"MONOTONIC", "REALTIME"};
	struct gate g;
	pthread_t t;
	void *ret = NULL;
	struct timespec ts;
	char what[64];

	for (unsigned i = 0; i < 2; i++) {
		clockid_t clk = clocks[i];

		t = start_gated(&g, (void *)41);
		ts = deadline(clk, 100 * MS);
		snprintf(what, sizeof(what), "clockjoin %s times out", names[i]);
		OBSERVE(what, pthread_clockjoin_np(t, &ret, clk, &ts));
		fact("clockjoin: returned after the deadline", now_ns(clk) >= ts_ns(&ts));
		sem_post(&g.go);
		ts = deadline(clk, 10000 * MS);
		snprintf(what, sizeof(what), "clockjoin %s succeeds", names[i]);
		OBSERVE(what, pthread_clockjoin_np(t, &ret, clk, &ts));
		fact("clockjoin: value", ret == (void *)41);

		t = start_gated(&g, (void *)42);
		release(&g);
		settle(&g);
		ts = deadline(clk, 100 * MS);
		snprintf(what, sizeof(what), "clockjoin %s finished", names[i]);
		OBSERVE(what, pthread_clockjoin_np(t, &ret, clk, &ts));
		fact("clockjoin finished: value", ret == (void *)42);

		/* tv_nsec out of range, on a thread that has ended. */
		t = start_gated(&g, (void *)43);
		release(&g);
		settle(&g);
		ts = deadline(clk, 1000 * MS);
		ts.tv_nsec = -1;
		ret = NULL;
		snprintf(what, sizeof(what), "clockjoin %s bad tv_nsec, finished", names[i]);
		if (OBSERVE(what, pthread_clockjoin_np(t, &ret, clk, &ts)) != 0)
			OBSERVE("  then join", pthread_join(t, &ret));
		fact("clockjoin bad tv_nsec: value", ret == (void *)43);
	}

	/*
	 * Clocks the call does not support: EINVAL, and the thread — running or
	 * already ended — must still be joinable afterwards.
	 */
	static const clockid_t bad[] = {CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
					CLOCK_BOOTTIME, 9999};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = start_gated(&g, (void *)44);
		ts = deadline(CLOCK_MONOTONIC, 100 * MS);
		snprintf(what, sizeof(what), "clockjoin clock %d, running", (int)bad[i]);
		OBSERVE(what, pthread_clockjoin_np(t, &ret, bad[i], &ts));
		release(&g);
		settle(&g);
		snprintf(what, sizeof(what), "clockjoin clock %d, finished", (int)bad[i]);
		ret = NULL;
		if (OBSERVE(what, pthread_clockjoin_np(t, &ret, bad[i], &ts)) != 0)
			OBSERVE("  then join (still joinable)", pthread_join(t, &ret));
		fact("clockjoin bad clock: value", ret == (void *)44);
	}
}

/* Return values, pthread_exit values, cleanup handlers, TSD destructors. */
static pthread_key_t key;
static atomic_int tsd_destroyed;
static char cleanup_order[8];
static atomic_int cleanup_n;

static void tsd_destructor(void *v)
{
	if (v == (void *)&key)
		atomic_fetch_add(&tsd_destroyed, 1);
}

static void cleanup_mark(void *arg)
{
	int n = atomic_fetch_add(&cleanup_n, 1);

	if (n < (int)sizeof(cleanup_order) - 1)
		cleanup_order[n] = *(const char *)arg;
}

/* pthread_exit from a few frames down: the unwind crosses them all. */
static volatile int exit_frames;

static void __attribute__((noinline)) exit_1(void)
{
	exit_frames++;
	pthread_exit((void *)99);
}

static void __attribute__((noinline)) exit_2(void)
{
	exit_frames++;
	exit_1();
	exit_frames++;
}

static void __attribute__((noinline)) exit_3(void)
{
	exit_frames++;
	exit_2();
	exit_frames++;
}

static void *exits_via_pthread_exit(void *arg)
{
	pthread_setspecific(key, &key);
	pthread_cleanup_push(cleanup_mark, "1");
	pthread_cleanup_push(cleanup_mark, "2");
	exit_3();
	pthread_cleanup_pop(0);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *returns_with_tsd(void *arg)
{
	pthread_setspecific(key, &key);
	return (void *)98;
}

static void t_values(void)
{
	pthread_t t;
	void *ret = NULL;

	must(pthread_key_create(&key, tsd_destructor), "key");
	must(pthread_create(&t, NULL, exits_via_pthread_exit, NULL), "create");
	OBSERVE("join pthread_exit thread", pthread_join(t, &ret));
	fact("pthread_exit: value", ret == (void *)99);
	printf("%-44s %s\n", "pthread_exit: cleanup order", cleanup_order);
	fact("pthread_exit: frames entered", exit_frames);
	fact("pthread_exit: TSD destructor ran", atomic_load(&tsd_destroyed));

	must(pthread_create(&t, NULL, returns_with_tsd, NULL), "create");
	OBSERVE("join returning thread", pthread_join(t, &ret));
	fact("return: value", ret == (void *)98);
	fact("return: TSD destructors ran", atomic_load(&tsd_destroyed));
	pthread_key_delete(key);
}

static void t_setname(void)
{
	struct gate g;
	pthread_t t;
	char name[64];

	OBSERVE("setname self 16 chars", pthread_setname_np(pthread_self(), "abcdefghijklmnop"));
	OBSERVE("setname self 40 chars",
		pthread_setname_np(pthread_self(), "abcdefghijklmnopqrstuvwxyz0123456789ABCD"));
	OBSERVE("setname self 15 chars", pthread_setname_np(pthread_self(), "abcdefghijklmno"));
	memset(name, 0, sizeof(name));
	OBSERVE("getname self", pthread_getname_np(pthread_self(), name, sizeof(name)));
	printf("%-44s %s\n", "getname self: name", name);
	OBSERVE("setname self empty", pthread_setname_np(pthread_self(), ""));
	memset(name, 'x', sizeof(name));
	OBSERVE("getname self", pthread_getname_np(pthread_self(), name, sizeof(name)));
	printf("%-44s [%s]\n", "getname self: name", name);
	OBSERVE("setname self", pthread_setname_np(pthread_self(), "behaviour-main"));

	t = start_gated(&g, NULL);
	OBSERVE("setname other 16 chars", pthread_setname_np(t, "0123456789abcdef"));
	OBSERVE("setname other", pthread_setname_np(t, "worker-7"));
	memset(name, 0, sizeof(name));
	OBSERVE("getname other", pthread_getname_np(t, name, sizeof(name)));
	printf("%-44s %s\n", "getname other: name", name);
	OBSERVE("getname other, small buffer", pthread_getname_np(t, name, 4));
	OBSERVE("setname other again", pthread_setname_np(t, "worker-8"));
	memset(name, 0, sizeof(name));
	OBSERVE("getname other", pthread_getname_np(t, name, sizeof(name)));
	printf("%-44s %s\n", "getname other: name", name);
	release(&g);
	OBSERVE("join named", pthread_join(t, NULL));
}

/* Creation with attributes, and creation that fails. */
struct attr_seen {
	int detachstate;
	size_t stacksize;
	size_t guardsize;
	sem_t done;
	sem_t go;
};

static void *attr_thread(void *arg)
{
	struct attr_seen *s = arg;
	pthread_attr_t a;

	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		pthread_attr_getdetachstate(&a, &s->detachstate);
		pthread_attr_getstacksize(&a, &s->stacksize);
		pthread_attr_getguardsize(&a, &s->guardsize);
		pthread_attr_destroy(&a);
	}
	sem_post(&s->done);
	sem_wait_all(&s->go);
	sem_post(&s->done);
	return (void *)5;
}

static void t_attr(void)
{
	struct attr_seen s;
	pthread_attr_t a;
	pthread_t t;
	void *ret = NULL;

	memset(&s, 0, sizeof(s));
	sem_init(&s.done, 0, 0);
	sem_init(&s.go, 0, 0);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	OBSERVE("create detached", pthread_create(&t, &a, attr_thread, &s));
	pthread_attr_destroy(&a);
	sem_wait_all(&s.done);
	fact("create detached: thread sees detached",
	     s.detachstate == PTHREAD_CREATE_DETACHED);
	OBSERVE("join created-detached", pthread_join(t, &ret));
	OBSERVE("detach created-detached", pthread_detach(t));
	sem_post(&s.go);
	sem_wait_all(&s.done);
	sleep_ms(20);

	memset(&s, 0, sizeof(s));
	sem_init(&s.done, 0, 0);
	sem_init(&s.go, 0, 0);
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 1 << 20);
	pthread_attr_setguardsize(&a, 3 * 4096);
	OBSERVE("create with stack size", pthread_create(&t, &a, attr_thread, &s));
	pthread_attr_destroy(&a);
	sem_post(&s.go);
	OBSERVE("join", pthread_join(t, &ret));
	fact("create with stack size: joinable", s.detachstate == PTHREAD_CREATE_JOINABLE);
	fact("create with stack size: stacksize", (long)s.stacksize);
	fact("create with stack size: guardsize", (long)s.guardsize);
	fact("create with stack size: value", ret == (void *)5);

	/* Stacks that cannot be had. */
	static const size_t huge[] = {(size_t)1 << 46, SIZE_MAX & ~(size_t)0xfffff,
				      SIZE_MAX / 2};
	for (unsigned i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		char what[64];
		int rc;

		pthread_attr_init(&a);
		rc = pthread_attr_setstacksize(&a, huge[i]);
		snprintf(what, sizeof(what), "attr_setstacksize huge #%u", i);
		show(what, rc, 0);
		snprintf(what, sizeof(what), "create with huge stack #%u", i);
		t = (pthread_t)0;
		if (OBSERVE(what, pthread_create(&t, &a, returns_arg, NULL)) == 0)
			pthread_join(t, NULL);
		pthread_attr_destroy(&a);
	}
	/* A guard larger than any address space. */
	pthread_attr_init(&a);
	pthread_attr_setguardsize(&a, SIZE_MAX - 4096 * 4);
	if (OBSERVE("create with huge guard", pthread_create(&t, &a, returns_arg, NULL)) == 0)
		pthread_join(t, NULL);
	pthread_attr_destroy(&a);
}

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

static void t_cancel(void)
{
	static const char *const modes[] = {"join", "timedjoin", "clockjoin"};
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

/* Signals delivered to a thread blocked in a join. */
static volatile sig_atomic_t handled;

static void on_usr1(int sig)
{
	int saved = errno;

	handled++;
	errno = saved;
}

struct kicker {
	pthread_t target;
	int count;
	long first_ms;
};

static void *kick(void *arg)
{
	struct kicker *k = arg;

	sleep_ms(k->first_ms);
	for (int i = 0; i < k->count; i++) {
		pthread_kill(k->target, SIGUSR1);
		sleep_ms(30);
	}
	return NULL;
}

static void t_signal(void)
{
	static const int flags[] = {SA_RESTART, 0};
	char what[64];

	for (unsigned i = 0; i < 2; i++) {
		struct sigaction sa;
		struct kicker k = {.target = pthread_self(), .count = 3, .first_ms = 60};
		pthread_t b, kt;
		void *ret = NULL;
		long long t0;
		struct timespec ts;
		struct gate g;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_usr1;
		sa.sa_flags = flags[i];
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, NULL);

		handled = 0;
		t0 = now_ns(CLOCK_MONOTONIC);
		must(pthread_create(&b, NULL, sleeps_then_returns, (void *)61), "create");
		must(pthread_create(&kt, NULL, kick, &k), "create");
		snprintf(what, sizeof(what), "join interrupted by signals (%s)",
			 flags[i] ? "SA_RESTART" : "no SA_RESTART");
		OBSERVE(what, pthread_join(b, &ret));
		fact("  blocked until the end", now_ns(CLOCK_MONOTONIC) - t0 >= 200 * MS);
		fact("  value", ret == (void *)61);
		pthread_join(kt, NULL);
		fact("  handler ran", handled > 0);

		handled = 0;
		b = start_gated(&g, (void *)62);
		must(pthread_create(&kt, NULL, kick, &k), "create");
		ts = deadline(CLOCK_REALTIME, 250 * MS);
		OBSERVE("  timedjoin interrupted", pthread_timedjoin_np(b, &ret, &ts));
		fact("  returned after the deadline", now_ns(CLOCK_REALTIME) >= ts_ns(&ts));
		pthread_join(kt, NULL);
		fact("  handler ran", handled > 0);
		handled = 0;
		must(pthread_create(&kt, NULL, kick, &k), "create");
		ts = deadline(CLOCK_MONOTONIC, 250 * MS);
		OBSERVE("  clockjoin interrupted",
			pthread_clockjoin_np(b, &ret, CLOCK_MONOTONIC, &ts));
		fact("  returned after the deadline", now_ns(CLOCK_MONOTONIC) >= ts_ns(&ts));
		pthread_join(kt, NULL);
		fact("  handler ran", handled > 0);
		release(&g);
		OBSERVE("  then join", pthread_join(b, &ret));
		fact("  value", ret == (void *)62);
	}
	signal(SIGUSR1, SIG_DFL);
}

/*
 * A process-directed signal blocked everywhere but in a sigwait()ing thread
 * reaches that thread: no thread weft adds may take it (SIGUSR2's default
 * action would end the process).
 */
static void *sigwaiter(void *arg)
{
	sigset_t set;
	int sig, n = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sem_post(arg);
	while (n < 10 && sigwait(&set, &sig) == 0) {
		n++;
		sem_post(arg);
	}
	return (void *)(intptr_t)n;
}

static void t_signal_target(void)
{
	sigset_t set, old;
	sem_t s;
	pthread_t w;
	void *ret = NULL;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	sem_init(&s, 0, 0);
	must(pthread_create(&w, NULL, sigwaiter, &s), "create");
	sem_wait_all(&s);
	for (int i = 0; i < 10; i++) {
		kill(getpid(), SIGUSR2);
		sem_wait_all(&s);
	}
	OBSERVE("join sigwait thread", pthread_join(w, &ret));
	fact("  process signals it received", (long)(intptr_t)ret);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Many threads, created and joined in every order. */
static void *tiny(void *arg)
{
	return (void *)((intptr_t)arg * 3);
}

static void t_many(void)
{
	enum { N = 64 };
	pthread_t t[N];
	int ok = 1, rcs = 0;

	for (intptr_t i = 0; i < N; i++)
		rcs |= pthread_create(&t[i], NULL, tiny, (void *)i);
	for (int i = N - 1; i >= 0; i--) {
		void *ret;

		rcs |= pthread_join(t[i], &ret);
		ok &= ret == (void *)((intptr_t)i * 3);
	}
	fact("64 threads: every create and join returned 0", rcs == 0);
	fact("64 threads: every value", ok);
}

/* Nested creation: a thread that creates and joins threads. */
static void *nest(void *arg)
{
	intptr_t depth = (intptr_t)arg;
	pthread_t t;
	void *ret = NULL;

	if (depth == 0)
		return (void *)1000;
	if (pthread_create(&t, NULL, nest, (void *)(depth - 1)) != 0)
		return NULL;
	if (pthread_join(t, &ret) != 0)
		return NULL;
	return (void *)((intptr_t)ret + 1);
}

static void t_nested(void)
{
	pthread_t t;
	void *ret = NULL;

	must(pthread_create(&t, NULL, nest, (void *)8), "create");
	OBSERVE("join nested creators", pthread_join(t, &ret));
	fact("  value", (long)(intptr_t)ret);
}

static int contract(void)
{
	t_create_basic();
	t_join();
	t_detach();
	t_tryjoin();
	t_timedjoin();
	t_clockjoin();
	t_values();
	t_setname();
	t_attr();
	t_cancel();
	t_signal();
	t_signal_target();
	t_many();
	t_nested();
	return 0;
}

/* ------------------------------------------------------------- exit paths */

static void at_exit_handler(void)
{
	printf("atexit handler ran\n");
}

static void *exit_42(void *arg)
{
	sleep_ms(50);
	printf("thread calls exit(42)\n");
	exit(42);
}

static void *exit_3_later(void *arg)
{
	sleep_ms(150);
	printf("thread calls exit(3) after main's pthread_exit\n");
	exit(3);
}

static void *return_later(void *arg)
{
	sleep_ms(150);
	printf("last thread returns\n");
	return NULL;
}

static void *joins_sleeper(void *arg)
{
	pthread_t t;

	if (pthread_create(&t, NULL, sleeps_then_returns, NULL) == 0)
		pthread_join(t, NULL);
	return NULL;
}

static pthread_t main_thread;

static void *cancels_main(void *arg)
{
	int rc;

	sleep_ms(100);
	printf("canceling main\n");
	rc = pthread_cancel(main_thread);
	sleep_ms(100);
	printf("cancel main: %s; last thread returns\n", ename(rc));
	return NULL;
}

static void main_cleanup(void *arg)
{
	printf("main's cleanup handler ran\n");
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "contract";
	pthread_t t;

	setvbuf(stdout, NULL, _IOLBF, 0);
	atexit(at_exit_handler);
	if (strcmp(mode, "contract") == 0)
		return contract();
	if (strcmp(mode, "exit-in-thread") == 0) {
		must(pthread_create(&t, NULL, exit_42, NULL), "create");
		pthread_join(t, NULL); /* never returns */
		printf("not reached\n");
		return 1;
	}
	if (strcmp(mode, "return-main") == 0) {
		must(pthread_create(&t, NULL, returns_arg, NULL), "create");
		pthread_join(t, NULL);
		printf("main returns 7\n");
		return 7;
	}
	if (strcmp(mode, "main-pthread-exit") == 0) {
		must(pthread_create(&t, NULL, exit_3_later, NULL), "create");
		printf("main calls pthread_exit\n");
		pthread_exit((void *)1);
	}
	if (strcmp(mode, "main-pthread-exit-last") == 0) {
		must(pthread_create(&t, NULL, return_later, NULL), "create");
		printf("main calls pthread_exit\n");
		pthread_exit(NULL);
	}
	if (strcmp(mode, "return-while-blocked") == 0) {
		must(pthread_create(&t, NULL, joins_sleeper, NULL), "create");
		sleep_ms(50);
		printf("main returns 9\n");
		return 9;
	}
	if (strcmp(mode, "cancel-main") == 0) {
		int rc = -1;

		main_thread = pthread_self();
		must(pthread_create(&t, NULL, cancels_main, NULL), "create");
		pthread_cleanup_push(main_cleanup, NULL);
		rc = pthread_join(t, NULL); /* canceled here */
		pthread_cleanup_pop(0);
		printf("not reached: %d\n", rc);
		return 1;
	}
	fprintf(stderr, "behaviour: unknown mode %s\n", mode);
	return 2;
}
