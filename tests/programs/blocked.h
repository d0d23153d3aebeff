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
 * Waits, up to `tries` milliseconds, until thread `tid` sleeps in one of the
 * system calls `nrs` (ended by -1) with first argument `a0` (-1: any); false
 * if it never did.
 */
static inline bool thread_blocked_in(pid_t tid, long a0, const long *nrs, int tries)
{
	char path[64], buf[256];
	struct timespec ms = { 0, 1000000L };

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	for (int i = 0; i < tries; i++) {
		FILE *f = fopen(path, "r");
		long nr = -2;
		unsigned long arg = 0;
		bool ok = false;

		if (f) {
			if (fgets(buf, sizeof(buf), f) && sscanf(buf, "%ld %lx", &nr, &arg) == 2)
				for (const long *n = nrs; *n != -1; n++)
					ok |= nr == *n && (a0 == -1 || (long)arg == a0);
			fclose(f);
		}
		if (ok && thread_sleeping(tid))
			return true;
		nanosleep(&ms, NULL);
	}
	return false;
}

#endif
