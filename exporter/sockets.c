#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exporter/sockets.h"

/*
 * Where our sockets go: just below the soft descriptor limit when it is the
 * common 1024, at most 1024 - 64 otherwise so the kernel's descriptor table
 * does not grow for us. Below 128 there is no room to move away from the
 * program, and sockets keep the number socket() gave them.
 */
static int high_base(void)
{
	static int base = -1;
	struct rlimit rl;

	if (base >= 0)
		return base;
	base = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rlim_t top = rl.rlim_cur < 1024 ? rl.rlim_cur : 1024;

		if (top >= 128)
			base = (int)top - 64;
	}
	return base;
}

static bool identity(int fd, dev_t *dev, ino_t *ino)
{
	struct stat st;

	if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
		return false;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return true;
}

static bool still_ours(const struct weft_socket *s)
{
	dev_t dev;
	ino_t ino;

	return identity(s->fd, &dev, &ino) && dev == s->dev && ino == s->ino;
}

void weft_sockets_init(struct weft_sockets *t)
{
	t->n = 0;
	t->pid = getpid();
}

int weft_sockets_open(struct weft_sockets *t, int family, int type, int protocol)
{
	int fd, base = high_base();
	struct weft_socket *s;

	if (t->n == WEFT_SOCKETS_MAX) {
		errno = EMFILE;
		return -1;
	}
	fd = socket(family, type | SOCK_CLOEXEC, protocol);
	if (fd < 0)
		return -1;
	if (base && fd < base) {
		int high = fcntl(fd, F_DUPFD_CLOEXEC, base);

		/* No free number up there: keep the low one. */
		if (high >= 0) {
			close(fd);
			fd = high;
		}
	}
	s = &t->s[t->n];
	if (!identity(fd, &s->dev, &s->ino)) {
		close(fd);
		errno = EBADF;
		return -1;
	}
	s->fd = fd;
	t->n++;
	return fd;
}

int weft_sockets_close(struct weft_sockets *t, int fd)
{
	struct weft_socket s;

	for (size_t i = 0; i < t->n; i++) {
		if (t->s[i].fd != fd)
			continue;
		/* Forget it first: from here on it is not in the table. */
		s = t->s[i];
		t->s[i] = t->s[--t->n];
		if (s.fd >= 0 && still_ours(&s) && t->pid == getpid())
			return close(fd);
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
		if (!still_ours(&t->s[i]))
			return false;
	return true;
}

void weft_sockets_abandon(struct weft_sockets *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (still_ours(&t->s[i]))
			close(t->s[i].fd);
	t->n = 0;
}
