/*
 * What behaviour-poll.c and behaviour-poll-signal.c share: the seven
 * readiness waits called alike on a pipe (or an epoll instance watching it),
 * printing results with errno by name, and waiting until a thread sleeps in
 * one of them.
 */
#ifndef WEFT_TESTS_BEHAVIOUR_POLL_H
#define WEFT_TESTS_BEHAVIOUR_POLL_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "behaviour.h"

/* The seven functions. */
enum pfn { P_POLL, P_PPOLL, P_SELECT, P_PSELECT, P_EPOLL_WAIT, P_EPOLL_PWAIT, P_EPOLL_PWAIT2, P_N };

extern const char *const pfn_name[P_N];

/* A pipe, an epoll instance watching its read end, and what the last call saw. */
struct chan {
	int rd, wr, ep;
	int revents;  /* poll, ppoll: revents of the one entry */
	int in_set;   /* select, pselect: whether rd is still in the set */
	int event_fd; /* epoll: data.fd of the first event */
};

void chan_open(struct chan *c, uint32_t events);
void chan_close(struct chan *c);
/* Writes one byte; reads one byte. */
void put(struct chan *c);
void take(struct chan *c);
/* Calls `f` on c with a timeout in ms (negative: none) and `mask` (NULL: none). */
int pcall(enum pfn f, struct chan *c, long ms, const sigset_t *mask);

/* One line: what, the result, errno by name. */
int pobserve(const char *what, int rc);
#define POBSERVE(what, expr) (errno = SENTINEL, pobserve((what), (expr)))

/* Waits until thread `tid` sleeps in a poll-family system call. */
void wait_asleep(pid_t tid);

/* Done by another thread once `tid` sleeps in a poll: a byte, or a signal. */
struct later {
	struct chan *c;
	pid_t tid;
	int sig; /* 0: write a byte; else send this signal */
	pthread_t target;
};

void *act_when_asleep(void *arg);

/* behaviour-poll-signal.c */
void check_poll_signals(void);
void check_poll_sigmask(void);
void check_poll_cancel(void);

#endif
