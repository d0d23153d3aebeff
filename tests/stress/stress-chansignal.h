/*
 * What stress-chansignal.c shares with stress-chansignal-weft.c, its weft
 * side (linked in the WEFT_CORE build only): the channels and their counts,
 * and the calls that go through weft there and straight to the C library
 * natively.
 */
#ifndef WEFT_TESTS_STRESS_CHANSIGNAL_H
#define WEFT_TESTS_STRESS_CHANSIGNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

enum { PAIRS = 2 };

/* A channel's counts, each moved by whoever made the call. */
struct chan {
	char name[48];
	int fd[2];
	_Atomic uint64_t tx_bytes, tx_calls, rx_bytes, rx_calls;
};

extern struct chan self_pipe, efd, hpipe, pair_pipe[PAIRS][2];

/* Ends the program with a FAILED line. */
void fail(const char *what);

/* The calling thread is observed by weft, as its thread start would do. */
void observed(void);
/* weft's own code runs on the calling thread for a while (the guard set). */
void in_weft(void);
/* The storm's time: main drains the threads' rings meanwhile, as the exporter would. */
void run_for(double secs);
/* weft's channel table holds the program's counts; every recorded event was well-formed. */
void check_weft(void);

#ifdef WEFT_CORE
/* What hooks/io.c does for read and write on a channel, and pipe() and eventfd() after. */
ssize_t chan_io(int fd, void *buf, size_t n, bool is_write);
void chan_created(const int *fds, int n, bool is_eventfd);
void chan_resized(int fd, int size);

#define READ(fd, buf, n)            chan_io(fd, buf, n, false)
#define WRITE(fd, buf, n)           chan_io(fd, (void *)(buf), n, true)
#define CREATED(fds, n, is_eventfd) chan_created(fds, n, is_eventfd)
#define RESIZED(fd, size)           chan_resized(fd, size)
#else
#define READ(fd, buf, n)            read(fd, buf, n)
#define WRITE(fd, buf, n)           write(fd, buf, n)
#define CREATED(fds, n, is_eventfd) ((void)0)
#define RESIZED(fd, size)           ((void)(size))
#endif

#endif
