/*
 * Readiness waits and signals: EINTR from a handler with and without
 * SA_RESTART (Linux restarts none of the seven), the signal mask that
 * ppoll, pselect, epoll_pwait and epoll_pwait2 put in force for the call
 * alone, and cancellation of a thread blocked in each.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>

#include "behaviour-poll.h"

/* ---------------------------------------------------------------- signals */

void check_poll_signals(void)
{
	static const int flags[] = { SA_RESTART, 0 };
	char what[96];

	for (unsigned i = 0; i < 2; i++) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = count_signal;
		sa.sa_flags = flags[i];
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, NULL);
		for (int f = 0; f < P_N; f++) {
			for (int inf = 0; inf < 2; inf++) {
				struct chan c;
				struct later l;
				pthread_t th;
				long long t0;
				struct timeval tv = { 5, 0 };
				fd_set r;
				int rc;

				chan_open(&c, EPOLLIN);
				signals_handled = 0;
				l = (struct later){ .tid = tid_self(),
						    .sig = SIGUSR1,
						    .target = pthread_self() };
				must(pthread_create(&th, NULL, act_when_asleep, &l), "create");
				snprintf(what, sizeof(what), "%s interrupted (%s, %s)", pfn_name[f],
					 flags[i] ? "SA_RESTART" : "no SA_RESTART",
					 inf ? "no timeout" : "5 s");
				t0 = now_ns(CLOCK_MONOTONIC);
				if (f == P_SELECT && !inf) {
					/* select: the time left, after an interruption. */
					FD_ZERO(&r);
					FD_SET(c.rd, &r);
					errno = SENTINEL;
					rc = pobserve(what, select(c.rd + 1, &r, NULL, NULL, &tv));
					fact("  timeval: time left, below 5 s",
					     tv.tv_sec < 5 && (tv.tv_sec > 0 || tv.tv_usec > 0));
					fact("  set untouched", FD_ISSET(c.rd, &r));
				} else {
					rc = POBSERVE(what, pcall(f, &c, inf ? -1 : 5000, NULL));
				}
				(void)rc;
				fact("  returned early", now_ns(CLOCK_MONOTONIC) - t0 < 4000 * MS);
				fact("  handler ran", signals_handled);
				pthread_join(th, NULL);
				chan_close(&c);
			}
		}
	}
	signal(SIGUSR1, SIG_DFL);
}

/*
 * The mask of ppoll, pselect, epoll_pwait and epoll_pwait2, in force for the
 * call alone: a signal blocked outside and pending is delivered inside, at
 * once (EINTR); one the mask keeps blocked stays pending through a call that
 * finds a descriptor ready, and through one that times out.
 */
void check_poll_sigmask(void)
{
	static const enum pfn masked[] = { P_PPOLL, P_PSELECT, P_EPOLL_PWAIT, P_EPOLL_PWAIT2 };
	struct sigaction sa;
	sigset_t usr1, old, open_mask, pending;
	char what[96];

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = count_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, &old);
	open_mask = old;
	sigdelset(&open_mask, SIGUSR1);
	for (unsigned i = 0; i < sizeof(masked) / sizeof(masked[0]); i++) {
		enum pfn f = masked[i];
		struct chan c;
		struct later l;
		pthread_t th;
		long long t0;

		chan_open(&c, EPOLLIN);
		signals_handled = 0;
		pthread_kill(pthread_self(), SIGUSR1);
		t0 = now_ns(CLOCK_MONOTONIC);
		snprintf(what, sizeof(what), "%s: pending signal, mask opens it", pfn_name[f]);
		POBSERVE(what, pcall(f, &c, 5000, &open_mask));
		fact("  at once", now_ns(CLOCK_MONOTONIC) - t0 < 1000 * MS);
		fact("  handler ran", signals_handled);

		signals_handled = 0;
		pthread_kill(pthread_self(), SIGUSR1);
		put(&c);
		snprintf(what, sizeof(what), "%s: pending signal kept blocked, ready", pfn_name[f]);
		POBSERVE(what, pcall(f, &c, 5000, &usr1));
		take(&c);
		snprintf(what, sizeof(what), "%s: pending signal kept blocked, 50 ms", pfn_name[f]);
		POBSERVE(what, pcall(f, &c, 50, &usr1));
		sigpending(&pending);
		fact("  still pending", sigismember(&pending, SIGUSR1));
		fact("  handler ran", signals_handled);
		snprintf(what, sizeof(what), "%s: then a mask that opens it", pfn_name[f]);
		POBSERVE(what, pcall(f, &c, 5000, &open_mask));
		fact("  handler ran", signals_handled);

		/* Sent while the call sleeps: the mask opens it there. */
		signals_handled = 0;
		l = (struct later){ .tid = tid_self(), .sig = SIGUSR1, .target = pthread_self() };
		must(pthread_create(&th, NULL, act_when_asleep, &l), "create");
		snprintf(what, sizeof(what), "%s: signal while asleep, mask opens it", pfn_name[f]);
		POBSERVE(what, pcall(f, &c, 5000, &open_mask));
		fact("  handler ran", signals_handled);
		pthread_join(th, NULL);
		sigpending(&pending);
		fact("  nothing pending after", sigismember(&pending, SIGUSR1));
		chan_close(&c);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	signal(SIGUSR1, SIG_DFL);
}

/* ---------------------------------------------------------- cancellation */

struct cancelled {
	enum pfn f;
	struct chan *c;
	pid_t tid;
	sem_t started;
};

static void cleanup_note(void *arg)
{
	*(int *)arg = 1;
}

static int cleaned;

static void *blocks_forever(void *arg)
{
	struct cancelled *k = arg;

	k->tid = tid_self();
	pthread_cleanup_push(cleanup_note, &cleaned);
	sem_post(&k->started);
	pcall(k->f, k->c, -1, NULL);
	pthread_cleanup_pop(0);
	return NULL;
}

void check_poll_cancel(void)
{
	char what[80];

	for (int f = 0; f < P_N; f++) {
		struct chan c;
		struct cancelled k = { .f = f, .c = &c };
		pthread_t th;
		void *ret = NULL;

		chan_open(&c, EPOLLIN);
		sem_init(&k.started, 0, 0);
		cleaned = 0;
		must(pthread_create(&th, NULL, blocks_forever, &k), "create");
		sem_wait_all(&k.started);
		wait_asleep(k.tid);
		pthread_cancel(th);
		pthread_join(th, &ret);
		snprintf(what, sizeof(what), "%s: cancelled while blocked", pfn_name[f]);
		fact(what, ret == PTHREAD_CANCELED);
		fact("  cleanup handler ran", cleaned);
		sem_destroy(&k.started);
		chan_close(&c);
	}
}
