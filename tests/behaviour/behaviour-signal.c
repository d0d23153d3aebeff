/*
 * Signals and joins: handlers that interrupt a blocked join (with and without
 * SA_RESTART), and a process-directed signal that must reach the one thread
 * waiting for it in sigwait().
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "behaviour.h"

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

void check_signal(void)
{
	static const int flags[] = { SA_RESTART, 0 };
	char what[64];

	for (unsigned i = 0; i < 2; i++) {
		struct sigaction sa;
		struct kicker k = { .target = pthread_self(), .count = 3, .first_ms = 60 };
		pthread_t b, kt;
		void *ret = NULL;
		long long t0;
		struct timespec ts;
		struct gate g;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = count_signal;
		sa.sa_flags = flags[i];
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, NULL);

		signals_handled = 0;
		t0 = now_ns(CLOCK_MONOTONIC);
		must(pthread_create(&b, NULL, sleeps_then_returns, (void *)61), "create");
		must(pthread_create(&kt, NULL, kick, &k), "create");
		snprintf(what, sizeof(what), "join interrupted by signals (%s)",
			 flags[i] ? "SA_RESTART" : "no SA_RESTART");
		OBSERVE(what, pthread_join(b, &ret));
		fact("  blocked until the end", now_ns(CLOCK_MONOTONIC) - t0 >= 200 * MS);
		fact("  value", ret == (void *)61);
		pthread_join(kt, NULL);
		fact("  handler ran", signals_handled > 0);

		signals_handled = 0;
		b = start_gated(&g, (void *)62);
		must(pthread_create(&kt, NULL, kick, &k), "create");
		ts = deadline(CLOCK_REALTIME, 250 * MS);
		OBSERVE("  timedjoin interrupted", pthread_timedjoin_np(b, &ret, &ts));
		fact("  returned after the deadline", now_ns(CLOCK_REALTIME) >= ts_ns(&ts));
		pthread_join(kt, NULL);
		fact("  handler ran", signals_handled > 0);
		signals_handled = 0;
		must(pthread_create(&kt, NULL, kick, &k), "create");
		ts = deadline(CLOCK_MONOTONIC, 250 * MS);
		OBSERVE("  clockjoin interrupted",
			pthread_clockjoin_np(b, &ret, CLOCK_MONOTONIC, &ts));
		fact("  returned after the deadline", now_ns(CLOCK_MONOTONIC) >= ts_ns(&ts));
		pthread_join(kt, NULL);
		fact("  handler ran", signals_handled > 0);
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

void check_signal_target(void)
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
