/*
 * Signals and joins: handlers that interrupt a blocked join (with and without
 * SA_RESTART), and a process-directed signal that must reach the one thread
 * waiting for it in sigwait(). And the jumps, from handlers too.
 */
#include <setjmp.h>
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

/* ------------------------------------------------------------ jumps */

/* What longjmp and siglongjmp become under _FORTIFY_SOURCE; no header declares it otherwise. */
void __longjmp_chk(struct __jmp_buf_tag env[1], int val) __attribute__((noreturn));

static sigjmp_buf out_of_handler;

static void jump_out(int sig)
{
	(void)sig;
	siglongjmp(out_of_handler, 9);
}

/* Whether SIGUSR2 is blocked on this thread now. */
static long usr2_blocked(void)
{
	sigset_t cur;

	pthread_sigmask(SIG_SETMASK, NULL, &cur);
	return sigismember(&cur, SIGUSR2);
}

/*
 * longjmp, _longjmp, siglongjmp and __longjmp_chk (hooks/jump.c): the value
 * setjmp returns (1 for 0), the signal mask put back only from a buffer that
 * saved it, and a jump out of a handler that interrupted a blocked read: the
 * read never returns, the descriptor works after.
 */
void check_jump(void)
{
	static jmp_buf jb;
	static sigjmp_buf sjb;
	sigset_t usr2;
	struct sigaction sa;
	struct kicker k = { .target = pthread_self(), .count = 1, .first_ms = 30 };
	static pthread_t kt; /* set after sigsetjmp, used after the jump: not in a register */
	volatile int reads = 0;
	int v, p[2];
	char c = 'j';

	v = setjmp(jb);
	if (v == 0)
		longjmp(jb, 0);
	fact("longjmp(0): setjmp returns", v);
	v = setjmp(jb);
	if (v == 0)
		longjmp(jb, 42);
	fact("longjmp(42): setjmp returns", v);
	v = _setjmp(jb);
	if (v == 0)
		_longjmp(jb, 7);
	fact("_longjmp(7): _setjmp returns", v);
	v = setjmp(jb);
	if (v == 0)
		__longjmp_chk(jb, 5);
	fact("__longjmp_chk(5): setjmp returns", v);

	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	v = sigsetjmp(sjb, 1);
	if (v == 0) {
		pthread_sigmask(SIG_BLOCK, &usr2, NULL);
		siglongjmp(sjb, 3);
	}
	fact("siglongjmp(3), mask saved: returns", v);
	fact("  SIGUSR2 blocked after", usr2_blocked());
	v = sigsetjmp(sjb, 0);
	if (v == 0) {
		pthread_sigmask(SIG_BLOCK, &usr2, NULL);
		siglongjmp(sjb, 4);
	}
	fact("siglongjmp(4), mask not saved: returns", v);
	fact("  SIGUSR2 blocked after", usr2_blocked());
	pthread_sigmask(SIG_UNBLOCK, &usr2, NULL);

	/* A read blocked on an empty pipe, left by a handler's jump (SIGUSR1, from kick). */
	must(pipe(p), "pipe");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = jump_out;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	v = sigsetjmp(out_of_handler, 1);
	if (v == 0) {
		must(pthread_create(&kt, NULL, kick, &k), "create");
		reads++;
		(void)!read(p[0], &c, 1);
		reads++; /* never: the read does not return */
	}
	pthread_join(kt, NULL);
	fact("jump out of a blocked read: sigsetjmp returns", v);
	fact("  the read returned", reads != 1);
	fact("  write after", (long)write(p[1], "k", 1));
	fact("  read after", (long)read(p[0], &c, 1));
	fact("  the byte", c);
	close(p[0]);
	close(p[1]);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGUSR1, &sa, NULL);
}
