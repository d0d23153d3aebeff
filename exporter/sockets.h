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
 * callback): close-on-exec, and moved to a high number, out of the range a
 * program's next open() gets. Each is remembered with its identity (the
 * socket's device and inode, which no other open file shares). Before every
 * request the output checks that each socket of the connection it is about to
 * reuse still has that identity; if one does not, the connection is abandoned
 * whole — libcurl is never called on that handle again, so it never reads,
 * writes, shuts down or closes the number — and a fresh one is opened. The
 * close callback closes a socket only while it is still ours. In a forked
 * child, the sockets inherited from the parent are closed (when still ours)
 * and never used.
 *
 * What remains: a program that closes our socket and reuses its number while
 * a request is in flight on it (between the check and the end of the
 * request) is not detected; the window is one request long, and the high
 * number makes the reuse itself unlikely.
 */
#ifndef WEFT_EXPORTER_SOCKETS_H
#define WEFT_EXPORTER_SOCKETS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define WEFT_SOCKETS_MAX 8

struct weft_socket {
	int fd;
	dev_t dev;
	ino_t ino;
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

/* close(2) for libcurl: forgets fd and closes it only if it is still ours. */
int weft_sockets_close(struct weft_sockets *t, int fd);

/* Whether every recorded socket is still ours (and in this process). */
bool weft_sockets_intact(const struct weft_sockets *t);

/*
 * The owner is being abandoned (its handle is never used again): closes the
 * sockets that are still ours, forgets them all.
 */
void weft_sockets_abandon(struct weft_sockets *t);

#endif
