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

static jmp_buf jb;
static sigjmp_buf sjb, out_of_handler;
static volatile sig_atomic_t landed;

/*
 * Whether a jump with `jump` makes setjmp `setj` return `want`: C11 allows
 * setjmp only in a few places, a switch's expression among them.
 */
#define JUMPS_TO(what, setj, jump, want)                                                           \
	do {                                                                                       \
		switch (setj) {                                                                    \
		case 0:                                                                            \
			jump;                                                                      \
		case want:                                                                         \
			fact(what, 1);                                                             \
			break;                                                                     \
		default:                                                                           \
			fact(what, 0);                                                             \
		}                                                                                  \
	} while (0)

static void jump_out(int sig)
{
	(void)sig;
	landed = 1;
	siglongjmp(out_of_handler, 9);
}

/* SIGUSR1 to the target every 30 ms until its handler has jumped. */
static void *kick_until_landed(void *arg)
{
	pthread_t *target = arg;

	while (!landed) {
		sleep_ms(30);
		if (!landed)
			pthread_kill(*target, SIGUSR1);
	}
	return NULL;
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
 * read never returns, the descriptor works after. (__longjmp_chk's refusal
 * of a frame that has returned: tests/integration/test-sigjump.py.)
 */
void check_jump(void)
{
	static pthread_t self, kt; /* used after a jump: not in registers */
	static volatile int returned;
	sigset_t usr2;
	struct sigaction sa;
	int p[2];
	char c = 'j';

	JUMPS_TO("longjmp(0): setjmp returns 1", setjmp(jb), longjmp(jb, 0), 1);
	JUMPS_TO("longjmp(42): setjmp returns 42", setjmp(jb), longjmp(jb, 42), 42);
	JUMPS_TO("_longjmp(7): _setjmp returns 7", _setjmp(jb), _longjmp(jb, 7), 7);
	JUMPS_TO("__longjmp_chk(5): setjmp returns 5", setjmp(jb), __longjmp_chk(jb, 5), 5);

	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	JUMPS_TO("siglongjmp(3), mask saved: returns 3", sigsetjmp(sjb, 1),
		 (pthread_sigmask(SIG_BLOCK, &usr2, NULL), siglongjmp(sjb, 3)), 3);
	fact("  SIGUSR2 blocked after", usr2_blocked());
	JUMPS_TO("siglongjmp(4), mask not saved: returns 4", sigsetjmp(sjb, 0),
		 (pthread_sigmask(SIG_BLOCK, &usr2, NULL), siglongjmp(sjb, 4)), 4);
	fact("  SIGUSR2 blocked after", usr2_blocked());
	pthread_sigmask(SIG_UNBLOCK, &usr2, NULL);

	/* A read blocked on an empty pipe, left by a handler's jump. */
	must(pipe(p), "pipe");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = jump_out;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	self = pthread_self();
	landed = 0;
	returned = 0;
	switch (sigsetjmp(out_of_handler, 1)) {
	case 0:
		must(pthread_create(&kt, NULL, kick_until_landed, &self), "create");
		(void)!read(p[0], &c, 1);
		returned = 1; /* never: the read does not return */
		fact("jump out of a blocked read: sigsetjmp returns 9", 0);
		break;
	case 9:
		fact("jump out of a blocked read: sigsetjmp returns 9", 1);
		break;
	default:
		fact("jump out of a blocked read: sigsetjmp returns 9", 0);
	}
	pthread_join(kt, NULL);
	fact("  the read returned", returned);
	fact("  write after", (long)write(p[1], "k", 1));
	fact("  read after", (long)read(p[0], &c, 1));
	fact("  the byte", c);
	close(p[0]);
	close(p[1]);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGUSR1, &sa, NULL);
}
