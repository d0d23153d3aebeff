/*
 * Sleeps: nanosleep, clock_nanosleep, usleep, sleep and thrd_sleep keep
 * their results, errno, time left and blocking; a signal handler interrupts
 * each (Linux restarts none of them, SA_RESTART or not); each is a
 * cancellation point.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#include "behaviour.h"

/* Sends SIGUSR1 to `arg` (a pthread_t) after 50 ms. */
static void *kick_later(void *arg)
{
	sleep_ms(50);
	pthread_kill(*(pthread_t *)arg, SIGUSR1);
	return NULL;
}

enum sleeper { S_NANOSLEEP, S_CLOCK_REL, S_CLOCK_ABS, S_USLEEP, S_SLEEP, S_THRD, S_N };

static const char *const sleeper_name[S_N] = {
	"nanosleep", "clock_nanosleep", "clock_nanosleep TIMER_ABSTIME",
	"usleep",    "sleep",           "thrd_sleep",
};

/*
 * A 2 s sleep by `s` (sleep: 2 s too), interrupted after 50 ms when `kick`:
 * prints the result (and errno) and the time left where the call gives it.
 */
static void sleep_once(enum sleeper s, bool kick, const char *what)
{
	struct timespec d = { 2, 0 }, left = { -1, -1 }, at;
	pthread_t self = pthread_self(), kt;
	long long t0 = now_ns(CLOCK_MONOTONIC);

	signals_handled = 0;
	if (kick)
		must(pthread_create(&kt, NULL, kick_later, &self), "create");
	switch (s) {
	case S_NANOSLEEP:
		OBSERVE(what, nanosleep(&d, &left));
		break;
	case S_CLOCK_REL:
		OBSERVE(what, clock_nanosleep(CLOCK_MONOTONIC, 0, &d, &left));
		break;
	case S_CLOCK_ABS:
		at = deadline(CLOCK_MONOTONIC, 2000 * MS);
		OBSERVE(what, clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, &left));
		fact("  time left untouched (absolute)", left.tv_sec == -1 && left.tv_nsec == -1);
		break;
	case S_USLEEP:
		OBSERVE(what, usleep(2000000));
		break;
	case S_SLEEP:
		errno = SENTINEL;
		printf("%s: returned %u, errno %s\n", what, sleep(2), ename(errno));
		break;
	case S_THRD:
		OBSERVE(what, thrd_sleep(&d, &left));
		break;
	default:
		break;
	}
	if (kick) {
		pthread_join(kt, NULL);
		fact("  handler ran", signals_handled);
		fact("  returned early", now_ns(CLOCK_MONOTONIC) - t0 < 1500 * MS);
		if (s == S_NANOSLEEP || s == S_CLOCK_REL || s == S_THRD)
			fact("  time left: between 1 and 2 s",
			     left.tv_sec == 1 || (left.tv_sec == 0 && left.tv_nsec > 0));
	} else {
		fact("  slept the whole time", now_ns(CLOCK_MONOTONIC) - t0 >= 2000 * MS);
	}
}

/* Address 16: never mapped (hidden from the compiler, which would warn). */
static void *bad_address(void)
{
	static void *volatile p = (void *)(uintptr_t)16;

	return p;
}

/* Results that need no waiting: bad arguments, nothing to sleep. */
static void check_sleep_results(void)
{
	struct timespec zero = { 0, 0 }, bad = { 0, 1000000000L }, neg = { -1, 0 };
	struct timespec past = { 1, 0 }, left = { 7, 7 }, d = { 0, 2 * MS };
	long long t0;

	OBSERVE("nanosleep: zero", nanosleep(&zero, &left));
	OBSERVE("nanosleep: tv_nsec 1e9", nanosleep(&bad, &left));
	OBSERVE("nanosleep: negative", nanosleep(&neg, NULL));
	fact("  time left untouched", left.tv_sec == 7 && left.tv_nsec == 7);
	t0 = now_ns(CLOCK_MONOTONIC);
	OBSERVE("nanosleep: 2 ms, no rem", nanosleep(&d, NULL));
	fact("  slept 2 ms", now_ns(CLOCK_MONOTONIC) - t0 >= 2 * MS);

	OBSERVE("clock_nanosleep: zero", clock_nanosleep(CLOCK_MONOTONIC, 0, &zero, NULL));
	OBSERVE("clock_nanosleep: tv_nsec 1e9", clock_nanosleep(CLOCK_REALTIME, 0, &bad, NULL));
	OBSERVE("clock_nanosleep: absolute, past",
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL));
	OBSERVE("clock_nanosleep: bad clock", clock_nanosleep((clockid_t)99, 0, &d, NULL));
	OBSERVE("clock_nanosleep: thread CPU clock",
		clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &d, NULL));
	t0 = now_ns(CLOCK_REALTIME);
	OBSERVE("clock_nanosleep: realtime, 2 ms", clock_nanosleep(CLOCK_REALTIME, 0, &d, NULL));
	fact("  slept 2 ms", now_ns(CLOCK_REALTIME) - t0 >= 2 * MS);
	t0 = now_ns(CLOCK_MONOTONIC);
	OBSERVE("clock_nanosleep: absolute, 2 ms ahead",
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
				(struct timespec[]){ deadline(CLOCK_MONOTONIC, 2 * MS) }, NULL));
	fact("  slept until the deadline", now_ns(CLOCK_MONOTONIC) - t0 >= 2 * MS);

	/* A bad pointer fails in the call (EFAULT): weft must not read it first. */
	OBSERVE("nanosleep: bad pointer", nanosleep((const struct timespec *)bad_address(), NULL));
	OBSERVE("clock_nanosleep: bad pointer",
		clock_nanosleep(CLOCK_MONOTONIC, 0, (const struct timespec *)bad_address(), NULL));
	OBSERVE("clock_nanosleep: absolute, bad clock and pointer",
		clock_nanosleep((clockid_t)99, TIMER_ABSTIME,
				(const struct timespec *)bad_address(), NULL));
	OBSERVE("thrd_sleep: bad pointer",
		thrd_sleep((const struct timespec *)bad_address(), NULL));

	OBSERVE("usleep: 0", usleep(0));
	OBSERVE("usleep: 2000", usleep(2000));
	errno = SENTINEL;
	printf("sleep: 0 returned %u, errno %s\n", sleep(0), ename(errno));
	OBSERVE("thrd_sleep: zero", thrd_sleep(&zero, NULL));
	OBSERVE("thrd_sleep: tv_nsec 1e9", thrd_sleep(&bad, NULL));
	OBSERVE("thrd_sleep: 2 ms", thrd_sleep(&d, NULL));
}

/* The thread of a cancellation: sleeps in `arg`'s function for a minute. */
static void *sleeps_long(void *arg)
{
	struct timespec d = { 60, 0 };

	switch ((enum sleeper)(uintptr_t)arg) {
	case S_NANOSLEEP:
		nanosleep(&d, NULL);
		break;
	case S_CLOCK_REL:
		clock_nanosleep(CLOCK_MONOTONIC, 0, &d, NULL);
		break;
	case S_USLEEP:
		usleep(999999);
		usleep(999999); /* usleep's range is below a second: more than one */
		break;
	case S_SLEEP:
		sleep(60);
		break;
	case S_THRD:
		thrd_sleep(&d, NULL);
		break;
	default:
		break;
	}
	return (void *)1;
}

void check_sleep(void)
{
	char what[96];

	check_sleep_results();
	install_handler(SIGUSR1, count_signal, SA_RESTART);
	for (int s = 0; s < S_N; s++) {
		snprintf(what, sizeof(what), "%s: 2 s, interrupted by a signal (SA_RESTART)",
			 sleeper_name[s]);
		sleep_once((enum sleeper)s, true, what);
	}
	install_handler(SIGUSR1, count_signal, 0);
	sleep_once(S_NANOSLEEP, true, "nanosleep: 2 s, interrupted by a signal");
	sleep_once(S_CLOCK_ABS, false, "clock_nanosleep TIMER_ABSTIME: 2 s");
	install_handler(SIGUSR1, SIG_DFL, 0);
	for (int s = 0; s < S_N; s++) {
		pthread_t th;
		void *ret = NULL;

		if (s == S_CLOCK_ABS)
			continue;
		must(pthread_create(&th, NULL, sleeps_long, (void *)(uintptr_t)s), "create");
		sleep_ms(50);
		snprintf(what, sizeof(what), "%s: cancelled while asleep", sleeper_name[s]);
		OBSERVE(what, pthread_cancel(th));
		pthread_join(th, &ret);
		fact("  thread cancelled", ret == PTHREAD_CANCELED);
	}
}
