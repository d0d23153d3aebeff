/*
 * The exporter's own sockets (see sockets.h): created and owned through
 * agent/fd.h, pinned because libcurl uses them by number.
 */
#include <errno.h>
#include <unistd.h>

#include "agent/fd.h"
#include "exporter/sockets.h"

void weft_sockets_init(struct weft_sockets *t)
{
	t->n = 0;
	t->pid = getpid();
}

int weft_sockets_open(struct weft_sockets *t, int family, int type, int protocol)
{
	struct weft_socket *s;
	int h;

	if (t->n == WEFT_SOCKETS_MAX) {
		errno = EMFILE;
		return -1;
	}
	h = weft_fd_socket(family, type, protocol, WEFT_FD_PINNED);
	if (h < 0) {
		errno = -h;
		return -1;
	}
	s = &t->s[t->n++];
	s->handle = h;
	s->fd = weft_fd_number(h);
	return s->fd;
}

int weft_sockets_close(struct weft_sockets *t, int fd)
{
	for (size_t i = 0; i < t->n; i++) {
		struct weft_socket s = t->s[i];

		if (s.fd != fd)
			continue;
		/* Forget it first: from here on it is not in the table. */
		t->s[i] = t->s[--t->n];
		/* Closed only while still weft's (not taken by a dup2, not a parent's). */
		weft_fd_close(s.handle);
		return 0;
	}
	/* Not a socket we opened: never close what may be the program's. */
	return 0;
}

bool weft_sockets_intact(const struct weft_sockets *t)
{
	if (t->pid != getpid())
		return t->n == 0;
	for (size_t i = 0; i < t->n; i++)
		if (weft_fd_number(t->s[i].handle) != t->s[i].fd)
			return false;
	return true;
}

void weft_sockets_abandon(struct weft_sockets *t)
{
	for (size_t i = 0; i < t->n; i++)
		weft_fd_close(t->s[i].handle);
	t->n = 0;
}
