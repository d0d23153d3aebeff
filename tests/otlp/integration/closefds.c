/*
 * closefds: a program that closes every descriptor it did not open, as
 * daemons do, while weft's exporter holds a keep-alive connection, then
 * reuses those numbers for its own files and pipes and checks that nothing
 * but its own data ever reached them.
 *
 *     closefds DIR
 *
 * 1. Starts and joins four threads ("before-N"), then sleeps so that the
 *    exporter (run with a short OTEL_BSP_SCHEDULE_DELAY) has exported and
 *    keeps a connection open.
 * 2. Closes every descriptor from 3 to 1023.
 * 3. Opens FILES files in DIR (the lowest numbers again) and writes a known
 *    line to each; makes a pipe and duplicates its write end onto every
 *    number from 940 to 1023 that is free (where weft keeps its sockets).
 * 4. Starts and joins four more threads ("after-N") and sleeps again, so that
 *    the exporter exports while all those numbers are the program's.
 * 5. Writes one byte through each duplicated write end, closes them, and
 *    reads the pipe: exactly those bytes must be there. Reads every file
 *    back: exactly its line must be there.
 *
 * Prints "closefds: ok" and exits 0, or says what was wrong and exits 1.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setname_np, pread */
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { FILES = 24, DUP_FIRST = 940, DUP_LAST = 1023, THREADS = 4 };

static void *work(void *arg)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 2000000 };

	pthread_setname_np(pthread_self(), arg);
	nanosleep(&ts, NULL);
	return NULL;
}

static void run_threads(const char *prefix)
{
	static char names[2][THREADS][16];
	static int round;
	pthread_t t[THREADS];

	for (int i = 0; i < THREADS; i++) {
		snprintf(names[round][i], sizeof(names[round][i]), "%s-%d", prefix, i);
		if (pthread_create(&t[i], NULL, work, names[round][i]) != 0) {
			fprintf(stderr, "closefds: pthread_create failed\n");
			exit(1);
		}
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	round++;
}

static void pause_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	int files[FILES], p[2], dups[DUP_LAST - DUP_FIRST + 1], ndups = 0, bad = 0;
	char path[4096], line[64], buf[256];
	ssize_t n;

	if (argc != 2) {
		fprintf(stderr, "usage: closefds DIR\n");
		return 2;
	}
	run_threads("before");
	pause_ms(600);

	for (int fd = 3; fd < 1024; fd++)
		close(fd);

	for (int i = 0; i < FILES; i++) {
		snprintf(path, sizeof(path), "%s/file-%d", argv[1], i);
		files[i] = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (files[i] < 0) {
			perror("closefds: open");
			return 1;
		}
		snprintf(line, sizeof(line), "program data %d\n", i);
		if (write(files[i], line, strlen(line)) != (ssize_t)strlen(line)) {
			perror("closefds: write");
			return 1;
		}
	}
	if (pipe(p) != 0) {
		perror("closefds: pipe");
		return 1;
	}
	for (int fd = DUP_FIRST; fd <= DUP_LAST; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && dup2(p[1], fd) == fd)
			dups[ndups++] = fd;

	run_threads("after");
	pause_ms(600);

	for (int i = 0; i < ndups; i++) {
		if (write(dups[i], "x", 1) != 1) {
			fprintf(stderr, "closefds: write to fd %d failed: %s\n", dups[i],
				strerror(errno));
			bad = 1;
		}
		close(dups[i]);
	}
	close(p[1]);
	for (size_t total = 0;;) {
		n = read(p[0], buf, sizeof(buf));
		if (n <= 0) {
			if (total != (size_t)ndups) {
				fprintf(stderr, "closefds: the pipe held %zu bytes, want %d\n",
					total, ndups);
				bad = 1;
			}
			break;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != 'x') {
				fprintf(stderr, "closefds: foreign data in the pipe: \"%.*s\"\n",
					(int)n, buf);
				bad = 1;
				break;
			}
		}
		total += (size_t)n;
	}
	for (int i = 0; i < FILES; i++) {
		snprintf(line, sizeof(line), "program data %d\n", i);
		n = pread(files[i], buf, sizeof(buf) - 1, 0);
		if (n != (ssize_t)strlen(line) || memcmp(buf, line, strlen(line)) != 0) {
			buf[n > 0 ? n : 0] = '\0';
			fprintf(stderr, "closefds: file %d (fd %d) holds \"%s\"\n", i, files[i],
				buf);
			bad = 1;
		}
	}
	if (bad)
		return 1;
	printf("closefds: ok (%d files, %d duplicated descriptors)\n", FILES, ndups);
	return 0;
}
