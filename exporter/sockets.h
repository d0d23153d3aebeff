/*
 * The exporter's own sockets, protected from the program.
 *
 * A program may close every descriptor it did not open (daemons do,
 * `for fd in 3..1024: close(fd)`, closefrom, close_range) and then open its
 * own files, which take the same numbers. A connection libcurl keeps alive
 * for the next export would then write HTTP (or a TLS alert) into the
 * program's file, and closing it would close the program's descriptor.
 *
 * So the otlp output creates its sockets itself (libcurl's open-socket
 * callback) as weft's own descriptors (agent/fd.h): close-on-exec, at a high
 * number, and out of the program's reach — its close, close_range and
 * closefrom leave them open. They are pinned: libcurl uses them by number, so
 * they never move. The one thing a program can still do is dup2 onto one of
 * those numbers; the number is then the program's, the socket's handle goes
 * stale, and before every request the output checks (weft_sockets_intact)
 * that each socket of the connection it is about to reuse is still weft's.
 * If one is not, the connection is abandoned whole — libcurl is never called
 * on that handle again, so it never reads, writes, shuts down or closes the
 * number — and a fresh one is opened. In a forked child, the sockets
 * inherited from the parent are closed at fork (agent/fd.c) and never used.
 *
 * What remains: a dup2 onto a socket's number while a request is in flight
 * on it is not detected until the request ends.
 */
#ifndef WEFT_EXPORTER_SOCKETS_H
#define WEFT_EXPORTER_SOCKETS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define WEFT_SOCKETS_MAX 8

struct weft_socket {
	int fd;
	int handle; /* agent/fd.h */
};

/* The sockets of one connection owner (one libcurl handle). */
struct weft_sockets {
	struct weft_socket s[WEFT_SOCKETS_MAX];
	size_t n;
	pid_t pid; /* the process that opened them */
};

void weft_sockets_init(struct weft_sockets *t);

/*
 * socket(2) for libcurl: close-on-exec, moved to a high descriptor, recorded.
 * Returns the descriptor, or -1 with errno set.
 */
int weft_sockets_open(struct weft_sockets *t, int family, int type, int protocol);

/* close(2) for libcurl: forgets fd and closes it only if it is still weft's. */
int weft_sockets_close(struct weft_sockets *t, int fd);

/* Whether every recorded socket is still weft's (and in this process). */
bool weft_sockets_intact(const struct weft_sockets *t);

/*
 * The owner is being abandoned (its handle is never used again): closes the
 * sockets that are still weft's, forgets them all.
 */
void weft_sockets_abandon(struct weft_sockets *t);

#endif
