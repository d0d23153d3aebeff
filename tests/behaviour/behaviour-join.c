/*
 * Creating and joining threads: the values that pass through, the signal mask
 * a thread inherits, and every join variant on a thread that is running, has
 * ended, is detached, or is the caller itself; deadlines in the past, in the
 * future and malformed; clocks the call does not support.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "behaviour.h"

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

void check_create_basic(void)
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

void check_join(void)
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
		OBSERVE("clockjoin self",
			pthread_clockjoin_np(pthread_self(), &ret, CLOCK_MONOTONIC, &mono));
	}
}

void check_detach(void)
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

void check_tryjoin(void)
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

void check_timedjoin(void)
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

void check_clockjoin(void)
{
	static const clockid_t clocks[] = { CLOCK_MONOTONIC, CLOCK_REALTIME };
	static const char *const names[] = { "MONOTONIC", "REALTIME" };
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
	static const clockid_t bad[] = { CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
					 CLOCK_BOOTTIME, 9999 };
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
