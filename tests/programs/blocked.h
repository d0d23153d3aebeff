/*
 * Whether a thread is blocked in a given system call, as the kernel shows it
 * (/proc/self/task/TID/syscall and .../stat): how the tests that need a
 * thread to be inside a blocking call wait for it, instead of a guessed time.
 * Shared by the test programs (channels.h) and the behaviour program.
 */
#ifndef WEFT_TESTS_BLOCKED_H
#define WEFT_TESTS_BLOCKED_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>

/* Whether thread `tid` is asleep (state S): blocked, not merely preempted in a call. */
static inline bool thread_sleeping(pid_t tid)
{
	char path[64], buf[512], *close_paren;
	FILE *f;
	bool s = false;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f) && (close_paren = strrchr(buf, ')')) != NULL)
		s = close_paren[1] == ' ' && close_paren[2] == 'S';
	fclose(f);
	return s;
}

/*
 * Whether thread `tid` sleeps now in one of the system calls `nrs` (ended by
 * -1) with first argument `a0` (-1: any).
 */
static inline bool thread_asleep_in(pid_t tid, long a0, const long *nrs)
{
	char path[64], buf[256];
	long nr = -2;
	unsigned long arg = 0;
	bool ok = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	if (!(f = fopen(path, "r")))
		return false;
	if (fgets(buf, sizeof(buf), f) && sscanf(buf, "%ld %lx", &nr, &arg) == 2)
		for (const long *n = nrs; *n != -1; n++)
			ok |= nr == *n && (a0 == -1 || (long)arg == a0);
	fclose(f);
	return ok && thread_sleeping(tid);
}

/* Whether thread `tid` sleeps now in a poll-family system call (poll, select, the epoll waits). */
static inline bool thread_asleep_in_poll(pid_t tid)
{
	static const long calls[] = { SYS_poll,         SYS_ppoll,
				      SYS_select,       SYS_pselect6,
				      SYS_epoll_wait,   SYS_epoll_pwait,
				      SYS_epoll_pwait2, -1 };

	return thread_asleep_in(tid, -1, calls);
}

/*
 * Waits, up to `tries` milliseconds, until thread `tid` sleeps in one of the
 * system calls `nrs` (ended by -1) with first argument `a0` (-1: any); false
 * if it never did.
 */
static inline bool thread_blocked_in(pid_t tid, long a0, const long *nrs, int tries)
{
	struct timespec ms = { 0, 1000000L };

	for (int i = 0; i < tries; i++) {
		if (thread_asleep_in(tid, a0, nrs))
			return true;
		nanosleep(&ms, NULL);
	}
	return false;
}

#endif
